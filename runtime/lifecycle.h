/* Helpers shared by the lifecycle operations (runtime/lifecycle.c, runtime/container.c). */
#ifndef NOOK_LIFECYCLE_H
#define NOOK_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/spec.h"
#include "runtime/state.h"

/* Waits until the process behind pidfd has exited, at most timeout_ms.  Returns 0 or
 * -ETIMEDOUT. */
int nook_lifecycle_wait_exit(int pidfd, int timeout_ms);

/* Runs the poststop hooks; a failing hook is a warning (runtime-spec), never an error. */
void nook_lifecycle_poststop(const struct nook_spec *spec, const struct nook_state *st);

/* The config the container was created from, as stored in its state directory dirfd (errors
 * start with "container `ID`"). */
int nook_lifecycle_load_spec(int dirfd, const char *id, struct nook_spec **ret,
                             struct nook_error **err);

/* Writes pid to path through a temporary file in its directory and rename(2), as runc does;
 * errors start with "--pid-file". */
int nook_lifecycle_write_pid_file(const char *path, pid_t pid, struct nook_error **err);

/* Clones a child (fork-like, SIGCHLD) with the CLONE_NEW* flags; with cgroup_fd >= 0 (a
 * cgroup2 cgroup, see nook_cgroup_dirfd) it is born in that cgroup through
 * clone3(CLONE_INTO_CGROUP), and *ret_into says so in parent and child alike.  On kernels
 * without clone3 a plain clone (the child is then still to be moved).  Returns 0 in the child,
 * the pid in the parent, -1 with errno. */
pid_t nook_lifecycle_clone(int flags, int cgroup_fd, bool *ret_into);

/* The exit code of a wait status: the exit status, or 128+N when killed by signal N. */
int nook_lifecycle_status_code(int wstatus);

/* The foreground of run and exec: with relay_fd >= 0, receives the pty master on it and puts a
 * terminal stdin in raw mode (nook_terminal_relay_begin); then forwards the signals read from
 * sigfd to pidfd (all but SIGCHLD, SIGURG, and SIGWINCH, which resizes the pty), reaps
 * children and copies stdin to the master and the master to stdout, until pid exits; restores
 * stdin.  *ret_code: pid's exit code.  Fails only when the master cannot be received. */
int nook_lifecycle_foreground(int sigfd, int relay_fd, pid_t pid, int pidfd, int *ret_code,
                              struct nook_error **err);

#endif
