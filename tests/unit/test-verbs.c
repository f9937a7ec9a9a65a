/* Unit tests for the lifecycle verbs' formats (cli/verbs-format.c): podman's times, sizes and
 * STATUS texts, --format templates, tables, ports, environment lists. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "common/util.h"
#include "tests/unit/tap.h"

#define SEC 1000000000LL

static void test_durations(void)
{
  static const struct
  {
    int64_t ns;
    const char *want;
  } cases[] = {
    { SEC / 2, "Less than a second" }, { SEC, "1 second" },         { 59 * SEC, "59 seconds" },
    { 60 * SEC, "About a minute" },    { 119 * SEC, "About a minute" }, { 120 * SEC, "2 minutes" },
    { 59 * 60 * SEC, "59 minutes" },   { 3600 * SEC, "About an hour" }, { 5400 * SEC, "2 hours" },
    { 47 * 3600 * SEC, "47 hours" },   { 48 * 3600 * SEC, "2 days" },
    { 14 * 24 * 3600 * SEC, "2 weeks" }, { 60LL * 24 * 3600 * SEC, "2 months" },
    { 800LL * 24 * 3600 * SEC, "2 years" },
  };
  char buf[64];

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
    {
      const char *got = verbs_human_duration(cases[i].ns, buf, sizeof buf);
      tap_ok(streq(got, cases[i].want), "duration %lld s: %s", (long long)(cases[i].ns / SEC),
             got);
    }
}

static void test_sizes_times(void)
{
  char buf[64];

  tap_is_str(verbs_human_size(0, buf, sizeof buf), "0B", "size 0B");
  tap_is_str(verbs_human_size(999, buf, sizeof buf), "999B", "size 999B");
  tap_is_str(verbs_human_size(49152, buf, sizeof buf), "49.15kB", "size 49.15kB");
  tap_is_str(verbs_human_size(8325000000.0, buf, sizeof buf), "8.325GB", "size 8.325GB");
  tap_is_str(verbs_time_format(0, buf, sizeof buf), "0001-01-01T00:00:00Z", "the zero time");
  tap_is_str(verbs_time_format(1704164645 * SEC + 5, buf, sizeof buf),
             "2024-01-02T03:04:05.000000005Z", "a time");
  tap_is_int(verbs_time_ns("2024-01-02T03:04:05.000000005Z"), 1704164645 * SEC + 5,
             "and back");
  tap_is_int(verbs_time_ns("garbage"), 0, "not a time: 0");
}

static void test_status(void)
{
  int64_t now = 1000 * SEC;
  struct ctr_status st = { .state = CTR_RUNNING, .supervisor_alive = true };
  char buf[128];

  st.sup.started_ns = now - 3 * SEC;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Up 3 seconds", "running");
  st.supervisor_alive = false;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Up 3 seconds (no supervisor)",
             "running without a supervisor");
  st.state = CTR_EXITED;
  st.sup.exit_code = 137;
  st.sup.finished_ns = now - 2 * SEC;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Exited (137) 2 seconds ago",
             "exited: no supervisor is normal");
  st.state = CTR_CREATED;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Created", "created");
  st.state = CTR_PAUSED;
  st.supervisor_alive = true;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Paused", "paused");
  st.state = CTR_RESTARTING;
  st.sup.exit_code = 1;
  tap_is_str(verbs_status_text(&st, now, buf, sizeof buf), "Restarting (1) 2 seconds ago",
             "restarting");
  tap_ok(verbs_state_running(CTR_STOPPING) && !verbs_state_running(CTR_RESTARTING),
         "stopping runs, restarting does not");
}

/* Renders tmpl over the JSON text; the output, or "ERR: message". */
static char *render(const char *tmpl, const char *json)
{
  yajl_val v = verbs_json_tree(json);
  struct nook_error *err = NULL;
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);

  if (verbs_template_render(tmpl, v, f, &err) < 0)
    fprintf(f, "ERR: %s", err->msg);
  fclose(f);
  nook_error_free(err);
  yajl_tree_free(v);
  return out;
}

