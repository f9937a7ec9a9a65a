/* Idmapped bind mounts: mounts[].uidMappings / gidMappings and the idmap and ridmap options, as
 * runc 1.2 and crun do them.  A mapping has the format of linux.uidMappings and is written as
 * it stands to a helper user namespace, whose fd mount_setattr(MOUNT_ATTR_IDMAP) takes: a file
 * owned by containerID on the filesystem appears owned by hostID, which the container's own
 * user namespace (if any) then maps as usual.  With the container's mappings the container
 * sees the filesystem's ids unchanged; idmap without mappings means exactly that.
 *
 * The parent prepares each tree before clone, in the host's user namespace: MOUNT_ATTR_IDMAP
 * needs CAP_SYS_ADMIN over the filesystem's user namespace, which an init in a new user
 * namespace lacks.  The init attaches the detached tree with move_mount (rootfs.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/mount-api.h"
#include "common/util.h"
#include "runtime/namespaces.h"
#include "runtime/rootfs.h"
#include "runtime/rootfs-internal.h"

bool rootfs_idmap_wanted(const struct nook_mount *m, bool *ret_recursive)
{
  bool idmap = nook_strv_contains(m->options, "idmap");
  bool ridmap = nook_strv_contains(m->options, "ridmap");

  if (ret_recursive)
    *ret_recursive = ridmap;
  return idmap || ridmap || m->n_uid_mappings || m->n_gid_mappings;
}

/* open_tree(OPEN_TREE_CLONE) of the source, the whole tree for rbind, and the idmapping on its
 * top mount or, for ridmap, on every mount of it. */
static int idmapped_tree(const struct nook_mount *m, const char *src, int userns_fd,
                         const char *what, int *ret_fd, struct nook_error **err)
{
  struct nook_mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned)userns_fd };
  bool rbind = nook_strv_contains(m->options, "rbind");
  _cleanup_close_ int fd = -1;
  bool recursive;

  rootfs_idmap_wanted(m, &recursive);
  fd = (int)syscall(SYS_open_tree, AT_FDCWD, src,
                    OPEN_TREE_CLONE | O_CLOEXEC | (rbind ? AT_RECURSIVE : 0));
  if (fd < 0)
    return nook_error_set(err, errno, "%s: open_tree", what);
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
              sizeof(attr))
      < 0)
    {
      if (errno == EINVAL)
        return nook_error_setx(
            err, EINVAL, "%s: the filesystem of `%s` does not support idmapped mounts", what, src);
      return nook_error_set(err, errno, "%s: idmap", what);
    }
  *ret_fd = TAKE_FD(fd);
  return 0;
}

static int prepare_one(const struct nook_spec *spec, const struct nook_mount *m, const char *bundle,
                       int *ret_fd, struct nook_error **err)
{
  const struct nook_linux *lx = spec->linux;
  bool own = m->n_uid_mappings > 0;
  _cleanup_free_ char *src = NULL;
  _cleanup_free_ char *what =
      xasprintf("mount `%s` on `%s`", m->source ? m->source : "none", m->destination);
  _cleanup_close_ int userns = -1;

  if (m->source == NULL)
    return nook_error_setx(err, EINVAL, "%s: a bind mount needs a source", what);
  src = m->source[0] == '/' || bundle == NULL ? xstrdup(m->source)
                                              : xasprintf("%s/%s", bundle, m->source);
  /* spec-validate.c made sure that idmap without mappings comes with the container's */
  if (nook_userns_open_mapped(own ? m->uid_mappings : lx->uid_mappings,
                              own ? m->n_uid_mappings : lx->n_uid_mappings,
                              own ? m->gid_mappings : lx->gid_mappings,
                              own ? m->n_gid_mappings : lx->n_gid_mappings, &userns, err)
      < 0)
    return nook_error_prefix(err, "%s", what);
  return idmapped_tree(m, src, userns, what, ret_fd, err);
}

int nook_rootfs_idmap_prepare(const struct nook_spec *spec, const char *bundle, int **ret_fds,
                              struct nook_error **err)
{
  int *fds = NULL;

  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      if (!rootfs_idmap_wanted(&spec->mounts[i], NULL))
        continue;
      if (fds == NULL)
        {
          fds = xcalloc(spec->n_mounts, sizeof(*fds));
          for (size_t k = 0; k < spec->n_mounts; k++)
            fds[k] = -1;
        }
      if (prepare_one(spec, &spec->mounts[i], bundle, &fds[i], err) < 0)
        {
          nook_rootfs_idmap_free(fds, spec->n_mounts);
          return -1;
        }
    }
  *ret_fds = fds;
  return 0;
}

void nook_rootfs_idmap_free(int *fds, size_t n)
{
  for (size_t i = 0; fds && i < n; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  free(fds);
}

int rootfs_idmap_attach(int tree_fd, int target_fd, const char *what, struct nook_error **err)
{
  if (syscall(SYS_move_mount, tree_fd, "", target_fd, "",
              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
      < 0)
    return nook_error_set(err, errno, "%s: move_mount", what);
  return 0;
}

bool nook_rootfs_idmap_supported(void)
{
  /* an fd of -1 is refused (EBADF) by a kernel that has the call */
  return syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, NULL, 0) < 0 && errno != ENOSYS;
}
