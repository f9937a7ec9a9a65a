/* Unit tests for runtime/hooks.c and runtime/terminal.c (the console socket round trip). */
#include "config.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/terminal.h"
#include "tests/unit/tap.h"
#include "common/util.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
  return xasprintf("%s/%s", tmpdir, name);
}

/* The hook /bin/sh -c SCRIPT sh ARG (ARG may be NULL). */
static struct nook_hook sh_hook(const char *script, const char *arg)
{
  struct nook_hook h = { .path = xstrdup("/bin/sh") };
  const char *argv[] = { "sh", "-c", script, "sh", arg };

  for (size_t i = 0; i < ARRAY_SIZE(argv) && argv[i]; i++)
    nook_strv_push(&h.args, argv[i]);
  return h;
}

static void hook_clear(struct nook_hook *h)
{
  free(h->path);
  nook_strv_free(h->args);
  nook_strv_free(h->env);
  *h = (struct nook_hook){ 0 };
}

static char *slurp(const char *path, size_t *ret_len)
{
  char *buf = NULL;

  if (nook_read_file_at(AT_FDCWD, path, 4 << 20, &buf, ret_len, NULL) < 0)
    return NULL;
  return buf;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one hook, returns the error message (or NULL on success). */
static char *run_one(struct nook_hook *h, const char *kind, const char *state)
{
  _cleanup_error_ struct nook_error *err = NULL;

  if (nook_hooks_run(h, 1, kind, state, &err) == 0)
    return NULL;
  return xstrdup(err ? err->msg : "(no message)");
}

static void test_stdin_and_env(void)
{
  static const char state[] = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
                              "\"pid\":42,\"bundle\":\"/b\"}";
  static const char env_want[] = "A=1\0B=two words\0";
  _cleanup_free_ char *out = tmp_path("stdin"), *got = NULL, *msg = NULL;
  struct nook_hook h = sh_hook("/bin/cat > \"$1\"", out);
  size_t len = 0;

  msg = run_one(&h, "prestart", state);
  tap_is_str(msg, NULL, "stdin hook succeeds");
  got = slurp(out, NULL);
  tap_is_str(got, state, "the hook's stdin is the state JSON");
  hook_clear(&h);

  free(got);
  h = sh_hook("/bin/cat /proc/$$/environ > \"$1\"", out);
  nook_strv_push(&h.env, "A=1");
  nook_strv_push(&h.env, "B=two words");
  free(msg);
  msg = run_one(&h, "prestart", state);
  got = slurp(out, &len);
  tap_ok(msg == NULL && got && len == sizeof(env_want) - 1 && memcmp(got, env_want, len) == 0,
         "the environment is exactly hook.env");
  nook_strv_free(h.env);
  h.env = NULL;
  free(got);
  free(msg);
  msg = run_one(&h, "prestart", state);
  got = slurp(out, &len);
  tap_ok(msg == NULL && got && len == 0, "no hook.env: an empty environment");
  hook_clear(&h);
}

/* Without args, argv is {path}: /bin/sh then reads its script from stdin, the "state". */
static void test_default_args(void)
{
  _cleanup_free_ char *out = tmp_path("argv0"), *got = NULL, *msg = NULL;
  _cleanup_free_ char *script = xasprintf("printf %%s \"$0\" > %s\n", out);
  struct nook_hook h = { .path = (char *)"/bin/sh" };

  msg = run_one(&h, "prestart", script);
  got = slurp(out, NULL);
  tap_ok(msg == NULL, "hook without args runs");
  tap_is_str(got, "/bin/sh", "argv[0] is the path when args is absent");
}

static void expect_failure(const char *script, const char *want, const char *name)
{
  struct nook_hook h = sh_hook(script, NULL);
  _cleanup_free_ char *msg = run_one(&h, "createRuntime", "{}");

  tap_is_str(msg, want, name);
  hook_clear(&h);
}

static void test_failures(void)
{
  expect_failure("echo first-line >&2; echo second >&2; echo out; exit 3",
                 "createRuntime hook #0 `/bin/sh`: exited with status 3: first-line",
                 "exit status and the first line of stderr");
  expect_failure("echo; echo '  only-stdout  '; exit 1",
                 "createRuntime hook #0 `/bin/sh`: exited with status 1: only-stdout",
                 "stdout when stderr is empty");
  expect_failure("exit 2", "createRuntime hook #0 `/bin/sh`: exited with status 2",
                 "no output: status only");
  expect_failure("kill -TERM $$", "createRuntime hook #0 `/bin/sh`: killed by signal SIGTERM",
                 "killed by a signal");
  {
    /* 100 kB of stderr (more than a pipe holds) on one line: kept to 4 KiB. */
    _cleanup_free_ char *xs = xmalloc(4097);
    _cleanup_free_ char *want = NULL;
    memset(xs, 'x', 4096);
    xs[4096] = '\0';
    want = xasprintf("createRuntime hook #0 `/bin/sh`: exited with status 4: %s", xs);
    expect_failure("/usr/bin/head -c 100000 /dev/zero | /usr/bin/tr '\\0' x >&2; exit 4", want,
                   "100 kB of stderr: no deadlock, the first 4 KiB kept");
  }
}

static void test_bad_paths(void)
{
  _cleanup_free_ char *noexec = tmp_path("noexec"), *msg = NULL, *msg2 = NULL;
  struct nook_hook h = { .path = (char *)"/nonexistent/hook" };
  _cleanup_close_ int fd = open(noexec, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

  msg = run_one(&h, "prestart", "{}");
  tap_is_str(msg, "prestart hook #0 `/nonexistent/hook`: execve: No such file or directory",
             "nonexistent path");
  h.path = noexec;
  msg2 = run_one(&h, "prestart", "{}");
  _cleanup_free_ char *want = xasprintf("prestart hook #0 `%s`: execve: Permission denied", noexec);
  tap_is_str(msg2, want, "file without exec permission");
}

static bool pid_gone(pid_t pid)
{
  uint64_t t;

  for (int i = 0; i < 200; i++)
    {
      if (nook_proc_start_time(pid, &t) == -ESRCH)
        return true;
      usleep(10000);
    }
  return false;
}

static void test_timeout(void)
{
  _cleanup_free_ char *pidfile = tmp_path("pid"), *kidfile = tmp_path("kid");
  _cleanup_free_ char *script = xasprintf("echo $$ > %s; /bin/sleep 10 & echo $! > %s; "
                                          "echo started >&2; exec /bin/sleep 10",
                                          pidfile, kidfile);
  _cleanup_free_ char *msg = NULL, *p1 = NULL, *p2 = NULL;
  struct nook_hook h = sh_hook(script, NULL);
  double t0 = now_s(), elapsed;
  int pid = 0, kid = 0;

  h.timeout = (struct nook_opt_i64){ true, 1 };
  msg = run_one(&h, "poststart", "{}");
  elapsed = now_s() - t0;
  tap_is_str(msg, "poststart hook #0 `/bin/sh`: timed out after 1 s: started", "timeout: message");
  tap_ok(elapsed > 0.9 && elapsed < 3.0, "timeout: returned after %.2f s", elapsed);
  p1 = slurp(pidfile, NULL);
  p2 = slurp(kidfile, NULL);
  if (p1)
    p1[strcspn(p1, "\n")] = '\0';
  if (p2)
    p2[strcspn(p2, "\n")] = '\0';
  tap_ok(p1 && nook_parse_int(p1, &pid) == 0 && pid_gone(pid), "timeout: the hook is dead");
  tap_ok(p2 && nook_parse_int(p2, &kid) == 0 && pid_gone(kid),
         "timeout: what it started in the background is dead too");
  hook_clear(&h);

  h = sh_hook("exit 0", NULL);
  h.timeout = (struct nook_opt_i64){ true, 5 };
  t0 = now_s();
  free(msg);
  msg = run_one(&h, "poststart", "{}");
  tap_ok(msg == NULL && now_s() - t0 < 1.0, "a quick hook with a timeout returns at once");
  hook_clear(&h);
}

/* 1 MiB of state to a hook that does not read it, to one that reads it, to one that exits
 * late: no hang, no SIGPIPE, and the caller's signal mask is restored. */
static void test_large_state(void)
{
  _cleanup_free_ char *state = xmalloc(1 << 20 | 1), *out = tmp_path("big"), *got = NULL;
  _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;
  struct nook_hook t = { .path = (char *)"/bin/true" };
  struct nook_hook slow = sh_hook("/bin/sleep 0.2", NULL);
  struct nook_hook reader = sh_hook("/bin/cat > \"$1\"", out);
  sigset_t blocked, mask, pending;
  size_t len = 0;

  memset(state, 'x', 1 << 20);
  state[1 << 20] = '\0';
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, NULL);

  m1 = run_one(&t, "prestart", state);
  m2 = run_one(&slow, "prestart", state);
  m3 = run_one(&reader, "prestart", state);
  tap_is_str(m1, NULL, "1 MiB to /bin/true (does not read stdin)");
  tap_is_str(m2, NULL, "1 MiB to a hook that sleeps without reading");
  tap_is_str(m3, NULL, "1 MiB to a hook that reads it");
  got = slurp(out, &len);
  tap_is_int(len, 1 << 20, "the reader got all of it");

  sigprocmask(SIG_SETMASK, NULL, &mask);
  sigpending(&pending);
  tap_ok(sigismember(&mask, SIGUSR1) && !sigismember(&mask, SIGPIPE),
         "the caller's signal mask is restored");
  tap_ok(!sigismember(&pending, SIGPIPE), "no SIGPIPE left pending");
  sigprocmask(SIG_UNBLOCK, &blocked, NULL);
  hook_clear(&slow);
  hook_clear(&reader);
}

static void test_order_and_fds(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *out = tmp_path("order"), *got = NULL, *fds = tmp_path("fds");
  _cleanup_free_ char *sig = tmp_path("sig"), *got_sig = NULL;
  struct nook_hook hooks[3] = {
    sh_hook("printf 1 >> \"$1\"", out),
    sh_hook("printf 2 >> \"$1\"", out),
    sh_hook("printf 3 >> \"$1\"", out),
  };
  int leak, r;

  tap_is_int(nook_hooks_run(hooks, 3, "prestart", "{}", &err), 0, "three hooks run");
  got = slurp(out, NULL);
  tap_is_str(got, "123", "in order");

  unlink(out);
  hook_clear(&hooks[1]);
  hooks[1] = sh_hook("exit 5", NULL);
  r = nook_hooks_run(hooks, 3, "poststart", "{}", &err);
  free(got);
  got = slurp(out, NULL);
  tap_ok(r < 0 && got && streq(got, "1"), "a failing hook stops the list");
  tap_is_str(err ? err->msg : NULL, "poststart hook #1 `/bin/sh`: exited with status 5",
             "the error names the failing hook");
  tap_is_int(nook_hooks_run(hooks, 0, "poststop", "{}", NULL), 0, "no hooks: nothing to do");

  /* A descriptor without O_CLOEXEC does not reach the hook; its signals start clean. */
  leak = dup(STDOUT_FILENO);
  hook_clear(&hooks[0]);
  hooks[0] = sh_hook("exec /bin/ls /proc/self/fd > \"$1\"", fds);
  hook_clear(&hooks[1]);
  hooks[1] = sh_hook("exec /bin/grep -E '^Sig(Blk|Ign)' /proc/self/status > \"$1\"", sig);
  signal(SIGUSR2, SIG_IGN);
  nook_error_freep(&err);
  tap_is_int(nook_hooks_run(hooks, 2, "prestart", "{}", &err), 0, "fd and signal hooks run");
  signal(SIGUSR2, SIG_DFL);
  close(leak);
  free(got);
  got = slurp(fds, NULL);
  tap_is_str(got, "0\n1\n2\n3\n", "the hook has only fds 0-2 (3 is ls's own)");
  got_sig = slurp(sig, NULL);
  tap_is_str(got_sig, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
             "no blocked or ignored signals in the hook");
  for (size_t i = 0; i < ARRAY_SIZE(hooks); i++)
    hook_clear(&hooks[i]);
}

/* Makes pidfd_open fail with ENOSYS in this process, as on a kernel before 5.3. */
static int deny_pidfd_open(void)
{
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* The waitpid fallback, in a child where pidfd_open is ENOSYS: exit status, then timeout. */
static void test_no_pidfd(void)
{
  int status = 0;
  pid_t pid;

  fflush(stdout);
  pid = fork();
  if (pid == 0)
    {
      struct nook_hook fail = sh_hook("echo boom >&2; exit 3", NULL);
      struct nook_hook slow = sh_hook("exec /bin/sleep 10", NULL);
      _cleanup_free_ char *m1 = NULL, *m2 = NULL;
      double t0;

      if (deny_pidfd_open() < 0 || syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS)
        _exit(1);
      m1 = run_one(&fail, "prestart", "{}");
      if (!streq(m1, "prestart hook #0 `/bin/sh`: exited with status 3: boom"))
        _exit(2);
      slow.timeout = (struct nook_opt_i64){ true, 1 };
      t0 = now_s();
      m2 = run_one(&slow, "prestart", "{}");
      if (!streq(m2, "prestart hook #0 `/bin/sh`: timed out after 1 s") || now_s() - t0 > 3.0)
        _exit(3);
      _exit(0);
    }
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
         "without pidfd_open: status and timeout through waitpid (status 0x%x)", (unsigned)status);
}

/* ---- terminal and console socket ------------------------------------------------------- */

static ssize_t read_timeout(int fd, char *buf, size_t len)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };

  if (poll(&p, 1, 2000) <= 0)
    return -1;
  return read(fd, buf, len);
}

