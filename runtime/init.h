/* The container's init between clone and execve, and the sync protocol it speaks with the
 * nook process that created it.
 *
 * Parent and init talk over one SOCK_SEQPACKET socketpair.  Each message is a struct
 * nook_sync_msg, optionally followed by text (an error message).  The steps, in order, each
 * labelled "sync step N" on both sides:
 *
 *   0  parent -> init  CGROUP_DONE  (a new user namespace at clone on v1/hybrid, or no clone3)
 *                                   the init is in its cgroup.  Otherwise the init joins the
 *                                   hierarchies clone3 did not put it in itself, first thing
 *                                   (nook_cgroup_enter_self: on v1 much cheaper than a move)
 *   1  init -> parent  USERMAP      (new user namespace only) write my uid/gid maps
 *      parent -> init  USERMAP_DONE
 *   2  init -> parent  PID          (two-stage only) the init's pid, from the first stage
 *   3  init -> parent  HOOKS        (when there are hooks) mounts are done: run prestart and
 *                                   createRuntime hooks now
 *      parent -> init  HOOKS_DONE   value: the init's pid as the parent sees it
 *   4a init -> parent  SECCOMP_FD   (seccomp with an SCMP_ACT_NOTIFY rule) the filter is
 *                                   loaded; the listener fd rides along (SCM_RIGHTS) for the
 *                                   parent to pass to linux.seccomp.listenerPath
 *   4  init -> parent  READY        all set up; create returns after this
 *   5  parent -> init  START        (run only; create waits on exec.fifo instead)
 *   -  init -> parent  ERROR        at any step: value is errno, text the message; then the
 *                                   init exits.  EOF on the socket after START means execve
 *                                   succeeded (the socket is close-on-exec).
 *
 * exec (runtime/exec.c) speaks steps 0, 2, 5 and 4a of the same protocol with a first stage
 * and the process it forks; see there. */
#ifndef NOOK_INIT_H
#define NOOK_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/namespaces.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"

enum nook_sync_type
{
  NOOK_SYNC_CGROUP_DONE = 1,
  NOOK_SYNC_USERMAP,
  NOOK_SYNC_USERMAP_DONE,
  NOOK_SYNC_PID,
  NOOK_SYNC_HOOKS,
  NOOK_SYNC_HOOKS_DONE,
  NOOK_SYNC_READY,
  NOOK_SYNC_START,
  NOOK_SYNC_ERROR,
  NOOK_SYNC_SECCOMP_FD,
};

struct nook_sync_msg
{
  int32_t type;
  int32_t value;
};

#define NOOK_SYNC_TEXT_MAX 4096

/* Sends one message (text may be NULL). */
int nook_sync_send(int fd, int type, int value, const char *text, struct nook_error **err);
/* Receives one message; text (optional, text_size bytes) gets the NUL-terminated payload.
 * EOF is -EPIPE with an error "the container's init exited". */
int nook_sync_recv(int fd, struct nook_sync_msg *msg, char *text, size_t text_size,
                   struct nook_error **err);
/* Receives one message and checks its type; an ERROR message becomes *err. */
int nook_sync_expect(int fd, int type, int *ret_value, struct nook_error **err);

/* Receives a message of that type with one fd (SCM_RIGHTS); an ERROR message (without an fd)
 * becomes *err, EOF is EPIPE "the container's init exited during setup". */
int nook_sync_recv_fd(int fd, int type, int *ret_fd, struct nook_error **err);
/* sync step 4a, parent side: receives the seccomp listener fd (or the ERROR sent instead) and
 * passes it to linux.seccomp.listenerPath with state_json (nook_seccomp_send_listener), keeping
 * no copy. */
int nook_sync_forward_listener(int fd, const struct nook_spec *spec, pid_t pid,
                               const char *state_json, struct nook_error **err);
/* After the last step: waits for EOF, which means execve succeeded (the other end is
 * close-on-exec), or an ERROR message, which becomes *err with the errno it carries. */
int nook_sync_wait_exec(int fd, struct nook_error **err);

struct nook_cgroup;

struct nook_init_args
{
  const struct nook_spec *spec;
  const char *id;
  const char *rootfs;
  const char *bundle;
  const struct nook_ns_plan *ns;
  int sync_fd;      /* the init's end of the socketpair */
  int fifo_fd;      /* create: exec.fifo, opened O_RDONLY|O_NONBLOCK; run: -1 */
  int console_fd;   /* terminal: a connected unix socket to send the pty master on; else -1 */
  int preserve_fds; /* fds 3 .. 3+preserve_fds-1 pass to the process */
  bool no_pivot;
  bool no_new_keyring;
  bool cgroup_sync; /* wait for sync step 0 before anything else */
  const struct nook_cgroup *cgroup_self; /* or join this cgroup first, itself */
  bool cgroup_into; /* it was born in the cgroup2 hierarchy's cgroup (CLONE_INTO_CGROUP) */
  int late_flags;   /* CLONE_NEW* to unshare once in the cgroup (the cgroup namespace) */
  const struct nook_seccomp_filter *seccomp; /* compiled by the parent; NULL when none */
  const int *idmap_fds; /* per mount: the idmapped tree the parent prepared, or -1; or NULL */
};

/* Whether the init and parent do sync step 3. */
bool nook_init_needs_hooks_sync(const struct nook_spec *spec);

/* Runs in the cloned child: sets the container up and execs process.args.  Never returns. */
_noreturn_ void nook_init_main(const struct nook_init_args *a);

/* The part of the init after the rootfs that an exec'd process goes through too, in runc's
 * order: session keyring, oom score, scheduling, rlimits, initial cpu affinity, closes every fd
 * beyond the preserved ones (but sync_fd, fifo_fd and the log), chdir(process.cwd) checked to be
 * below the root, LSM labels, then seccomp, the identity switch and no_new_privs (seccomp last
 * with no_new_privs, else before the switch).  Uses spec, spec->process, id, no_new_keyring,
 * preserve_fds, fifo_fd, seccomp and sync_fd (sync step 4a). */
int nook_init_finish_process(const struct nook_init_args *a, struct nook_error **err);

/* The final cpu affinity and execve of spec->process; on failure reports to sync_fd and exits
 * 127 (not found) or 126 (not executable), 1 for other errors.  Never returns. */
_noreturn_ void nook_init_exec_process(const struct nook_init_args *a);

/* Sends err as an ERROR message on sync_fd (or, when that fails or sync_fd < 0, prints it to
 * stderr) and _exit()s with status. */
_noreturn_ void nook_init_fail(int sync_fd, struct nook_error *err, int status);

#endif
