/* Root filesystems from images: an image opened for a container, its layers mounted with
 * overlay below ROOT/containers/ID, and users resolved in the image's /etc/passwd.
 *
 * The layers are the store's unpacked directories, shared read-only by every container; each
 * container has its own upper and work directories next to its mount point, so a second
 * container of an image costs one mount and no copy. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

#include "common/util.h"
#include "images/image.h"

/* ---- opening an image ------------------------------------------------------------------- */

void image_free(struct image *img)
{
  if (!img)
    return;
  image_entry_clear(&img->entry);
  image_manifest_free(img->manifest);
  image_config_free(img->config);
  free(img);
}

int image_open(struct image_store *s, const char *what, struct image **ret, struct nook_error **err)
{
  _cleanup_image_ struct image *img = xcalloc(1, sizeof *img);
  int r;

  r = image_store_resolve(s, what, &img->entry, err);
  if (r < 0)
    return r;
  r = image_manifest_load(s, img->entry.manifest_digest, &img->manifest, &img->config, err);
  if (r < 0)
    return nook_error_prefix(err, "`%s`", what);
  if (img->config->n_diff_ids != img->manifest->n_layers)
    return nook_error_setx(err, EINVAL, "image `%s`: the config lists %zu layers, the manifest %zu",
                           what, img->config->n_diff_ids, img->manifest->n_layers);
  for (size_t i = 0; i < img->manifest->n_layers; i++)
    {
      r = image_layer_ensure(s, &img->manifest->layers[i], img->config->diff_ids[i], NULL, err);
      if (r < 0)
        return nook_error_prefix(err, "image `%s`", what);
    }
  *ret = TAKE_PTR(img);
  return 0;
}

/* ---- overlay ---------------------------------------------------------------------------- */

static int sys_fsopen(const char *fs, unsigned flags)
{
  return (int)syscall(SYS_fsopen, fs, flags);
}
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
  return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static int sys_fsmount(int fd, unsigned flags, unsigned attrs)
{
  return (int)syscall(SYS_fsmount, fd, flags, attrs);
}
static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
  return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

/* The last message the kernel logged on the fs context, to explain an EINVAL. */
static char *fs_context_message(int fd)
{
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);

  if (n <= 2)
    return NULL;
  buf[n] = '\0';
  if (buf[n - 1] == '\n')
    buf[n - 1] = '\0';
  return xstrdup(buf + 2); /* "e overlay: ..." */
}

/* The new mount API with "lowerdir+" (Linux 6.8): one fsconfig() per layer, so the number of
 * layers is not bounded by the one page of mount(2)'s data.  Returns -ENOSYS/-EINVAL when the
 * kernel does not have it (the caller falls back), else 0 or an error. */
static int overlay_mount_fd(const char *dir, char *const *lowers, bool read_only,
                            struct nook_error **err)
{
  _cleanup_close_ int fsfd = -1, mfd = -1;
  _cleanup_free_ char *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir);
  _cleanup_free_ char *target = xasprintf("%s/rootfs", dir);

  fsfd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return -errno;
  for (size_t i = 0; lowers[i]; i++)
    if (sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0)
      return -errno; /* EINVAL: a kernel before 6.8 */
  if (sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0
      || sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
    return nook_error_set(err, errno, "overlay on `%s`: upperdir", target);
  if (sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    {
      int e = errno;
      _cleanup_free_ char *why = fs_context_message(fsfd);
      if (why)
        return nook_error_setx(err, e, "mount overlay on `%s`: %s", target, why);
      return nook_error_set(err, e, "mount overlay on `%s`", target);
    }
  mfd = sys_fsmount(fsfd, FSMOUNT_CLOEXEC, read_only ? MOUNT_ATTR_RDONLY : 0);
  if (mfd < 0)
    return nook_error_set(err, errno, "mount overlay on `%s`", target);
  if (sys_move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return nook_error_set(err, errno, "move the overlay mount to `%s`", target);
  return 0;
}

/* mount(2) with the layers as paths relative to ROOT/layers, from a child whose cwd is
 * there, so that about 50 layers fit the page of mount data. */
static int overlay_mount_legacy(struct image_store *s, const char *dir, char *const *layer_hex,
                                bool read_only, struct nook_error **err)
{
  _cleanup_free_ char *data = NULL, *target = xasprintf("%s/rootfs", dir);
  _cleanup_free_ char *layers = xasprintf("%s/layers", s->path);
  size_t n = nook_strv_length(layer_hex), len;
  pid_t pid;
  int status;

  data = xasprintf("upperdir=%s/upper,workdir=%s/work,lowerdir=", dir, dir);
  for (size_t i = 0; i < n; i++)
    {
      bool abs = layer_hex[i][0] == '/';
      char *next = xasprintf("%s%s%s%s", data, i ? ":" : "", layer_hex[i], abs ? "" : "/diff");
      free(data);
      data = next;
    }
  len = strlen(data);
  if (len >= (size_t)sysconf(_SC_PAGESIZE))
    return nook_error_setx(err, E2BIG, "mount overlay on `%s`: %zu layers do not fit the mount "
                                       "options of this kernel (it lacks lowerdir+)",
                           target, n);
  pid = fork();
  if (pid < 0)
    return nook_error_set(err, errno, "fork");
  if (pid == 0)
    {
      if (chdir(layers) < 0)
        _exit(errno);
      if (mount("overlay", target, "overlay", read_only ? MS_RDONLY : 0, data) < 0)
        _exit(errno);
      _exit(0);
    }
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "wait");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return nook_error_set(err, WIFEXITED(status) ? WEXITSTATUS(status) : EIO,
                          "mount overlay on `%s`", target);
  return 0;
}

static int write_lines(int dirfd, const char *name, char *const *lines, struct nook_error **err)
{
  _cleanup_free_ char *text = xstrdup("");

  for (size_t i = 0; lines && lines[i]; i++)
    {
      char *next = xasprintf("%s%s\n", text, lines[i]);
      free(text);
      text = next;
    }
  return nook_write_file_atomic_at(dirfd, name, text, strlen(text), 0600, err);
}

static bool id_valid(const char *id)
{
  if (!id || !*id || strlen(id) > 128 || id[0] == '.')
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || *p == '_' || *p == '-' || *p == '.'))
      return false;
  return true;
}

