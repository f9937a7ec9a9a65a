/* `nook [GLOBAL OPTIONS] __supervise [OPTIONS] -- ID` (hidden): the supervisor of a container
 * of `nook run`, as nook_supervisor_spawn() starts it (runtime/supervisor.h).  This file gives
 * it its two operations, each run in a forked child of the supervisor:
 *
 *   create   the OCI create + start of the bundle in the container's directory (config.json
 *            and rootfs/ there) under --root, detached, with the child's stdio as the
 *            container's and the supervisor's console socket for a terminal; the init's pid
 *            and the cgroup file that counts its OOM kills
 *   cleanup  ctr_cleanup(): the OCI delete, and unless restarting the network, the rootfs
 *            mount and with --rm the container */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>

#include "cgroups/cgroup.h"
#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/cloned-binary.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "runtime/supervisor.h"

struct supervise
{
  const struct nook_globals *g;
  const struct nook_supervisor_opts *o;
};

/* The OOM count's file of the container's cgroup, or NULL when it has none to count in. */
static char *oom_file(const char *root, const char *id)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  char *file = NULL;

  if (nook_container_cgroup(root, id, &cg, NULL) < 0 || nook_cgroup_oom_file(cg, &file, NULL) < 0)
    return NULL;
  return file;
}

static int supervise_create(void *data, int console_fd, pid_t *ret_pid, char **ret_oom_file,
                            struct nook_error **err)
{
  const struct supervise *d = data;
  struct nook_create_opts co = {
    .root = d->g->root,
    .id = d->o->id,
    .bundle = d->o->dir,
    .console_fd = console_fd > 0 ? console_fd : 0,
    .detach = true,
    .keep = true,
  };
  _cleanup_state_ struct nook_state *st = NULL;
  _cleanup_close_ int dirfd = -1;
  int status;

  if (nook_mkdir_p(d->g->root, 0700, err) < 0)
    return nook_error_prefix(err, "--root");
  if (nook_container_run(&co, &status, err) < 0)
    return -1;
  if (nook_state_dir_open(d->g->root, d->o->id, false, &dirfd, err) < 0
      || nook_state_read(dirfd, d->o->id, &st, err) < 0)
    return -1;
  *ret_pid = st->pid;
  *ret_oom_file = oom_file(d->g->root, d->o->id);
  return 0;
}

static int supervise_cleanup(void *data, bool restarting, struct nook_error **err)
{
  const struct supervise *d = data;
  _cleanup_image_store_ struct image_store *s = NULL;

  if (image_store_open(d->g->storage, &s, err) < 0)
    return -1;
  return ctr_cleanup(d->g, s, d->o->id, restarting, err);
}

int cmd_supervise(const struct nook_globals *g, int argc, char **argv)
{
  struct nook_supervisor_opts o;
  struct supervise d = { .g = g, .o = &o };
  struct nook_supervisor_ops ops = { supervise_create, supervise_cleanup, &d };
  struct nook_error *err = NULL;
  int sock;

  if (nook_supervisor_parse_args(argc, argv, &o, &sock, &err) < 0)
    return cli_nook_fail(err);
  /* Executed from /proc/self/exe its name would be "exe": say what it is in ps and top. */
  prctl(PR_SET_NAME, "nook-supervisor", 0, 0, 0);
  /* The create child runs the runtime in this process image: it must be the protected copy
   * (the spawning `nook run` made sure already, so this does not exec again). */
  if (nook_cloned_binary_ensure(&err) < 0)
    {
      char payload[512];
      int32_t e = err->errnum;
      size_t len = strnlen(err->msg, sizeof(payload) - sizeof(e));
      memcpy(payload, &e, sizeof(e));
      memcpy(payload + sizeof(e), err->msg, len);
      if (sock >= 0)
        nook_msg_send(sock, NOOK_MSG_ERROR, payload, sizeof(e) + len, NULL);
      return cli_nook_fail(err);
    }
  return nook_supervisor_main(&o, &ops, sock);
}
