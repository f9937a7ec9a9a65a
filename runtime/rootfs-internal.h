/* Internal to the root filesystem setup: shared by rootfs.c (mounts and the steps),
 * rootfs-resolve.c (paths inside the root, and mounting on resolved fds) and rootfs-devices.c
 * (device nodes).  Not installed, and included by no other file. */
#ifndef NOOK_ROOTFS_INTERNAL_H
#define NOOK_ROOTFS_INTERNAL_H

#include <stdbool.h>
#include <sys/mount.h>

#include "common/error.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"

#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

/* ---- paths inside the root (rootfs-resolve.c) --------------------------------------------- */

/* "/a//b/./../c/" -> "a/c": path made relative to the root, lexically clean, never above the
 * root; "" is the root itself.  The caller frees it. */
char *rootfs_resolve_path_clean_rel(const char *path);

/* Resolves rel (clean, relative) inside the root to an O_PATH fd, with openat2 RESOLVE_IN_ROOT or
 * the fallback walk.  Returns the fd, or -1 with errno set (ENOENT, ELOOP, ...). */
int rootfs_resolve_open_in_root(int rootfd, const char *rel);

enum create_mode
{
  OPEN_EXISTING,
  CREATE_DIR,  /* missing components become directories */
  CREATE_FILE, /* ... except the last, an empty file (the target of a bind of a file) */
};

/* Resolves rel inside the root to an O_PATH fd in *ret_fd, creating what is missing as mode
 * says; a dangling symlink on the way has its target created, resolved inside the root as
 * well.  Returns 0, or < 0 with err set ("open `/x`", "create `/x`"). */
int rootfs_resolve_root_open(int rootfd, const char *rel, enum create_mode mode, int *ret_fd,
                             struct nook_error **err);

/* The path mount(2) can use for the object fd refers to (/proc/self/fd/N, or without procfs,
 * fallback once checked to be the same inode) in *ret.  Returns 0, or -1 with errno set (ENOENT
 * without a fallback, EXDEV when fallback is another inode). */
int rootfs_resolve_fd_target(int fd, const char *fallback, char **ret);

/* mount(2) onto what fd refers to; source NULL means the target itself.  Returns 0, or < 0 with
 * err set to "WHAT: strerror". */
int rootfs_resolve_mount_on_fd(const char *source, int fd, const char *fallback, const char *type,
                               unsigned long flags, const char *data, const char *what,
                               struct nook_error **err);

/* Remounts the bind mount fd is the root of with the flags in set added and those in clear
 * removed, every other per-mount flag kept as statvfs reports it.  Returns 0, or < 0 with err
 * set. */
int rootfs_resolve_remount_bind(int fd, const char *fallback, unsigned long set,
                                unsigned long clear, const char *what, struct nook_error **err);

/* ---- idmapped mounts (rootfs-idmap.c) ------------------------------------------------------ */

/* Whether mount m wants an idmapping (idmap, ridmap or mappings); *ret_recursive (optional):
 * ridmap. */
bool rootfs_idmap_wanted(const struct nook_mount *m, bool *ret_recursive);

/* Attaches a prepared idmapped tree on the resolved destination (move_mount).  Returns 0, or < 0
 * with err set to "WHAT: move_mount: strerror". */
int rootfs_idmap_attach(int tree_fd, int target_fd, const char *what, struct nook_error **err);

/* ---- /dev (rootfs-devices.c) -------------------------------------------------------------- */

/* Creates the default devices not in linux.devices, then linux.devices, then the /dev
 * directories and symlinks, under a umask of 0.  Returns 0, or < 0 with err set. */
int rootfs_devices_create_devices(const struct nook_rootfs_ctx *ctx, int rootfd,
                                  struct nook_error **err);

/* Whether the config bind-mounts /dev from the host, in which case it is left alone. */
bool rootfs_devices_dev_is_bind_mounted(const struct nook_spec *spec);

#endif
