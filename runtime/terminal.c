/* Ptys and the --console-socket protocol.
 *
 * The pty is opened from /dev/ptmx of the current mount namespace (the container's devpts
 * after pivot_root), so that the slave's number belongs to that devpts instance.  The master is
 * handed to the engine as runc does (utils.SendFd): one sendmsg on a connected SOCK_STREAM unix
 * socket, SCM_RIGHTS with the fd, the slave's name as the payload. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/terminal.h"
#include "common/util.h"

int nook_terminal_open(int *ret_master, char **ret_slave_path, struct nook_error **err)
{
  _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  int unlock = 0;
  unsigned int n;

  if (master < 0)
    return nook_error_set(err, errno, "open `/dev/ptmx`");
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
    return nook_error_set(err, errno, "unlock the pty (TIOCSPTLCK)");
  if (ioctl(master, TIOCGPTN, &n) < 0)
    return nook_error_set(err, errno, "get the pty number (TIOCGPTN)");
  *ret_slave_path = xasprintf("/dev/pts/%u", n);
  *ret_master = TAKE_FD(master);
  return 0;
}

int nook_terminal_open_send(int console_fd, char **ret_slave_path, struct nook_error **err)
{
  _cleanup_free_ char *slave = NULL;
  _cleanup_close_ int master = -1;

  if (nook_terminal_open(&master, &slave, err) < 0)
    return -1;
  if (nook_unix_send_fd(console_fd, master, slave, strlen(slave), err) < 0)
    return nook_error_prefix(err, "send the pty master to the console socket");
  *ret_slave_path = TAKE_PTR(slave);
  return 0;
}

int nook_terminal_relay_begin(int relay_fd, int *ret_master, struct termios *saved, bool *ret_raw,
                              struct nook_error **err)
{
  _cleanup_close_ int master = -1;
  char name[64] = "";

  if (nook_unix_recv_fd(relay_fd, &master, name, sizeof(name) - 1, err) < 0)
    return nook_error_prefix(err, "receive the container's pty");
  nook_terminal_copy_size(STDIN_FILENO, master);
  *ret_raw = isatty(STDIN_FILENO) && nook_terminal_make_raw(STDIN_FILENO, saved, NULL) == 0;
  *ret_master = TAKE_FD(master);
  return 0;
}

int nook_terminal_new_session(struct nook_error **err)
{
  /* Already a session leader (setsid fails with EPERM then) is fine. */
  if (setsid() < 0 && getsid(0) != getpid())
    return nook_error_set(err, errno, "setsid");
  return 0;
}

int nook_terminal_become_controlling(const char *slave_path, unsigned height, unsigned width,
                                     struct nook_error **err)
{
  _cleanup_close_ int fd = -1;

  if (nook_terminal_new_session(err) < 0)
    return -1;
  fd = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "open the pty `%s`", slave_path);
  if (ioctl(fd, TIOCSCTTY, 0) < 0)
    return nook_error_set(err, errno, "make `%s` the controlling terminal", slave_path);
  if (height > 0 && width > 0)
    {
      struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };
      if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return nook_error_set(err, errno, "set the size of `%s`", slave_path);
    }
  for (int i = 0; i < 3; i++)
    {
      /* When open returned 0..2 itself, dup2 would be a no-op that keeps O_CLOEXEC. */
      if (fd == i ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, i) < 0)
        return nook_error_set(err, errno, "use `%s` as fd %d", slave_path, i);
    }
  if (fd <= STDERR_FILENO)
    fd = -1; /* it is one of the three now */
  return 0;
}

int nook_unix_connect(const char *path, const char *what, struct nook_error **err)
{
  _cleanup_close_ int sock = -1;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  size_t len = strlen(path);

  if (len == 0 || len >= sizeof(addr.sun_path))
    return nook_error_set(err, ENAMETOOLONG, "%s `%s`", what, path);
  memcpy(addr.sun_path, path, len + 1);
  sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return nook_error_set(err, errno, "socket");
  while (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "connect to the %s `%s`", what, path);
  return TAKE_FD(sock);
}

int nook_console_socket_send(const char *path, int fd, const char *name, struct nook_error **err)
{
  _cleanup_close_ int sock = nook_unix_connect(path, "console socket", err);

  if (sock < 0)
    return -1;
  if (nook_unix_send_fd(sock, fd, name, strlen(name), err) < 0)
    return nook_error_prefix(err, "console socket `%s`", path);
  return 0;
}

