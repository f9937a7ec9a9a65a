/* Linux namespaces for a container: which to create, which to join, id maps, time offsets. */
#ifndef NOOK_NAMESPACES_H
#define NOOK_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/spec.h"

struct nook_ns_plan
{
  int new_flags;                /* CLONE_NEW* of the namespaces to create */
  int join_fds[NOOK_NS_COUNT];  /* opened linux.namespaces[].path, or -1 */
  bool joins;                   /* any join_fds[] >= 0 */
  /* The init cannot simply be cloned with new_flags: it must join namespaces first, or set
   * time offsets before any process lives in the new time namespace.  Then a first child
   * joins/unshares and forks the init (see runtime/init.c). */
  bool two_stage;
};

/* Opens the namespaces to join (errors name linux.namespaces[i].path) and computes the flags.
 * The fds are O_CLOEXEC; nook_ns_plan_close() closes them. */
int nook_ns_plan_init(const struct nook_spec *spec, struct nook_ns_plan *ret, struct nook_error **err);
void nook_ns_plan_close(struct nook_ns_plan *plan);

/* setns() into every namespace to join: the user namespace first, so that the others are
 * joined with the credentials it gives. */
int nook_ns_join(const struct nook_ns_plan *plan, struct nook_error **err);

/* Writes uid_map and gid_map of pid from linux.uidMappings / gidMappings (run by the parent,
 * which holds the privileges in the parent user namespace). */
int nook_userns_write_maps(pid_t pid, const struct nook_spec *spec, struct nook_error **err);

/* A user namespace with these uid and gid maps, for mount_setattr(MOUNT_ATTR_IDMAP): a helper
 * process is cloned into it, the maps are written, its ns/user is opened (O_CLOEXEC) into
 * *ret_fd and the helper exits.  Errors name the map that the kernel refused. */
int nook_userns_open_mapped(const struct nook_id_mapping *uid, size_t n_uid,
                            const struct nook_id_mapping *gid, size_t n_gid, int *ret_fd,
                            struct nook_error **err);

/* Writes /proc/self/timens_offsets from linux.timeOffsets; must run after unshare(CLONE_NEWTIME)
 * and before the first process enters the namespace (i.e. before fork). */
int nook_timens_write_offsets(const struct nook_spec *spec, struct nook_error **err);

/* Brings `lo` up in the current network namespace. */
int nook_netns_loopback_up(struct nook_error **err);

#endif
