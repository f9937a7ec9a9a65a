/* The container's /dev when it is not bind-mounted from the host: the default device nodes
 * (null zero full random urandom tty) and linux.devices, made with mknod, or inside a user
 * namespace, where the kernel refuses that, bind-mounted from the host's nodes as runc does;
 * then the /dev/pts and /dev/shm directories and the usual symlinks (ptmx, fd, stdin, stdout,
 * stderr, core). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/rootfs.h"
#include "runtime/rootfs-internal.h"

/* ---- /dev ----------------------------------------------------------------------------------- */

struct dev_node
{
  char type; /* c b u p */
  const char *path;
  int64_t major, minor;
  mode_t mode;
  uid_t uid; /* (uid_t)-1: leave */
  gid_t gid;
};

static const struct dev_node default_devices[] = {
  { 'c', "/dev/null", 1, 3, 0666, (uid_t)-1, (gid_t)-1 },
  { 'c', "/dev/zero", 1, 5, 0666, (uid_t)-1, (gid_t)-1 },
  { 'c', "/dev/full", 1, 7, 0666, (uid_t)-1, (gid_t)-1 },
  { 'c', "/dev/random", 1, 8, 0666, (uid_t)-1, (gid_t)-1 },
  { 'c', "/dev/urandom", 1, 9, 0666, (uid_t)-1, (gid_t)-1 },
  { 'c', "/dev/tty", 5, 0, 0666, (uid_t)-1, (gid_t)-1 },
};

/* mknod, or where that is refused (a user namespace), a bind mount of the host's node onto an
 * empty file, as runc does.  A node already there is replaced. */
static int create_device(const struct nook_rootfs_ctx *ctx, int rootfd, const struct dev_node *d,
                         struct nook_error **err)
{
  _cleanup_free_ char *rel = rootfs_resolve_path_clean_rel(d->path);
  _cleanup_free_ char *what = xasprintf("create device `%s`", d->path);
  _cleanup_close_ int dirfd = -1, fd = -1;
  char *slash = strrchr(rel, '/');
  const char *name = slash ? slash + 1 : rel;
  mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;

  if (!strchr("cbup", d->type) || d->type == '\0' || *name == '\0')
    return nook_error_set(err, EINVAL, "%s: invalid device", what);
  if (slash)
    *slash = '\0';
  if (rootfs_resolve_root_open(rootfd, slash ? rel : "", CREATE_DIR, &dirfd, err) < 0)
    return nook_error_prefix(err, "%s", what);
  if (slash)
    *slash = '/';
  if (!ctx->in_userns || type == S_IFIFO)
    {
      dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
      int r = mknodat(dirfd, name, type | (d->mode & 07777), dev);
      if (r < 0 && errno == EEXIST && unlinkat(dirfd, name, 0) == 0)
        r = mknodat(dirfd, name, type | (d->mode & 07777), dev);
      if (r == 0 && (d->uid != (uid_t)-1 || d->gid != (gid_t)-1)
          && fchownat(dirfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return nook_error_set(err, errno, "%s: chown", what);
      if (r == 0 || errno != EPERM)
        return r == 0 ? 0 : nook_error_set(err, errno, "%s", what);
    }
  if (rootfs_resolve_root_open(rootfd, rel, CREATE_FILE, &fd, err) < 0)
    return nook_error_prefix(err, "%s", what);
  return rootfs_resolve_mount_on_fd(d->path, fd, NULL, NULL, MS_BIND, NULL, what, err);
}

/* /dev/pts and /dev/shm directories, /dev/ptmx -> pts/ptmx (the container's devpts instance),
 * and the usual symlinks. */
static int create_dev_links(int rootfd, struct nook_error **err)
{
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
    { "/proc/kcore", "core" },       { "pts/ptmx", "ptmx" },
  };
  _cleanup_close_ int dev = -1;

  if (rootfs_resolve_root_open(rootfd, "dev", CREATE_DIR, &dev, err) < 0)
    return -1;
  if ((mkdirat(dev, "pts", 0755) < 0 && errno != EEXIST)
      || (mkdirat(dev, "shm", 01777) < 0 && errno != EEXIST))
    return nook_error_set(err, errno, "mkdir in `/dev`");
  if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "remove `/dev/ptmx`");
  for (size_t i = 0; i < ARRAY_SIZE(links); i++)
    {
      /* the host's /proc, before pivot_root: /dev/core only where /proc/kcore exists */
      if (streq(links[i][1], "core") && access("/proc/kcore", F_OK) < 0)
        continue;
      if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
        return nook_error_set(err, errno, "symlink `/dev/%s`", links[i][1]);
    }
  return 0;
}

static bool spec_has_device(const struct nook_linux *l, const char *path)
{
  _cleanup_free_ char *rel = rootfs_resolve_path_clean_rel(path);
  for (size_t i = 0; l && i < l->n_devices; i++)
    {
      _cleanup_free_ char *other =
          rootfs_resolve_path_clean_rel(l->devices[i].path ? l->devices[i].path : "");
      if (streq(rel, other))
        return true;
    }
  return false;
}

int rootfs_devices_create_devices(const struct nook_rootfs_ctx *ctx, int rootfd,
                                  struct nook_error **err)
{
  const struct nook_linux *l = ctx->spec->linux;
  mode_t old = umask(0); /* the modes are the config's */
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_devices); i++)
    if (!spec_has_device(l, default_devices[i].path))
      r = create_device(ctx, rootfd, &default_devices[i], err);
  for (size_t i = 0; r == 0 && l && i < l->n_devices; i++)
    {
      const struct nook_device *d = &l->devices[i];
      struct dev_node n = {
        .type = d->type,
        .path = d->path ? d->path : "",
        .major = d->major,
        .minor = d->minor,
        .mode = d->file_mode.set ? (mode_t)d->file_mode.value : 0666,
        .uid = d->uid.set ? (uid_t)d->uid.value : (uid_t)-1,
        .gid = d->gid.set ? (gid_t)d->gid.value : (gid_t)-1,
      };
      r = create_device(ctx, rootfd, &n, err);
    }
  if (r == 0)
    r = create_dev_links(rootfd, err);
  umask(old);
  return r;
}

/* runc leaves /dev alone when the config bind-mounts it from the host. */
bool rootfs_devices_dev_is_bind_mounted(const struct nook_spec *spec)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct nook_mount *m = &spec->mounts[i];
      _cleanup_free_ char *rel =
          rootfs_resolve_path_clean_rel(m->destination ? m->destination : "");
      if (streq(rel, "dev")
          && (streq(m->type, "bind") || nook_strv_contains(m->options, "bind")
              || nook_strv_contains(m->options, "rbind")))
        return true;
    }
  return false;
}
