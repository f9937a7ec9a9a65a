/* The per-container supervisor (see supervisor.h): one poll loop, a small state machine, fixed
 * buffers.
 *
 *   STARTING --create ok--> RUNNING --stop--> STOPPING
 *      |                       |                 |
 *      | create failed         +--- the init exits (drained) ---+
 *      v                                                        v
 *    FAILED (exit)           EXITED (exit)  or  RESTARTING --backoff--> STARTING
 *
 * Every transition is written to status.json before it is acted on.  The output path is one
 * chunk at a time: read a chunk from the container's stdout or stderr, write it to ctr.log,
 * send it to every attached client without blocking; a client whose socket is full keeps the
 * chunk pending and the streams are not read until it takes it (the container then waits on
 * its pipe, as it would on a slow terminal), or until STALL_NS pass, when that client is
 * dropped.  Nothing that a client does (or fails to do) blocks the loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/lifecycle.h"
#include "runtime/supervisor-internal.h"
#include "runtime/supervisor.h"
#include "runtime/terminal.h"

#define NS_PER_MS 1000000LL
#define TRIM_DELAY_MS 2000

/* What an idle supervisor runs, kept together in .text.hot: the kernel maps code in 64 kB
 * windows (fault-around), and a few kB together rarely straddle two (see
 * drop_read_only_pages). */
#define IDLE_PATH __attribute__((hot))
#define NS_PER_S 1000000000LL
#define MAX_CLIENTS 16
#define CHUNK_SIZE 8192          /* conmon reads 8 kB too; a pty gives at most 4 kB a read */
#define CLIENT_SNDBUF (1 << 20)  /* the kernel doubles it; bounded by wmem_max */
#define STALL_NS (10 * NS_PER_S) /* a client that takes nothing for this long is dropped */
#define DRAIN_MAX (1 << 20)      /* bytes read after the init died, at most */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 60000
#define BACKOFF_RESET_NS (10 * NS_PER_S) /* a run that lasted this long restarts the backoff */
#define STOP_TIMEOUT_S 10

enum
{
  STREAM_OUT,
  STREAM_ERR,
};

/* The slots of the poll array. */
enum
{
  P_SIG,
  P_LISTEN,
  P_OUT,
  P_ERR,
  P_IN,
  P_CLIENTS,
  P_MAX = P_CLIENTS + MAX_CLIENTS,
};

struct client
{
  int fd;             /* -1: a free slot */
  bool watch;         /* NOOK_MSG_WATCH: no output */
  bool pending;       /* the current chunk is not delivered to it yet */
  bool want_out;      /* before the exit message: wait until its socket has room */
  bool stdin_blocked; /* its next packet is stdin that does not fit the buffer yet */
  int64_t stall_ns;   /* pending or want_out: dropped at this CLOCK_MONOTONIC time */
};

struct sup
{
  const struct nook_supervisor_opts *o;
  const struct nook_supervisor_ops *ops;
  int dirfd, sigfd, listen_fd;
  struct sup_log log;
  int streams[2]; /* read ends of the container's stdout and stderr (with a tty: the master) */
  int master;     /* the pty master, for resize; -1 without a terminal */
  int in_fd;      /* the container's stdin (pipe or master), -1 when closed or none */
  bool in_eof;    /* close in_fd once the buffer is written */
  size_t in_off, in_len;
  struct client clients[MAX_CLIENTS];
  char chunk_type;
  size_t chunk_len;
  struct nook_sup_status st;
  pid_t init; /* 0 when no init runs */
  int pidfd;
  bool init_dead; /* reaped: wstatus holds its status; the streams are drained next */
  int wstatus;
  bool exit_ready; /* drained: waiting for the clients' sockets to have room */
  size_t drained;  /* bytes read since the init died */
  int64_t kill_ns, restart_ns, run_start_ns; /* CLOCK_MONOTONIC; 0: none */
  int64_t trim_ns; /* drop the read-only pages again then: a while after the last event */
  unsigned backoff_ms;
  bool done;
  int ret;
  /* Only the fields above are cleared at the start; the buffers below are in .bss, each page
   * touched (and counted) only once it is used. */
  char oom_file[SUP_OOM_FILE_MAX];
  char chunk[CHUNK_SIZE];
  char in_buf[NOOK_MSG_MAX];
};

