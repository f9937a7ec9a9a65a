/* The supervisor's short-lived children: ops->create and ops->cleanup each run in a fork, so
 * that whatever they load, parse and allocate (the OCI runtime, the image store, yajl trees)
 * is thrown away with them and the supervisor stays small.  And the OOM counter. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/lifecycle.h"
#include "runtime/supervisor-internal.h"
#include "runtime/terminal.h"

static void closep(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static _noreturn_ void create_child(const struct nook_supervisor_ops *ops, const int stdio[3],
                                    int console, int res)
{
  struct sup_create_result r = { 0 };
  struct nook_error *err = NULL;
  char *oom = NULL;
  pid_t pid = 0;

  nook_signals_reset();
  /* A session of its own for the runtime and the init it leaves behind: nothing sent to the
   * supervisor's process group or session reaches the container. */
  setsid();
  for (int i = 0; i < 3; i++)
    if (dup2(stdio[i], i) < 0)
      _exit(125);
  if (ops->create == NULL)
    nook_error_setx(&err, ENOSYS, "the supervisor has no create operation");
  else if (ops->create(ops->data, console, &pid, &oom, &err) == 0)
    {
      r.ok = 1;
      r.pid = pid;
      if (oom && strlen(oom) < sizeof(r.oom_file))
        memcpy(r.oom_file, oom, strlen(oom) + 1);
    }
  if (!r.ok)
    {
      r.errnum = err && err->errnum ? err->errnum : EIO;
      snprintf(r.msg, sizeof(r.msg), "%s", err && err->msg ? err->msg : "create failed");
    }
  _exit(nook_write_all(res, &r, sizeof(r)) < 0 ? 125 : 0);
}

/* fd[]: 0,1 stdout pipe; 2,3 stderr pipe; 4,5 stdin pipe; 6,7 console socketpair; 8,9 result
 * pipe; 10 /dev/null. */
enum
{
  F_OUT,
  F_ERR = 2,
  F_IN = 4,
  F_CONS = 6,
  F_RES = 8,
  F_NULL = 10,
  F_COUNT,
};

static int create_fds(const struct nook_supervisor_opts *o, int fd[F_COUNT])
{
  if ((fd[F_NULL] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || pipe2(fd + F_RES, O_CLOEXEC) < 0)
    return -errno;
  if (o->tty)
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd + F_CONS) < 0 ? -errno : 0;
  if (pipe2(fd + F_OUT, O_CLOEXEC) < 0 || pipe2(fd + F_ERR, O_CLOEXEC) < 0
      || (o->stdin_open && pipe2(fd + F_IN, O_CLOEXEC) < 0))
    return -errno;
  return 0;
}

static int nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);

  return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

static int stdio_fail(struct sup_create_result *r, int e, const char *what, const char *msg)
{
  r->ok = 0;
  r->errnum = e;
  snprintf(r->msg, sizeof(r->msg), "%s: %s", what, msg ? msg : strerror(e));
  return -1;
}

/* The supervisor's ends of the container's stdio, from fd[] (receiving the pty master). */
static int take_stdio(const struct nook_supervisor_opts *o, int fd[F_COUNT], struct sup_stdio *ret,
                      struct sup_create_result *r)
{
  struct sup_stdio io = { .out = -1, .err = -1, .in = -1, .master = -1 };
  struct nook_error *err = NULL;
  char name[64];

  if (!o->tty)
    {
      io.out = TAKE_FD(fd[F_OUT]);
      io.err = TAKE_FD(fd[F_ERR]);
      io.in = TAKE_FD(fd[F_IN + 1]);
    }
  else if (nonblock(fd[F_CONS]) < 0
           || nook_unix_recv_fd(fd[F_CONS], &io.master, name, sizeof(name), &err) < 0)
    {
      stdio_fail(r, err ? err->errnum : errno, "receive the container's pty",
                 err ? err->msg : NULL);
      nook_error_free(err);
      return -1;
    }
  else
    {
      /* Reads, writes and resizes each have their own fd, closed on their own. */
      io.out = fcntl(io.master, F_DUPFD_CLOEXEC, 3);
      if (o->stdin_open)
        io.in = fcntl(io.master, F_DUPFD_CLOEXEC, 3);
      if (io.out < 0 || (o->stdin_open && io.in < 0))
        {
          int e = errno;
          sup_stdio_close(&io);
          return stdio_fail(r, e, "dup the pty master", NULL);
        }
    }
  for (int *const *p = (int *const[]){ &io.out, &io.err, &io.in, &io.master, NULL }; *p; p++)
    if (**p >= 0 && nonblock(**p) < 0)
      {
        int e = errno;
        sup_stdio_close(&io);
        return stdio_fail(r, e, "make the container's stdio non-blocking", NULL);
      }
  *ret = io;
  return 0;
}

