/* Unit tests for runtime/seccomp.c: compile in this process, load in forked children. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/seccomp.h"
#include "runtime/terminal.h"
#include "tests/unit/tap.h"

static char *tmpdir;
static char made_path[4096]; /* set before any filter: a filtered child must not allocate */

static struct nook_spec *parse_seccomp(const char *seccomp_json)
{
  _cleanup_free_ char *json = xasprintf("{\"ociVersion\":\"1.2.0\",\"linux\":{\"seccomp\":%s}}",
                                        seccomp_json);
  struct nook_error *err = NULL;
  struct nook_spec *spec = NULL;

  if (nook_spec_parse(json, strlen(json), &spec, &err) < 0)
    {
      printf("# parse: %s\n", err->msg);
      nook_error_free(err);
      return NULL;
    }
  return spec;
}

/* Compiles a profile; on failure returns NULL and *ret_msg (optional) gets the message. */
static struct nook_seccomp_filter *compile(const char *seccomp_json, const char *cache_dir,
                                           char **ret_msg)
{
  _cleanup_spec_ struct nook_spec *spec = parse_seccomp(seccomp_json);
  struct nook_seccomp_filter *f = NULL;
  struct nook_error *err = NULL;

  if (spec == NULL)
    return NULL;
  if (nook_seccomp_compile(spec, cache_dir, &f, &err) < 0)
    {
      if (ret_msg)
        *ret_msg = xstrdup(err->msg);
      else
        printf("# compile: %s\n", err->msg);
      nook_error_free(err);
      return NULL;
    }
  return f;
}

/* Runs fn in a child that loaded f (with no_new_privs); returns its wait status. */
static int run_filtered(const struct nook_seccomp_filter *f, int (*fn)(void))
{
  int status = -1;
  pid_t pid = fork();

  if (pid == 0)
    {
      struct nook_error *err = NULL;
      int nfd;
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || nook_seccomp_load(f, &nfd, &err) < 0)
        _exit(200);
      /* Not _exit(): under ASan its interceptor runs LeakSanitizer, which needs syscalls
       * a strict profile denies. */
      syscall(SYS_exit_group, fn());
    }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

static int exited_with(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

static int do_mkdir(void)
{
  if (mkdir(made_path, 0700) == 0)
    {
      rmdir(made_path);
      return 0;
    }
  return errno;
}

static int do_personality(void)
{
  /* 0x12345 is denied; 1 and 2 are denied by two rules on the same index; a query is not. */
  if (personality(0xffffffff) < 0)
    return 1;
  if (personality(0x12345) >= 0 || errno != EPERM)
    return 2;
  if (personality(1) >= 0 || personality(2) >= 0)
    return 3;
  return 0;
}

static int do_ioctl(void)
{
  struct termios t;
  int n, fds[2];

  if (pipe(fds) < 0 || dup2(fds[0], 99) < 0)
    return 1;
  /* MASKED_EQ (cmd & 0xffff) == TCGETS on fd 99 only (AND of two indexes). */
  if (ioctl(99, TCGETS, &t) == 0 || errno != EPERM)
    return 2;
  if (ioctl(fds[0], TCGETS, &t) == 0 || errno != ENOTTY)
    return 3;
  if (ioctl(99, FIONREAD, &n) < 0)
    return 4;
  return 0;
}

static int do_new_syscalls(void)
{
  /* getppid is older than exit_group, the newest syscall the profile names: EPERM (the
   * default); clone3 is newer: ENOSYS, as runc's patchbpf does. */
  if (syscall(SYS_getppid) >= 0 || errno != EPERM) /* glibc getppid() never sets errno */
    return 1;
  if (syscall(435 /* clone3 */, NULL, 0) >= 0 || errno != ENOSYS)
    return 2;
  return 0;
}

static void sigsys_handler(int sig) { _exit(42); }

static int do_trap(void)
{
  signal(SIGSYS, sigsys_handler);
  do_mkdir();
  return 0;
}

static void test_actions(void)
{
  struct nook_seccomp_filter *f;
  int st;

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}", NULL, NULL);
  tap_ok(f != NULL, "default ALLOW + ERRNO compiles");
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), EPERM, "mkdir fails with EPERM");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}", NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), 38, "errnoRet 38 is the errno");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":5,\"syscalls\":[{"
              "\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5},"
              "{\"names\":[\"exit_group\",\"exit\",\"rmdir\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
              NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), 5,
             "defaultErrnoRet applies; a rule equal to the default is dropped");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"exit_group\","
              "\"exit\"],\"action\":\"SCMP_ACT_ALLOW\"}]}", NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_new_syscalls)), 0,
             "syscalls newer than the profile's fail with ENOSYS, older with the default");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}", NULL, NULL);
  st = run_filtered(f, do_mkdir);
  tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "KILL_PROCESS: the child dies of SIGSYS");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_TRAP\"}]}", NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_trap)), 42, "TRAP delivers SIGSYS to a handler");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
              "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_LOG\"}]}", NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), 0, "LOG (with flags LOG, SPEC_ALLOW) allows");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"nook_no_such\","
              "\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}", NULL, NULL);
  tap_ok(f != NULL, "an unknown syscall name is skipped");
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), EPERM, "the known names of that rule apply");
  nook_seccomp_filter_free(f);
}

