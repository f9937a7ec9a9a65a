/* Unit tests for the supervisor's records and parsers: ctr.log's k8s-file writer and
 * rotation, status.json, restart policies, detach keys and the options of `__supervise`
 * (runtime/supervisor-log.c, supervisor-status.c, supervisor-spawn.c, attach.c).
 * test-supervisor.c runs the supervisor itself. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/supervisor-internal.h"
#include "runtime/supervisor.h"
#include "tests/unit/tap.h"
#include "tests/unit/test-supervisor.h"

static void test_timestamps(void)
{
  static const struct
  {
    time_t sec;
    long nsec;
    const char *want;
  } cases[] = {
    { 0, 0, "1970-01-01T00:00:00.000000000Z" },
    { 1795341600, 123456789, "2026-11-22T10:00:00.123456789Z" },
    { 1709251199, 1, "2024-02-29T23:59:59.000000001Z" },
    { 951868800, 999999999, "2000-03-01T00:00:00.999999999Z" },
    { 946684799, 500, "1999-12-31T23:59:59.000000500Z" },
  };
  char buf[SUP_TIMESTAMP_LEN + 1];

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
    {
      struct timespec ts = { cases[i].sec, cases[i].nsec };
      sup_log_timestamp(&ts, buf);
      tap_is_str(buf, cases[i].want, "timestamp in RFC 3339 with nanoseconds, UTC");
    }
}

static void test_log_writer(void)
{
  _cleanup_free_ char *dir = new_dir("log"), *text = NULL;
  _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct timespec ts = { 1795341600, 123456789 };
  struct sup_log l;

  tap_ok(sup_log_open(&l, dirfd, 0, 1, NULL) == 0, "ctr.log opens");
  sup_log_write(&l, &ts, false, "a\nb", 3);
  sup_log_write(&l, &ts, true, "c\n", 2);
  sup_log_write(&l, &ts, false, "b2\n\n", 4);
  sup_log_write(&l, &ts, false, "", 0);
  sup_log_close(&l);
  text = slurp(dir, "ctr.log");
  tap_is_str(text,
             "2026-11-22T10:00:00.123456789Z stdout F a\n"
             "2026-11-22T10:00:00.123456789Z stdout P b\n"
             "2026-11-22T10:00:00.123456789Z stderr F c\n"
             "2026-11-22T10:00:00.123456789Z stdout F b2\n"
             "2026-11-22T10:00:00.123456789Z stdout F \n",
             "F records for lines, P for a tail without newline, stderr tagged");
  tap_ok(sup_log_open(&l, dirfd, 0, 1, NULL) == 0 && l.size == strlen(text),
         "a reopened ctr.log continues at its size");
  sup_log_close(&l);
}

static void test_log_rotation(void)
{
  _cleanup_free_ char *dir = new_dir("rotate"), *a = NULL, *b = NULL, *c = NULL;
  _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct timespec ts = { 1795341600, 0 };
  char line[16], many[64] = "";
  struct sup_log l;
  bool small = true;

  sup_log_open(&l, dirfd, 100, 2, NULL);
  for (int i = 1; i <= 7; i++) /* each record is 47 bytes: two fit in 100 */
    {
      snprintf(line, sizeof(line), "line %d\n", i);
      sup_log_write(&l, &ts, false, line, strlen(line));
    }
  a = slurp(dir, "ctr.log");
  b = slurp(dir, "ctr.log.1");
  c = slurp(dir, "ctr.log.2");
  tap_ok(a && strstr(a, "line 7") && strlen(a) == 47, "ctr.log holds the newest record");
  tap_ok(b && strstr(b, "line 5\n") && strstr(b, "line 6\n"), "ctr.log.1 the two before");
  tap_ok(c && strstr(c, "line 3\n") && strstr(c, "line 4\n"), "ctr.log.2 the oldest kept");
  tap_ok(!exists(dir, "ctr.log.3"), "no more than --log-max-files rotated files");
  for (int i = 0; i < 10; i++)
    strncat(many, "xy\n", sizeof(many) - strlen(many) - 1);
  sup_log_write(&l, &ts, true, many, strlen(many)); /* rotates in the middle of one chunk */
  sup_log_close(&l);
  for (size_t i = 0; i < 3; i++)
    {
      _cleanup_free_ char *t =
          slurp(dir, (const char *[]){ "ctr.log", "ctr.log.1", "ctr.log.2" }[i]);
      small &= t && strlen(t) <= 100;
    }
  tap_ok(small, "a chunk of many lines is rotated between records, every file within the size");
}

