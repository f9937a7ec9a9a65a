/* Containers of `nook run`, as the people's verbs see them (cli/ctr.c).
 *
 * A container is STORAGE/containers/ID (ID: 64 hex digits), "the container's directory":
 *
 *   run.json      what it was made from and how to start it again (struct ctr), written once
 *                 by run and rewritten by nothing else
 *   config.json   the OCI bundle's config (runtime/spec-run.c); rootfs/ the bundle's root,
 *                 an overlay of image/ + upper/ + work/ while mounted (images/rootfs.c)
 *   volumes/N     anonymous volumes (images/volume.c)
 *   status.json   ctr.log   attach    the supervisor's (runtime/supervisor.h)
 *   hosts  hostname  resolv.conf      the network's files, bind-mounted (netns wiring)
 *
 * and STORAGE/names/NAME, a symlink to ID: the name, reserved atomically by symlinkat(2) so that
 * two concurrent `nook run --name x` cannot both get it.  The OCI state of a created or running
 * container is in --root (ROOT/ID), as for any `nook oci` container. */
#ifndef NOOK_CLI_CTR_H
#define NOOK_CLI_CTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "common/error.h"
#include "runtime/supervisor.h"

struct image_store;

struct ctr
{
  char id[65];
  char *name;         /* always set: --name or a generated one */
  char *image;        /* as the user named it */
  char *image_id;     /* the image's config digest, "sha256:..." */
  char *created;      /* RFC 3339 with nanoseconds, UTC */
  char **command;     /* the process's args, NULL-terminated */
  bool rm;            /* --rm */
  bool tty;           /* -t */
  bool interactive;   /* -i */
  struct nook_restart restart;
  uint64_t log_max_size;    /* 0: no rotation */
  unsigned log_max_files;
  int stop_signal;          /* the image's StopSignal or SIGTERM */
  unsigned stop_timeout;    /* seconds, default 10 */
  char *hostname;     /* --hostname, or NULL: the network mode's default */
  char **add_hosts;   /* --add-host NAME:IP, NULL-terminated, or NULL */
  char **dns;         /* --dns IP */
  char *network;      /* "none", "host", "container:ID" or a network's name ("nook": bridge) */
  char **ports;       /* -p specs as given, NULL-terminated, or NULL */
};

void ctr_free(struct ctr *c);
static inline void ctr_freep(struct ctr **c)
{
  if (*c)
    ctr_free(*c);
}
#define _cleanup_ctr_ _cleanup_(ctr_freep)

/* Makes a new container directory with a fresh id and reserves name (NULL: a generated
 * "adjective_noun" one, as podman's).  EEXIST: "the name `NAME` is in use by container
 * 0123456789ab".  A name whose container directory is gone (a crash) is taken over.  On success
 * c->id and c->name are set; the caller fills the rest and calls ctr_save. */
int ctr_create(struct image_store *s, const char *name, struct ctr *c, struct nook_error **err);

/* run.json of c, atomically. */
int ctr_save(struct image_store *s, const struct ctr *c, struct nook_error **err);

/* run.json of the container id.  ENOENT: "no container `ID`". */
int ctr_load(struct image_store *s, const char *id, struct ctr **ret, struct nook_error **err);

/* The id of the container named or id'd what (a name, a full id or a unique prefix of at
 * least 4 hex digits).  ENOENT "no container `WHAT`", EINVAL "... is ambiguous". */
int ctr_lookup(struct image_store *s, const char *what, char ret_id[65], struct nook_error **err);

/* Every container, sorted by created time (oldest first). */
int ctr_list(struct image_store *s, struct ctr ***ret, size_t *ret_n, struct nook_error **err);
void ctr_list_free(struct ctr **v, size_t n);

/* An O_PATH|O_DIRECTORY fd of the container's directory. */
int ctr_dir_open(struct image_store *s, const char *id, int *ret_fd, struct nook_error **err);

/* What a container is now, from the OCI state in --root, status.json and whether the
 * supervisor lives. */
enum ctr_state
{
  CTR_CREATED,    /* made, never started (or a run that crashed before its supervisor) */
  CTR_RUNNING,
  CTR_PAUSED,
  CTR_STOPPING,
  CTR_RESTARTING, /* exited; the supervisor restarts it after a backoff */
  CTR_EXITED,     /* status.json has its exit code */
};

struct ctr_status
{
  enum ctr_state state;
  bool supervisor_alive;   /* false: a running container whose supervisor was killed */
  struct nook_sup_status sup; /* zero when status.json does not exist */
};

const char *ctr_state_to_string(enum ctr_state s);
int ctr_status_get(const struct nook_globals *g, struct image_store *s, const char *id,
                   struct ctr_status *ret, struct nook_error **err);

/* Removes the name's symlink and the container's directory (its rootfs must be unmounted;
 * images/rootfs.c image_rootfs_umount(..., true) removes the directory itself, so this only
 * releases the name when that is done). */
int ctr_release_name(struct image_store *s, const char *name, const char *id,
                     struct nook_error **err);

/* What the supervisor's cleanup op does after the container exited (cli/ctr.c): the OCI
 * delete (poststop hooks, cgroup), and unless restarting: the network, the rootfs mount, and
 * with --rm the container itself.  Also `nook rm -f` after a crash.  Idempotent. */
int ctr_cleanup(const struct nook_globals *g, struct image_store *s, const char *id,
                bool restarting, struct nook_error **err);

/* Sets a stopped or never started container up again (rootfs, network) and starts it under
 * a new supervisor, as run does after making it.  With attach the caller stays attached (the
 * foreground of run, start -a) and *ret_code is the container's exit code; without, it returns
 * once the container runs.  (cli/cmd-nook-run.c) */
int ctr_start(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
              bool attach, int *ret_code, struct nook_error **err);

/* Stops a running container: through its supervisor (NOOK_MSG_STOP: its stop signal, SIGKILL
 * after timeout seconds; 0 kills at once) and waits until the supervisor reported the exit;
 * without a live supervisor, signals the init directly and waits for it, then ctr_cleanup.
 * A container that is not running is fine.  (cli/cmd-nook-stop.c) */
int ctr_stop(const struct nook_globals *g, struct image_store *s, const char *id,
             unsigned timeout, struct nook_error **err);

#endif
