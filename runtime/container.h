/* The container lifecycle behind `nook oci`: create, start, run, state, kill, delete, list.
 * Each operation takes the state root (--root) and a container id. */
#ifndef NOOK_CONTAINER_H
#define NOOK_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/state.h"

struct nook_create_opts
{
  const char *root;           /* state root */
  const char *id;
  const char *bundle;         /* NULL: the current directory */
  const char *pid_file;       /* NULL: none */
  const char *console_socket; /* NULL: none */
  int console_fd; /* > 0: a connected unix socket the pty master is sent to, as console_socket
                   * would be (the supervisor's); the caller keeps it */
  int preserve_fds;
  bool no_pivot;
  bool no_new_keyring;
  bool systemd_cgroup; /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
  bool detach; /* run only */
  bool keep;   /* run only: keep the stopped container's state */
};

/* Sets the container up and leaves its init waiting for `start` (state "created"). */
int nook_container_create(const struct nook_create_opts *o, struct nook_error **err);

/* create + start.  In the foreground, forwards signals to the container, relays its terminal
 * when process.terminal is set without --console-socket, waits for it, deletes it (unless
 * keep) and stores its exit code in *ret_status (128+N when killed by signal N).  Detached, it
 * returns once the process was executed and *ret_status is 0. */
int nook_container_run(const struct nook_create_opts *o, int *ret_status, struct nook_error **err);

/* Releases a created container's init into execve and runs the poststart hooks. */
int nook_container_start(const char *root, const char *id, struct nook_error **err);

/* The OCI state JSON (pretty), as `state` prints it. */
int nook_container_state(const char *root, const char *id, char **ret_json, struct nook_error **err);

/* Sends sig to the init, or with all to every process of the container. */
int nook_container_kill(const char *root, const char *id, int sig, bool all, struct nook_error **err);

/* Removes a stopped (or created) container: runs poststop hooks and removes its state.  With
 * force, a running one is killed first; a directory left by a crashed create is removed. */
int nook_container_delete(const char *root, const char *id, bool force, struct nook_error **err);

/* pause / resume: freezes or thaws the container's cgroup. */
int nook_container_pause(const char *root, const char *id, bool pause, struct nook_error **err);

/* Every pid of a created, running or paused container (from its cgroup). */
int nook_container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n,
                        struct nook_error **err);

/* Applies the fields set in res to the live cgroup (runc's `update`). */
int nook_container_update(const char *root, const char *id, const struct nook_resources *res,
                          struct nook_error **err);

/* The cgroup of a created, running or paused container, for `events`. */
struct nook_cgroup;
int nook_container_cgroup(const char *root, const char *id, struct nook_cgroup **ret,
                          struct nook_error **err);

struct nook_container_info
{
  struct nook_state *state;
  enum nook_status status;
  char *owner;
};

/* Every container under root, sorted by id. */
int nook_container_list(const char *root, struct nook_container_info **ret, size_t *ret_n,
                        struct nook_error **err);
void nook_container_list_free(struct nook_container_info *list, size_t n);

#endif
