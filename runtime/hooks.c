/* OCI hooks.
 *
 * Each hook is forked and executed with the state JSON on a stdin pipe and its stdout and stderr
 * on two pipes; one poll loop feeds the one and drains the others (so that neither side can
 * block the other, whatever the sizes) and watches a pidfd for the exit and a monotonic deadline
 * for the timeout.  The hook runs in its own process group, so that a timeout kills whatever it
 * started too.  SIGPIPE is blocked in the calling thread while hooks run: a hook need not read
 * its stdin, and the EPIPE that results is expected. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_PIDFD_H
#include <sys/pidfd.h>
#endif

#include "runtime/hooks.h"
#include "common/util.h"

/* Kept from each of stdout and stderr, for the error message; the rest is read and dropped. */
#define HOOK_OUTPUT_KEEP 4096
/* What is still read after the hook exited, from children it may have left holding a pipe. */
#define HOOK_DRAIN_MAX (1024 * 1024)
/* Poll period when the kernel has no pidfd_open (before 5.3). */
#define HOOK_WAITPID_PERIOD_MS 10

struct hook_output
{
  int fd;
  size_t len;
  char buf[HOOK_OUTPUT_KEEP + 1];
};

struct hook_child
{
  pid_t pid; /* > 0 until reaped */
  int pidfd; /* -1 without pidfd_open */
  int in_fd; /* our end of the hook's stdin, -1 once all is written or the hook closed it */
  const char *data;
  size_t len, off;
  struct hook_output out, err;
  bool exited;
  int status;
};

static void close_fd(int *fd)
{
  nook_closep(fd);
  *fd = -1;
}