void sup_stdio_close(struct sup_stdio *io)
{
  closep(&io->out);
  closep(&io->err);
  closep(&io->in);
  closep(&io->master);
}

int sup_create_run(const struct nook_supervisor_opts *o, const struct nook_supervisor_ops *ops,
                   struct sup_stdio *ret, struct sup_create_result *r)
{
  int fd[F_COUNT], ws = 0, e;
  pid_t pid = -1;
  ssize_t n = -1;

  memset(r, 0, sizeof(*r));
  for (int i = 0; i < F_COUNT; i++)
    fd[i] = -1;
  if ((e = create_fds(o, fd)) == 0 && (pid = fork()) == 0)
    {
      int stdio[3] = { fd[F_IN], fd[F_OUT + 1], fd[F_ERR + 1] };
      for (int i = 0; i < 3; i++)
        if (stdio[i] < 0)
          stdio[i] = fd[F_NULL];
      create_child(ops, stdio, fd[F_CONS + 1], fd[F_RES + 1]);
    }
  if (e == 0 && pid < 0)
    e = -errno;
  /* Only the child's copies keep the container's ends open from here on. */
  for (const int *c =
           (const int[]){ F_OUT + 1, F_ERR + 1, F_IN, F_CONS + 1, F_RES + 1, F_NULL, -1 };
       *c >= 0; c++)
    closep(&fd[*c]);
  if (pid > 0)
    {
      n = nook_read_all(fd[F_RES], r, sizeof(*r));
      while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    }
  if (e < 0)
    stdio_fail(r, -e, "prepare the container's stdio", NULL);
  else if (n != (ssize_t)sizeof(*r))
    {
      char why[64];
      snprintf(why, sizeof(why), "exit status %d", nook_lifecycle_status_code(ws));
      stdio_fail(r, EIO, "the create step ended without a result", why);
    }
  if (r->ok)
    take_stdio(o, fd, ret, r);
  for (int i = 0; i < F_COUNT; i++)
    closep(&fd[i]);
  return r->ok ? 0 : -1;
}

int sup_cleanup_run(const struct nook_supervisor_ops *ops, bool restarting, char *msg, size_t size)
{
  int p[2], ws = 0, e;
  pid_t pid;
  ssize_t n;

  if (ops->cleanup == NULL)
    return 0;
  if (pipe2(p, O_CLOEXEC) < 0)
    {
      snprintf(msg, size, "pipe: %s", strerror(errno));
      return -1;
    }
  pid = fork();
  if (pid == 0)
    {
      struct nook_error *err = NULL;
      nook_signals_reset();
      if (ops->cleanup(ops->data, restarting, &err) < 0)
        {
          const char *m = err && err->msg ? err->msg : "failed";
          nook_write_all(p[1], m, strlen(m));
          _exit(1);
        }
      _exit(0);
    }
  e = errno;
  close(p[1]);
  n = pid > 0 ? nook_read_all(p[0], msg, size - 1) : 0;
  close(p[0]);
  while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
    ;
  if (pid > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
    return 0;
  if (pid < 0)
    snprintf(msg, size, "fork: %s", strerror(e));
  else if (n > 0)
    msg[n] = '\0';
  else
    snprintf(msg, size, "the cleanup step died (exit status %d)", nook_lifecycle_status_code(ws));
  return -1;
}

int sup_oom_count(const char *path, uint64_t *ret)
{
  char buf[2048], *p = buf;
  int fd;
  ssize_t n;

  if (!*path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return -1;
  n = nook_read_all(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  while (p)
    {
      if (strncmp(p, "oom_kill ", 9) == 0)
        {
          *ret = strtoull(p + 9, NULL, 10);
          return 0;
        }
      if ((p = strchr(p, '\n')))
        p++;
    }
  return -1;
}
