/* Unit tests for common/ and the state store (runtime/state.c). */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/state.h"
#include "tests/unit/tap.h"

static void test_numbers(void)
{
  uint64_t u = 0;
  int64_t i = 0;
  int n = 0;

  tap_ok(nook_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX, "u64 max");
  tap_ok(nook_parse_u64("18446744073709551616", &u) == -ERANGE, "u64 overflow is ERANGE");
  tap_ok(nook_parse_u64("-1", &u) == -EINVAL, "u64 refuses a sign");
  tap_ok(nook_parse_u64("12x", &u) == -EINVAL, "u64 refuses trailing garbage");
  tap_ok(nook_parse_u64("", &u) == -EINVAL, "u64 refuses empty");
  tap_ok(nook_parse_u64(" 1", &u) == -EINVAL, "u64 refuses leading space");
  tap_ok(nook_parse_i64("-9223372036854775808", &i) == 0 && i == INT64_MIN, "i64 min");
  tap_ok(nook_parse_int("2147483648", &n) == -ERANGE, "int overflow is ERANGE");
  tap_ok(nook_parse_int("-5", &n) == 0 && n == -5, "int negative");
}

static void test_signals(void)
{
  tap_is_int(nook_signal_parse("KILL"), SIGKILL, "signal KILL");
  tap_is_int(nook_signal_parse("SIGTERM"), SIGTERM, "signal SIGTERM");
  tap_is_int(nook_signal_parse("sigusr1"), SIGUSR1, "signal lowercase sigusr1");
  tap_is_int(nook_signal_parse("9"), 9, "signal number");
  tap_is_int(nook_signal_parse("RTMIN+2"), SIGRTMIN + 2, "signal RTMIN+2");
  tap_ok(nook_signal_parse("0") < 0, "signal 0 refused");
  tap_ok(nook_signal_parse("65") < 0, "signal 65 refused");
  tap_ok(nook_signal_parse("FOO") < 0, "unknown signal name refused");
  tap_is_str(nook_signal_name(SIGHUP), "SIGHUP", "signal name of 1");
}

static void test_strv(void)
{
  _cleanup_strv_ char **v = NULL;
  _cleanup_strv_ char **d = NULL;

  nook_strv_push(&v, "a");
  nook_strv_push(&v, "b");
  d = nook_strv_dup(v);
  tap_is_int(nook_strv_length(d), 2, "strv dup length");
  tap_ok(nook_strv_contains(d, "b") && !nook_strv_contains(d, "c"), "strv contains");
}

static void test_ids(void)
{
  _cleanup_free_ char *long_id = xcalloc(1, 1100);
  struct nook_error *err = NULL;

  memset(long_id, 'a', 1025);
  tap_ok(nook_id_validate("web-1_a.b+c", NULL) == 0, "valid id");
  tap_ok(nook_id_validate("a/b", &err) < 0 && strstr(err->msg, "`a/b`"), "id with / refused, named");
  nook_error_freep(&err);
  tap_ok(nook_id_validate("..", NULL) < 0, "id .. refused");
  tap_ok(nook_id_validate(".seccomp-cache", NULL) < 0, "id with a leading . refused (nook's files)");
  tap_ok(nook_id_validate("", NULL) < 0, "empty id refused");
  tap_ok(nook_id_validate(long_id, NULL) < 0, "1025-character id refused");
  long_id[1024] = '\0';
  tap_ok(nook_id_validate(long_id, NULL) == 0, "1024-character id accepted");
}

static void test_state_store(void)
{
  char root[] = "/tmp/nook-unit-XXXXXX";
  struct nook_error *err = NULL;
  struct nook_kv ann[] = { { (char *)"k", (char *)"v\"q" } };
  struct nook_state st = {
    .id = (char *)"c1", .pid = getpid(), .bundle = (char *)"/b", .rootfs = (char *)"/b/rootfs",
    .created = (char *)"2024-01-01T00:00:00.000000000Z", .owner = (char *)"",
    .created_done = true, .annotations = ann, .n_annotations = 1,
  };
  _cleanup_state_ struct nook_state *back = NULL;
  _cleanup_free_ char *json = NULL;
  _cleanup_json_ yajl_val v = NULL;
  int dfd = -1, dfd2 = -1;

  tap_ok(mkdtemp(root) != NULL, "temp root");
  tap_ok(nook_proc_start_time(getpid(), &st.pid_start) == 0, "own start time");
  tap_ok(nook_state_dir_create(root, "c1", &dfd, &err) == 0, "state dir created");
  tap_ok(nook_state_dir_create(root, "c1", &dfd2, &err) < 0 && strstr(err->msg, "already exists"),
         "second create of the same id refused");
  nook_error_freep(&err);
  tap_ok(nook_state_write(dfd, &st, &err) == 0, "state written");
  tap_ok(nook_state_read(dfd, "c1", &back, &err) == 0, "state read back");
  tap_ok(back && back->pid == st.pid && back->pid_start == st.pid_start && streq(back->bundle, "/b")
             && back->n_annotations == 1 && streq(back->annotations[0].value, "v\"q"),
         "state round trip");
  tap_is_int(nook_state_status(dfd, back), NOOK_STATUS_RUNNING, "live pid without fifo is running");
  mkfifoat(dfd, "exec.fifo", 0600);
  tap_is_int(nook_state_status(dfd, back), NOOK_STATUS_CREATED, "exec.fifo means created");
  back->pid_start++;
  tap_is_int(nook_state_status(dfd, back), NOOK_STATUS_STOPPED, "reused pid means stopped");
  json = nook_state_oci_json(&st, NOOK_STATUS_RUNNING, true);
  tap_ok(nook_json_parse(json, "state", &v, &err) == 0, "OCI state JSON parses");
  tap_is_str(nook_json_get_str(v, "status"), "running", "OCI state status");
  tap_is_str(nook_json_get_str(nook_json_get(v, "annotations"), "k"), "v\"q", "OCI state annotation");
  tap_ok(nook_state_dir_open(root, "nope", false, &dfd2, &err) < 0
             && strstr(err->msg, "container `nope` does not exist"),
         "unknown id named in the error");
  nook_error_freep(&err);
  close(dfd);
  tap_ok(nook_state_dir_remove(root, "c1", &err) == 0, "state dir removed");
  tap_ok(rmdir(root) == 0, "temp root empty afterwards");
}