static int container_dir(struct image_store *s, const char *id, bool create, int *ret_fd,
                         char **ret_path, struct nook_error **err)
{
  _cleanup_free_ char *rel = NULL;
  int fd;

  if (!id_valid(id))
    return nook_error_setx(err, EINVAL, "`%s` is not a valid container id", id ? id : "");
  rel = xasprintf("containers/%s", id);
  if (create && mkdirat(s->dirfd, rel, 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s/%s`", s->path, rel);
  fd = openat(s->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, rel);
  *ret_fd = fd;
  if (ret_path)
    *ret_path = xasprintf("%s/%s", s->path, rel);
  return 0;
}

/* "empty" is the lower directory of an image without layers. */
static const char *const container_subdirs[] = { "upper", "work", "rootfs", "empty" };

int image_rootfs_mount(struct image_store *s, const struct image *img, const char *id,
                       bool read_only, char **ret_rootfs, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  _cleanup_free_ char *dir = NULL;
  _cleanup_strv_ char **lowers = NULL, **hex = NULL, **diff_ids = NULL;
  char *const manifest[] = { img->entry.manifest_digest, NULL };
  size_t n = img->config->n_diff_ids;
  int r;

  r = container_dir(s, id, true, &dfd, &dir, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < ARRAY_SIZE(container_subdirs); i++)
    if (mkdirat(dfd, container_subdirs[i], 0755) < 0 && errno != EEXIST)
      return nook_error_set(err, errno, "create `%s/%s`", dir, container_subdirs[i]);
  /* Recorded before the mount, so that prune never removes a layer a container is about
   * to use. */
  for (size_t i = 0; i < n; i++)
    nook_strv_push(&diff_ids, img->config->diff_ids[i]);
  if ((r = write_lines(dfd, "image", manifest, err)) < 0
      || (r = write_lines(dfd, "layers", diff_ids, err)) < 0)
    return r;
  /* overlay wants the topmost layer first. */
  for (size_t i = n; i-- > 0;)
    {
      const char *d = img->config->diff_ids[i] + 7;
      char *path = xasprintf("%s/layers/%s/diff", s->path, d);
      nook_strv_push(&lowers, path);
      nook_strv_push(&hex, d);
      free(path);
    }
  if (n == 0)
    {
      char *path = xasprintf("%s/empty", dir);
      nook_strv_push(&lowers, path);
      nook_strv_push(&hex, path); /* absolute: the legacy mount accepts it as well */
      free(path);
    }
  r = overlay_mount_fd(dir, lowers, read_only, err);
  if (r == -ENOSYS || r == -EINVAL)
    r = overlay_mount_legacy(s, dir, hex, read_only, err);
  if (r < 0)
    return r;
  if (ret_rootfs)
    *ret_rootfs = xasprintf("%s/rootfs", dir);
  return 0;
}

int image_rootfs_umount(struct image_store *s, const char *id, bool remove, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  _cleanup_free_ char *dir = NULL, *target = NULL;
  int r;

  r = container_dir(s, id, false, &dfd, &dir, err);
  if (r == -ENOENT)
    {
      nook_error_freep(err);
      return 0;
    }
  if (r < 0)
    return r;
  target = xasprintf("%s/rootfs", dir);
  if (umount2(target, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    return nook_error_set(err, errno, "unmount `%s`", target);
  if (!remove)
    return 0;
  _cleanup_free_ char *rel = xasprintf("containers/%s", id);
  return nook_rm_rf_at(s->dirfd, rel, err);
}
