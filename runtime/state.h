/* The state store: one directory per container under --root (default /run/nook).
 *
 *   ROOT/ID/state.json   what nook recorded (pid and its start time, bundle, ...), written
 *                        atomically (temp + rename)
 *   ROOT/ID/config.json  the config the container was created from, as read (so that later
 *                        verbs never depend on the bundle still being there)
 *   ROOT/ID/exec.fifo    present while the container is "created": `start` writes to it
 *
 * Concurrent commands on one id serialise on flock(2) of the directory itself. */
#ifndef NOOK_STATE_H
#define NOOK_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/spec.h"

enum nook_status
{
  NOOK_STATUS_CREATING,
  NOOK_STATUS_CREATED,
  NOOK_STATUS_RUNNING,
  NOOK_STATUS_PAUSED,
  NOOK_STATUS_STOPPED,
};

struct nook_state
{
  char *id;
  pid_t pid;          /* 0 while creating */
  uint64_t pid_start; /* /proc/PID/stat starttime: tells the init from a reused pid */
  char *bundle;
  char *rootfs;
  char *created; /* RFC 3339 */
  char *owner;
  bool created_done; /* false while `create` is still at work ("creating") */
  bool own_pidns;    /* the init is pid 1 of its own pid namespace */
  bool no_new_keyring; /* created with --no-new-keyring (exec keeps the caller's keyring too) */
  char *cgroup_path; /* nook_cgroup_path() of its cgroup; "" when it has none */
  struct nook_kv *annotations;
  size_t n_annotations;
};

const char *nook_status_to_string(enum nook_status s);

/* Ids: 1..1024 of [A-Za-z0-9_+.-], not "." or "..".  The error names the id. */
int nook_id_validate(const char *id, struct nook_error **err);

/* Creates ROOT (0700, with parents) if needed, then ROOT/ID exclusively: EEXIST becomes
 * "container `ID` already exists".  Returns a locked dirfd of ROOT/ID. */
int nook_state_dir_create(const char *root, const char *id, int *ret_dirfd, struct nook_error **err);
/* Opens ROOT/ID ("container `ID` does not exist" with ENOENT); locks it when lock is true. */
int nook_state_dir_open(const char *root, const char *id, bool lock, int *ret_dirfd,
                        struct nook_error **err);
/* Names of containers made by `nook run` (whose ids are 64 hex digits): ROOT/@names/NAME, a
 * symlink to the id ('@' is not allowed in ids, so the directory never clashes with one).
 * alias_set replaces an older link of that name; alias_remove removes it only while it still
 * points to id. */
int nook_state_alias_set(const char *root, const char *name, const char *id, struct nook_error **err);
void nook_state_alias_remove(const char *root, const char *name, const char *id);
/* The id the name `what` stands for when ROOT/what is not a container but an alias is:
 * a new string; else NULL. */
char *nook_state_alias_resolve(const char *root, const char *what);

/* ROOT/ID/cgroup: the container's cgroup path, written as soon as the cgroup exists, so that
 * `delete -f` finds (and kills and removes) the cgroup of a create that died before it wrote
 * state.json. */
#define NOOK_STATE_CGROUP_FILE "cgroup"

/* Removes ROOT/ID and everything in it. */
int nook_state_dir_remove(const char *root, const char *id, struct nook_error **err);

int nook_state_write(int dirfd, const struct nook_state *st, struct nook_error **err);
int nook_state_read(int dirfd, const char *id, struct nook_state **ret, struct nook_error **err);
void nook_state_free(struct nook_state *st);
static inline void nook_state_freep(struct nook_state **s) { nook_state_free(*s); }
#define _cleanup_state_ _cleanup_(nook_state_freep)

/* What the container is now: creating until create finished; then created while exec.fifo
 * exists and the init lives, running while it lives (paused when its cgroup is frozen),
 * stopped once it is gone (or its pid was reused by another process). */
enum nook_status nook_state_status(int dirfd, const struct nook_state *st);

/* The OCI state JSON (runtime-spec "State"), as `state` prints and hooks read on stdin, with
 * runc's extra fields (rootfs, created, owner). */
char *nook_state_oci_json(const struct nook_state *st, enum nook_status status, bool pretty);

/* Opens a pidfd for the container's init, checking that the pid still belongs to it.
 * Returns -ESRCH (without setting *err) when the init is gone. */
int nook_state_pidfd(const struct nook_state *st, int *ret_pidfd, struct nook_error **err);

#endif