static int listen_unix(const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 1) < 0)
    abort();
  return s;
}

static void test_console_socket(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *sock_path = tmp_path("console.sock"), *slave_path = NULL;
  _cleanup_close_ int lsock = listen_unix(sock_path), master = -1, conn = -1, got = -1, slave = -1;
  char name[256] = { 0 }, buf[64] = { 0 };
  struct termios saved, now;
  int r;

  tap_is_int(nook_terminal_open(&master, &slave_path, &err), 0, "open a pty");
  tap_ok(slave_path && nook_has_prefix(slave_path, "/dev/pts/"), "slave is %s",
         slave_path ? slave_path : "(null)");
  tap_is_int(nook_console_socket_send(sock_path, master, slave_path, &err), 0,
             "send the master to the console socket");
  conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
  r = nook_unix_recv_fd(conn, &got, name, sizeof(name) - 1, &err);
  tap_is_int(r, (long long)strlen(slave_path), "receive: returns the payload length");
  tap_is_str(name, slave_path, "receive: the payload is the slave's path");
  tap_ok(got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC), "receive: an fd, close-on-exec");

  slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  tap_is_int(nook_terminal_make_raw(slave, &saved, &err), 0, "make the slave raw");
  tcgetattr(slave, &now);
  tap_ok(!(now.c_lflag & (ICANON | ECHO)) && (saved.c_lflag & ICANON), "raw: no ICANON, no ECHO");
  if (write(slave, "ping\n", 5) != 5)
    abort();
  tap_ok(read_timeout(got, buf, sizeof(buf) - 1) == 5 && streq(buf, "ping\n"),
         "slave -> received master: `ping\\n` unchanged in raw mode");
  memset(buf, 0, sizeof(buf));
  if (write(got, "pong", 4) != 4)
    abort();
  tap_ok(read_timeout(slave, buf, sizeof(buf) - 1) == 4 && streq(buf, "pong"),
         "received master -> slave");
  nook_terminal_restore(slave, &saved);
  tcgetattr(slave, &now);
  tap_ok((now.c_lflag & ICANON) != 0, "restore: canonical again");

  nook_error_freep(&err);
  _cleanup_free_ char *missing = tmp_path("missing.sock");
  r = nook_console_socket_send(missing, master, "x", &err);
  tap_ok(r < 0 && err && strstr(err->msg, "connect to the console socket")
             && strstr(err->msg, "No such file or directory"),
         "a missing console socket: %s", err ? err->msg : "(none)");
}