IDLE_PATH static int64_t now_ns(clockid_t clock)
{
  struct timespec ts;

  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void closep(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void status_write(struct sup *s)
{
  struct nook_error *err = NULL;

  if (nook_sup_status_write(s->dirfd, &s->st, &err) < 0)
    {
      nook_warn("%s", err->msg);
      nook_error_free(err);
    }
}

/* ---- clients ------------------------------------------------------------------------------- */

static void client_drop(struct client *c)
{
  closep(&c->fd);
  *c = (struct client){ .fd = -1 };
}

static struct client *client_add(struct sup *s, int fd)
{
  int size = CLIENT_SNDBUF;

  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (s->clients[i].fd < 0)
      {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        s->clients[i] = (struct client){ .fd = fd };
        return &s->clients[i];
      }
  sup_error_send(fd, EUSERS, "the supervisor serves at most 16 clients at once", MSG_DONTWAIT);
  close(fd);
  return NULL;
}

/* A control message to every client; one whose socket is full is dropped (the exit message is
 * only sent once every socket had room, see try_finish_run). */
static void send_all(struct sup *s, char type, const void *p, size_t len)
{
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (s->clients[i].fd >= 0 && sup_packet_send(s->clients[i].fd, type, p, len, MSG_DONTWAIT) < 0)
      client_drop(&s->clients[i]);
}

static void send_chunk(struct sup *s, struct client *c, int64_t now)
{
  int r = sup_packet_send(c->fd, s->chunk_type, s->chunk, s->chunk_len, MSG_DONTWAIT);

  if (r == -EAGAIN)
    {
      if (!c->pending)
        c->stall_ns = now + STALL_NS;
      c->pending = true;
    }
  else if (r < 0)
    client_drop(c);
  else
    c->pending = false;
}

IDLE_PATH static bool any_pending(const struct sup *s)
{
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (s->clients[i].fd >= 0 && s->clients[i].pending)
      return true;
  return false;
}

/* ---- the container's stdio ----------------------------------------------------------------- */

/* Reads one chunk of stream i, logs it and sends it on.  1: data, 0: nothing now, -1: closed. */
static int pump(struct sup *s, int i)
{
  struct timespec ts;
  ssize_t n;

  do
    n = read(s->streams[i], s->chunk, sizeof(s->chunk));
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n <= 0) /* EOF, or EIO from a master whose slave is closed everywhere */
    {
      closep(&s->streams[i]);
      return -1;
    }
  clock_gettime(CLOCK_REALTIME, &ts);
  sup_log_write(&s->log, &ts, i == STREAM_ERR, s->chunk, (size_t)n);
  s->chunk_type = i == STREAM_ERR ? NOOK_MSG_STDERR : NOOK_MSG_STDOUT;
  s->chunk_len = (size_t)n;
  if (s->init_dead)
    s->drained += (size_t)n;
  for (size_t c = 0; c < MAX_CLIENTS; c++)
    if (s->clients[c].fd >= 0 && !s->clients[c].watch)
      send_chunk(s, &s->clients[c], now_ns(CLOCK_MONOTONIC));
  return 1;
}

static void stdin_close(struct sup *s)
{
  closep(&s->in_fd);
  s->in_off = s->in_len = 0;
  s->in_eof = false;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    s->clients[i].stdin_blocked = false;
}

static void stdin_flush(struct sup *s)
{
  while (s->in_len > 0)
    {
      ssize_t w = write(s->in_fd, s->in_buf + s->in_off, s->in_len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN)
        return;
      if (w <= 0) /* EPIPE: the container closed its stdin */
        {
          stdin_close(s);
          return;
        }
      s->in_off += (size_t)w;
      s->in_len -= (size_t)w;
    }
  s->in_off = 0;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    s->clients[i].stdin_blocked = false;
  if (s->in_eof)
    stdin_close(s);
}

/* A stdin packet of len payload bytes from c, received straight into the buffer; when it does
 * not fit yet it stays queued in c's socket and c is not read until the buffer drains. */
static void stdin_take(struct sup *s, struct client *c, size_t len)
{
  char type;
  struct iovec iov[2] = { { &type, 1 }, { NULL, 0 } };
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
  ssize_t n;

  if (s->in_off > 0 && s->in_off + s->in_len + len > sizeof(s->in_buf))
    {
      memmove(s->in_buf, s->in_buf + s->in_off, s->in_len);
      s->in_off = 0;
    }
  if (s->in_len + len > sizeof(s->in_buf) && s->in_len > 0)
    {
      c->stdin_blocked = true;
      return;
    }
  iov[1].iov_base = s->in_buf + s->in_off + s->in_len;
  iov[1].iov_len = sizeof(s->in_buf) - s->in_off - s->in_len;
  n = recvmsg(c->fd, &m, MSG_DONTWAIT);
  if (n <= 0)
    {
      if (n == 0 || errno != EAGAIN)
        client_drop(c);
      return;
    }
  s->in_len += (size_t)n - 1;
  stdin_flush(s);
}

/* ---- signals and the init ------------------------------------------------------------------ */

static bool init_running(const struct sup *s)
{
  return s->init > 0 && !s->init_dead;
}

static void send_signal(struct sup *s, int sig)
{
  if (!init_running(s))
    return;
  /* The init is this process's unreaped child: its pid cannot be reused even without a pidfd. */
  if (s->pidfd < 0 || syscall(SYS_pidfd_send_signal, s->pidfd, sig, NULL, 0) < 0)
    kill(s->init, sig);
}

static void reap(struct sup *s)
{
  pid_t pid;
  int ws;

  /* A subreaper: orphans of the container end up here too; only the init's status counts. */
  while ((pid = waitpid(-1, &ws, WNOHANG)) > 0 || (pid < 0 && errno == EINTR))
    if (pid > 0 && pid == s->init && !s->init_dead)
      {
        s->init_dead = true;
        s->wstatus = ws;
        s->exit_ready = false;
        s->drained = 0;
        s->kill_ns = 0;
      }
}

/* ---- the state machine ---------------------------------------------------------------------- */

/* The last exit, or a failed create: no more restarts.  Connections still queued on the
 * listening socket get the exit message too. */
static void stop_listening(struct sup *s)
{
  int fd;

  if (s->listen_fd < 0)
    return;
  while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
    client_add(s, fd);
  unlinkat(s->dirfd, "attach", 0);
  closep(&s->listen_fd);
}

static void cleanup(struct sup *s, bool restarting)
{
  char msg[sizeof(s->st.error) - sizeof("cleanup: ") + 1];

  if (sup_cleanup_run(s->ops, restarting, msg, sizeof(msg)) < 0)
    {
      snprintf(s->st.error, sizeof(s->st.error), "cleanup: %s", msg);
      status_write(s);
    }
}

static void start_failed(struct sup *s, const struct sup_create_result *r)
{
  s->st.state = NOOK_SUP_FAILED;
  snprintf(s->st.error, sizeof(s->st.error), "%s", r->msg);
  status_write(s);
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    if (s->clients[i].fd >= 0
        && sup_error_send(s->clients[i].fd, r->errnum, r->msg, MSG_DONTWAIT) < 0)
      client_drop(&s->clients[i]);
  cleanup(s, false);
  stop_listening(s);
  s->done = true;
  s->ret = 1;
}

static bool is_child(pid_t pid)
{
  siginfo_t si;

  return pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static void start_run(struct sup *s)
{
  struct sup_create_result r;
  struct sup_stdio io;
  int32_t pid;

  s->st.state = NOOK_SUP_STARTING;
  s->st.pid = 0;
  s->st.error[0] = '\0';
  status_write(s);
  if (sup_create_run(s->o, s->ops, &io, &r) < 0)
    {
      start_failed(s, &r);
      return;
    }
  if (!is_child(r.pid))
    {
      /* its exit would never be seen: a create that does not leave the init to us is a bug */
      sup_stdio_close(&io);
      r.errnum = ECHILD;
      snprintf(r.msg, sizeof(r.msg), "the container's init (pid %d) is not the supervisor's child",
               (int)r.pid);
      start_failed(s, &r);
      return;
    }
  s->streams[STREAM_OUT] = io.out;
  s->streams[STREAM_ERR] = io.err;
  s->in_fd = io.in;
  s->master = io.master;
  s->init = r.pid;
  s->init_dead = false;
  s->pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
  memcpy(s->oom_file, r.oom_file, sizeof(s->oom_file));
  s->st = (struct nook_sup_status){
    .state = NOOK_SUP_RUNNING,
    .pid = r.pid,
    .supervisor_pid = s->st.supervisor_pid,
    .supervisor_start = s->st.supervisor_start,
    .started_ns = now_ns(CLOCK_REALTIME),
    .finished_ns = s->st.finished_ns,
    .restart_count = s->st.restart_count,
  };
  status_write(s);
  s->run_start_ns = now_ns(CLOCK_MONOTONIC);
  pid = r.pid;
  send_all(s, NOOK_MSG_STARTED, &pid, sizeof(pid));
}

static bool should_restart(const struct sup *s)
{
  const struct nook_restart *r = &s->o->restart;

  if (s->st.stopped_by_user)
    return false;
  switch (r->policy)
    {
    case NOOK_RESTART_ALWAYS: return true;
    case NOOK_RESTART_ON_FAILURE:
      return s->st.exit_code != 0 && (r->max == 0 || s->st.restart_count < r->max);
    case NOOK_RESTART_NO:
    default: return false;
    }
}

/* Closes what belonged to the run that ended. */
static void run_end(struct sup *s)
{
  closep(&s->streams[STREAM_OUT]);
  closep(&s->streams[STREAM_ERR]);
  closep(&s->master);
  closep(&s->pidfd);
  stdin_close(s);
  s->init = 0;
  s->init_dead = false;
  s->kill_ns = 0;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    s->clients[i].want_out = false;
}

static void send_exit(struct sup *s, bool restarting)
{
  struct nook_msg_exit ex;

  memset(&ex, 0, sizeof(ex)); /* the padding goes over the socket too */
  ex.exit_code = s->st.exit_code;
  ex.signal = s->st.signal;
  ex.oom_killed = s->st.oom_killed;
  ex.restarting = restarting;
  send_all(s, NOOK_MSG_EXIT, &ex, sizeof(ex));
}

/* The init exited and its output is drained: record, clean up, tell, restart or end. */
static void finish_run(struct sup *s)
{
  uint64_t oom = 0;
  bool restart;

  s->st.exit_code = nook_lifecycle_status_code(s->wstatus);
  s->st.signal = WIFSIGNALED(s->wstatus) ? WTERMSIG(s->wstatus) : 0;
  /* Counted from 0: the runtime makes the cgroup for this run (and the cleanup removes it).
   * A count read after the start could already include a kill of the first milliseconds. */
  s->st.oom_killed = sup_oom_count(s->oom_file, &oom) == 0 && oom > 0;
  s->st.finished_ns = now_ns(CLOCK_REALTIME);
  restart = should_restart(s);
  if (restart)
    s->st.restart_count++;
  s->st.state = restart ? NOOK_SUP_RESTARTING : NOOK_SUP_EXITED;
  NOOK_FAULT_POINT("supervisor-before-exit-record");
  status_write(s);
  run_end(s);
  cleanup(s, restart);
  if (!restart)
    {
      stop_listening(s);
      send_exit(s, false);
      s->done = true;
      return;
    }
  send_exit(s, true);
  if (now_ns(CLOCK_MONOTONIC) - s->run_start_ns >= BACKOFF_RESET_NS)
    s->backoff_ms = BACKOFF_MIN_MS;
  s->restart_ns = now_ns(CLOCK_MONOTONIC) + s->backoff_ms * NS_PER_MS;
  s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* stop, kill or a signal while waiting to restart: no restart after all. */
static void cancel_restart(struct sup *s)
{
  s->restart_ns = 0;
  s->st.state = NOOK_SUP_EXITED;
  s->st.stopped_by_user = true;
  status_write(s);
  cleanup(s, false);
  stop_listening(s);
  send_exit(s, false);
  s->done = true;
}

/* After the init died: read what is left in the streams (until EAGAIN, at most DRAIN_MAX),
 * then wait until every client that gets output has room for the exit message. */
static void try_finish_run(struct sup *s, int64_t now)
{
  bool waiting = false;

  for (int i = 0; i < 2; i++)
    while (s->streams[i] >= 0 && s->drained < DRAIN_MAX)
      {
        if (any_pending(s))
          return;
        if (pump(s, i) == 0)
          break;
      }
  if (any_pending(s))
    return;
  if (!s->exit_ready)
    {
      s->exit_ready = true;
      for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (s->clients[i].fd >= 0 && !s->clients[i].watch)
          {
            s->clients[i].want_out = true;
            s->clients[i].stall_ns = now + STALL_NS;
          }
    }
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    waiting |= s->clients[i].fd >= 0 && s->clients[i].want_out;
  if (!waiting)
    finish_run(s);
}

static void do_stop(struct sup *s, uint32_t timeout_s)
{
  int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)timeout_s * NS_PER_S;

  if (s->st.state == NOOK_SUP_RESTARTING)
    {
      cancel_restart(s);
      return;
    }
  s->st.stopped_by_user = true;
  if (!init_running(s))
    return;
  if (s->st.state == NOOK_SUP_RUNNING)
    {
      s->st.state = NOOK_SUP_STOPPING;
      status_write(s);
    }
  send_signal(s, s->o->stop_signal > 0 ? s->o->stop_signal : SIGTERM);
  if (s->kill_ns == 0 || deadline < s->kill_ns)
    s->kill_ns = deadline;
}

static void do_kill(struct sup *s, int sig)
{
  if (sig <= 0 || sig >= NSIG)
    return;
  if (s->st.state == NOOK_SUP_RESTARTING)
    {
      cancel_restart(s);
      return;
    }
  if (!s->st.stopped_by_user)
    {
      s->st.stopped_by_user = true;
      if (init_running(s))
        status_write(s);
    }
  send_signal(s, sig);
}

static void on_signals(struct sup *s)
{
  struct signalfd_siginfo si;

  while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
    {
      int sig = (int)si.ssi_signo;
      if (sig == SIGCHLD)
        reap(s);
      else if (init_running(s))
        send_signal(s, sig);
      else if (s->st.state == NOOK_SUP_RESTARTING && sig != SIGUSR1 && sig != SIGUSR2)
        cancel_restart(s);
    }
}

static void on_message(struct sup *s, struct client *c, char type, const char *p, size_t len)
{
  uint32_t timeout = STOP_TIMEOUT_S;
  int32_t sig;
  uint16_t size[2];

  switch (type)
    {
    case NOOK_MSG_STDIN_EOF:
      if (s->in_fd >= 0 && !s->o->tty)
        {
          s->in_eof = true;
          if (s->in_len == 0)
            stdin_close(s);
        }
      break;
    case NOOK_MSG_RESIZE:
      if (len >= sizeof(size) && s->master >= 0)
        {
          struct winsize ws = { 0 };
          memcpy(size, p, sizeof(size));
          ws.ws_row = size[0];
          ws.ws_col = size[1];
          ioctl(s->master, TIOCSWINSZ, &ws);
        }
      break;
    case NOOK_MSG_STOP:
      if (len >= sizeof(timeout))
        memcpy(&timeout, p, sizeof(timeout));
      do_stop(s, timeout);
      break;
    case NOOK_MSG_KILL:
      if (len >= sizeof(sig))
        {
          memcpy(&sig, p, sizeof(sig));
          do_kill(s, sig);
        }
      break;
    case NOOK_MSG_WATCH:
      c->watch = true;
      c->pending = c->want_out = false;
      break;
    default: break; /* stdin without a stdin to write to, or unknown: dropped */
    }
}

static void on_client(struct sup *s, struct client *c)
{
  char msg[64];
  ssize_t n;

  /* The type and the whole length first: stdin goes straight into the stdin buffer. */
  n = recv(c->fd, msg, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n > 0 && msg[0] == NOOK_MSG_STDIN && s->in_fd >= 0 && !s->in_eof
      && (size_t)n - 1 <= sizeof(s->in_buf))
    {
      stdin_take(s, c, (size_t)n - 1);
      return;
    }
  if (n > 0)
    n = recv(c->fd, msg, sizeof(msg), MSG_DONTWAIT);
  if (n <= 0)
    {
      if (n == 0 || (errno != EAGAIN && errno != EINTR))
        client_drop(c);
      return;
    }
  on_message(s, c, msg[0], msg + 1, (size_t)n - 1);
}

static void on_writable(struct sup *s, struct client *c, int64_t now)
{
  if (c->pending)
    send_chunk(s, c, now);
  if (c->fd >= 0 && !c->pending)
    c->want_out = false;
}

/* ---- the loop ------------------------------------------------------------------------------ */

IDLE_PATH static int poll_timeout(const struct sup *s, int64_t now)
{
  int64_t next = INT64_MAX;

  if (s->kill_ns && s->kill_ns < next)
    next = s->kill_ns;
  if (s->restart_ns && s->restart_ns < next)
    next = s->restart_ns;
  if (s->trim_ns && s->trim_ns < next)
    next = s->trim_ns;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    {
      const struct client *c = &s->clients[i];
      if (c->fd >= 0 && (c->pending || c->want_out) && c->stall_ns < next)
        next = c->stall_ns;
    }
  if (next == INT64_MAX)
    return -1;
  if (next <= now)
    return 0;
  return (next - now) / NS_PER_MS + 1 > INT_MAX ? INT_MAX : (int)((next - now) / NS_PER_MS + 1);
}

IDLE_PATH static void poll_fill(const struct sup *s, struct pollfd *p)
{
  bool read_streams = !s->init_dead && !any_pending(s);

  p[P_SIG] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
  p[P_LISTEN] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
  for (int i = 0; i < 2; i++)
    p[P_OUT + i] = (struct pollfd){ .fd = read_streams ? s->streams[i] : -1, .events = POLLIN };
  p[P_IN] = (struct pollfd){ .fd = s->in_len > 0 ? s->in_fd : -1, .events = POLLOUT };
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    {
      const struct client *c = &s->clients[i];
      bool out = c->pending || c->want_out;
      /* A stdin-blocked client is not polled at all, or its POLLHUP would spin the loop. */
      p[P_CLIENTS + i] = (struct pollfd){
        .fd = c->stdin_blocked && !out ? -1 : c->fd,
        .events = (short)((c->stdin_blocked ? 0 : POLLIN) | (out ? POLLOUT : 0)),
      };
    }
}

IDLE_PATH static void on_deadlines(struct sup *s, int64_t now)
{
  if (s->kill_ns && now >= s->kill_ns)
    {
      s->kill_ns = 0;
      send_signal(s, SIGKILL);
    }
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    {
      struct client *c = &s->clients[i];
      if (c->fd >= 0 && (c->pending || c->want_out) && now >= c->stall_ns)
        client_drop(c);
    }
  if (s->restart_ns && now >= s->restart_ns)
    {
      s->restart_ns = 0;
      start_run(s);
    }
}

static void drop_read_only_pages(void);

IDLE_PATH static void loop(struct sup *s)
{
  struct pollfd p[P_MAX];

  while (!s->done)
    {
      int64_t now = now_ns(CLOCK_MONOTONIC);
      int n;

      poll_fill(s, p);
      n = poll(p, P_MAX, poll_timeout(s, now));
      if (n < 0 && errno != EINTR)
        {
          nook_error_log("poll: %s", strerror(errno));
          s->ret = 1;
          return;
        }
      now = now_ns(CLOCK_MONOTONIC);
      /* Each event (a client, the container's exit, a burst of output) runs code that an idle
       * supervisor does not: once things have been quiet for a while, it is dropped again. */
      if (n > 0)
        s->trim_ns = now + TRIM_DELAY_MS * NS_PER_MS;
      else if (s->trim_ns && now >= s->trim_ns)
        {
          s->trim_ns = 0;
          drop_read_only_pages();
        }
      if (n > 0 && p[P_SIG].revents)
        on_signals(s);
      for (int i = 0; n > 0 && i < 2 && !s->done; i++)
        if (p[P_OUT + i].revents && s->streams[i] >= 0 && !any_pending(s))
          pump(s, i);
      if (n > 0 && p[P_IN].revents && s->in_fd >= 0)
        stdin_flush(s);
      for (size_t i = 0; n > 0 && i < MAX_CLIENTS && !s->done; i++)
        {
          struct client *c = &s->clients[i];
          short ev = p[P_CLIENTS + i].revents;
          if (c->fd >= 0 && (ev & POLLOUT))
            on_writable(s, c, now);
          if (c->fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR)) && !c->stdin_blocked)
            on_client(s, c);
          else if (c->fd >= 0 && (ev & (POLLHUP | POLLERR)) && c->stdin_blocked)
            client_drop(c);
        }
      if (n > 0 && s->listen_fd >= 0 && (p[P_LISTEN].revents & POLLIN) && !s->done)
        {
          int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
          struct client *c = fd >= 0 ? client_add(s, fd) : NULL;
          /* A message it sent before it was accepted (WATCH, typically) counts before any
           * output this loop passes on. */
          if (c)
            on_client(s, c);
        }
      if (!s->done)
        on_deadlines(s, now);
      if (!s->done && s->init_dead)
        try_finish_run(s, now);
    }
}

