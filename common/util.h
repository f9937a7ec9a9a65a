/* Small helpers every area shares: strings, numbers, files, fds, time. */
#ifndef NOOK_UTIL_H
#define NOOK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"

/* NULL-terminated string vectors. */
size_t nook_strv_length(char *const *v);
char **nook_strv_dup(char *const *v);
/* Appends a copy of s; *v may be NULL. */
void nook_strv_push(char ***v, const char *s);
bool nook_strv_contains(char *const *v, const char *s);

static inline bool streq(const char *a, const char *b) { return a && b && __builtin_strcmp(a, b) == 0; }
bool nook_has_prefix(const char *s, const char *prefix);

/* Strict number parsing: the whole string must be a number in range.  Return 0 or -EINVAL /
 * -ERANGE; *ret is written only on success. */
int nook_parse_u64(const char *s, uint64_t *ret);
int nook_parse_i64(const char *s, int64_t *ret);
int nook_parse_int(const char *s, int *ret);

/* Reads a whole file (at most max bytes, -EFBIG beyond) into a NUL-terminated buffer. */
int nook_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
                      struct nook_error **err);
int nook_read_fd(int fd, size_t max, char **ret, size_t *ret_len, struct nook_error **err);

/* Writes data to dirfd/name through a temporary file and rename(2), so readers see the old or
 * the new content, never a mix. */
int nook_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len,
                              mode_t mode, struct nook_error **err);
/* Writes a whole buffer to a path (no O_CREAT): for /proc and /sys files. */
int nook_write_file(const char *path, const char *data, size_t len, struct nook_error **err);

/* Full writes and reads that retry on EINTR and short counts. */
ssize_t nook_write_all(int fd, const void *buf, size_t len);
ssize_t nook_read_all(int fd, void *buf, size_t len);

/* "/a//b/./../c/" -> "a/c": PATH as a relative path of plain components (leading `/`, empty and
 * `.` components dropped, `..` applied lexically; "" is the root).  A `..` above the root is
 * dropped too (as runc's CleanPath), or, with REFUSE_ESCAPE, makes it fail with -EINVAL and
 * *ret untouched. */
int nook_path_clean_rel(const char *path, bool refuse_escape, char **ret);

/* mkdir -p, mode for the directories created. */
int nook_mkdir_p(const char *path, mode_t mode, struct nook_error **err);

/* Removes a directory tree below dirfd/name, not following symlinks, staying on one device. */
int nook_rm_rf_at(int dirfd, const char *name, struct nook_error **err);

/* The absolute, canonical form of path (realpath), or an error naming it. */
int nook_realpath(const char *path, char **ret, struct nook_error **err);

/* Current time as RFC 3339 with nanoseconds, UTC ("2024-01-02T03:04:05.123456789Z"). */
char *nook_time_rfc3339(void);

/* Signal by name ("KILL", "SIGKILL", "kill") or number; returns the number or -EINVAL. */
int nook_signal_parse(const char *s);
/* "SIGKILL" for 9; NULL for unknown. */
const char *nook_signal_name(int sig);

/* Sets FD_CLOEXEC on every fd >= from (close_range, or a walk of /proc/self/fd). */
int nook_fds_cloexec_from(int from, struct nook_error **err);
/* Closes every fd >= from except the n_keep fds in keep (negative entries are ignored):
 * close_range over the gaps, or a walk of /proc/self/fd. */
int nook_fds_close_from(int from, const int *keep, size_t n_keep, struct nook_error **err);

/* In a forked child before execve: every signal back to SIG_DFL, the mask emptied.  Uses the
 * raw system call, because glibc's sigaction() refuses the signals it reserves (32, 33), and an
 * ignored one would otherwise be inherited across execve. */
void nook_signals_reset(void);

/* Start time of a process (field 22 of /proc/PID/stat, in clock ticks), used with the pid to
 * recognise a process after pid reuse.  Returns -ESRCH if it does not exist. */
int nook_proc_start_time(pid_t pid, uint64_t *ret);

#include "common/banned.h"

#endif