static void test_status_roundtrip(void)
{
  _cleanup_free_ char *dir = new_dir("status");
  _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct nook_sup_status st = {
    .state = NOOK_SUP_RESTARTING, .pid = 1234, .supervisor_pid = 99, .supervisor_start = 1ull << 40,
    .exit_code = 137, .signal = 9, .oom_killed = true, .stopped_by_user = false,
    .started_ns = 1795341600123456789LL, .finished_ns = 1795341601000000000LL, .restart_count = 7,
  }, back;
  struct nook_error *err = NULL;

  tap_is_int(nook_sup_status_read(dirfd, &back, &err), -ENOENT, "no status.json: -ENOENT");
  tap_ok(err == NULL, "... without an error");
  snprintf(st.error, sizeof(st.error), "exec `a \"b\"\\c`:\n\tgone \xc3\xa9 \xff");
  tap_ok(nook_sup_status_write(dirfd, &st, NULL) == 0, "status.json written");
  tap_ok(nook_sup_status_read(dirfd, &back, NULL) == 0, "status.json read back");
  tap_ok(back.state == st.state && back.pid == st.pid && back.supervisor_pid == 99
             && back.supervisor_start == st.supervisor_start && back.exit_code == 137
             && back.signal == 9 && back.oom_killed && !back.stopped_by_user
             && back.started_ns == st.started_ns && back.finished_ns == st.finished_ns
             && back.restart_count == 7,
         "every field round-trips");
  tap_is_str(back.error, "exec `a \"b\"\\c`:\n\tgone \xc3\xa9 ?",
             "the error round-trips; a byte that is not UTF-8 becomes ?");
  for (int s = NOOK_SUP_STARTING; s <= NOOK_SUP_FAILED; s++)
    {
      st.state = (enum nook_sup_state)s;
      nook_sup_status_write(dirfd, &st, NULL);
      tap_ok(nook_sup_status_read(dirfd, &back, NULL) == 0 && back.state == st.state, "state %s",
             nook_sup_state_to_string(st.state));
    }
  put(dir, "status.json", "{\"state\":\"dancing\"}");
  tap_ok(nook_sup_status_read(dirfd, &back, &err) == -EINVAL && err
             && strstr(err->msg, "`dancing` is not a known state"),
         "an unknown state is refused, naming it");
  nook_error_freep(&err);
  put(dir, "status.json", "{\"state\":");
  tap_ok(nook_sup_status_read(dirfd, &back, &err) < 0 && err
             && nook_has_prefix(err->msg, "status.json: invalid JSON"),
         "broken JSON is refused");
  nook_error_freep(&err);
}

static void test_supervisor_alive(void)
{
  struct nook_sup_status st = { .supervisor_pid = getpid() };

  nook_proc_start_time(getpid(), &st.supervisor_start);
  tap_ok(nook_sup_status_supervisor_alive(&st), "a live supervisor is alive");
  st.supervisor_start++;
  tap_ok(!nook_sup_status_supervisor_alive(&st), "the same pid with another start time is not");
  st.supervisor_pid = 0;
  tap_ok(!nook_sup_status_supervisor_alive(&st), "no pid is not");
}

static void test_restart_parse(void)
{
  static const struct
  {
    const char *in, *out;
  } good[] = {
    { "no", "no" },
    { "always", "always" },
    { "unless-stopped", "always" },
    { "on-failure", "on-failure" },
    { "on-failure:3", "on-failure:3" },
    { "on-failure:0", "on-failure" },
  };
  static const char *const bad[] = {
    "sometimes",     "",         "on-failure:",           "on-failure:x",
    "on-failure:-1", "always:3", "on-failure:99999999999"
  };
  struct nook_error *err = NULL;
  struct nook_restart r;
  char buf[32];

  for (size_t i = 0; i < ARRAY_SIZE(good); i++)
    {
      tap_ok(nook_restart_parse(good[i].in, &r, NULL) == 0, "--restart %s parses", good[i].in);
      tap_is_str(nook_restart_format(&r, buf, sizeof(buf)), good[i].out, "... and formats back");
    }
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    {
      tap_ok(nook_restart_parse(bad[i], &r, &err) == -EINVAL, "--restart `%s` is refused", bad[i]);
      nook_error_freep(&err);
    }
  nook_restart_parse("sometimes", &r, &err);
  tap_is_str(err ? err->msg : NULL, "--restart `sometimes`: use no, on-failure[:N] or always",
             "the error names the value and the choices");
  nook_error_freep(&err);
}