static void test_templates(void)
{
  const char *j = "{\"Name\":\"web\",\"State\":{\"Status\":\"running\",\"Pid\":42,\"Running\":true},"
                  "\"Names\":[\"a\",\"b\"],\"Args\":[\"x\",1],\"Env\":null}";
  const char *hdr_body = NULL;
  char *s;

  s = render("{{.Name}}", j);
  tap_is_str(s, "web\n", "a field, and a newline at the end");
  free(s);
  s = render("{{ .State.Status }} {{.State.Pid}} {{.State.Running}}\\t!\\n", j);
  tap_is_str(s, "running 42 true\t!\n", "nested fields, numbers, booleans, \\t, \\n");
  free(s);
  s = render("{{.Names}}", j);
  tap_is_str(s, "a,b\n", "a list of strings is joined");
  free(s);
  s = render("{{.Args}}|{{json .Names}}|{{json .State}}", j);
  tap_is_str(s, "[\"x\",1]|[\"a\",\"b\"]|{\"Status\":\"running\",\"Pid\":42,\"Running\":true}\n",
             "json, and mixed lists as JSON");
  free(s);
  s = render("{{.Env}}", j);
  tap_is_str(s, "<no value>\n", "null");
  free(s);
  s = render("{{.Nope}}", j);
  tap_is_str(s, "ERR: --format: no field `.Nope`", "an unknown field is an error naming it");
  free(s);
  s = render("{{.State.Nope}}", j);
  tap_is_str(s, "ERR: --format: no field `.State.Nope`", "an unknown nested field");
  free(s);
  s = render("{{Name}}", j);
  tap_ok(strstr(s, "ERR: --format: `Name` is not a field") != NULL, "a field needs its dot");
  free(s);
  s = render("{{.Name", j);
  tap_ok(strstr(s, "without `}}`") != NULL, "an unclosed action");
  free(s);
  s = verbs_template_header("table {{.ID}}\\t{{ .Names }}\\t{{json .State.Status}}", &hdr_body);
  tap_is_str(s, "ID\tNAMES\tSTATUS", "the header of a table template");
  tap_is_str(hdr_body, "{{.ID}}\\t{{ .Names }}\\t{{json .State.Status}}", "and its body");
  free(s);
}

static void test_table(void)
{
  struct verbs_table t = { .ncols = 3 };
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);

  verbs_table_add(&t, "CONTAINER ID", "NAMES", "X");
  verbs_table_add(&t, "0123456789ab", NULL, "last");
  verbs_table_print(&t, f);
  verbs_table_free(&t);
  fclose(f);
  tap_is_str(out, "CONTAINER ID  NAMES       X\n0123456789ab              last\n",
             "columns at least 12 wide, 2 apart, the last unpadded");
  free(out);
}

static void test_ports_env(void)
{
  char p1[] = "8080:80", p2[] = "127.0.0.1:5353:53/udp", p3[] = "bogus";
  char *specs[] = { p1, p2, p3, NULL };
  char **env = NULL, *s;
  struct nook_error *err = NULL;
  char file[] = "/tmp/nook-test-verbs.XXXXXX";
  int fd;

  s = verbs_ports_text(specs);
  tap_is_str(s, "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp", "the PORTS column");
  free(s);
  s = verbs_ports_text(NULL);
  tap_is_str(s, "", "no ports");
  free(s);

  verbs_env_set(&env, "A=1");
  verbs_env_set(&env, "B=2");
  verbs_env_set(&env, "A=3");
  tap_ok(nook_strv_length(env) == 2 && streq(env[0], "A=3"), "a later KEY replaces");
  setenv("NOOK_TEST_HOST", "host value", 1);
  unsetenv("NOOK_TEST_UNSET");
  tap_ok(verbs_env_add(&env, "NOOK_TEST_HOST", "--env", NULL) == 0
             && nook_strv_contains(env, "NOOK_TEST_HOST=host value"),
         "KEY alone takes ours");
  tap_ok(verbs_env_add(&env, "NOOK_TEST_UNSET", "--env", NULL) == 0 && nook_strv_length(env) == 3,
         "KEY alone that we do not have: nothing");
  tap_ok(verbs_env_add(&env, "=x", "--env", &err) == -EINVAL && strstr(err->msg, "--env: `=x`"),
         "=x is refused, naming the option");
  nook_error_freep(&err);
  fd = mkstemp(file);
  if (fd < 0 || nook_write_all(fd, "# c\n\n  C=4\nD=five six\n", 22) < 0)
    abort();
  close(fd);
  tap_ok(verbs_env_add_file(&env, file, NULL) == 0 && nook_strv_contains(env, "C=4")
             && nook_strv_contains(env, "D=five six") && nook_strv_length(env) == 5,
         "--env-file: comments and blank lines skipped");
  unlink(file);
  tap_ok(verbs_env_add_file(&env, file, &err) < 0 && strstr(err->msg, "--env-file"),
         "a missing --env-file names the option");
  nook_error_freep(&err);
  nook_strv_free(env);
}

int main(void)
{
  test_durations();
  test_sizes_times();
  test_status();
  test_templates();
  test_table();
  test_ports_env();
  return tap_done();
}