/* ---- setup --------------------------------------------------------------------------------- */

static int listen_attach(struct sup *s, struct nook_error **err)
{
  struct sockaddr_un addr;
  _cleanup_close_ int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  mode_t old;
  int r;

  sup_attach_address(s->dirfd, &addr);
  if (probe < 0)
    return nook_error_set(err, errno, "socket");
  if (connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0)
    return nook_error_setx(err, EBUSY, "`%s/attach`: another supervisor serves this container",
                           s->o->dir);
  if (errno == ECONNREFUSED) /* left by a supervisor that was killed */
    unlinkat(s->dirfd, "attach", 0);
  s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0)
    return nook_error_set(err, errno, "socket");
  old = umask(0177);
  r = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
  umask(old);
  if (r < 0 || listen(s->listen_fd, MAX_CLIENTS) < 0)
    return nook_error_set(err, errno, "listen on `%s/attach`", s->o->dir);
  return 0;
}

static int setup(struct sup *s, struct nook_error **err)
{
  sigset_t mask;
  int r;

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return nook_error_set(err, errno, "become a child subreaper");
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&mask);
  for (const int *p =
           (const int[]){ SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0 };
       *p; p++)
    sigaddset(&mask, *p);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (s->sigfd < 0)
    return nook_error_set(err, errno, "signalfd");
  s->dirfd = open(s->o->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0)
    return nook_error_set(err, errno, "open the container's directory `%s`", s->o->dir);
  if ((r = sup_log_open(&s->log, s->dirfd, s->o->log_max_size, s->o->log_max_files, err)) < 0
      || (r = listen_attach(s, err)) < 0)
    return r;
  s->st.supervisor_pid = getpid();
  if ((r = nook_proc_start_time(getpid(), &s->st.supervisor_start)) < 0)
    return nook_error_set(err, -r, "read this process's start time");
  return 0;
}