static void test_args(void)
{
  struct nook_seccomp_filter *f;

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
              "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
              "{\"index\":0,\"value\":74565,\"op\":\"SCMP_CMP_EQ\"}]},"
              "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
              "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
              "{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}", NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_personality)), 0,
             "EQ on personality; two args on one index are two rules (runc)");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"ioctl\"],"
              "\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
              "{\"index\":0,\"value\":99,\"op\":\"SCMP_CMP_EQ\"},"
              "{\"index\":1,\"value\":65535,\"valueTwo\":21505,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
              NULL, NULL);
  tap_is_int(exited_with(run_filtered(f, do_ioctl)), 0,
             "MASKED_EQ with value/valueTwo, ANDed with EQ on another index");
  nook_seccomp_filter_free(f);
}

static void test_errors(void)
{
  _cleanup_spec_ struct nook_spec *spec = NULL;
  struct nook_seccomp_filter *f = NULL;
  struct nook_error *err = NULL;
  struct nook_seccomp *saved;
  char *msg = NULL;
  int r;

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
              "\"SCMP_ARCH_LOONGARCH64\"]}", NULL, &msg);
  if (f == NULL)
    tap_ok(msg && strstr(msg, "linux.seccomp.architectures[1]")
               && strstr(msg, "SCMP_ARCH_LOONGARCH64"),
           "an arch libseccomp lacks names the field: %s", msg ? msg : "");
  else
    tap_ok(1, "# SKIP this libseccomp knows loongarch64");
  nook_seccomp_filter_free(f);
  free(TAKE_PTR(msg));

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
              "\"action\":\"SCMP_ACT_NOTIFY\"}]}", NULL, &msg);
  tap_ok(f == NULL && msg && strstr(msg, "linux.seccomp.listenerPath"),
         "NOTIFY without listenerPath names listenerPath: %s", msg ? msg : "");
  free(TAKE_PTR(msg));

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
              "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,"
              "\"op\":\"SCMP_CMP_EQ\"}]}]}", NULL, &msg);
  tap_ok(f == NULL && msg && strstr(msg, "linux.seccomp.syscalls[0].args[0].index"),
         "an arg index above 5 names the field: %s", msg ? msg : "");
  free(TAKE_PTR(msg));

  /* The parser rejects unknown flags; the compiler checks again for a hand-made spec. */
  spec = parse_seccomp("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"]}");
  free(spec->linux->seccomp->flags[0]);
  spec->linux->seccomp->flags[0] = xstrdup("SECCOMP_FILTER_FLAG_BOGUS");
  r = nook_seccomp_compile(spec, NULL, &f, &err);
  tap_ok(r < 0 && strstr(err->msg, "linux.seccomp.flags[0]") && strstr(err->msg, "SECCOMP_FILTER_FLAG_BOGUS"),
         "an unknown flag names the field: %s", err ? err->msg : "");
  nook_error_free(err);

  saved = spec->linux->seccomp;
  spec->linux->seccomp = NULL;
  f = (struct nook_seccomp_filter *)1;
  tap_ok(nook_seccomp_compile(spec, NULL, &f, NULL) == 0 && f == NULL, "no seccomp: NULL filter");
  spec->linux->seccomp = saved;
}