/* On any early return: no process or fd is left behind. */
static void hook_child_done(struct hook_child *c)
{
  if (c->pid > 0)
    {
      kill(-c->pid, SIGKILL);
      kill(c->pid, SIGKILL);
      while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  close_fd(&c->pidfd);
  close_fd(&c->in_fd);
  close_fd(&c->out.fd);
  close_fd(&c->err.fd);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the forked child: fds[0..2] become stdin/stdout/stderr, fds[3] reports an exec failure
 * (it is close-on-exec, so the parent reads EOF when execve succeeds). */
static _noreturn_ void hook_exec_child(int fds[4], const char *path, char **argv, char **envp)
{
  int e;

  setpgid(0, 0);
  nook_signals_reset();

  /* Out of 0..2 first: a pipe end may itself be 0, 1 or 2 when the caller closed its stdio. */
  for (int i = 0; i < 4; i++)
    if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
      goto fail;
  for (int i = 0; i < 3; i++)
    if (dup2(fds[i], i) < 0)
      goto fail;
  nook_fds_cloexec_from(3, NULL);
  execve(path, argv, envp);
fail:
  e = errno;
  if (write(fds[3], &e, sizeof(e)) < 0)
    _exit(127);
  _exit(127);
}

static int make_pipe(int *ret_read, int *ret_write, struct nook_error **err)
{
  int p[2];

  if (pipe2(p, O_CLOEXEC) < 0)
    return nook_error_set(err, errno, "pipe");
  *ret_read = p[0];
  *ret_write = p[1];
  return 0;
}

static int set_nonblock(int fd, struct nook_error **err)
{
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return nook_error_set(err, errno, "fcntl O_NONBLOCK");
  return 0;
}

/* Waits for the child's execve: 0 once it has happened, < 0 with the child's errno (the child
 * is reaped then). */
static int hook_wait_exec(struct hook_child *c, int exec_fd, struct nook_error **err)
{
  int e = 0;
  ssize_t n;

  do
    n = read(exec_fd, &e, sizeof(e));
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return 0;
  if (n != (ssize_t)sizeof(e))
    e = n < 0 ? errno : EIO;
  while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  c->pid = 0;
  return nook_error_set(err, e, "execve");
}

static int hook_spawn(const struct nook_hook *h, struct hook_child *c, struct nook_error **err)
{
  _cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1;
  _cleanup_close_ int err_r = -1, err_w = -1, exec_r = -1, exec_w = -1;
  char *default_argv[] = { h->path, NULL };
  char *empty_env[] = { NULL };
  char **argv = h->args && h->args[0] ? h->args : default_argv;
  char **envp = h->env ? h->env : empty_env;

  if (make_pipe(&in_r, &in_w, err) < 0 || make_pipe(&out_r, &out_w, err) < 0
      || make_pipe(&err_r, &err_w, err) < 0 || make_pipe(&exec_r, &exec_w, err) < 0)
    return -1;

  c->pid = fork();
  if (c->pid < 0)
    {
      c->pid = 0;
      return nook_error_set(err, errno, "fork");
    }
  if (c->pid == 0)
    {
      int fds[4] = { in_r, out_w, err_w, exec_w };
      hook_exec_child(fds, h->path, argv, envp);
    }

  close_fd(&exec_w);
  close_fd(&in_r);
  close_fd(&out_w);
  close_fd(&err_w);
  if (hook_wait_exec(c, exec_r, err) < 0)
    return -1;

  c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
  if (c->pidfd < 0 && errno != ENOSYS)
    return nook_error_set(err, errno, "pidfd_open");
  if (set_nonblock(in_w, err) < 0 || set_nonblock(out_r, err) < 0 || set_nonblock(err_r, err) < 0)
    return -1;
  c->in_fd = TAKE_FD(in_w);
  c->out.fd = TAKE_FD(out_r);
  c->err.fd = TAKE_FD(err_r);
  return 0;
}

static void hook_feed_stdin(struct hook_child *c)
{
  size_t chunk = c->len - c->off < 65536 ? c->len - c->off : 65536;
  ssize_t n = chunk ? write(c->in_fd, c->data + c->off, chunk) : 0;

  if (n > 0)
    c->off += (size_t)n;
  else if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  /* Done, or the hook closed its stdin (EPIPE): either way the hook has what it will get. */
  if (n <= 0 || c->off == c->len)
    close_fd(&c->in_fd);
}

/* Reads what is available: the first HOOK_OUTPUT_KEEP bytes are kept.  Returns the bytes read,
 * 0 at EOF (the fd is closed then) or when nothing is available. */
static size_t hook_output_read(struct hook_output *o)
{
  char drop[4096];
  char *dst = o->len < HOOK_OUTPUT_KEEP ? o->buf + o->len : drop;
  size_t room = o->len < HOOK_OUTPUT_KEEP ? HOOK_OUTPUT_KEEP - o->len : sizeof(drop);
  ssize_t n = read(o->fd, dst, room);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    {
      close_fd(&o->fd);
      return 0;
    }
  if (dst != drop)
    o->len += (size_t)n;
  return (size_t)n;
}

/* After the exit: what is left in the pipes, bounded against a child that keeps writing. */
static void hook_output_drain(struct hook_output *o)
{
  size_t total = 0, n;

  while (o->fd >= 0 && total < HOOK_DRAIN_MAX && (n = hook_output_read(o)) > 0)
    total += n;
  close_fd(&o->fd);
}

/* One round of the loop; returns the poll timeout that ran out (0) or > 0 otherwise. */
static int hook_poll_once(struct hook_child *c, int timeout_ms, struct nook_error **err)
{
  struct pollfd pfd[4];
  nfds_t n = 0;
  int r;

  if (c->pidfd >= 0)
    pfd[n++] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
  if (c->in_fd >= 0)
    pfd[n++] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
  if (c->out.fd >= 0)
    pfd[n++] = (struct pollfd){ .fd = c->out.fd, .events = POLLIN };
  if (c->err.fd >= 0)
    pfd[n++] = (struct pollfd){ .fd = c->err.fd, .events = POLLIN };

  r = poll(pfd, n, timeout_ms);
  if (r < 0)
    return errno == EINTR ? 1 : nook_error_set(err, errno, "poll");
  for (nfds_t i = 0; i < n; i++)
    {
      if (pfd[i].revents == 0)
        continue;
      if (pfd[i].fd == c->pidfd)
        c->exited = true;
      else if (pfd[i].fd == c->in_fd)
        hook_feed_stdin(c);
      else if (pfd[i].fd == c->out.fd)
        hook_output_read(&c->out);
      else
        hook_output_read(&c->err);
    }
  return r == 0 ? 0 : 1;
}

/* Runs the loop until the hook exits or the deadline (< 0: none) passes; reaps it. */
static int hook_wait(struct hook_child *c, int64_t deadline, bool *ret_timed_out,
                     struct nook_error **err)
{
  bool timed_out = false;

  while (!c->exited)
    {
      int64_t left = deadline < 0 ? -1 : deadline - now_ms();
      int timeout_ms = left < 0 ? -1 : (left > INT_MAX ? INT_MAX : (int)left);

      if (deadline >= 0 && left <= 0)
        {
          timed_out = true;
          kill(-c->pid, SIGKILL);
          kill(c->pid, SIGKILL);
          break;
        }
      if (c->pidfd < 0 && (timeout_ms < 0 || timeout_ms > HOOK_WAITPID_PERIOD_MS))
        timeout_ms = HOOK_WAITPID_PERIOD_MS;
      if (hook_poll_once(c, timeout_ms, err) < 0)
        return -1;
      if (c->pidfd < 0 && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
        {
          c->pid = 0;
          c->exited = true;
        }
    }

  while (c->pid > 0 && waitpid(c->pid, &c->status, 0) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "waitpid");
  c->pid = 0;
  close_fd(&c->in_fd);
  hook_output_drain(&c->out);
  hook_output_drain(&c->err);
  *ret_timed_out = timed_out;
  return 0;
}

/* The first non-blank line of o, trimmed; "" when none. */
static const char *hook_output_first_line(struct hook_output *o)
{
  char *s = o->buf, *e;

  o->buf[o->len] = '\0';
  s += strspn(s, " \t\r\n");
  e = s + strcspn(s, "\r\n");
  while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  *e = '\0';
  return s;
}

static int hook_status_error(struct hook_child *c, bool timed_out, int64_t timeout,
                             struct nook_error **err)
{
  _cleanup_free_ char *what = NULL;
  const char *line;

  if (timed_out && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGKILL)
    what = xasprintf("timed out after %" PRId64 " s", timeout);
  else if (WIFEXITED(c->status))
    {
      if (WEXITSTATUS(c->status) == 0)
        return 0;
      what = xasprintf("exited with status %d", WEXITSTATUS(c->status));
    }
  else if (WIFSIGNALED(c->status))
    {
      const char *name = nook_signal_name(WTERMSIG(c->status));
      what = name ? xasprintf("killed by signal %s", name)
                  : xasprintf("killed by signal %d", WTERMSIG(c->status));
    }
  else
    what = xasprintf("ended with wait status 0x%x", (unsigned)c->status);

  line = hook_output_first_line(&c->err);
  if (*line == '\0')
    line = hook_output_first_line(&c->out);
  return nook_error_set(err, 0, "%s%s%s", what, *line ? ": " : "", line);
}

static int hook_run(const struct nook_hook *h, const char *state_json, struct nook_error **err)
{
  _cleanup_(hook_child_done) struct hook_child c = {
    .pidfd = -1,
    .in_fd = -1,
    .out.fd = -1,
    .err.fd = -1,
  };
  int64_t timeout = h->timeout.set && h->timeout.value > 0 ? h->timeout.value : 0;
  int64_t deadline = -1;
  bool timed_out = false;

  if (h->path == NULL)
    return nook_error_set(err, EINVAL, "no path");
  c.data = state_json ? state_json : "";
  c.len = strlen(c.data);
  if (timeout > 0)
    deadline = now_ms() + (timeout < INT64_MAX / 2000 ? timeout * 1000 : INT64_MAX / 2);
  if (hook_spawn(h, &c, err) < 0 || hook_wait(&c, deadline, &timed_out, err) < 0)
    return -1;
  return hook_status_error(&c, timed_out, timeout, err);
}

int nook_hooks_run(const struct nook_hook *hooks, size_t n, const char *kind,
                   const char *state_json, struct nook_error **err)
{
  sigset_t pipe_set, old_mask, pending;
  bool was_pending;
  int r = 0;

  if (n == 0)
    return 0;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigpending(&pending);
  was_pending = sigismember(&pending, SIGPIPE);

  for (size_t i = 0; i < n && r == 0; i++)
    if ((r = hook_run(&hooks[i], state_json, err)) < 0)
      r = nook_error_prefix(err, "%s hook #%zu `%s`", kind, i, hooks[i].path ? hooks[i].path : "");

  /* Consume the SIGPIPE our writes raised (never one that was pending before), then restore. */
  if (!was_pending)
    {
      struct timespec zero = { 0, 0 };
      while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  return r;
}