/* The read-only segments (code, constants) of the binary and of the libraries were mapped as
 * far as the startup and the first create touched them, and the kernel maps whole windows
 * around each fault: most of it is code that the supervisor never runs again (the runtime runs
 * in its children).  Dropped from this process's page tables (the page cache keeps them,
 * nothing is lost), only what the loop runs comes back; the loop drops them again once it has
 * been idle for TRIM_DELAY_MS after an event.  Writable segments and the relocated read-only
 * one (PT_GNU_RELRO) are left alone: dropping them would undo their writes.  The ranges are
 * collected first, as the program headers themselves are in the first segment. */
struct ro_ranges
{
  uintptr_t start[32], end[32];
  size_t n;
};

static int collect_read_only(struct dl_phdr_info *info, size_t size, void *data)
{
  struct ro_ranges *r = data;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), relro_start = 0, relro_end = 0;

  /* The vDSO's pages are the kernel's special mapping, not a file's: left alone. */
  if (info->dlpi_name && nook_has_prefix(info->dlpi_name, "linux-vdso"))
    return 0;
  for (size_t i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO)
      {
        relro_start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
        relro_end = relro_start + info->dlpi_phdr[i].p_memsz;
      }
  for (size_t i = 0; i < info->dlpi_phnum && r->n < ARRAY_SIZE(r->start); i++)
    {
      const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
      uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
      if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
        continue;
      start = (start + page - 1) & ~(page - 1); /* whole pages that hold nothing else */
      end &= ~(page - 1);
      if (end <= start || (relro_end > relro_start && start < relro_end && end > relro_start))
        continue;
      r->start[r->n] = start;
      r->end[r->n++] = end;
    }
  return 0; /* the executable, then libc, ld.so and the others */
}

