/* The image's Volumes: each gets a directory of the container's own,
 * ROOT/containers/ID/volumes/N, filled with what the image holds at that path (as podman's
 * anonymous volumes), which the runtime bind-mounts there.  The copy reads the mounted root
 * with RESOLVE_IN_ROOT and never follows a symlink, so an image cannot make nook copy host
 * files. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/path-root.h"
#include "common/util.h"
#include "images/image.h"

#define COPY_MAX_DEPTH 256

static int copy_tree(int src, int dst, const char *where, unsigned depth, struct nook_error **err);

static int copy_file(int src, int dst, const char *name, const struct stat *st, const char *where,
                     struct nook_error **err)
{
  _cleanup_close_ int in = openat(src, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  _cleanup_close_ int out = -1;

  if (in < 0)
    return nook_error_set(err, errno, "volume `%s`: open `%s`", where, name);
  out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (out < 0)
    return nook_error_set(err, errno, "volume `%s`: create `%s`", where, name);
  /* copy_file_range() refuses overlay -> another filesystem (EXDEV): then read and write. */
  for (bool plain = false;;)
    {
      char buf[65536];
      ssize_t n = plain ? read(in, buf, sizeof buf) : copy_file_range(in, NULL, out, NULL, 1u << 30, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && !plain && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
        {
          plain = true;
          continue;
        }
      if (n < 0)
        return nook_error_set(err, errno, "volume `%s`: copy `%s`", where, name);
      if (n == 0)
        break;
      if (plain && nook_write_all(out, buf, (size_t)n) < 0)
        return nook_error_set(err, errno, "volume `%s`: write `%s`", where, name);
    }
  if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
    return nook_error_set(err, errno, "volume `%s`: owner of `%s`", where, name);
  return 0;
}

static int copy_entry(int src, int dst, const char *name, const char *where, unsigned depth,
                      struct nook_error **err)
{
  struct stat st;

  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return nook_error_set(err, errno, "volume `%s`: stat `%s`", where, name);
  switch (st.st_mode & S_IFMT)
    {
    case S_IFREG:
      return copy_file(src, dst, name, &st, where, err);
    case S_IFDIR:
      {
        _cleanup_close_ int sub_src = -1, sub_dst = -1;
        if (mkdirat(dst, name, 0700) < 0)
          return nook_error_set(err, errno, "volume `%s`: create `%s`", where, name);
        sub_src = openat(src, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        sub_dst = openat(dst, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub_src < 0 || sub_dst < 0)
          return nook_error_set(err, errno, "volume `%s`: open `%s`", where, name);
        if (copy_tree(sub_src, sub_dst, where, depth + 1, err) < 0)
          return -1;
        if (fchown(sub_dst, st.st_uid, st.st_gid) < 0 || fchmod(sub_dst, st.st_mode & 07777) < 0)
          return nook_error_set(err, errno, "volume `%s`: owner of `%s`", where, name);
        return 0;
      }
    case S_IFLNK:
      {
        char target[4096];
        ssize_t n = readlinkat(src, name, target, sizeof target - 1);
        if (n < 0)
          return nook_error_set(err, errno, "volume `%s`: read link `%s`", where, name);
        target[n] = '\0';
        if (symlinkat(target, dst, name) < 0
            || fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
          return nook_error_set(err, errno, "volume `%s`: link `%s`", where, name);
        return 0;
      }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
      if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0
          || fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return nook_error_set(err, errno, "volume `%s`: create node `%s`", where, name);
      return 0;
    default:
      return 0; /* sockets mean nothing in a copy */
    }
}

static int copy_tree(int src, int dst, const char *where, unsigned depth, struct nook_error **err)
{
  _cleanup_(nook_closedirp) DIR *d = NULL;
  int fd = dup(src);
  struct dirent *de;

  if (depth > COPY_MAX_DEPTH)
    return nook_error_setx(err, ELOOP, "volume `%s`: deeper than %d directories", where,
                           COPY_MAX_DEPTH);
  if (fd < 0 || !(d = fdopendir(fd)))
    {
      int e = errno;
      if (fd >= 0)
        close(fd);
      return nook_error_set(err, e, "volume `%s`: read a directory", where);
    }
  while ((errno = 0, de = readdir(d)))
    {
      if (streq(de->d_name, ".") || streq(de->d_name, ".."))
        continue;
      if (copy_entry(src, dst, de->d_name, where, depth, err) < 0)
        return -1;
    }
  if (errno)
    return nook_error_set(err, errno, "volume `%s`: read a directory", where);
  return 0;
}

/* The directory the image has at PATH inside the mounted root, or -ENOENT. */
static int open_in_root(int rootfd, const char *path, struct nook_error **err)
{
  _cleanup_free_ char *rel = NULL;
  int fd;

  if (nook_path_clean_rel(path, false, &rel) < 0 || !*rel)
    return nook_error_setx(err, EINVAL, "volume `%s`: not a path below /", path);
  fd = nook_open_in_root(rootfd, rel, O_RDONLY | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT)
    return -ENOENT;
  if (fd < 0)
    return nook_error_set(err, errno, "volume `%s` in the image", path);
  return fd;
}

int image_volumes_prepare(struct image_store *s, const struct image *img, const char *id,
                          char ***ret_sources, struct nook_error **err)
{
  _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->path, id);
  _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", dir);
  _cleanup_close_ int rootfd = -1, cfd = -1;
  _cleanup_strv_ char **sources = NULL;
  char *const *vols = img->config->volumes;

  if (!vols || !vols[0])
    {
      *ret_sources = NULL;
      return 0;
    }
  rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || cfd < 0)
    return nook_error_set(err, errno, "open `%s`", dir);
  if (mkdirat(cfd, "volumes", 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s/volumes`", dir);
  for (size_t i = 0; vols[i]; i++)
    {
      _cleanup_free_ char *name = xasprintf("volumes/%zu", i);
      _cleanup_close_ int src = -1, dst = -1;
      struct stat st;

      if (mkdirat(cfd, name, 0755) < 0)
        return nook_error_set(err, errno, "create `%s/%s`", dir, name);
      src = open_in_root(rootfd, vols[i], err);
      if (src == -ENOENT)
        src = -1;
      else if (src < 0)
        return src;
      if (src >= 0)
        {
          dst = openat(cfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
          if (dst < 0 || fstat(src, &st) < 0)
            return nook_error_set(err, errno, "volume `%s`", vols[i]);
          if (copy_tree(src, dst, vols[i], 0, err) < 0)
            return -1;
          if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
            return nook_error_set(err, errno, "volume `%s`: owner", vols[i]);
        }
      char *abs = xasprintf("%s/%s", dir, name);
      nook_strv_push(&sources, abs);
      free(abs);
    }
  *ret_sources = TAKE_PTR(sources);
  return 0;
}
