/* Ptys for process.terminal, the --console-socket protocol (as runc: the pty master is sent
 * over a unix socket with SCM_RIGHTS), and the helpers for a foreground run that relays its
 * own terminal. */
#ifndef NOOK_TERMINAL_H
#define NOOK_TERMINAL_H

#include <stdbool.h>
#include <sys/socket.h>
#include <termios.h>
#include "common/error.h"

/* Opens a new pty from /dev/ptmx of the current mount namespace (so: the container's devpts
 * after pivot_root), unlocks it.  ret_slave_path: "/dev/pts/N". */
int nook_terminal_open(int *ret_master, char **ret_slave_path, struct nook_error **err);

/* nook_terminal_open(), then sends the master over the connected unix socket console_fd (the
 * slave's path as payload, as runc) and closes it here.  ret_slave_path: "/dev/pts/N". */
int nook_terminal_open_send(int console_fd, char **ret_slave_path, struct nook_error **err);

/* A foreground run or exec that relays the process's terminal: receives the pty master on
 * relay_fd, gives it the size of stdin's terminal and puts stdin in raw mode when it is a tty
 * (*ret_raw: restore *saved with nook_terminal_restore afterwards). */
int nook_terminal_relay_begin(int relay_fd, int *ret_master, struct termios *saved, bool *ret_raw,
                              struct nook_error **err);

/* Makes the calling process the leader of a new session without a controlling terminal (as
 * runc's nsexec does for every container process): a terminal the caller passed as stdio is
 * then not the process's controlling terminal, so the process cannot push input into it with
 * ioctl(TIOCSTI) without CAP_SYS_ADMIN.  Being a session leader already is fine; other setsid
 * errors are returned (EPERM for a process group leader). */
int nook_terminal_new_session(struct nook_error **err);

/* Makes the pty slave at slave_path the controlling terminal of the calling process (setsid,
 * TIOCSCTTY) and its stdin/stdout/stderr; applies width x height when both are non-zero. */
int nook_terminal_become_controlling(const char *slave_path, unsigned height, unsigned width,
                                     struct nook_error **err);

/* A connected SOCK_STREAM socket to the unix socket at path, or < 0 with an error such as
 * "connect to the WHAT `PATH`: Connection refused" (ENAMETOOLONG when path does not fit). */
int nook_unix_connect(const char *path, const char *what, struct nook_error **err);

/* Connects to the unix socket at path and sends fd with SCM_RIGHTS, with name as the message
 * payload (runc sends the pty's path). */
int nook_console_socket_send(const char *path, int fd, const char *name, struct nook_error **err);

/* recvmsg(2) on a unix socket, again on EINTR; after an ECONNRESET (the peer closed with
 * packets of ours unread) once more, as the packets the peer sent before it closed are still
 * queued.  Returns what recvmsg returns, errno set on -1. */
ssize_t nook_unix_recvmsg(int sock, struct msghdr *msg, int flags);

/* Sends / receives one fd with SCM_RIGHTS over a connected unix socket, with a payload. */
int nook_unix_send_fd(int sock, int fd, const void *data, size_t len, struct nook_error **err);
int nook_unix_recv_fd(int sock, int *ret_fd, void *data, size_t len, struct nook_error **err);

/* Puts a tty fd in raw mode, saving the old settings; restore puts them back. */
int nook_terminal_make_raw(int fd, struct termios *saved, struct nook_error **err);
void nook_terminal_restore(int fd, const struct termios *saved);
/* Copies the window size of from_fd to to_fd (TIOCGWINSZ/TIOCSWINSZ); ignores non-ttys. */
void nook_terminal_copy_size(int from_fd, int to_fd);

#endif