static const char cache_profile[] =
  "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";

/* The one .bpf file in dir, or NULL. */
static char *cache_file(const char *dir)
{
  _cleanup_free_ char *cmd = xasprintf("ls %s/*.bpf 2>/dev/null", dir);
  char line[4096] = "";
  FILE *p = popen(cmd, "r");

  if (p == NULL)
    return NULL;
  if (fgets(line, sizeof(line), p) == NULL)
    line[0] = '\0';
  pclose(p);
  line[strcspn(line, "\n")] = '\0';
  return line[0] ? xstrdup(line) : NULL;
}

static void test_cache(void)
{
  _cleanup_free_ char *dir = xasprintf("%s/cache", tmpdir);
  _cleanup_free_ char *file = NULL;
  struct nook_seccomp_filter *f;
  struct stat st;
  int fd;

  f = compile(cache_profile, dir, NULL);
  tap_ok(f && !nook_seccomp_filter_from_cache(f), "first compile runs libseccomp");
  nook_seccomp_filter_free(f);
  tap_ok(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700, "the cache dir is made 0700");
  file = cache_file(dir);
  tap_ok(file && stat(file, &st) == 0 && st.st_size > 0 && st.st_size % 8 == 0,
         "one <sha256>.bpf file of whole instructions");
  tap_ok(file && strlen(strrchr(file, '/') + 1) == 64 + 4, "named by a 256-bit hex hash");

  f = compile(cache_profile, dir, NULL);
  tap_ok(f && nook_seccomp_filter_from_cache(f), "second compile is a cache hit");
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), 13, "the cached program works");
  nook_seccomp_filter_free(f);

  /* Truncated to a size that is not whole instructions: ignored and rewritten. */
  fd = file ? open(file, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
  tap_ok(fd >= 0 && write(fd, "xyz", 3) == 3, "corrupt the cache file");
  if (fd >= 0)
    close(fd);
  f = compile(cache_profile, dir, NULL);
  tap_ok(f && !nook_seccomp_filter_from_cache(f), "a corrupt cache file is recompiled");
  tap_ok(file && stat(file, &st) == 0 && st.st_size % 8 == 0, "and replaced");
  nook_seccomp_filter_free(f);

  /* Whole instructions but not ending in a return (cut short): recompiled too. */
  tap_ok(file && truncate(file, 8) == 0, "truncate the cache file to one instruction");
  f = compile(cache_profile, dir, NULL);
  tap_ok(f && !nook_seccomp_filter_from_cache(f), "a program not ending in ret is recompiled");
  tap_is_int(exited_with(run_filtered(f, do_mkdir)), 13, "the recompiled program works");
  nook_seccomp_filter_free(f);

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
              "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":14}]}", dir, NULL);
  tap_ok(f && !nook_seccomp_filter_from_cache(f), "another profile is another key");
  nook_seccomp_filter_free(f);
}

/* The child: load, hand the notify fd over, mkdir (answered by the parent). */
static _noreturn_ void notify_child(const struct nook_seccomp_filter *f, int sock)
{
  struct nook_error *err = NULL;
  _cleanup_free_ char *p = xasprintf("%s/notified", tmpdir);
  int nfd = -1;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || nook_seccomp_load(f, &nfd, &err) < 0 || nfd < 0)
    _exit(100);
  if (nook_unix_send_fd(sock, nfd, "x", 1, &err) < 0)
    _exit(101);
  close(nfd);
  if (mkdir(p, 0700) != 0)
    _exit(102);
  if (access(p, F_OK) == 0) /* the parent faked success: nothing was made */
    _exit(103);
  _exit(getppid() == 4242 ? 0 : 104);
}

