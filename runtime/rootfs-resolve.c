/* Paths inside the container's root, which an image controls: a path is resolved relative to a
 * dirfd of the rootfs with nook_open_in_root (common/path-root.c: openat2 RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS, or a walk that keeps symlinks inside the root without it); missing
 * destinations are created one component at a time relative to the resolved parent; and mount(2)
 * is made on /proc/self/fd/N of the resolved O_PATH fd, never on a string path a symlink in the
 * image could redirect. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>


#include "common/path-root.h"
#include "common/util.h"
#include "runtime/rootfs.h"
#include "runtime/rootfs-internal.h"

/* ---- paths inside the root ---------------------------------------------------------------- */

/* "/a//b/./../c/" -> "a/c": a lexically clean path relative to the root that never climbs
 * above it, as runc's CleanPath; "" is the root itself. */
char *rootfs_resolve_path_clean_rel(const char *path)
{
  char *out = NULL;

  nook_path_clean_rel(path, false, &out);
  return out;
}

/* Resolves rel (clean, relative) inside the root to an O_PATH fd; -1 with errno on failure. */
int rootfs_resolve_open_in_root(int rootfd, const char *rel)
{
  return nook_open_in_root(rootfd, rel, O_PATH);
}

#define MAX_LINKS 40

static int root_open(int rootfd, const char *rel, enum create_mode mode, int links, int *ret_fd,
                     struct nook_error **err);

/* The component rel[pos..end) is a dangling symlink in dirfd (its parent): goes on with its
 * target in its place, as the kernel would follow it, and creates what the target names.  The
 * target is read, never followed by the kernel: the new path is resolved inside the root again
 * from the start, so an absolute or climbing target stays in the root. */
static int open_through_link(int rootfd, int dirfd, const char *rel, size_t pos, size_t end,
                             enum create_mode mode, int links, int *ret_fd, struct nook_error **err)
{
  _cleanup_free_ char *name = xstrndup(rel + pos, end - pos);
  _cleanup_free_ char *prefix = xstrndup(rel, pos);
  _cleanup_free_ char *next = NULL;
  char target[PATH_MAX];
  ssize_t n;

  if (links >= MAX_LINKS)
    return nook_error_setx(err, ELOOP, "create `/%s%s`: too many levels of symbolic links", prefix,
                           name);
  n = readlinkat(dirfd, name, target, sizeof(target) - 1);
  if (n < 0)
    return nook_error_set(err, errno, "read the link `/%s%s`", prefix, name);
  target[n] = '\0';
  next = target[0] == '/' ? xasprintf("%s%s", target, rel + end)
                          : xasprintf("%s%s%s", prefix, target, rel + end);
  return root_open(rootfd, next + strspn(next, "/"), mode, links + 1, ret_fd, err);
}