/* The control buffer for one fd, aligned as a cmsghdr. */
union fd_cmsg
{
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
};

int nook_unix_send_fd(int sock, int fd, const void *data, size_t len, struct nook_error **err)
{
  union fd_cmsg ctl;
  char dummy = '\0';
  /* SCM_RIGHTS needs at least one byte of data to travel with on a stream socket. */
  struct iovec iov = { .iov_base = len ? (void *)data : &dummy, .iov_len = len ? len : 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = ctl.buf,
    .msg_controllen = sizeof(ctl.buf),
  };
  struct cmsghdr *cm;
  ssize_t n;

  memset(&ctl, 0, sizeof(ctl));
  cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));

  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(err, errno, "send fd");
  /* The fd went with the first byte; the rest of a long payload follows as plain data. */
  while ((size_t)n < iov.iov_len)
    {
      ssize_t m = send(sock, (const char *)iov.iov_base + n, iov.iov_len - (size_t)n, MSG_NOSIGNAL);
      if (m < 0 && errno == EINTR)
        continue;
      if (m < 0)
        return nook_error_set(err, errno, "send fd payload");
      n += m;
    }
  return 0;
}

/* Closes every fd of an SCM_RIGHTS message but the first, which it returns (-1 when none). */
static int take_first_fd(struct msghdr *msg)
{
  int first = -1;

  for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
    {
      size_t nfds;
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
        continue;
      nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfds; i++)
        {
          int fd;
          memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
          if (first < 0)
            first = fd;
          else
            close(fd);
        }
    }
  return first;
}

ssize_t nook_unix_recvmsg(int sock, struct msghdr *msg, int flags)
{
  ssize_t n;

  do
    n = recvmsg(sock, msg, flags);
  while (n < 0 && errno == EINTR);
  /* A peer that closed with a packet of ours unread sets ECONNRESET on this socket, and a
   * SOCK_SEQPACKET recv reports it before the packets the peer sent before it closed (an error
   * message, an exit status): those are read on.  The peer is gone: this recv cannot block. */
  if (n < 0 && errno == ECONNRESET)
    {
      n = recvmsg(sock, msg, flags | MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN)
        errno = ECONNRESET;
    }
  return n;
}

int nook_unix_recv_fd(int sock, int *ret_fd, void *data, size_t len, struct nook_error **err)
{
  union fd_cmsg ctl;
  char dummy;
  struct iovec iov = { .iov_base = len ? data : &dummy, .iov_len = len ? len : 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = ctl.buf,
    .msg_controllen = sizeof(ctl.buf),
  };
  _cleanup_close_ int fd = -1;
  ssize_t n;

  n = nook_unix_recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0)
    return nook_error_set(err, errno, "receive fd");
  fd = take_first_fd(&msg);
  if (n == 0 && fd < 0)
    return nook_error_set(err, ECONNRESET, "receive fd: connection closed");
  if (msg.msg_flags & MSG_CTRUNC)
    return nook_error_set(err, EMSGSIZE, "receive fd: control message truncated");
  if (fd < 0)
    return nook_error_set(err, EBADMSG, "receive fd: no fd in the message");
  *ret_fd = TAKE_FD(fd);
  return len ? (n > INT_MAX ? INT_MAX : (int)n) : 0;
}

int nook_terminal_make_raw(int fd, struct termios *saved, struct nook_error **err)
{
  struct termios old, raw;

  if (tcgetattr(fd, &old) < 0)
    return nook_error_set(err, errno, "tcgetattr");
  raw = old;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSANOW, &raw) < 0)
    return nook_error_set(err, errno, "tcsetattr");
  *saved = old;
  return 0;
}

void nook_terminal_restore(int fd, const struct termios *saved)
{
  while (tcsetattr(fd, TCSANOW, saved) < 0 && errno == EINTR)
    ;
}

void nook_terminal_copy_size(int from_fd, int to_fd)
{
  struct winsize ws;

  if (ioctl(from_fd, TIOCGWINSZ, &ws) == 0)
    ioctl(to_fd, TIOCSWINSZ, &ws);
}