static void test_detach_keys(void)
{
  struct nook_error *err = NULL;
  char k[16];
  size_t n = 99;

  tap_ok(nook_detach_keys_parse(NULL, k, &n, NULL) == 0 && n == 2 && k[0] == 0x10 && k[1] == 0x11,
         "the default detach keys are ctrl-p,ctrl-q");
  tap_ok(nook_detach_keys_parse("", k, &n, NULL) == 0 && n == 0, "\"\" is no detach keys");
  tap_ok(nook_detach_keys_parse("a,ctrl-[,ctrl-@,ctrl-Z", k, &n, NULL) == 0 && n == 4 && k[0] == 'a'
             && k[1] == 27 && k[2] == 0 && k[3] == 26,
         "characters and ctrl- keys");
  tap_ok(nook_detach_keys_parse("ctrl-1", k, &n, &err) == -EINVAL && err
             && strstr(err->msg, "`ctrl-1` is not a key"),
         "ctrl-1 is refused, naming it");
  nook_error_freep(&err);
  tap_ok(nook_detach_keys_parse("ctrl-p,", k, &n, &err) < 0, "a trailing comma is refused");
  nook_error_freep(&err);
  tap_ok(nook_detach_keys_parse("abc", k, &n, &err) < 0, "a word is refused");
  nook_error_freep(&err);
  tap_ok(nook_detach_keys_parse("a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", k, &n, &err) < 0,
         "17 keys are refused");
  nook_error_freep(&err);
}

static void test_parse_args(void)
{
  const char *good[] = {
    "__supervise", "--dir",           "/x", "--tty",     "--stdin",      "--log-max-size",
    "1000",        "--log-max-files", "3",  "--restart", "on-failure:2", "--stop-signal",
    "INT",         "--sock",          "1",  "--",        "abc",          NULL
  };
  static const struct
  {
    const char *args[6];
    const char *msg;
  } bad[] = {
    { { "__supervise", "abc" }, "__supervise: --dir is required" },
    { { "__supervise", "--dir", "/x" }, "__supervise: give exactly one container id" },
    { { "__supervise", "--dir", "/x", "a", "b" }, "__supervise: give exactly one container id" },
    { { "__supervise", "--nope", "--dir", "/x", "a" }, "__supervise: unknown option `--nope`" },
    { { "__supervise", "--dir" }, "__supervise: option `--dir` needs a value" },
    { { "__supervise", "--restart", "x", "a" }, "--restart `x`: use no, on-failure[:N] or always" },
    { { "__supervise", "--log-max-files", "0", "a" }, "--log-max-files `0`: use 1 to 1000" },
    { { "__supervise", "--log-max-size", "1k", "a" },
      "--log-max-size `1k` is not a number of bytes" },
    { { "__supervise", "--stop-signal", "NOPE", "a" }, "--stop-signal `NOPE` is not a signal" },
    { { "__supervise", "--sock", "999", "a" }, "--sock `999` is not an open fd" },
  };
  struct nook_supervisor_opts o;
  struct nook_error *err = NULL;
  int sock = -2;

  tap_ok(nook_supervisor_parse_args(ARRAY_SIZE(good) - 1, (char **)good, &o, &sock, NULL) == 0,
         "__supervise options parse");
  tap_ok(streq(o.dir, "/x") && streq(o.id, "abc") && o.tty && o.stdin_open && o.log_max_size == 1000
             && o.log_max_files == 3 && o.restart.policy == NOOK_RESTART_ON_FAILURE
             && o.restart.max == 2 && o.stop_signal == SIGINT && sock == 1,
         "... into every field");
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    {
      char *argv[7] = { NULL };
      int argc = 0;
      while (argc < 6 && bad[i].args[argc])
        {
          argv[argc] = (char *)bad[i].args[argc];
          argc++;
        }
      tap_ok(nook_supervisor_parse_args(argc, argv, &o, &sock, &err) < 0, "refused: %s",
             bad[i].msg);
      tap_is_str(err ? err->msg : NULL, bad[i].msg, "... with that message");
      nook_error_freep(&err);
    }
}

int main(void)
{
  char tmpl[] = "/tmp/nook-test-supervisor-data.XXXXXX";

  tmpdir = mkdtemp(tmpl);
  if (tmpdir == NULL)
    abort();
  test_timestamps();
  test_log_writer();
  test_log_rotation();
  test_status_roundtrip();
  test_supervisor_alive();
  test_restart_parse();
  test_detach_keys();
  test_parse_args();
  nook_rm_rf_at(AT_FDCWD, tmpdir, NULL);
  return tap_done();
}