static void test_fd_passing_and_size(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_close_ int a = -1, b = -1, null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got = -1;
  _cleanup_close_ int m1 = -1, m2 = -1, s1 = -1;
  _cleanup_free_ char *p1 = NULL, *p2 = NULL;
  struct winsize ws = { .ws_row = 33, .ws_col = 111 }, out = { 0 };
  struct stat st1, st2;
  int sv[2];

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    abort();
  a = sv[0];
  b = sv[1];
  tap_is_int(nook_unix_send_fd(a, null_fd, NULL, 0, &err), 0, "send an fd without payload");
  tap_is_int(nook_unix_recv_fd(b, &got, NULL, 0, &err), 0, "receive it");
  fstat(null_fd, &st1);
  fstat(got, &st2);
  tap_ok(st1.st_rdev == st2.st_rdev && S_ISCHR(st2.st_mode), "it is /dev/null");
  close(a);
  a = -1;
  close(got);
  got = -1;
  tap_ok(nook_unix_recv_fd(b, &got, NULL, 0, &err) < 0 && got == -1 && err
             && strstr(err->msg, "connection closed"),
         "a closed peer is an error");

  if (nook_terminal_open(&m1, &p1, NULL) < 0 || nook_terminal_open(&m2, &p2, NULL) < 0)
    abort();
  s1 = open(p1, O_RDWR | O_NOCTTY | O_CLOEXEC);
  ioctl(s1, TIOCSWINSZ, &ws);
  nook_terminal_copy_size(s1, m2);
  ioctl(m2, TIOCGWINSZ, &out);
  tap_ok(out.ws_row == 33 && out.ws_col == 111, "copy_size: 33x111");
  nook_terminal_copy_size(null_fd, m2); /* not a tty: ignored */
}

