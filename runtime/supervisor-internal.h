/* Internal to the supervisor (runtime/supervisor*.c, runtime/attach.c) and its unit test: the
 * ctr.log writer and the packet helpers both sides of the attach socket use. */
#ifndef NOOK_SUPERVISOR_INTERNAL_H
#define NOOK_SUPERVISOR_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/error.h"
#include "runtime/supervisor.h"

/* ---- ctr.log (supervisor-log.c) ------------------------------------------------------------ */

#define SUP_LOG_NAME "ctr.log"

struct sup_log
{
  int dirfd;          /* the container's directory (not owned) */
  int fd;             /* ctr.log, O_APPEND; -1 when it could not be (re)opened */
  uint64_t size;      /* bytes in ctr.log now */
  uint64_t max_size;  /* rotate before a record would take it beyond; 0: never */
  unsigned max_files; /* ctr.log.1 .. ctr.log.N are kept */
  int error;          /* the first write or rotation errno, 0 when none */
};

/* Opens (creates, 0600) ctr.log in dirfd for appending. */
int sup_log_open(struct sup_log *l, int dirfd, uint64_t max_size, unsigned max_files,
                 struct nook_error **err);
void sup_log_close(struct sup_log *l);

/* Writes one chunk read from the container's stdout or stderr as k8s-file records stamped ts:
 * an F record per complete line, and a P record for a tail without newline (the next chunk
 * continues that line).  Rotates first when a record would take ctr.log beyond max_size (a
 * record is never split between files).  Write errors are recorded in l->error, never
 * returned: the output still goes to the clients. */
void sup_log_write(struct sup_log *l, const struct timespec *ts, bool is_stderr, const char *data,
                   size_t len);

/* "2026-11-22T10:00:00.123456789Z" (30 characters and a NUL) without the libc's time zone
 * machinery, which would allocate on its first use. */
#define SUP_TIMESTAMP_LEN 30
void sup_log_timestamp(const struct timespec *ts, char buf[SUP_TIMESTAMP_LEN + 1]);

/* ---- the forked children (supervisor-child.c) ---------------------------------------------- */

/* The supervisor's ends of the container's stdio, non-blocking; -1 when there is none.  With a
 * terminal, out and in (with stdin_open) are dups of master; err is -1. */
struct sup_stdio
{
  int out, err, in, master;
};
void sup_stdio_close(struct sup_stdio *io);

/* A cgroup file's path: the mount, nook's own cgroup, nook/ID, the file (a longer one is
 * dropped: no OOM detection rather than a large buffer in every supervisor). */
#define SUP_OOM_FILE_MAX 1024

struct sup_create_result
{
  int32_t ok;
  int32_t errnum; /* !ok: the create's errno (EIO when it had none) and its message */
  int32_t pid;
  char oom_file[SUP_OOM_FILE_MAX]; /* "" when none */
  char msg[sizeof(((struct nook_sup_status *)NULL)->error)];
};

/* Runs ops->create in a forked child whose fds 0, 1 and 2 are the container's stdio (pipes,
 * /dev/null for stdin unless o->stdin_open; with o->tty /dev/null and a console socket whose
 * pty master is received here) and waits for it.  Returns 0 with *ret and r->pid, or -1 with
 * r->errnum and r->msg (the create's message as it was, "exec `...`" texts included). */
int sup_create_run(const struct nook_supervisor_opts *o, const struct nook_supervisor_ops *ops,
                   struct sup_stdio *ret, struct sup_create_result *r);

/* Runs ops->cleanup in a forked child and waits for it.  -1 with its message in msg. */
int sup_cleanup_run(const struct nook_supervisor_ops *ops, bool restarting, char *msg, size_t size);

/* The "oom_kill N" count of a cgroup's memory.events (v2) or memory.oom_control (v1). */
int sup_oom_count(const char *path, uint64_t *ret);

/* ---- packets (attach.c) -------------------------------------------------------------------- */

/* Sends type + payload as one packet with flags (MSG_DONTWAIT for the supervisor), retrying
 * EINTR.  Returns 0 or -errno (-EAGAIN when a non-blocking send found the socket full). */
int sup_packet_send(int sock, char type, const void *payload, size_t len, int flags);

/* NOOK_MSG_ERROR: errnum as an int32_t, then msg (cut to fit a packet). */
int sup_error_send(int sock, int errnum, const char *msg, int flags);

/* "/proc/self/fd/DIRFD/attach": the attach socket of the directory dirfd. */
struct sockaddr_un;
void sup_attach_address(int dirfd, struct sockaddr_un *ret);

#endif