static int answer_one(int nfd, int32_t *ret_nr, int64_t val)
{
  struct seccomp_notif *req = NULL;
  struct seccomp_notif_resp *resp = NULL;
  int r;

  if (seccomp_notify_alloc(&req, &resp) < 0)
    return -1;
  r = seccomp_notify_receive(nfd, req);
  if (r == 0)
    {
      *ret_nr = req->data.nr;
      resp->id = req->id;
      resp->val = val;
      resp->error = 0;
      resp->flags = 0;
      r = seccomp_notify_respond(nfd, resp);
    }
  seccomp_notify_free(req, resp);
  return r;
}

static void test_notify(void)
{
  struct nook_seccomp_filter *f;
  struct nook_error *err = NULL;
  int sp[2], nfd = -1, status = -1;
  int32_t nr1 = -1, nr2 = -1;
  char c;
  pid_t pid;

  f = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/nonexistent\","
              "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\",\"getppid\"],"
              "\"action\":\"SCMP_ACT_NOTIFY\"}]}", NULL, NULL);
  tap_ok(f && nook_seccomp_filter_has_listener(f), "a NOTIFY rule asks for a listener");
  if (f == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return;
  pid = fork();
  if (pid == 0)
    notify_child(f, sp[1]);
  close(sp[1]);
  tap_ok(nook_unix_recv_fd(sp[0], &nfd, &c, 1, &err) >= 0, "the parent receives the notify fd");
  tap_ok(answer_one(nfd, &nr1, 0) == 0 && answer_one(nfd, &nr2, 4242) == 0,
         "the parent answers two notifications");
  tap_ok(nr1 == seccomp_syscall_resolve_name("mkdir") || nr1 == seccomp_syscall_resolve_name("mkdirat"),
         "the first is mkdir");
  tap_is_int(nr2, seccomp_syscall_resolve_name("getppid"), "the second is getppid");
  waitpid(pid, &status, 0);
  tap_is_int(exited_with(status), 0, "the child saw the faked results");
  close(nfd);
  close(sp[0]);
  nook_error_free(err);
  nook_seccomp_filter_free(f);
}

static void test_listener(void)
{
  _cleanup_free_ char *sock_path = xasprintf("%s/agent.sock", tmpdir);
  _cleanup_free_ char *json = xasprintf(
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":"
      "\"a\\\"b\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
      sock_path);
  _cleanup_spec_ struct nook_spec *spec = parse_seccomp(json);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct nook_error *err = NULL;
  char buf[4096] = "";
  int srv, conn = -1, got = -1, r;

  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
  srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 1) < 0)
    return;
  r = nook_seccomp_send_listener(spec, 1234, STDIN_FILENO, "{\"id\":\"c1\"}", &err);
  tap_ok(r == 0, "send to listenerPath: %s", err ? err->msg : "ok");
  conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
  tap_ok(conn >= 0 && nook_unix_recv_fd(conn, &got, buf, sizeof(buf) - 1, NULL) > 0,
         "the agent receives an fd and a payload");
  tap_is_str(buf, "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":1234,"
                  "\"metadata\":\"a\\\"b\",\"state\":{\"id\":\"c1\"}}",
             "the payload is containerProcessState with escaped metadata");
  if (got >= 0)
    close(got);
  if (conn >= 0)
    close(conn);
  close(srv);
  nook_error_free(err);
}

int main(void)
{
  char tmpl[] = "/tmp/nook-test-seccomp.XXXXXX";

  tmpdir = mkdtemp(tmpl);
  if (tmpdir == NULL)
    return 1;
  snprintf(made_path, sizeof(made_path), "%s/made", tmpdir);
  test_actions();
  test_args();
  test_errors();
  test_cache();
  test_notify();
  test_listener();
  nook_rm_rf_at(AT_FDCWD, tmpdir, NULL);
  return tap_done();
}