IDLE_PATH static void drop_read_only_pages(void)
{
  struct ro_ranges r = { .n = 0 };

  dl_iterate_phdr(collect_read_only, &r);
  for (size_t i = 0; i < r.n; i++)
    madvise((void *)r.start[i], r.end[i] - r.start[i], MADV_DONTNEED);
}

static void teardown(struct sup *s)
{
  run_end(s);
  stop_listening(s);
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    client_drop(&s->clients[i]);
  sup_log_close(&s->log);
  closep(&s->sigfd);
  closep(&s->dirfd);
}

int nook_supervisor_main(const struct nook_supervisor_opts *o,
                         const struct nook_supervisor_ops *ops, int sock)
{
  /* static: the buffers are in .bss and touched only as far as they are used */
  static struct sup sup;
  struct sup *s = &sup;
  struct nook_error *err = NULL;

  memset(s, 0, offsetof(struct sup, oom_file));
  s->o = o;
  s->ops = ops;
  s->dirfd = s->sigfd = s->listen_fd = s->master = s->in_fd = s->pidfd = -1;
  s->streams[0] = s->streams[1] = -1;
  s->log.fd = -1;
  s->backoff_ms = BACKOFF_MIN_MS;
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    s->clients[i].fd = -1;
  if (sock >= 0)
    {
      fcntl(sock, F_SETFD, FD_CLOEXEC);
      client_add(s, sock);
    }
  if (setup(s, &err) < 0)
    {
      if (s->clients[0].fd >= 0)
        sup_error_send(s->clients[0].fd, err->errnum, err->msg, MSG_DONTWAIT);
      nook_error_log("%s", err->msg);
      nook_error_free(err);
      teardown(s);
      return 1;
    }
  /* Whatever setup allocated goes back now: the steady state allocates nothing. */
  malloc_trim(0);
  start_run(s);
  drop_read_only_pages();
  loop(s);
  teardown(s);
  return s->ret;
}
