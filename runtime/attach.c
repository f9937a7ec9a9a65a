/* The attach protocol (supervisor.h): packets, the connection to a container's attach socket,
 * and the client side of an attached session (`nook run` in the foreground, `nook attach`):
 * stdin to the container, its output to ours, the window size, signals, the detach keys. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/supervisor-internal.h"
#include "runtime/supervisor.h"
#include "runtime/terminal.h"

#define DEFAULT_DETACH_KEYS "ctrl-p,ctrl-q"
#define MAX_DETACH_KEYS 16

int sup_packet_send(int sock, char type, const void *payload, size_t len, int flags)
{
  struct iovec iov[2] = { { &type, 1 }, { (void *)payload, len } };
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t n;

  do
    n = sendmsg(sock, &m, flags | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

int sup_error_send(int sock, int errnum, const char *msg, int flags)
{
  char payload[1024];
  int32_t e = errnum;
  size_t len = strlen(msg);

  if (len > sizeof(payload) - sizeof(e))
    len = sizeof(payload) - sizeof(e);
  memcpy(payload, &e, sizeof(e));
  memcpy(payload + sizeof(e), msg, len);
  return sup_packet_send(sock, NOOK_MSG_ERROR, payload, sizeof(e) + len, flags);
}

void sup_attach_address(int dirfd, struct sockaddr_un *ret)
{
  memset(ret, 0, sizeof(*ret));
  ret->sun_family = AF_UNIX;
  snprintf(ret->sun_path, sizeof(ret->sun_path), "/proc/self/fd/%d/attach", dirfd);
}

int nook_attach_connect(int dirfd, int *ret_sock, struct nook_error **err)
{
  _cleanup_close_ int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;

  if (sock < 0)
    return nook_error_set(err, errno, "socket");
  sup_attach_address(dirfd, &addr);
  while (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "connect to the container's supervisor");
  *ret_sock = TAKE_FD(sock);
  return 0;
}

int nook_msg_send(int sock, char type, const void *payload, size_t len, struct nook_error **err)
{
  int r;

  if (len > NOOK_MSG_MAX - 1)
    return nook_error_setx(err, EMSGSIZE, "a message of %zu bytes to the supervisor: at most %d",
                           len, NOOK_MSG_MAX - 1);
  r = sup_packet_send(sock, type, payload, len, 0);
  if (r < 0)
    return nook_error_set(err, -r, "send to the container's supervisor");
  return 0;
}

/* One key of a detach sequence: "ctrl-X" (X a letter or one of @[\]^_) or one character. */
static int detach_key(const char *k, size_t len, unsigned char *ret)
{
  static const char ctrl_punct[] = "@[\\]^_";

  if (len == 1)
    {
      *ret = (unsigned char)k[0];
      return 0;
    }
  if (len == 6 && strncmp(k, "ctrl-", 5) == 0)
    {
      unsigned char c = (unsigned char)k[5];
      if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
      if ((c >= 'A' && c <= 'Z') || (c && strchr(ctrl_punct, c)))
        {
          *ret = c & 0x1f;
          return 0;
        }
    }
  return -1;
}

int nook_detach_keys_parse(const char *s, char ret[16], size_t *ret_n, struct nook_error **err)
{
  const char *p = s ? s : DEFAULT_DETACH_KEYS;
  size_t n = 0;

  while (*p)
    {
      size_t len = strcspn(p, ",");
      unsigned char c;
      if (n == MAX_DETACH_KEYS || detach_key(p, len, &c) < 0)
        return nook_error_setx(err, EINVAL,
                               "--detach-keys `%s`: `%.*s` is not a key (use a character, or "
                               "ctrl-a .. ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_, "
                               "at most 16, separated by commas)",
                               s, (int)len, p);
      ret[n++] = (char)c;
      p += len;
      if (*p == ',' && *++p == '\0')
        return nook_error_setx(err, EINVAL, "--detach-keys `%s`: ends with a comma", s);
    }
  *ret_n = n;
  return 0;
}

/* Writes all of buf to fd, waiting for a non-blocking fd; an fd that fails (a closed pipe) is
 * given up on: the container's output is still read, so that it never stalls. */
static void write_out(int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write(fd, buf, len);
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };
          poll(&p, 1, -1);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      buf += n;
      len -= (size_t)n;
    }
}