/* In a child: the slave becomes the controlling terminal and stdio. */
static void test_become_controlling(void)
{
  _cleanup_close_ int master = -1;
  _cleanup_free_ char *slave = NULL;
  int status = 0;
  pid_t pid;

  if (nook_terminal_open(&master, &slave, NULL) < 0)
    abort();
  fflush(stdout);
  pid = fork();
  if (pid == 0)
    {
      struct winsize ws = { 0 };
      if (nook_terminal_become_controlling(slave, 40, 120, NULL) < 0)
        _exit(1);
      if (tcgetsid(STDIN_FILENO) != getpid() || !isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO))
        _exit(2);
      if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row != 40 || ws.ws_col != 120)
        _exit(3);
      if (write(STDOUT_FILENO, "hi", 2) != 2)
        _exit(4);
      _exit(0);
    }
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
         "become_controlling: session, stdio and size (status 0x%x)", (unsigned)status);
}

int main(void)
{
  char tmpl[] = "/tmp/nook-test-hooks.XXXXXX";

  tmpdir = mkdtemp(tmpl);
  if (tmpdir == NULL)
    abort();
  test_stdin_and_env();
  test_default_args();
  test_failures();
  test_bad_paths();
  test_timeout();
  test_large_state();
  test_order_and_fds();
  test_no_pidfd();
  test_console_socket();
  test_fd_passing_and_size();
  test_become_controlling();
  nook_rm_rf_at(AT_FDCWD, tmpdir, NULL);
  return tap_done();
}
