/* Unit tests for the supervisor (runtime/supervisor*.c) and the attach protocol
 * (runtime/attach.c).  nook_supervisor_main runs in a forked process with fake ops whose create
 * forks /bin/sh -c SCRIPT in a session of its own (reparented to the supervisor, a subreaper,
 * when the create child exits) and whose cleanup kills that session, as the OCI delete kills
 * the cgroup: no OCI runtime is needed.  For the spawn test the binary re-executes itself as
 * `... __supervise ...`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/init.h"
#include "runtime/supervisor-internal.h"
#include "runtime/supervisor.h"
#include "runtime/terminal.h"
#include "tests/unit/tap.h"
#include "tests/unit/test-supervisor.h"

/* ---- the fake container ---------------------------------------------------------------------- */

struct fake
{
  const char *dir;
  const char *script;
  bool tty;       /* open a pty and send its master to console_fd, as the runtime does */
  int fail_errno; /* create fails with this errno and fail_msg */
  const char *fail_msg;
  bool cleanup_fails;
  bool foreign_pid; /* create "succeeds" with pid 1, which is not the supervisor's child */
};

static int fake_create(void *data, int console_fd, pid_t *ret_pid, char **ret_oom,
                       struct nook_error **err)
{
  struct fake *f = data;
  _cleanup_free_ char *slave = NULL;
  pid_t pid;

  if (f->fail_errno)
    return nook_error_setx(err, f->fail_errno, "%s", f->fail_msg);
  if (f->foreign_pid)
    {
      *ret_pid = 1;
      return 0;
    }
  if (f->tty && nook_terminal_open_send(console_fd, &slave, err) < 0)
    return -1;
  pid = fork();
  if (pid < 0)
    return nook_error_set(err, errno, "fork");
  if (pid == 0)
    {
      if (setsid() < 0 || (slave && nook_terminal_become_controlling(slave, 0, 0, NULL) < 0))
        _exit(126);
      setenv("DIR", f->dir, 1);
      execl("/bin/sh", "sh", "-c", f->script, (char *)NULL);
      _exit(127);
    }
  *ret_pid = pid;
  *ret_oom = xasprintf("%s/oom", f->dir);
  return 0;
}

/* Appends "STATE RESTARTING EXIT_CODE" from status.json to DIR/cleanups: what was recorded
 * before the cleanup ran. */
