/* The container's root filesystem: mounts, devices, pivot_root, masked and read-only paths.
 *
 * Runs in the container's init, after it entered its new mount namespace (and user namespace,
 * if any, with the id maps written), as root of that namespace.  Every mount destination is
 * resolved inside the rootfs relative to a dirfd (openat2 RESOLVE_IN_ROOT), so that a symlink
 * in the rootfs can never point a mount outside it; the mount is then made on the resolved fd
 * (/proc/self/fd/N), never on a string path that could change under us. */
#ifndef NOOK_ROOTFS_H
#define NOOK_ROOTFS_H

#include <stdbool.h>
#include "common/error.h"
#include "runtime/spec.h"

struct nook_rootfs_ctx
{
  const struct nook_spec *spec;
  const char *rootfs; /* canonical absolute host path of root.path */
  const char *bundle; /* canonical absolute bundle dir: relative bind sources resolve here */
  bool no_pivot;      /* --no-pivot: MS_MOVE the rootfs onto / and chroot */
  bool in_userns;     /* a new user namespace: devices are bind-mounted, not mknod'ed */
  const int *idmap_fds; /* per spec->mounts[i]: its idmapped tree, or -1; NULL when none */
};

/* Step 1, before pivot_root: makes "/" a slave/private mount (rootfsPropagation, default
 * rslave as runc) so that nothing propagates to the host, bind-mounts the rootfs onto itself, then
 * performs spec->mounts in order (bind/rbind with ro/nosuid/nodev/noexec/... and propagation
 * options applied with a remount as the kernel needs, proc, sysfs, tmpfs, devpts, mqueue,
 * cgroup/cgroup2, and any other fs type with its data options), creating missing destination
 * directories (or files, for a bind of a non-directory) inside the rootfs.  Then, when /dev is
 * not a bind mount from the host, creates the default devices (null zero full random urandom
 * tty, plus /dev/ptmx -> pts/ptmx, /dev/fd, stdin/out/err, /dev/core symlinks, /dev/shm dir,
 * /dev/pts dir) and linux.devices with their mode/uid/gid.  Errors name the mount:
 * "mount `proc` on `/proc`: Operation not permitted". */
int nook_rootfs_prepare(const struct nook_rootfs_ctx *ctx, struct nook_error **err);

/* Step 2: pivot_root into the rootfs and detach the old root (or with no_pivot, MS_MOVE +
 * chroot), chdir("/"). */
int nook_rootfs_pivot(const struct nook_rootfs_ctx *ctx, struct nook_error **err);

/* Step 3, inside the new root: maskedPaths (a read-only empty tmpfs on directories, /dev/null
 * bind on files; missing paths are skipped), readonlyPaths (bind + remount ro; missing paths
 * skipped), root.readonly (remount / read-only), and the final rootfsPropagation of "/"
 * (shared/slave/private/unbindable). */
int nook_rootfs_finalize(const struct nook_rootfs_ctx *ctx, struct nook_error **err);

/* Bind-mounts the pty slave at path (e.g. "/dev/pts/3") onto /dev/console, creating it if
 * needed; called between step 2 and step 3 when process.terminal is true. */
int nook_rootfs_mount_console(const char *slave_path, struct nook_error **err);

/* After pivot_root: creates process.cwd when it is missing, resolved inside the root without
 * following magic links (a /proc/self/fd/N path creates nothing); failures are left to the
 * chdir that follows. */
void nook_rootfs_mkdir_cwd(const char *cwd);

/* After the chdir to process.cwd: fails (EPERM) when the current directory is not below the
 * root, as runc's verifyCwd (CVE-2024-21626: a cwd reached through an fd of the runtime). */
int nook_rootfs_check_cwd(const char *cwd, struct nook_error **err);

/* Idmapped mounts (mounts[].uidMappings/gidMappings, options idmap and ridmap), prepared by the
 * parent before clone: for each such mount, a detached copy of its source (open_tree) with the
 * idmapping applied (mount_setattr MOUNT_ATTR_IDMAP, through a helper user namespace holding the
 * mapping), which step 1 attaches at the destination.  *ret_fds gets spec->n_mounts fds (-1
 * where no idmap is wanted; O_CLOEXEC), or NULL when no mount wants one.  Errors name the mount;
 * a filesystem without idmap support is EINVAL "... does not support idmapped mounts". */
int nook_rootfs_idmap_prepare(const struct nook_spec *spec, const char *bundle, int **ret_fds,
                              struct nook_error **err);
void nook_rootfs_idmap_free(int *fds, size_t n);

/* Whether the kernel has mount_setattr(2), hence idmapped mounts (`features`). */
bool nook_rootfs_idmap_supported(void);

/* Parses a mount options list into MS_* flags, propagation flags and the data string for the
 * filesystem (unknown options go to data, comma-separated).  Exposed for unit tests. */
struct nook_mount_flags
{
  unsigned long flags;       /* MS_RDONLY MS_NOSUID ... and MS_BIND|MS_REC for bind/rbind */
  unsigned long clear_flags; /* flags explicitly turned off ("rw", "suid", "dev", "exec" ...) */
  unsigned long propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE [|MS_REC] or 0 */
  bool bind;
  bool recursive_ro;         /* "rro": mount_setattr AT_RECURSIVE MOUNT_ATTR_RDONLY */
  char *data;                /* NULL when no fs-specific options; caller frees */
};
void nook_mount_flags_parse(char *const *options, struct nook_mount_flags *ret);

/* The i-th mount option nook_mount_flags_parse() knows, or NULL past the end (`features`). */
const char *nook_mount_option_name(size_t i);

#endif