/* Whether name in dirfd is a symlink (itself, not what it points to). */
static bool is_link_at(int dirfd, const char *name)
{
  struct stat st;

  return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* Makes the missing component name in dirfd: an empty file (the target of a bind of a file)
 * when file, else a directory.  One made meanwhile (EEXIST) will do.  Returns 0, or -1 with
 * errno set. */
static int create_component(int dirfd, const char *name, bool file)
{
  int r;

  if (file)
    {
      r = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (r >= 0)
        close(r);
    }
  else
    r = mkdirat(dirfd, name, 0755);
  return r < 0 && errno != EEXIST ? -1 : 0;
}

static int root_open(int rootfd, const char *rel, enum create_mode mode, int links, int *ret_fd,
                     struct nook_error **err)
{
  _cleanup_close_ int fd = rootfs_resolve_open_in_root(rootfd, rel);
  size_t pos = 0;

  if (fd >= 0 || errno != ENOENT || mode == OPEN_EXISTING)
    {
      if (fd < 0)
        return nook_error_set(err, errno, "open `/%s`", rel);
      *ret_fd = TAKE_FD(fd);
      return 0;
    }
  fd = rootfs_resolve_open_in_root(rootfd, "");
  for (;;)
    {
      size_t end = pos + strcspn(rel + pos, "/");
      bool last = rel[end + strspn(rel + end, "/")] == '\0';
      _cleanup_free_ char *prefix = xstrndup(rel, end);
      _cleanup_free_ char *name = xstrndup(rel + pos, end - pos);

      if (fd < 0)
        return nook_error_set(err, errno, "open `/%s`", rel);
      /* a link's target may bring empty and "." components: "a//b", "./b" */
      if (*name != '\0' && !streq(name, "."))
        {
          int next = rootfs_resolve_open_in_root(rootfd, prefix);
          if (next < 0 && errno == ENOENT)
            {
              if (is_link_at(fd, name))
                return open_through_link(rootfd, fd, rel, pos, end, mode, links, ret_fd, err);
              if (create_component(fd, name, last && mode == CREATE_FILE) < 0)
                return nook_error_set(err, errno, "create `/%s`", prefix);
              next = rootfs_resolve_open_in_root(rootfd, prefix);
            }
          if (next < 0)
            return nook_error_set(err, errno, "open `/%s`", prefix);
          close(fd);
          fd = next;
        }
      if (last)
        break;
      pos = end + 1;
    }
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* Resolves rel inside the root to an O_PATH fd in *ret_fd, creating what is missing with
 * mkdirat/openat relative to the resolved parent, one component at a time.  A dangling symlink
 * on the way is followed as the kernel would, inside the root, and its target created (an
 * image's /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf, as runc and crun do). */
int rootfs_resolve_root_open(int rootfd, const char *rel, enum create_mode mode, int *ret_fd,
                             struct nook_error **err)
{
  return root_open(rootfd, rel, mode, 0, ret_fd, err);
}

/* The path mount(2) can use for the object fd refers to: its /proc/self/fd/N link.  After
 * pivot_root, when the container has no procfs at /proc, the absolute path fallback is used
 * instead, once checked to name the same inode (paths cannot leave the new root then, and
 * without procfs there are no magic links to jump through). */
int rootfs_resolve_fd_target(int fd, const char *fallback, char **ret)
{
  struct statfs sfs;
  struct stat a, b;

  if (statfs("/proc/self/fd", &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
    {
      *ret = xasprintf("/proc/self/fd/%d", fd);
      return 0;
    }
  if (fallback == NULL || fstat(fd, &a) < 0 || stat(fallback, &b) < 0)
    return fallback ? -1 : (errno = ENOENT, -1);
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    return errno = EXDEV, -1;
  *ret = xstrdup(fallback);
  return 0;
}

/* mount(2) onto what fd refers to; source NULL means the target itself (a bind onto itself).
 * The error is "WHAT: strerror". */
int rootfs_resolve_mount_on_fd(const char *source, int fd, const char *fallback, const char *type,
                               unsigned long flags, const char *data, const char *what,
                               struct nook_error **err)
{
  _cleanup_free_ char *target = NULL;

  if (rootfs_resolve_fd_target(fd, fallback, &target) < 0)
    return nook_error_set(err, errno, "%s: no path to the target (is /proc mounted?)", what);
  if (mount(source ? source : target, target, type, flags, data) < 0)
    return nook_error_set(err, errno, "%s", what);
  return 0;
}

/* The per-mount flags statvfs reports, as MS_* flags. */
static unsigned long statvfs_mount_flags(unsigned long f)
{
  static const unsigned long map[][2] = {
    { ST_RDONLY, MS_RDONLY },     { ST_NOSUID, MS_NOSUID },   { ST_NODEV, MS_NODEV },
    { ST_NOEXEC, MS_NOEXEC },     { ST_NOATIME, MS_NOATIME }, { ST_NODIRATIME, MS_NODIRATIME },
    { ST_RELATIME, MS_RELATIME },
  };
  unsigned long r = 0;
  for (size_t i = 0; i < ARRAY_SIZE(map); i++)
    if (f & map[i][0])
      r |= map[i][1];
  return r;
}

/* Changes the per-mount flags of the mount fd is the root of (MS_BIND|MS_REMOUNT): flags in set
 * are added, those in clear removed, and every other one keeps its current value as statvfs
 * reports it, so that flags locked by a user namespace (ro nosuid nodev noexec and the atime
 * mode) are passed again and the remount does not fail with EPERM, as runc does. */
int rootfs_resolve_remount_bind(int fd, const char *fallback, unsigned long set,
                                unsigned long clear, const char *what, struct nook_error **err)
{
  _cleanup_free_ char *w = NULL;
  struct statvfs sv;
  unsigned long cur;

  if (fstatvfs(fd, &sv) < 0)
    return nook_error_set(err, errno, "%s: statvfs", what);
  cur = statvfs_mount_flags(sv.f_flag);
  if ((set | clear) & ATIME_FLAGS)
    cur &= ~(unsigned long)ATIME_FLAGS;
  else if (!(cur & (MS_NOATIME | MS_RELATIME)))
    cur |= MS_STRICTATIME; /* otherwise the kernel would default to relatime */
  set &= ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
  w = xasprintf("%s: remount", what);
  return rootfs_resolve_mount_on_fd(NULL, fd, fallback, NULL,
                                    MS_BIND | MS_REMOUNT | (cur & ~clear) | set, NULL, w, err);
}