static int fake_cleanup(void *data, bool restarting, struct nook_error **err)
{
  struct fake *f = data;
  _cleanup_close_ int dirfd = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int fd = -1;
  struct nook_sup_status st;
  char line[128];
  int n;

  if (nook_sup_status_read(dirfd, &st, err) < 0)
    return -1;
  if (st.pid > 0)
    kill(-st.pid, SIGKILL);
  n = snprintf(line, sizeof(line), "%s %d %d\n", nook_sup_state_to_string(st.state), restarting,
               st.exit_code);
  fd = openat(dirfd, "cleanups", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || nook_write_all(fd, line, (size_t)n) < 0)
    return nook_error_set(err, errno, "cleanups");
  if (f->cleanup_fails)
    return nook_error_setx(err, EIO, "cleanup broke");
  return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static bool status_of(const char *dir, struct nook_sup_status *st)
{
  _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  return nook_sup_status_read(fd, st, NULL) == 0;
}

struct run
{
  pid_t pid; /* the supervisor */
  int sock;  /* the spawning client's end */
};

static struct nook_supervisor_opts opts_for(const char *dir)
{
  return (struct nook_supervisor_opts){ .id = "test", .dir = dir, .log_max_files = 1 };
}

static struct run run_start(const struct nook_supervisor_opts *o, struct fake *f)
{
  struct run r;
  int sp[2];

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    abort();
  fflush(stdout);
  r.pid = fork();
  if (r.pid < 0)
    abort();
  if (r.pid == 0)
    {
      struct nook_supervisor_ops ops = { fake_create, fake_cleanup, f };
      close(sp[0]);
      _exit(nook_supervisor_main(o, &ops, sp[1]));
    }
  close(sp[1]);
  r.sock = sp[0];
  return r;
}

/* The supervisor's exit status (-1 when it did not exit normally). */
static int run_wait(struct run *r)
{
  int ws;

  close(r->sock);
  while (waitpid(r->pid, &ws, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* What a client saw. */
struct seen
{
  char *out; /* NUL-terminated */
  size_t out_len;
  char err[4096];
  size_t err_len;
  int started;
  pid_t pid; /* of the last STARTED */
  bool exited, failed, eof;
  struct nook_msg_exit exit;
  int errnum;
  char errmsg[1100];
};

static void seen_free(struct seen *s)
{
  free(s->out);
  memset(s, 0, sizeof(*s));
}

/* Reads messages until an EXIT or ERROR, EOF, 60 s of silence, or (want != NULL) until the
 * output contains want ("": until STARTED). */
static void collect(int sock, struct seen *s, const char *want)
{
  static char buf[NOOK_MSG_MAX];

  s->exited = s->failed = false;
  while (!(want && (*want ? s->out && strstr(s->out, want) : s->started > 0)))
    {
      struct pollfd p = { .fd = sock, .events = POLLIN };
      ssize_t n;
      if (poll(&p, 1, 60000) <= 0 || (n = recv(sock, buf, sizeof(buf), 0)) <= 0)
        {
          s->eof = true;
          return;
        }
      switch (buf[0])
        {
        case NOOK_MSG_STDOUT:
          s->out = xrealloc(s->out, s->out_len + (size_t)n);
          memcpy(s->out + s->out_len, buf + 1, (size_t)n - 1);
          s->out_len += (size_t)n - 1;
          s->out[s->out_len] = '\0';
          break;
        case NOOK_MSG_STDERR:
          if (s->err_len + (size_t)n < sizeof(s->err))
            {
              memcpy(s->err + s->err_len, buf + 1, (size_t)n - 1);
              s->err_len += (size_t)n - 1;
            }
          break;
        case NOOK_MSG_STARTED:
          s->started++;
          memcpy(&s->pid, buf + 1, sizeof(int32_t));
          break;
        case NOOK_MSG_EXIT:
          memcpy(&s->exit, buf + 1, sizeof(s->exit));
          s->exited = true;
          return;
        case NOOK_MSG_ERROR:
          memcpy(&s->errnum, buf + 1, sizeof(int32_t));
          snprintf(s->errmsg, sizeof(s->errmsg), "%.*s", (int)(n - 5), buf + 5);
          s->failed = true;
          return;
        default: break;
        }
    }
}

static void send_stop(int sock, uint32_t timeout)
{
  nook_msg_send(sock, NOOK_MSG_STOP, &timeout, sizeof(timeout), NULL);
}

static void send_kill(int sock, int32_t sig)
{
  nook_msg_send(sock, NOOK_MSG_KILL, &sig, sizeof(sig), NULL);
}

static int connect_to(const char *dir)
{
  _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int sock = -1;

  if (nook_attach_connect(dirfd, &sock, NULL) < 0)
    return -1;
  return sock;
}

/* The text of stream ("stdout"/"stderr") in a k8s-file log (P records joined to the next);
 * false when a line is not a record.  *ret_partials counts the P records. */
static bool log_text(const char *dir, const char *name, const char *stream, char **ret,
                     int *ret_partials)
{
  _cleanup_free_ char *text = slurp(dir, name);
  regex_t re;
  bool ok = true;
  char *save = NULL, *out;
  size_t o = 0;

  *ret_partials = 0;
  if (text == NULL
      || regcomp(&re,
                 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z "
                 "(stdout|stderr) [FP] ",
                 REG_EXTENDED | REG_NOSUB)
             != 0)
    {
      *ret = xstrdup("");
      return false;
    }
  out = xcalloc(1, strlen(text) + 1);
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      if (regexec(&re, line, 0, NULL, 0) != 0)
        {
          ok = false;
          continue;
        }
      if (strncmp(line + 31, stream, 6) != 0)
        continue;
      memcpy(out + o, line + 40, strlen(line + 40));
      o += strlen(line + 40);
      if (line[38] == 'F')
        out[o++] = '\n';
      else
        (*ret_partials)++;
    }
  regfree(&re);
  *ret = out;
  return ok;
}

/* ---- the supervisor with a fake container -----------------------------------------------------
 */

static void test_output_and_log(void)
{
  _cleanup_free_ char *dir = new_dir("output"), *out = NULL, *err = NULL;
  struct fake f = { .dir = dir,
                    .script = "printf 'one\\ntwo\\n'; printf 'oops\\n' >&2; printf tail" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  int partials, ignored;

  collect(r.sock, &s, NULL);
  tap_ok(s.started == 1 && s.pid > 0, "STARTED with the init's pid");
  tap_ok(s.exited && s.exit.exit_code == 0 && !s.exit.restarting, "EXIT 0");
  tap_is_str(s.out, "one\ntwo\ntail", "the client got stdout, the tail without newline included");
  tap_ok(s.err_len == 5 && memcmp(s.err, "oops\n", 5) == 0, "the client got stderr apart");
  tap_ok(log_text(dir, "ctr.log", "stdout", &out, &partials), "ctr.log is k8s-file records");
  tap_is_str(out, "one\ntwo\ntail", "ctr.log holds stdout");
  tap_ok(partials >= 1, "the tail is a P record");
  log_text(dir, "ctr.log", "stderr", &err, &ignored);
  tap_is_str(err, "oops\n", "ctr.log holds stderr, tagged stderr");
  tap_is_int(run_wait(&r), 0, "the supervisor exits 0");
  tap_ok(!exists(dir, "attach"), "the attach socket is gone");
  seen_free(&s);
}

static void test_long_line(void)
{
  _cleanup_free_ char *dir = new_dir("long"), *out = NULL, *want = xmalloc(40002);
  struct fake f = { .dir = dir, .script = "head -c 40000 /dev/zero | tr '\\0' x; echo" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  int partials;

  memset(want, 'x', 40000);
  want[40000] = '\n';
  want[40001] = '\0';
  collect(r.sock, &s, NULL);
  log_text(dir, "ctr.log", "stdout", &out, &partials);
  tap_ok(streq(out, want), "a 40000-byte line is whole in ctr.log");
  tap_ok(partials >= 2, "... as P records (%d) and a last F record", partials);
  tap_ok(streq(s.out, want), "... and at the client");
  run_wait(&r);
  seen_free(&s);
}

static void test_rotation_live(void)
{
  _cleanup_free_ char *dir = new_dir("rotlive"), *last = NULL;
  struct fake f = { .dir = dir,
                    .script = "i=0; while [ $i -lt 30 ]; do echo line $i; i=$((i+1)); done" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r;
  struct seen s = { 0 };

  o.log_max_size = 200;
  o.log_max_files = 2;
  r = run_start(&o, &f);
  collect(r.sock, &s, NULL);
  run_wait(&r);
  last = slurp(dir, "ctr.log");
  tap_ok(exists(dir, "ctr.log.1") && exists(dir, "ctr.log.2") && !exists(dir, "ctr.log.3"),
         "ctr.log rotated to ctr.log.1 and .2, no more");
  tap_ok(last && strlen(last) <= 200 && strstr(last, "line 29\n"),
         "ctr.log is within --log-max-size and ends with the last line");
  seen_free(&s);
}

static void test_exit_code(void)
{
  _cleanup_free_ char *dir = new_dir("exit"), *cleanups = NULL;
  struct fake f = { .dir = dir, .script = "exit 3" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  struct nook_sup_status st;

  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 3 && s.exit.signal == 0 && !s.exit.oom_killed,
         "EXIT carries exit code 3");
  tap_is_int(run_wait(&r), 0, "the supervisor exits 0");
  tap_ok(status_of(dir, &st), "status.json is there");
  tap_ok(st.state == NOOK_SUP_EXITED && st.exit_code == 3 && st.signal == 0 && st.pid == s.pid
             && st.supervisor_pid == r.pid && st.started_ns > 0 && st.finished_ns >= st.started_ns
             && !st.stopped_by_user && st.restart_count == 0 && st.error[0] == '\0',
         "status.json: exited, code 3, pids and times");
  cleanups = slurp(dir, "cleanups");
  tap_is_str(cleanups, "exited 0 3\n", "cleanup ran once, after status.json had the exit code");
  seen_free(&s);
}

static void test_signal_and_oom(void)
{
  _cleanup_free_ char *dir = new_dir("signal"), *dir2 = new_dir("oom");
  struct fake f = { .dir = dir, .script = "kill -KILL $$" };
  struct fake g = { .dir = dir2, .script = "echo 'oom_kill 1' > \"$DIR/oom\"; kill -KILL $$" };
  struct nook_supervisor_opts o = opts_for(dir), o2 = opts_for(dir2);
  struct seen s = { 0 };
  struct nook_sup_status st;
  struct run r;

  put(dir, "oom", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  r = run_start(&o, &f);
  collect(r.sock, &s, NULL);
  run_wait(&r);
  tap_ok(s.exited && s.exit.exit_code == 137 && s.exit.signal == SIGKILL && !s.exit.oom_killed,
         "killed by SIGKILL with an oom_kill count of 0: 137, signal 9, no OOM");
  tap_ok(status_of(dir, &st) && st.exit_code == 137 && st.signal == SIGKILL && !st.oom_killed,
         "... in status.json too");
  put(dir2, "oom", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  r = run_start(&o2, &g);
  collect(r.sock, &s, NULL);
  run_wait(&r);
  tap_ok(s.exited && s.exit.oom_killed && s.exit.exit_code == 137,
         "an oom_kill count above 0 at the exit is an OOM kill");
  tap_ok(status_of(dir2, &st) && st.oom_killed, "... in status.json too");
  seen_free(&s);
}

static void test_restart_on_failure(void)
{
  _cleanup_free_ char *dir = new_dir("onfail"), *cleanups = NULL, *out = NULL;
  struct fake f = { .dir = dir, .script = "echo run; exit 1" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct seen s = { 0 };
  struct nook_sup_status st;
  bool flags_ok = true;
  struct run r;
  int p;

  o.restart = (struct nook_restart){ NOOK_RESTART_ON_FAILURE, 2 };
  r = run_start(&o, &f);
  for (int i = 0; i < 3; i++)
    {
      collect(r.sock, &s, NULL);
      flags_ok &= s.exited && s.exit.exit_code == 1 && s.exit.restarting == (i < 2);
    }
  tap_ok(flags_ok, "on-failure:2: EXIT restarting, restarting, then the last EXIT");
  tap_is_int(s.started, 3, "three starts");
  tap_is_int(run_wait(&r), 0, "the supervisor exits 0 after the last");
  tap_ok(status_of(dir, &st) && st.state == NOOK_SUP_EXITED && st.restart_count == 2,
         "status.json: exited after 2 restarts");
  cleanups = slurp(dir, "cleanups");
  tap_is_str(cleanups, "restarting 1 1\nrestarting 1 1\nexited 0 1\n",
             "cleanup restarting twice, then the last");
  log_text(dir, "ctr.log", "stdout", &out, &p);
  tap_is_str(out, "run\nrun\nrun\n", "ctr.log holds every run's output");
  seen_free(&s);
}

static void test_restart_policies(void)
{
  _cleanup_free_ char *dir = new_dir("okexit"), *dir2 = new_dir("always");
  struct fake f = { .dir = dir, .script = "exit 0" };
  struct fake g = { .dir = dir2, .script = "echo run; exit 0" };
  struct nook_supervisor_opts o = opts_for(dir), o2 = opts_for(dir2);
  struct seen s = { 0 };
  struct nook_sup_status st;
  struct run r;
  int runs = 0;

  o.restart = (struct nook_restart){ NOOK_RESTART_ON_FAILURE, 0 };
  r = run_start(&o, &f);
  collect(r.sock, &s, NULL);
  run_wait(&r);
  tap_ok(s.exited && !s.exit.restarting && status_of(dir, &st) && st.restart_count == 0,
         "on-failure does not restart after exit 0");
  o2.restart = (struct nook_restart){ NOOK_RESTART_ALWAYS, 0 };
  r = run_start(&o2, &g);
  do
    {
      collect(r.sock, &s, NULL);
      runs++;
      if (runs == 2)
        send_stop(r.sock, 10); /* in the backoff, or during the third run */
    }
  while (s.exited && s.exit.restarting && runs < 10);
  tap_ok(s.exited && !s.exit.restarting && runs >= 2 && runs <= 3,
         "always restarts exit 0 until stopped (%d runs)", runs);
  tap_is_int(run_wait(&r), 0, "the supervisor exits 0");
  tap_ok(status_of(dir2, &st) && st.state == NOOK_SUP_EXITED && st.stopped_by_user
             && st.restart_count >= 2,
         "status.json: exited, stopped by the user");
  seen_free(&s);
}

static void test_stop(void)
{
  _cleanup_free_ char *dir = new_dir("stop"), *dir2 = new_dir("stopkill");
  struct fake f = { .dir = dir,
                    .script =
                        "trap 'echo bye; exit 5' TERM; echo ready; while :; do sleep 0.05; done" };
  struct fake g = { .dir = dir2,
                    .script = "trap '' TERM; echo ready; while :; do sleep 0.05; done" };
  struct nook_supervisor_opts o = opts_for(dir), o2 = opts_for(dir2);
  struct seen s = { 0 };
  struct nook_sup_status st;
  struct run r;

  o.restart = (struct nook_restart){ NOOK_RESTART_ALWAYS, 0 };
  r = run_start(&o, &f);
  collect(r.sock, &s, "ready\n");
  send_stop(r.sock, 10);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 5 && !s.exit.restarting && strstr(s.out, "bye"),
         "stop: the stop signal's trap ran, exit 5, no restart despite --restart always");
  run_wait(&r);
  tap_ok(status_of(dir, &st) && st.stopped_by_user && st.state == NOOK_SUP_EXITED
             && st.restart_count == 0,
         "status.json: stopped by the user");
  seen_free(&s);

  o2.stop_signal = SIGTERM;
  r = run_start(&o2, &g);
  collect(r.sock, &s, "ready\n");
  send_stop(r.sock, 1);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 137 && s.exit.signal == SIGKILL,
         "stop of a process that ignores SIGTERM: SIGKILL after the timeout");
  run_wait(&r);
  tap_ok(status_of(dir2, &st) && st.stopped_by_user && st.signal == SIGKILL,
         "status.json: killed, stopped by the user");
  seen_free(&s);
}

static void test_signals(void)
{
  _cleanup_free_ char *dir = new_dir("signals");
  struct fake f = { .dir = dir,
                    .script = "trap 'echo usr1' USR1; trap 'echo hup' HUP; echo ready; "
                              "while :; do sleep 0.05; done" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  struct nook_sup_status st;

  collect(r.sock, &s, "ready\n");
  kill(r.pid, SIGUSR1);
  collect(r.sock, &s, "usr1\n");
  tap_ok(s.out && strstr(s.out, "usr1\n"), "SIGUSR1 to the supervisor reaches the container");
  kill(r.pid, SIGHUP);
  collect(r.sock, &s, "hup\n");
  tap_ok(s.out && strstr(s.out, "hup\n"), "so does SIGHUP");
  tap_ok(status_of(dir, &st) && st.state == NOOK_SUP_RUNNING && !st.stopped_by_user,
         "status.json: running");
  send_kill(r.sock, SIGKILL);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 137, "KILL SIGKILL kills the init");
  run_wait(&r);
  tap_ok(status_of(dir, &st) && st.stopped_by_user, "... and counts as stopped by the user");
  seen_free(&s);
}

static void test_attach_clients(void)
{
  _cleanup_free_ char *dir = new_dir("attach");
  struct fake f = { .dir = dir, .script = "cat" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct seen s = { 0 }, s2 = { 0 }, w = { 0 };
  struct run r;
  int c2, gone, watcher;
  struct stat sb;
  _cleanup_free_ char *sockpath = xasprintf("%s/attach", dir);

  o.stdin_open = true;
  r = run_start(&o, &f);
  nook_msg_send(r.sock, NOOK_MSG_STDIN, "hello\n", 6, NULL);
  collect(r.sock, &s, "hello\n");
  tap_is_str(s.out, "hello\n", "stdin reaches `cat`, its output comes back");
  tap_ok(stat(sockpath, &sb) == 0 && S_ISSOCK(sb.st_mode) && (sb.st_mode & 0777) == 0600,
         "the attach socket is there, mode 0600");
  c2 = connect_to(dir);
  gone = connect_to(dir);
  watcher = connect_to(dir);
  tap_ok(c2 >= 0 && gone >= 0 && watcher >= 0, "three more clients connect");
  nook_msg_send(watcher, NOOK_MSG_WATCH, NULL, 0, NULL);
  nook_msg_send(gone, NOOK_MSG_STDIN, "from gone\n", 10, NULL);
  close(gone); /* a client that disconnects at once */
  collect(r.sock, &s, "from gone\n");
  collect(c2, &s2, "from gone\n");
  nook_msg_send(c2, NOOK_MSG_STDIN, "again\n", 6, NULL);
  collect(r.sock, &s, "again\n");
  collect(c2, &s2, "again\n");
  tap_ok(strstr(s.out, "again\n") && s2.out && strstr(s2.out, "from gone\nagain\n"),
         "every attached client gets the output, whoever wrote the input");
  nook_msg_send(c2, NOOK_MSG_STDIN_EOF, NULL, 0, NULL);
  collect(r.sock, &s, NULL);
  collect(c2, &s2, NULL);
  collect(watcher, &w, NULL);
  tap_ok(s.exited && s2.exited && s.exit.exit_code == 0 && s2.exit.exit_code == 0,
         "STDIN_EOF closes cat's stdin: it exits 0, every client gets EXIT");
  tap_ok(w.exited && w.out_len == 0, "the WATCH client got EXIT and no output");
  run_wait(&r);
  close(c2);
  close(watcher);
  seen_free(&s);
  seen_free(&s2);
  seen_free(&w);
}

static void test_many_clients(void)
{
  _cleanup_free_ char *dir = new_dir("many");
  struct fake f = { .dir = dir, .script = "echo ready; while :; do sleep 0.05; done" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f), r2;
  struct seen s = { 0 }, extra = { 0 }, busy = { 0 };
  int socks[15], n = 0, last;

  collect(r.sock, &s, "ready\n");
  for (int i = 0; i < 15; i++)
    n += (socks[i] = connect_to(dir)) >= 0;
  tap_is_int(n, 15, "15 more clients connect (16 with the spawning one)");
  last = connect_to(dir);
  collect(last, &extra, NULL);
  tap_ok(extra.failed && extra.errnum == EUSERS && strstr(extra.errmsg, "at most 16"),
         "the 17th gets an error: %s", extra.errmsg);
  close(last);
  /* a second supervisor for the same directory refuses to start */
  r2 = run_start(&o, &f);
  collect(r2.sock, &busy, NULL);
  tap_ok(busy.failed && busy.errnum == EBUSY && strstr(busy.errmsg, "another supervisor"),
         "a second supervisor on the directory: EBUSY (%s)", busy.errmsg);
  tap_is_int(run_wait(&r2), 1, "... and exits 1");
  send_stop(r.sock, 10);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 143, "stop: SIGTERM, 143");
  for (int i = 0; i < 15; i++)
    if (socks[i] >= 0)
      close(socks[i]);
  run_wait(&r);
  seen_free(&s);
  seen_free(&extra);
  seen_free(&busy);
}

static void test_slow_client(void)
{
  _cleanup_free_ char *dir = new_dir("slow"), *logged = NULL;
  struct fake f = { .dir = dir,
                    .script = "head -c 8000000 /dev/zero | tr '\\0' y; echo; echo done" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct seen s = { 0 }, slow = { 0 };
  struct run r;
  int sleeper, p;
  bool all_y = true;

  /* the sleeper connects before the output starts: the fake's first output waits on "go" */
  f.script = "read go; head -c 8000000 /dev/zero | tr '\\0' y; echo; echo done";
  o.stdin_open = true;
  r = run_start(&o, &f);
  collect(r.sock, &s, "");
  sleeper = connect_to(dir);
  tap_ok(sleeper >= 0, "a client connects and never reads");
  nook_msg_send(r.sock, NOOK_MSG_STDIN, "go\n", 3, NULL);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 0, "a client that never reads does not stop the others");
  tap_ok(s.out_len == 8000006 && streq(s.out + 8000000, "\ndone\n"), "the reader got all 8 MB");
  for (size_t i = 0; i < 8000000 && all_y; i++)
    all_y = s.out[i] == 'y';
  tap_ok(all_y, "... intact");
  collect(sleeper, &slow, NULL);
  tap_ok(slow.eof && !slow.exited && slow.out_len < 8000000,
         "the sleeper was dropped after its socket stayed full (%zu bytes got)", slow.out_len);
  log_text(dir, "ctr.log", "stdout", &logged, &p);
  tap_ok(strlen(logged) == 8000006, "ctr.log has all of it");
  close(sleeper);
  run_wait(&r);
  seen_free(&s);
  seen_free(&slow);
}

static void test_create_failure(void)
{
  _cleanup_free_ char *dir = new_dir("fail"), *cleanups = NULL;
  struct fake f = { .dir = dir,
                    .fail_errno = ENOENT,
                    .fail_msg = "exec `nope`: No such file or directory" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  struct nook_sup_status st;

  collect(r.sock, &s, NULL);
  tap_ok(s.failed && s.errnum == ENOENT, "a failed create: ERROR with its errno");
  tap_is_str(s.errmsg, "exec `nope`: No such file or directory", "... and its message as it was");
  tap_is_int(run_wait(&r), 1, "the supervisor exits 1");
  tap_ok(status_of(dir, &st) && st.state == NOOK_SUP_FAILED
             && streq(st.error, "exec `nope`: No such file or directory"),
         "status.json: failed, with the message");
  cleanups = slurp(dir, "cleanups");
  tap_is_str(cleanups, "failed 0 0\n", "cleanup ran after the failure was recorded");
  tap_ok(!exists(dir, "attach"), "the attach socket is gone");
  seen_free(&s);

  f = (struct fake){ .dir = dir, .foreign_pid = true };
  r = run_start(&o, &f);
  collect(r.sock, &s, NULL);
  tap_ok(s.failed && s.errnum == ECHILD && strstr(s.errmsg, "is not the supervisor's child"),
         "a create whose init is not the supervisor's child fails: %s", s.errmsg);
  tap_is_int(run_wait(&r), 1, "... and the supervisor exits 1");
  seen_free(&s);
}

static void test_cleanup_failure(void)
{
  _cleanup_free_ char *dir = new_dir("cleanfail");
  struct fake f = { .dir = dir, .script = "exit 0", .cleanup_fails = true };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  struct nook_sup_status st;

  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 0, "a failed cleanup still sends EXIT");
  run_wait(&r);
  tap_ok(status_of(dir, &st) && st.state == NOOK_SUP_EXITED
             && streq(st.error, "cleanup: cleanup broke"),
         "status.json records the cleanup's failure: %s", st.error);
  seen_free(&s);
}

static void test_supervisor_killed(void)
{
  _cleanup_free_ char *dir = new_dir("killed");
  struct fake f = { .dir = dir, .script = "echo ready; while :; do sleep 0.05; done" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct run r = run_start(&o, &f);
  struct seen s = { 0 };
  struct nook_sup_status st;
  bool alive;

  collect(r.sock, &s, "ready\n");
  tap_ok(status_of(dir, &st) && nook_sup_status_supervisor_alive(&st), "the supervisor is alive");
  kill(r.pid, SIGKILL);
  tap_is_int(run_wait(&r), -1, "the supervisor is killed");
  alive = kill(s.pid, 0) == 0;
  {
    _cleanup_free_ char *stat = NULL, *path = xasprintf("/proc/%d/stat", (int)s.pid);
    nook_read_file_at(AT_FDCWD, path, 4096, &stat, NULL, NULL);
    alive = alive && stat && strstr(stat, ") Z ") == NULL;
  }
  tap_ok(alive, "the container keeps running");
  tap_ok(status_of(dir, &st) && st.state == NOOK_SUP_RUNNING
             && !nook_sup_status_supervisor_alive(&st),
         "status.json says running, and its supervisor is gone");
  kill(-s.pid, SIGKILL);
  seen_free(&s);
  /* a new supervisor takes over the stale attach socket */
  f.script = "exit 0";
  r = run_start(&o, &f);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 0, "a new supervisor starts over the stale socket");
  run_wait(&r);
  seen_free(&s);
}

static void test_tty(void)
{
  _cleanup_free_ char *dir = new_dir("tty"), *err = NULL;
  struct fake f = { .dir = dir,
                    .tty = true,
                    .script = "read x; stty size; echo \"got $x\"; echo to-stderr >&2" };
  struct nook_supervisor_opts o = opts_for(dir);
  struct seen s = { 0 };
  uint16_t size[2] = { 30, 100 };
  struct run r;
  int p;

  o.tty = true;
  o.stdin_open = true;
  r = run_start(&o, &f);
  nook_msg_send(r.sock, NOOK_MSG_RESIZE, size, sizeof(size), NULL);
  nook_msg_send(r.sock, NOOK_MSG_STDIN, "hi\n", 3, NULL);
  collect(r.sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 0, "a container with a terminal runs and exits");
  tap_ok(s.out && strstr(s.out, "30 100") != NULL, "resize sets the pty's size");
  tap_ok(s.out && strstr(s.out, "got hi") != NULL, "stdin goes through the pty");
  tap_ok(s.out && strstr(s.out, "to-stderr") != NULL && s.err_len == 0,
         "with a terminal everything is stdout");
  log_text(dir, "ctr.log", "stderr", &err, &p);
  tap_is_str(err, "", "ctr.log has no stderr records");
  run_wait(&r);
  seen_free(&s);
}

/* nook_attach_run in a child whose stdin is a pipe holding input and whose stdout is a file.
 * Its exit status: the container's code, 100 when detached, 101 on an error. */
static pid_t attach_child(int sock, const char *input, size_t len, const char *out_path,
                          const struct nook_attach_opts *ao)
{
  int p[2];
  pid_t pid;

  if (pipe(p) < 0)
    abort();
  fflush(stdout);
  pid = fork();
  if (pid == 0)
    {
      struct nook_msg_exit ex = { 0 };
      bool detached = false;
      int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || dup2(p[0], 0) < 0 || dup2(fd, 1) < 0)
        _exit(102);
      close(p[1]);
      if (nook_attach_run(sock, ao, &ex, &detached, NULL) < 0)
        _exit(101);
      _exit(detached ? 100 : ex.exit_code);
    }
  close(p[0]);
  if (nook_write_all(p[1], input, len) < 0)
    abort();
  close(p[1]);
  return pid;
}

static int child_status(pid_t pid)
{
  int ws;

  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static void test_attach_run(void)
{
  _cleanup_free_ char *dir = new_dir("attachrun"), *dir2 = new_dir("detach");
  _cleanup_free_ char *out = xasprintf("%s/out", dir), *got = NULL;
  struct fake f = { .dir = dir, .script = "cat; exit 7" };
  struct fake g = { .dir = dir2, .tty = true, .script = "cat" };
  struct nook_supervisor_opts o = opts_for(dir), o2 = opts_for(dir2);
  struct nook_attach_opts ao = { .stdin = true };
  struct seen s = { 0 };
  struct run r;

  o.stdin_open = true;
  r = run_start(&o, &f);
  tap_is_int(child_status(attach_child(r.sock, "abc\n", 4, out, &ao)), 7,
             "attach: stdin to the container, until the exit code");
  got = slurp(dir, "out");
  tap_is_str(got, "abc\n", "... and its output to stdout");
  run_wait(&r);

  o2.tty = o2.stdin_open = true;
  r = run_start(&o2, &g);
  ao.tty = true;
  ao.detach_keys = NULL;
  tap_is_int(child_status(attach_child(r.sock, "x\x10y\x10\x11", 5, out, &ao)), 100,
             "ctrl-p,ctrl-q detaches (a lone ctrl-p is passed on)");
  collect(r.sock, &s, ""); /* the client may have detached before the supervisor listened */
  {
    int c = connect_to(dir2);
    tap_ok(c >= 0, "the container still runs after the detach");
    nook_msg_send(c, NOOK_MSG_STDIN, "zz\n", 3, NULL);
    collect(c, &s, "x\x10yzz");
    tap_ok(s.out && strstr(s.out, "x\x10yzz") != NULL, "the input before the keys reached it");
    send_kill(c, SIGKILL);
    collect(c, &s, NULL);
    close(c);
  }
  run_wait(&r);
  seen_free(&s);
}

/* A peer that sends its last packet and closes with one of ours unread: the kernel reports
 * ECONNRESET first on a SOCK_SEQPACKET socket, the packet must still be read (the supervisor's
 * exit status, the init's error). */
static void test_recv_after_reset(void)
{
  struct nook_error *err = NULL;
  char buf[32] = "";
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  int sp[2];

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    abort();
  send(sp[0], "resize", 6, 0);
  send(sp[1], "exit-status", 11, 0);
  close(sp[1]);
  tap_is_int((int)nook_unix_recvmsg(sp[0], &mh, 0), 11, "recv after a reset: the queued packet");
  tap_is_str(buf, "exit-status", "... whole");
  tap_is_int((int)nook_unix_recvmsg(sp[0], &mh, 0), 0, "... then the end");
  close(sp[0]);

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    abort();
  nook_sync_send(sp[0], NOOK_SYNC_START, 0, NULL, NULL);
  nook_sync_send(sp[1], NOOK_SYNC_ERROR, ENOENT, "mount `tmpfs` on `/x`: open `/x`", NULL);
  close(sp[1]);
  tap_ok(nook_sync_expect(sp[0], NOOK_SYNC_START, NULL, &err) < 0 && err
             && streq(err->msg, "mount `tmpfs` on `/x`: open `/x`") && err->errnum == ENOENT,
         "sync: the init's error is read after a reset, not \"exited during setup\"");
  nook_error_free(err);
  close(sp[0]);
}

/* ---- spawn: the binary re-executes itself as the supervisor -----------------------------------
 */

static int spawned_main(int argc, char **argv, const char *script)
{
  struct nook_supervisor_opts o;
  struct nook_error *err = NULL;
  struct fake f = { .script = script };
  struct nook_supervisor_ops ops = { fake_create, fake_cleanup, &f };
  int sock;

  if (nook_supervisor_parse_args(argc, argv, &o, &sock, &err) < 0)
    {
      fprintf(stderr, "%s\n", err->msg);
      return 2;
    }
  f.dir = o.dir;
  return nook_supervisor_main(&o, &ops, sock);
}

static void test_spawn(void)
{
  _cleanup_free_ char *dir = new_dir("spawn"), *stat = NULL, *path = NULL;
  const char *exec_args[] = { "--script", "echo ready; read x; echo got $x", NULL };
  struct nook_supervisor_opts o = opts_for(dir);
  struct nook_error *err = NULL;
  struct nook_sup_status st;
  struct seen s = { 0 };
  char link[64], fdpath[64];
  bool null_stdio = true;
  int sock = -1;
  long ppid = -1, sid = -1;

  o.exec_args = (char *const *)exec_args;
  o.stdin_open = true;
  tap_ok(nook_supervisor_spawn(&o, &sock, &err) == 0, "spawn: %s", err ? err->msg : "ok");
  nook_error_freep(&err);
  collect(sock, &s, "ready\n");
  tap_ok(s.started == 1 && s.pid > 0, "the spawned supervisor started the container");
  tap_ok(status_of(dir, &st) && nook_sup_status_supervisor_alive(&st), "status.json names it");
  path = xasprintf("/proc/%d/stat", (int)st.supervisor_pid);
  nook_read_file_at(AT_FDCWD, path, 4096, &stat, NULL, NULL);
  if (stat && strrchr(stat, ')'))
    sscanf(strrchr(stat, ')') + 2, "%*c %ld %*d %ld", &ppid, &sid);
  tap_ok(ppid != getpid() && ppid > 0, "it is not the caller's child (double fork)");
  tap_ok(sid != getsid(0) && sid > 0, "it is in another session");
  for (int i = 0; i < 3; i++)
    {
      ssize_t n;
      snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", (int)st.supervisor_pid, i);
      n = readlink(fdpath, link, sizeof(link) - 1);
      link[n > 0 ? n : 0] = '\0';
      null_stdio &= streq(link, "/dev/null");
    }
  tap_ok(null_stdio, "its stdin, stdout and stderr are /dev/null");
  nook_msg_send(sock, NOOK_MSG_STDIN, "x\n", 2, NULL);
  collect(sock, &s, NULL);
  tap_ok(s.exited && s.exit.exit_code == 0 && strstr(s.out, "got x"), "it relays and exits");
  close(sock);
  seen_free(&s);
  {
    struct nook_supervisor_opts bad = opts_for("/nonexistent/dir");
    int r = nook_supervisor_spawn(&bad, &sock, &err);
    tap_ok(r < 0 && err && strstr(err->msg, "the container's directory"),
           "spawn with a missing directory fails: %s", err ? err->msg : "");
    nook_error_freep(&err);
  }
}

int main(int argc, char **argv)
{
  char tmpl[] = "/tmp/nook-test-supervisor.XXXXXX";

  /* Re-executed by nook_supervisor_spawn: ARGV0 --script SCRIPT __supervise ... */
  if (argc > 3 && streq(argv[1], "--script") && streq(argv[3], "__supervise"))
    return spawned_main(argc - 3, argv + 3, argv[2]);
  tmpdir = mkdtemp(tmpl);
  if (tmpdir == NULL)
    abort();
  alarm(600); /* a supervisor that never ends fails the test instead of hanging it */
  test_output_and_log();
  test_long_line();
  test_rotation_live();
  test_exit_code();
  test_signal_and_oom();
  test_restart_on_failure();
  test_restart_policies();
  test_stop();
  test_signals();
  test_attach_clients();
  test_many_clients();
  test_create_failure();
  test_cleanup_failure();
  test_supervisor_killed();
  test_tty();
  test_attach_run();
  test_recv_after_reset();
  test_spawn();
  test_slow_client();
  nook_rm_rf_at(AT_FDCWD, tmpdir, NULL);
  return tap_done();
}