/* The client never blocks on a send: a supervisor that waits for this client to take output
 * would wait for ever while the client waits for it to take stdin.  Stdin is read only when the
 * last stdin packet went; a signal that did not fit waits in pend_sig; a resize that did not
 * fit is dropped (the next one carries the size again). */
struct session
{
  int sock, sigfd;
  const struct nook_attach_opts *o;
  char keys[MAX_DETACH_KEYS];
  size_t n_keys, matched; /* how many keys of the sequence were typed so far (held back) */
  bool stdin_done, detached, exited;
  struct nook_msg_exit exit;
  char pend_type; /* 0, NOOK_MSG_STDIN or NOOK_MSG_STDIN_EOF: a packet not sent yet */
  size_t pend_len;
  int32_t pend_sig; /* a signal not sent yet, or 0 */
  char pend[NOOK_MSG_MAX - 1];
  char buf[NOOK_MSG_MAX];
};

static int send_now(struct session *s, char type, const void *p, size_t len,
                    struct nook_error **err)
{
  int r = sup_packet_send(s->sock, type, p, len, MSG_DONTWAIT);

  /* The supervisor is gone (it sends the exit status, then closes): what was not sent is
   * dropped, and the packets still queued for us, the exit status among them, are read next. */
  if (r == -EPIPE || r == -ECONNRESET)
    {
      s->stdin_done = true;
      return 0;
    }
  if (r < 0 && r != -EAGAIN)
    return nook_error_set(err, -r, "send to the container's supervisor");
  return r;
}

static int send_resize(struct session *s, struct nook_error **err)
{
  struct winsize ws;
  uint16_t size[2];
  int r;

  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
    return 0;
  size[0] = ws.ws_row;
  size[1] = ws.ws_col;
  r = send_now(s, NOOK_MSG_RESIZE, size, sizeof(size), err);
  return r == -EAGAIN ? 0 : r;
}

/* Sends what is pending; 0 when all went or the socket is full, < 0 on an error. */
static int flush_pending(struct session *s, struct nook_error **err)
{
  int r;

  if (s->pend_sig)
    {
      if ((r = send_now(s, NOOK_MSG_KILL, &s->pend_sig, sizeof(s->pend_sig), err)) == -EAGAIN)
        return 0;
      if (r < 0)
        return r;
      s->pend_sig = 0;
    }
  if (s->pend_type)
    {
      if ((r = send_now(s, s->pend_type, s->pend, s->pend_len, err)) == -EAGAIN)
        return 0;
      if (r < 0)
        return r;
      s->pend_type = 0;
    }
  return 0;
}

/* Stdin: the detach sequence is held back while it is being typed and sent on when the next
 * key does not continue it (docker's behaviour). */
static int on_stdin(struct session *s, struct nook_error **err)
{
  size_t o = 0;
  ssize_t n;

  do
    n = read(STDIN_FILENO, s->buf, sizeof(s->pend) - MAX_DETACH_KEYS);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n <= 0)
    {
      s->stdin_done = true;
      s->pend_type = NOOK_MSG_STDIN_EOF;
      s->pend_len = 0;
      return flush_pending(s, err);
    }
  for (ssize_t i = 0; i < n; i++)
    {
      if (s->n_keys && s->buf[i] == s->keys[s->matched])
        {
          if (++s->matched < s->n_keys)
            continue;
          s->detached = true;
          break;
        }
      if (s->matched) /* not the sequence after all: what was held goes too */
        {
          memcpy(s->pend + o, s->keys, s->matched);
          o += s->matched;
          s->matched = 0;
          if (s->buf[i] == s->keys[0])
            {
              s->matched = 1;
              continue;
            }
        }
      s->pend[o++] = s->buf[i];
    }
  if (o == 0)
    return 0;
  s->pend_type = NOOK_MSG_STDIN;
  s->pend_len = o;
  return flush_pending(s, err);
}