/* Messages stay one printable line, whatever they quote. */
static void test_errors(void)
{
  _cleanup_error_ struct nook_error *err = NULL, *err2 = NULL;

  nook_error_setx(&err, EINVAL, "name `%s`", "a\nb\x1b[31mc\x7f");
  nook_error_prefix(&err, "layer `%s`", "l\tx");
  tap_is_str(err->msg, "layer `l\\x09x`: name `a\\x0ab\\x1b[31mc\\x7f`",
             "control characters in a message are written \\xNN");
  nook_error_set(&err2, ENOENT, "open `%s`", "\r");
  tap_is_str(err2->msg, "open `\\x0d`: No such file or directory", "and with strerror");
}

/* nook's own JSON files: a deep nesting fails instead of overflowing the stack when freed;
 * a start time above INT64_MAX survives a round trip. */
static void test_own_json(void)
{
  char root[] = "/tmp/nook-unit-XXXXXX";
  size_t depth = 2000000;
  _cleanup_free_ char *deep = xmalloc(2 * depth + 1);
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_state_ struct nook_state *back = NULL;
  struct nook_state st = { .id = (char *)"c", .pid_start = UINT64_MAX, .bundle = (char *)"",
                           .rootfs = (char *)"", .created = (char *)"", .owner = (char *)"",
                           .cgroup_path = (char *)"" };
  yajl_val v = NULL;
  int dfd = -1;

  memset(deep, '[', depth);
  memset(deep + depth, ']', depth);
  deep[2 * depth] = '\0';
  tap_ok(nook_json_parse(deep, "state.json", &v, &err) < 0 && v == NULL
             && streq(err->msg, "state.json: nesting deeper than 64 levels"),
         "two million nested arrays: refused, not a stack overflow");
  nook_error_freep(&err);
  tap_ok(mkdtemp(root) != NULL && (dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0,
         "temp dir");
  tap_ok(nook_state_write(dfd, &st, &err) == 0 && nook_state_read(dfd, "c", &back, &err) == 0
             && back->pid_start == UINT64_MAX,
         "pidStart 2^64-1 round trip");
  close(dfd);
  nook_rm_rf_at(AT_FDCWD, root, NULL);
}

static void test_atomic_write(void)
{
  char dir[] = "/tmp/nook-unit-XXXXXX";
  _cleanup_free_ char *back = NULL;
  int dfd;

  mkdtemp(dir);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  tap_ok(nook_write_file_atomic_at(dfd, "f", "one", 3, 0600, NULL) == 0, "atomic write");
  tap_ok(nook_write_file_atomic_at(dfd, "f", "two!", 4, 0600, NULL) == 0, "atomic overwrite");
  tap_ok(nook_read_file_at(dfd, "f", 100, &back, NULL, NULL) == 0 && streq(back, "two!"),
         "atomic write content");
  free(back);
  back = NULL;
  tap_ok(nook_read_file_at(dfd, "f", 2, &back, NULL, NULL) == -EFBIG, "read limit enforced");
  {
    struct nook_error *err = NULL;
    char *want = xasprintf("create `%s/missing/f`: No such file or directory", dir);
    int r = nook_write_file_atomic_at(dfd, "missing/f", "x", 1, 0600, &err);
    tap_ok(r == -ENOENT && err && streq(err->msg, want),
           "a failed atomic write names the file's full path (%s)", err ? err->msg : "");
    nook_error_free(err);
    free(want);
  }
  close(dfd);
  tap_ok(nook_rm_rf_at(AT_FDCWD, dir, NULL) == 0 && access(dir, F_OK) < 0, "rm -rf");
}

static void test_close_from(void)
{
  int fds[6], keep[2];
  bool open_after[6];

  for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
    fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  keep[0] = fds[1];
  keep[1] = fds[4];
  tap_ok(nook_fds_close_from(fds[0], keep, ARRAY_SIZE(keep), NULL) == 0, "close_from");
  for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
    open_after[i] = fcntl(fds[i], F_GETFD) >= 0;
  tap_ok(!open_after[0] && open_after[1] && !open_after[2] && !open_after[3] && open_after[4]
             && !open_after[5],
         "close_from closes all but the kept fds");
  tap_ok(fcntl(2, F_GETFD) >= 0, "close_from leaves fds below from");
  close(fds[1]);
  close(fds[4]);
}

int main(void)
{
  test_numbers();
  test_signals();
  test_strv();
  test_ids();
  test_state_store();
  test_errors();
  test_own_json();
  test_atomic_write();
  test_close_from();
  return tap_done();
}