static int on_message(struct session *s, struct nook_error **err)
{
  struct iovec iov = { .iov_base = s->buf, .iov_len = sizeof(s->buf) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  ssize_t n;

  /* The supervisor sends the exit status and closes, maybe with a resize of ours unread: the
   * status is read on after the ECONNRESET that causes. */
  n = nook_unix_recvmsg(s->sock, &mh, 0);
  if (n < 0)
    return nook_error_set(err, errno, "receive from the container's supervisor");
  if (n == 0)
    return nook_error_setx(err, ECONNRESET,
                           "the container's supervisor closed the connection without an exit "
                           "status (it died, or the output was not read for 10 s)");
  switch (s->buf[0])
    {
    case NOOK_MSG_STDOUT: write_out(STDOUT_FILENO, s->buf + 1, (size_t)n - 1); break;
    case NOOK_MSG_STDERR: write_out(STDERR_FILENO, s->buf + 1, (size_t)n - 1); break;
    case NOOK_MSG_EXIT:
      memset(&s->exit, 0, sizeof(s->exit));
      memcpy(&s->exit, s->buf + 1,
             (size_t)n - 1 < sizeof(s->exit) ? (size_t)n - 1 : sizeof(s->exit));
      s->exited = true;
      break;
    case NOOK_MSG_ERROR:
      {
        int32_t e = EIO;
        if ((size_t)n < 1 + sizeof(e))
          return nook_error_setx(err, EIO, "the container's supervisor failed");
        memcpy(&e, s->buf + 1, sizeof(e));
        return nook_error_setx(err, e, "%.*s", (int)((size_t)n - 1 - sizeof(e)),
                               s->buf + 1 + sizeof(e));
      }
    default: break; /* STARTED, or newer messages */
    }
  return 0;
}

static int on_signal(struct session *s, struct nook_error **err)
{
  struct signalfd_siginfo si;

  if (read(s->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
    return 0;
  if (si.ssi_signo == SIGWINCH)
    return send_resize(s, err);
  s->pend_sig = (int32_t)si.ssi_signo; /* a newer signal replaces one still waiting */
  return flush_pending(s, err);
}

static int relay(struct session *s, struct nook_error **err)
{
  int r = 0;

  if (s->o->tty && (r = send_resize(s, err)) < 0)
    return r;
  while (!s->exited && !s->detached)
    {
      bool pending = s->pend_type || s->pend_sig;
      struct pollfd p[3] = {
        { .fd = s->sock, .events = (short)(POLLIN | (pending ? POLLOUT : 0)) },
        { .fd = s->o->stdin && !s->stdin_done && !pending ? STDIN_FILENO : -1, .events = POLLIN },
        { .fd = s->sigfd, .events = POLLIN },
      };
      if (poll(p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return nook_error_set(err, errno, "poll");
        }
      if ((p[0].revents & POLLOUT) && (r = flush_pending(s, err)) < 0)
        return r;
      if ((p[0].revents & ~POLLOUT) && (r = on_message(s, err)) < 0)
        return r;
      if (!s->exited && p[1].revents && (r = on_stdin(s, err)) < 0)
        return r;
      if (!s->exited && p[2].revents && (r = on_signal(s, err)) < 0)
        return r;
    }
  return 0;
}

int nook_attach_run(int sock, const struct nook_attach_opts *o, struct nook_msg_exit *ret_exit,
                    bool *ret_detached, struct nook_error **err)
{
  _cleanup_free_ struct session *s = xcalloc(1, sizeof(*s));
  static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
  sigset_t mask, old;
  struct termios saved;
  bool raw = false;
  int r;

  s->sock = sock;
  s->sigfd = -1;
  s->o = o;
  if (o->tty && o->stdin && nook_detach_keys_parse(o->detach_keys, s->keys, &s->n_keys, err) < 0)
    return -1;
  sigemptyset(&mask);
  if (o->tty)
    sigaddset(&mask, SIGWINCH);
  for (size_t i = 0; o->sig_proxy && i < ARRAY_SIZE(proxied); i++)
    sigaddset(&mask, proxied[i]);
  sigprocmask(SIG_BLOCK, &mask, &old);
  s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (s->sigfd < 0)
    {
      r = nook_error_set(err, errno, "signalfd");
      goto out;
    }
  raw = o->tty && o->stdin && isatty(STDIN_FILENO)
        && nook_terminal_make_raw(STDIN_FILENO, &saved, NULL) == 0;
  r = relay(s, err);
  if (raw)
    nook_terminal_restore(STDIN_FILENO, &saved);
out:
  if (s->sigfd >= 0)
    {
      struct signalfd_siginfo si;
      /* Signals that came after the last one relayed are not delivered on unblock either. */
      while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
      close(s->sigfd);
    }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (r < 0)
    return r;
  if (ret_detached)
    *ret_detached = s->detached;
  if (s->exited && ret_exit)
    *ret_exit = s->exit;
  return 0;
}
