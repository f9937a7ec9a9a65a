/* The container's root filesystem, after runc's rootfs_linux.go and crun's linux.c: mount
 * options, the mounts of the config, cgroup hierarchies on v1 and hybrid hosts, pivot_root,
 * masked and read-only paths.
 *
 * Every path inside the rootfs is resolved relative to a dirfd of the rootfs with openat2
 * (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), or on kernels without it by a walk that reads
 * symlinks itself and keeps them inside the root (rootfs-resolve.c); mounts are then made on
 * /proc/self/fd/N of the resolved O_PATH fd, never on a string path a symlink in the image could
 * redirect.  Device nodes are created by rootfs-devices.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/mount-api.h"
#include "common/util.h"
#include "runtime/rootfs.h"
#include "runtime/rootfs-internal.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* ---- mount options ------------------------------------------------------------------------ */

enum opt_kind
{
  K_SET,
  K_CLEAR,
  K_PROP,
  K_RSET, /* recursive, through mount_setattr(AT_RECURSIVE) */
  K_RCLEAR,
  K_RATIME, /* the recursive atime mode */
  K_EXTRA,  /* handled by nook itself, never passed to the kernel */
};

enum
{
  EXTRA_TMPCOPYUP = 1,
  EXTRA_IDMAP = 2,
};

/* runc's table (libcontainer/specconv), in set/clear pairs. */
// clang-format off
static const struct mount_option
{
  const char *name;
  enum opt_kind kind;
  unsigned long value;
} mount_options[] = {
  { "defaults", K_SET, 0 },                       { "remount", K_SET, MS_REMOUNT },
  { "ro", K_SET, MS_RDONLY },                     { "rw", K_CLEAR, MS_RDONLY },
  { "nosuid", K_SET, MS_NOSUID },                 { "suid", K_CLEAR, MS_NOSUID },
  { "nodev", K_SET, MS_NODEV },                   { "dev", K_CLEAR, MS_NODEV },
  { "noexec", K_SET, MS_NOEXEC },                 { "exec", K_CLEAR, MS_NOEXEC },
  { "sync", K_SET, MS_SYNCHRONOUS },              { "async", K_CLEAR, MS_SYNCHRONOUS },
  { "mand", K_SET, MS_MANDLOCK },                 { "nomand", K_CLEAR, MS_MANDLOCK },
  { "noatime", K_SET, MS_NOATIME },               { "atime", K_CLEAR, MS_NOATIME },
  { "nodiratime", K_SET, MS_NODIRATIME },         { "diratime", K_CLEAR, MS_NODIRATIME },
  { "relatime", K_SET, MS_RELATIME },             { "norelatime", K_CLEAR, MS_RELATIME },
  { "strictatime", K_SET, MS_STRICTATIME },       { "nostrictatime", K_CLEAR, MS_STRICTATIME },
  { "lazytime", K_SET, MS_LAZYTIME },             { "nolazytime", K_CLEAR, MS_LAZYTIME },
  { "iversion", K_SET, MS_I_VERSION },            { "noiversion", K_CLEAR, MS_I_VERSION },
  { "silent", K_SET, MS_SILENT },                 { "loud", K_CLEAR, MS_SILENT },
  { "nosymfollow", K_SET, MS_NOSYMFOLLOW },       { "symfollow", K_CLEAR, MS_NOSYMFOLLOW },
  { "dirsync", K_SET, MS_DIRSYNC },
  { "bind", K_SET, MS_BIND },                     { "rbind", K_SET, MS_BIND | MS_REC },
  { "private", K_PROP, MS_PRIVATE },              { "rprivate", K_PROP, MS_PRIVATE | MS_REC },
  { "shared", K_PROP, MS_SHARED },                { "rshared", K_PROP, MS_SHARED | MS_REC },
  { "slave", K_PROP, MS_SLAVE },                  { "rslave", K_PROP, MS_SLAVE | MS_REC },
  { "unbindable", K_PROP, MS_UNBINDABLE },        { "runbindable", K_PROP, MS_UNBINDABLE | MS_REC },
  { "rro", K_RSET, MOUNT_ATTR_RDONLY },           { "rrw", K_RCLEAR, MOUNT_ATTR_RDONLY },
  { "rnosuid", K_RSET, MOUNT_ATTR_NOSUID },       { "rsuid", K_RCLEAR, MOUNT_ATTR_NOSUID },
  { "rnodev", K_RSET, MOUNT_ATTR_NODEV },         { "rdev", K_RCLEAR, MOUNT_ATTR_NODEV },
  { "rnoexec", K_RSET, MOUNT_ATTR_NOEXEC },       { "rexec", K_RCLEAR, MOUNT_ATTR_NOEXEC },
  { "rnodiratime", K_RSET, MOUNT_ATTR_NODIRATIME },
  { "rdiratime", K_RCLEAR, MOUNT_ATTR_NODIRATIME },
  { "rnosymfollow", K_RSET, MOUNT_ATTR_NOSYMFOLLOW },
  { "rsymfollow", K_RCLEAR, MOUNT_ATTR_NOSYMFOLLOW },
  /* the atime modes are one field: clearing one means the default, relatime */
  { "rrelatime", K_RATIME, MOUNT_ATTR_RELATIME }, { "rnorelatime", K_RATIME, MOUNT_ATTR_RELATIME },
  { "rnoatime", K_RATIME, MOUNT_ATTR_NOATIME },   { "ratime", K_RATIME, MOUNT_ATTR_RELATIME },
  { "rstrictatime", K_RATIME, MOUNT_ATTR_STRICTATIME },
  { "rnostrictatime", K_RATIME, MOUNT_ATTR_RELATIME },
  /* nook's own: tmpfs copy-up; idmapped mounts (rootfs-idmap.c) */
  { "tmpcopyup", K_EXTRA, EXTRA_TMPCOPYUP },
  { "idmap", K_EXTRA, EXTRA_IDMAP },              { "ridmap", K_EXTRA, EXTRA_IDMAP },
};
// clang-format on

/* What nook_mount_flags_parse() returns plus what only this file needs. */
struct mount_req
{
  struct nook_mount_flags f;
  unsigned long long attr_set, attr_clr; /* MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) */
  unsigned extra;                        /* EXTRA_* */
};

const char *nook_mount_option_name(size_t i)
{
  return i < ARRAY_SIZE(mount_options) ? mount_options[i].name : NULL;
}

static const struct mount_option *mount_option_find(const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE(mount_options); i++)
    if (streq(mount_options[i].name, name))
      return &mount_options[i];
  return NULL;
}

/* Appends item to a comma-separated list. */
static void list_append(char **list, const char *item)
{
  char *n = *list ? xasprintf("%s,%s", *list, item) : xstrdup(item);
  free(*list);
  *list = n;
}

/* Whether a comma-separated list holds item, or with key, an item "item=...". */
static bool list_has(const char *list, const char *item, bool key)
{
  size_t n = strlen(item);
  for (const char *p = list; p && *p;)
    {
      size_t len = strcspn(p, ",");
      if (len >= n && strncmp(p, item, n) == 0 && (len == n || (key && p[n] == '=')))
        return true;
      p += len + (p[len] == ',');
    }
  return false;
}

static void apply_option(struct mount_req *r, const struct mount_option *o)
{
  switch (o->kind)
    {
    case K_SET:
      if (o->value & ATIME_FLAGS)
        r->f.flags &= ~(unsigned long)ATIME_FLAGS;
      r->f.flags |= o->value;
      r->f.clear_flags &= ~o->value;
      if (o->value & MS_BIND)
        r->f.bind = true;
      break;
    case K_CLEAR:
      r->f.flags &= ~o->value;
      r->f.clear_flags |= o->value;
      break;
    case K_PROP: r->f.propagation = o->value; break;
    case K_RSET:
      r->attr_set |= o->value;
      r->attr_clr &= ~(unsigned long long)o->value;
      break;
    case K_RATIME:
      r->attr_set = (r->attr_set & ~(unsigned long long)MOUNT_ATTR__ATIME) | o->value;
      r->attr_clr |= MOUNT_ATTR__ATIME;
      break;
    case K_RCLEAR:
      r->attr_clr |= o->value;
      r->attr_set &= ~(unsigned long long)o->value;
      break;
    case K_EXTRA: r->extra |= (unsigned)o->value; break;
    }
}

static void parse_options(char *const *options, struct mount_req *ret)
{
  memset(ret, 0, sizeof(*ret));
  for (size_t i = 0; options && options[i]; i++)
    {
      const struct mount_option *o = mount_option_find(options[i]);
      if (o)
        apply_option(ret, o);
      else if (options[i][0] != '\0')
        list_append(&ret->f.data, options[i]);
    }
  ret->f.recursive_ro = (ret->attr_set & MOUNT_ATTR_RDONLY) != 0;
}

void nook_mount_flags_parse(char *const *options, struct nook_mount_flags *ret)
{
  struct mount_req r;
  parse_options(options, &r);
  *ret = r.f;
}

/* ---- /proc/self/mountinfo ----------------------------------------------------------------- */

struct mi_entry
{
  char *root;
  char *mount_point;
  char *fstype;
  char *super_opts;
  bool shared;
};

/* Return 0 to go on, > 0 to stop, < 0 on error. */
typedef int (*mi_cb)(const struct mi_entry *e, void *data, struct nook_error **err);

/* "\040" -> " ", in place, as the kernel escapes mountinfo paths. */
static void unescape_octal(char *s)
{
  char *w = s;
  for (char *r = s; *r;)
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0'
        && r[3] <= '7')
      {
        *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
        r += 4;
      }
    else
      *w++ = *r++;
  *w = '\0';
}

static int mountinfo_foreach(mi_cb cb, void *data, struct nook_error **err)
{
  _cleanup_free_ char *buf = NULL;
  char *save = NULL;

  if (nook_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 64 << 20, &buf, NULL, err) < 0)
    return -1;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      struct mi_entry e = { 0 };
      char *f[5], *tok;
      int r;

      /* ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS */
      for (int i = 0; i < 5; i++)
        f[i] = strsep(&line, " ");
      while ((tok = strsep(&line, " ")) != NULL && !streq(tok, "-"))
        if (nook_has_prefix(tok, "shared:"))
          e.shared = true;
      e.fstype = strsep(&line, " ");
      strsep(&line, " ");
      e.super_opts = strsep(&line, " ");
      if (e.super_opts == NULL || f[4] == NULL)
        continue;
      unescape_octal(e.root = f[3]);
      unescape_octal(e.mount_point = f[4]);
      r = cb(&e, data, err);
      if (r != 0)
        return r < 0 ? r : 0;
    }
  return 0;
}

/* Whether path is dir or below it. */
static bool path_is_under(const char *path, const char *dir)
{
  size_t n = strlen(dir);
  if (streq(dir, "/"))
    return path[0] == '/';
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

struct parent_search
{
  const char *path;
  char *best;
  bool shared;
};

static int parent_mount_cb(const struct mi_entry *e, void *data, struct nook_error **err)
{
  struct parent_search *s = data;

  if (!path_is_under(s->path, e->mount_point)
      || (s->best && strlen(s->best) > strlen(e->mount_point)))
    return 0;
  free(s->best);
  s->best = xstrdup(e->mount_point);
  s->shared = e->shared;
  return 0;
}

/* pivot_root refuses a new root whose parent mount is shared, and a shared parent would also
 * propagate the rootfs bind elsewhere: make it private, as runc's rootfsParentMountPrivate. */
static int make_parent_private(const char *rootfs, struct nook_error **err)
{
  struct parent_search s = { .path = rootfs };
  int r = mountinfo_foreach(parent_mount_cb, &s, err);

  if (r == 0 && s.best && s.shared && mount(NULL, s.best, NULL, MS_PRIVATE, NULL) < 0)
    r = nook_error_set(err, errno, "make `%s` private", s.best);
  free(s.best);
  return r;
}

/* ---- one entry of spec->mounts ------------------------------------------------------------ */

struct mnt_job
{
  const struct nook_rootfs_ctx *ctx;
  int rootfd;
  const struct nook_mount *m;
  char *rel;  /* the clean destination, relative to the root */
  char *what; /* "mount `SOURCE` on `DESTINATION`": every error starts with it */
  struct mount_req req;
  const struct stat *root; /* a bind: its source, the root the new mount must have */
};

static bool spec_owns_ns(const struct nook_spec *spec, enum nook_ns_type type)
{
  for (size_t i = 0; spec->linux && i < spec->linux->n_namespaces; i++)
    if (spec->linux->namespaces[i].type == type)
      return spec->linux->namespaces[i].path == NULL;
  return false;
}

/* After the mount: the remount that makes the flags of a bind effective (the kernel ignores
 * them on the first MS_BIND), the propagation and the recursive attributes, all applied to the
 * new mount, which a fresh resolution of the destination now reaches (an fd opened before the
 * mount still refers to the directory below it). */
static int mount_finish(struct mnt_job *j, bool remount, struct nook_error **err)
{
  unsigned long set = j->req.f.flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
  _cleanup_close_ int fd = -1;
  struct stat st;

  remount = remount && (set || j->req.f.clear_flags);
  if (!remount && !j->req.f.propagation && !j->req.attr_set && !j->req.attr_clr)
    return 0;
  if (rootfs_resolve_root_open(j->rootfd, j->rel, OPEN_EXISTING, &fd, err) < 0)
    return nook_error_prefix(err, "%s", j->what);
  /* A path of the rootfs renamed meanwhile would lead elsewhere: to another mount, which would
   * get the flags meant for this bind (a read-only bind left writable). */
  if (j->root && (fstat(fd, &st) < 0 || st.st_dev != j->root->st_dev || st.st_ino != j->root->st_ino))
    return nook_error_setx(err, EBUSY, "%s: the destination changed while it was mounted (a rename "
                                       "in the rootfs?)",
                           j->what);
  if (remount && rootfs_resolve_remount_bind(fd, NULL, set, j->req.f.clear_flags, j->what, err) < 0)
    return -1;
  if (j->req.f.propagation)
    {
      _cleanup_free_ char *w = xasprintf("%s: set propagation", j->what);
      if (rootfs_resolve_mount_on_fd(NULL, fd, NULL, NULL, j->req.f.propagation, NULL, w, err) < 0)
        return -1;
    }
  if (j->req.attr_set || j->req.attr_clr)
    {
      struct nook_mount_attr a = { .attr_set = j->req.attr_set, .attr_clr = j->req.attr_clr };
      if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
        return nook_error_set(err, errno, "%s: mount_setattr", j->what);
    }
  return 0;
}

static int mount_bind(struct mnt_job *j, const char *source, struct nook_error **err)
{
  _cleanup_free_ char *src = NULL;
  _cleanup_close_ int fd = -1;
  struct stat st;

  if (source == NULL)
    return nook_error_set(err, EINVAL, "%s: a bind mount needs a source", j->what);
  if (source[0] == '/' || j->ctx->bundle == NULL)
    src = xstrdup(source);
  else
    src = xasprintf("%s/%s", j->ctx->bundle, source);
  if (stat(src, &st) < 0)
    return nook_error_set(err, errno, "%s: stat `%s`", j->what, src);
  if (rootfs_resolve_root_open(j->rootfd, j->rel, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE,
                               &fd, err)
      < 0)
    return nook_error_prefix(err, "%s", j->what);
  if (rootfs_resolve_mount_on_fd(src, fd, NULL, NULL, MS_BIND | (j->req.f.flags & MS_REC), NULL,
                                 j->what, err)
      < 0)
    return -1;
  j->root = &st;
  return mount_finish(j, true, err);
}

/* A tree prepared by nook_rootfs_idmap_prepare(), attached at the destination; then the flags
 * and propagation of the options as for any bind. */
static int mount_idmapped(struct mnt_job *j, int tree_fd, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  struct stat st;

  if (fstat(tree_fd, &st) < 0)
    return nook_error_set(err, errno, "%s: stat the source", j->what);
  if (rootfs_resolve_root_open(j->rootfd, j->rel, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE,
                               &fd, err)
      < 0)
    return nook_error_prefix(err, "%s", j->what);
  if (rootfs_idmap_attach(tree_fd, fd, j->what, err) < 0)
    return -1;
  j->root = &st;
  return mount_finish(j, true, err);
}

/* tmpcopyup: copies one entry of the directory a tmpfs now covers into the tmpfs. */
static int copy_tree(int sfd, int dfd, struct nook_error **err);

static int copy_file_at(int sfd, int dfd, const char *name)
{
  _cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  _cleanup_close_ int out = -1;
  char buf[16384];
  ssize_t n;

  if (in < 0)
    return -1;
  out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return -1;
  while ((n = read(in, buf, sizeof(buf))) > 0)
    if (nook_write_all(out, buf, (size_t)n) < 0)
      return -1;
  return n < 0 ? -1 : 0;
}

static int copy_entry(int sfd, int dfd, const char *name, const struct stat *st,
                      struct nook_error **err)
{
  char target[PATH_MAX];
  ssize_t n;
  int r = 0;

  if (S_ISDIR(st->st_mode))
    {
      _cleanup_close_ int s = -1, d = -1;
      if (mkdirat(dfd, name, 0700) < 0
          || (s = openat(sfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0
          || (d = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        r = -1;
      else if (copy_tree(s, d, err) < 0)
        return -1;
    }
  else if (S_ISREG(st->st_mode))
    r = copy_file_at(sfd, dfd, name);
  else if (S_ISLNK(st->st_mode))
    {
      n = readlinkat(sfd, name, target, sizeof(target) - 1);
      if (n >= 0)
        target[n] = '\0';
      r = n < 0 ? -1 : symlinkat(target, dfd, name);
    }
  else
    r = mknodat(dfd, name, st->st_mode, st->st_rdev);
  if (r == 0 && fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
    r = -1;
  if (r == 0 && !S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
    r = -1;
  if (r < 0)
    return nook_error_set(err, errno, "tmpcopyup: copy `%s`", name);
  return 0;
}

static int copy_tree(int sfd, int dfd, struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = NULL;
  struct dirent *de;
  int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || (d = fdopendir(fd)) == NULL)
    {
      int e = errno;
      if (fd >= 0)
        close(fd);
      return nook_error_set(err, e, "tmpcopyup: open directory");
    }
  while ((errno = 0, de = readdir(d)) != NULL)
    {
      struct stat st;
      if (streq(de->d_name, ".") || streq(de->d_name, ".."))
        continue;
      if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return nook_error_set(err, errno, "tmpcopyup: stat `%s`", de->d_name);
      if (copy_entry(sfd, dfd, de->d_name, &st, err) < 0)
        return -1;
    }
  return errno ? nook_error_set(err, errno, "tmpcopyup: read directory") : 0;
}

/* devpts: runc's default options for each one the config leaves out.  gid=5 only outside a user
 * namespace, where the tty group may not be mapped (the kernel would refuse it). */
static void devpts_defaults(char **data, bool in_userns)
{
  static const char *const defaults[][2] = {
    { "newinstance", "newinstance" },
    { "ptmxmode", "ptmxmode=0666" },
    { "mode", "mode=0620" },
    { "gid", "gid=5" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
    if (!list_has(*data, defaults[i][0], true) && !(in_userns && streq(defaults[i][0], "gid")))
      list_append(data, defaults[i][1]);
}

/* Filesystems the kernel refuses to a user namespace that does not own the matching namespace:
 * bind-mount the host's instead, as runc does for sysfs and cgroup2 (and crun for mqueue). */
static const struct host_fallback
{
  const char *type;
  const char *host_path;
  enum nook_ns_type ns;
} host_fallbacks[] = {
  { "sysfs", "/sys", NOOK_NS_NETWORK },
  { "mqueue", "/dev/mqueue", NOOK_NS_IPC },
  { "cgroup2", "/sys/fs/cgroup", NOOK_NS_CGROUP },
};

static const char *host_fallback(const struct mnt_job *j, const char *type, int r)
{
  if (r != -EPERM && r != -EBUSY)
    return NULL;
  for (size_t i = 0; i < ARRAY_SIZE(host_fallbacks); i++)
    if (streq(type, host_fallbacks[i].type) && !spec_owns_ns(j->ctx->spec, host_fallbacks[i].ns)
        && (r == -EPERM || streq(type, "cgroup2")))
      return host_fallbacks[i].host_path;
  return NULL;
}

static int mount_fs(struct mnt_job *j, const char *type, struct nook_error **err)
{
  unsigned long flags = j->req.f.flags & ~(unsigned long)(MS_BIND | MS_REC);
  _cleanup_close_ int fd = -1, lower = -1, upper = -1;
  const char *host;
  int r;

  if (streq(type, "devpts"))
    devpts_defaults(&j->req.f.data, j->ctx->in_userns);
  if (rootfs_resolve_root_open(j->rootfd, j->rel, CREATE_DIR, &fd, err) < 0)
    return nook_error_prefix(err, "%s", j->what);
  if ((j->req.extra & EXTRA_TMPCOPYUP)
      && (lower = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return nook_error_set(err, errno, "%s: tmpcopyup", j->what);
  r = rootfs_resolve_mount_on_fd(j->m->source ? j->m->source : type, fd, NULL, type, flags,
                                 j->req.f.data, j->what, err);
  if (r < 0 && (host = host_fallback(j, type, r)) != NULL)
    {
      if (err)
        nook_error_freep(err);
      j->req.f.flags |= MS_BIND | MS_REC;
      return mount_bind(j, host, err);
    }
  if (r < 0)
    return r;
  if (lower >= 0)
    {
      if (rootfs_resolve_root_open(j->rootfd, j->rel, OPEN_EXISTING, &upper, err) < 0
          || copy_tree(lower, upper, err) < 0)
        return nook_error_prefix(err, "%s", j->what);
    }
  return mount_finish(j, false, err);
}

/* ---- cgroup (v1 and hybrid hosts) --------------------------------------------------------- */

struct cg_walk
{
  struct mnt_job *j;
  int dirfd;  /* the tmpfs standing for /sys/fs/cgroup */
  char *self; /* /proc/self/cgroup */
  unsigned long flags;
  bool own_ns; /* a new cgroup namespace: mount the hierarchies, whose root is ours */
};

/* The line of /proc/self/cgroup for a hierarchy ("0::" for cgroup2, for v1 the one whose first
 * controller the mount's super options list): its controllers and path. */
static int self_cgroup_lookup(const char *self, bool v2, const char *super_opts, char **ret_ctrls,
                              char **ret_path)
{
  for (const char *line = self; *line;)
    {
      const char *eol = strchrnul(line, '\n');
      const char *c1 = memchr(line, ':', (size_t)(eol - line));
      const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;

      if (c2)
        {
          _cleanup_free_ char *ctrls = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
          _cleanup_free_ char *first = xstrndup(ctrls, strcspn(ctrls, ","));
          if (v2 ? *ctrls == '\0' : (*first && list_has(super_opts, first, false)))
            {
              *ret_path = xstrndup(c2 + 1, (size_t)(eol - c2 - 1));
              *ret_ctrls = TAKE_PTR(ctrls);
              return 0;
            }
        }
      line = *eol ? eol + 1 : eol;
    }
  return -1;
}

/* "cpu,cpuacct" is reachable as "cpu" and "cpuacct" too, as on the host. */
static int cgroup_comount_links(int dirfd, const char *name, struct nook_error **err)
{
  for (const char *p = name; strchr(name, ',') && *p;)
    {
      size_t n = strcspn(p, ",");
      _cleanup_free_ char *link = xstrndup(p, n);
      if (symlinkat(name, dirfd, link) < 0 && errno != EEXIST)
        return nook_error_set(err, errno, "symlink `%s`", link);
      p += n + (p[n] == ',');
    }
  return 0;
}

/* One host hierarchy mounted at /sys/fs/cgroup/NAME: bind-mount the container's own cgroup
 * directory in it (the init is already in its cgroup), or with a cgroup namespace mount the
 * hierarchy itself, whose root is then that directory. */
static int cgroup_hier_cb(const struct mi_entry *e, void *data, struct nook_error **err)
{
  struct cg_walk *w = data;
  bool v2 = streq(e->fstype, "cgroup2");
  const char *name = e->mount_point + strlen("/sys/fs/cgroup/");
  _cleanup_free_ char *ctrls = NULL, *path = NULL, *src = NULL, *what = NULL;
  _cleanup_close_ int fd = -1;
  int r;

  if ((!v2 && !streq(e->fstype, "cgroup")) || !nook_has_prefix(e->mount_point, "/sys/fs/cgroup/")
      || *name == '\0' || strchr(name, '/'))
    return 0;
  if (self_cgroup_lookup(w->self, v2, e->super_opts, &ctrls, &path) < 0)
    return 0;
  if (!w->own_ns)
    {
      size_t rl = streq(e->root, "/") ? 0 : strlen(e->root);
      if (rl && !path_is_under(path, e->root))
        return 0; /* our cgroup is not visible through this mount */
      src = xasprintf("%s%s", e->mount_point, path + rl);
    }
  what = xasprintf("%s: `%s`", w->j->what, name);
  if (mkdirat(w->dirfd, name, 0755) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "%s: mkdir", what);
  fd = openat(w->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "%s: open", what);
  if (w->own_ns)
    r = rootfs_resolve_mount_on_fd(e->fstype, fd, NULL, e->fstype, w->flags, v2 ? NULL : ctrls,
                                   what, err);
  else if ((r = rootfs_resolve_mount_on_fd(src, fd, NULL, NULL, MS_BIND | MS_REC, NULL, what, err))
               == 0
           && w->flags)
    {
      close(fd);
      fd = openat(w->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = fd < 0 ? nook_error_set(err, errno, "%s: open", what)
                 : rootfs_resolve_remount_bind(fd, NULL, w->flags, 0, what, err);
    }
  return r < 0 ? r : cgroup_comount_links(w->dirfd, name, err);
}

/* type "cgroup": cgroup2 when the host is unified; otherwise, as runc and crun do on v1 and
 * hybrid hosts, a tmpfs holding one mount per host hierarchy, made read-only at the end when
 * the options say so. */
static int mount_cgroup(struct mnt_job *j, struct nook_error **err)
{
  struct cg_walk w = {
    .j = j,
    .dirfd = -1,
    .flags = j->req.f.flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT),
    .own_ns = spec_owns_ns(j->ctx->spec, NOOK_NS_CGROUP),
  };
  _cleanup_close_ int fd = -1;
  struct statfs sfs;
  int r;

  if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
    return mount_fs(j, "cgroup2", err);
  if (rootfs_resolve_root_open(j->rootfd, j->rel, CREATE_DIR, &fd, err) < 0)
    return nook_error_prefix(err, "%s", j->what);
  if (rootfs_resolve_mount_on_fd("tmpfs", fd, NULL, "tmpfs",
                                 (w.flags & ~(unsigned long)MS_RDONLY) | MS_NOSUID | MS_NODEV
                                     | MS_NOEXEC,
                                 "mode=755", j->what, err)
      < 0)
    return -1;
  close(fd);
  fd = -1;
  if (rootfs_resolve_root_open(j->rootfd, j->rel, OPEN_EXISTING, &fd, err) < 0)
    return nook_error_prefix(err, "%s", j->what);
  if (nook_read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 20, &w.self, NULL, err) < 0)
    return nook_error_prefix(err, "%s", j->what);
  w.dirfd = fd;
  r = mountinfo_foreach(cgroup_hier_cb, &w, err);
  free(w.self);
  return r < 0 ? r : mount_finish(j, true, err);
}

static int mount_entry(const struct nook_rootfs_ctx *ctx, int rootfd, const struct nook_mount *m,
                       int idmap_fd, struct nook_error **err)
{
  struct mnt_job j = { .ctx = ctx, .rootfd = rootfd, .m = m };
  const char *type = m->type;
  int r;

  if (m->destination == NULL)
    return nook_error_set(err, EINVAL, "mount without a destination");
  parse_options(m->options, &j.req);
  j.rel = rootfs_resolve_path_clean_rel(m->destination);
  j.what = xasprintf("mount `%s` on `%s`",
                     m->source ? m->source
                     : type    ? type
                               : "none",
                     m->destination);
  if (streq(type, "bind"))
    {
      j.req.f.flags |= MS_BIND;
      j.req.f.bind = true;
    }
  if (idmap_fd >= 0)
    r = mount_idmapped(&j, idmap_fd, err);
  else if (rootfs_idmap_wanted(m, NULL))
    r = nook_error_setx(err, EINVAL, "%s: the idmapped mount was not prepared", j.what);
  else if (j.req.f.bind)
    r = mount_bind(&j, m->source, err);
  else if (type == NULL)
    r = nook_error_set(err, EINVAL, "%s: no filesystem type", j.what);
  else if (streq(type, "cgroup"))
    r = mount_cgroup(&j, err);
  else
    r = mount_fs(&j, type, err);
  free(j.rel);
  free(j.what);
  free(j.req.f.data);
  return r;
}

/* ---- the steps ---------------------------------------------------------------------------- */

/* linux.rootfsPropagation as MS_* flags, 0 when absent. */
static int root_propagation(const struct nook_spec *spec, unsigned long *ret,
                            struct nook_error **err)
{
  const char *p = spec->linux ? spec->linux->rootfs_propagation : NULL;
  const struct mount_option *o;

  if (p == NULL || *p == '\0')
    {
      *ret = 0;
      return 0;
    }
  o = mount_option_find(p);
  if (o == NULL || o->kind != K_PROP)
    return nook_error_set(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`", p);
  *ret = o->value;
  return 0;
}

int nook_rootfs_prepare(const struct nook_rootfs_ctx *ctx, struct nook_error **err)
{
  const struct nook_spec *spec = ctx->spec;
  _cleanup_close_ int rootfd = -1;
  unsigned long prop;

  if (root_propagation(spec, &prop, err) < 0)
    return -1;
  if (prop == 0)
    prop = MS_SLAVE | MS_REC; /* runc's default: nothing we mount reaches the host */
  if (mount(NULL, "/", NULL, prop, NULL) < 0)
    return nook_error_set(err, errno, "set the propagation of `/`");
  if ((!(prop & MS_REC) || (prop & MS_SHARED)) && make_parent_private(ctx->rootfs, err) < 0)
    return -1;
  /* pivot_root needs the new root to be a mount point */
  if (mount(ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return nook_error_set(err, errno, "bind-mount the rootfs `%s` onto itself", ctx->rootfs);
  rootfd = open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return nook_error_set(err, errno, "open the rootfs `%s`", ctx->rootfs);
  for (size_t i = 0; i < spec->n_mounts; i++)
    if (mount_entry(ctx, rootfd, &spec->mounts[i], ctx->idmap_fds ? ctx->idmap_fds[i] : -1, err)
        < 0)
      return -1;
  if (rootfs_devices_dev_is_bind_mounted(spec))
    return 0;
  return rootfs_devices_create_devices(ctx, rootfd, err);
}

static int move_root(const char *rootfs, struct nook_error **err)
{
  if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
    return nook_error_set(err, errno, "move the rootfs `%s` onto `/`", rootfs);
  if (chroot(".") < 0)
    return nook_error_set(err, errno, "chroot into `%s`", rootfs);
  if (chdir("/") < 0)
    return nook_error_set(err, errno, "chdir to `/`");
  return 0;
}

int nook_rootfs_pivot(const struct nook_rootfs_ctx *ctx, struct nook_error **err)
{
  _cleanup_close_ int newroot = open(ctx->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int oldroot = -1;

  if (newroot < 0)
    return nook_error_set(err, errno, "open the rootfs `%s`", ctx->rootfs);
  if (fchdir(newroot) < 0)
    return nook_error_set(err, errno, "chdir to the rootfs `%s`", ctx->rootfs);
  if (ctx->no_pivot)
    return move_root(ctx->rootfs, err);
  oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0)
    return nook_error_set(err, errno, "open `/`");
  /* the old root ends up stacked on the new one; no directory for it is needed */
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return nook_error_set(err, errno, "pivot_root to `%s`", ctx->rootfs);
  if (fchdir(oldroot) < 0)
    return nook_error_set(err, errno, "chdir to the old root");
  /* so that detaching it does not unmount anything on the host through propagation */
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return nook_error_set(err, errno, "make the old root a slave");
  if (umount2(".", MNT_DETACH) < 0)
    return nook_error_set(err, errno, "detach the old root");
  if (chdir("/") < 0)
    return nook_error_set(err, errno, "chdir to `/`");
  return 0;
}

/* The container's /dev/null, checked to be the null device before it is bound over files (an
 * image could have made it anything). */
static int open_dev_null(int rootfd, int *ret_fd, struct nook_error **err)
{
  _cleanup_close_ int fd = rootfs_resolve_open_in_root(rootfd, "dev/null");
  struct stat st;

  if (fd < 0 || fstat(fd, &st) < 0)
    return nook_error_set(err, errno, "open `/dev/null`");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return nook_error_set(err, EINVAL, "`/dev/null` is not the null device");
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* A maskedPaths entry (devnull != NULL: an empty read-only tmpfs over a directory, the null
 * device over anything else) or a readonlyPaths entry (bound onto itself, then remounted
 * ro,nosuid,nodev,noexec).  Paths that do not exist are skipped, as runc does. */
static int protect_path(int rootfd, const char *path, int *devnull, struct nook_error **err)
{
  _cleanup_free_ char *rel = rootfs_resolve_path_clean_rel(path);
  _cleanup_free_ char *abs = xasprintf("/%s", rel);
  _cleanup_free_ char *what = xasprintf(devnull ? "mask `%s`" : "make `%s` read-only", path);
  _cleanup_free_ char *null_path = NULL;
  _cleanup_close_ int fd = rootfs_resolve_open_in_root(rootfd, rel);
  struct stat st;

  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : nook_error_set(err, errno, "%s", what);
  if (devnull == NULL)
    {
      if (rootfs_resolve_mount_on_fd(NULL, fd, abs, NULL, MS_BIND | MS_REC, NULL, what, err) < 0)
        return -1;
      close(fd);
      if ((fd = rootfs_resolve_open_in_root(rootfd, rel)) < 0)
        return nook_error_set(err, errno, "%s", what);
      return rootfs_resolve_remount_bind(fd, abs, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0,
                                         what, err);
    }
  if (fstat(fd, &st) < 0)
    return nook_error_set(err, errno, "%s", what);
  if (S_ISDIR(st.st_mode))
    return rootfs_resolve_mount_on_fd("tmpfs", fd, abs, "tmpfs",
                                      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", what,
                                      err);
  if (*devnull < 0 && open_dev_null(rootfd, devnull, err) < 0)
    return nook_error_prefix(err, "%s", what);
  if (rootfs_resolve_fd_target(*devnull, "/dev/null", &null_path) < 0)
    return nook_error_set(err, errno, "%s: `/dev/null`", what);
  return rootfs_resolve_mount_on_fd(null_path, fd, abs, NULL, MS_BIND, NULL, what, err);
}

int nook_rootfs_finalize(const struct nook_rootfs_ctx *ctx, struct nook_error **err)
{
  const struct nook_linux *l = ctx->spec->linux;
  _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int devnull = -1;
  unsigned long prop;

  if (rootfd < 0)
    return nook_error_set(err, errno, "open `/`");
  for (size_t i = 0; l && l->readonly_paths && l->readonly_paths[i]; i++)
    if (protect_path(rootfd, l->readonly_paths[i], NULL, err) < 0)
      return -1;
  for (size_t i = 0; l && l->masked_paths && l->masked_paths[i]; i++)
    if (protect_path(rootfd, l->masked_paths[i], &devnull, err) < 0)
      return -1;
  if (ctx->spec->root && ctx->spec->root->readonly
      && rootfs_resolve_remount_bind(rootfd, "/", MS_RDONLY, 0, "remount `/` read-only", err) < 0)
    return -1;
  if (root_propagation(ctx->spec, &prop, err) < 0)
    return -1;
  if (prop && mount(NULL, "/", NULL, prop, NULL) < 0)
    return nook_error_set(err, errno, "set the propagation of `/` to `%s`", l->rootfs_propagation);
  return 0;
}

void nook_rootfs_mkdir_cwd(const char *cwd)
{
  _cleanup_free_ char *rel = rootfs_resolve_path_clean_rel(cwd);
  _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int fd = -1;

  if (rootfd >= 0)
    (void)rootfs_resolve_root_open(rootfd, rel, CREATE_DIR, &fd, NULL);
}

int nook_rootfs_check_cwd(const char *cwd, struct nook_error **err)
{
  _cleanup_free_ char *wd = getcwd(NULL, 0);

  /* getcwd(2) answers "(unreachable)/..." for a directory outside the root, which glibc turns
   * into ENOENT: the cwd was reached through a magic link such as /proc/self/fd/N */
  if (wd == NULL && errno == ENOENT)
    return nook_error_setx(
        err, EPERM, "process.cwd: `%s` is outside the container's root (CVE-2024-21626)", cwd);
  if (wd == NULL)
    return nook_error_set(err, errno, "process.cwd: check `%s`", cwd);
  if (wd[0] != '/')
    return nook_error_setx(err, EPERM, "process.cwd: `%s` is outside the container's root", cwd);
  return 0;
}

int nook_rootfs_mount_console(const char *slave_path, struct nook_error **err)
{
  _cleanup_free_ char *rel = rootfs_resolve_path_clean_rel(slave_path);
  _cleanup_free_ char *abs = xasprintf("/%s", rel);
  _cleanup_free_ char *what = xasprintf("mount `%s` on `/dev/console`", slave_path);
  _cleanup_free_ char *source = NULL;
  _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int src = -1, dst = -1;

  if (rootfd < 0)
    return nook_error_set(err, errno, "open `/`");
  src = rootfs_resolve_open_in_root(rootfd, rel);
  if (src < 0 || rootfs_resolve_fd_target(src, abs, &source) < 0)
    return nook_error_set(err, errno, "%s", what);
  if (rootfs_resolve_root_open(rootfd, "dev/console", CREATE_FILE, &dst, err) < 0)
    return nook_error_prefix(err, "%s", what);
  return rootfs_resolve_mount_on_fd(source, dst, "/dev/console", NULL, MS_BIND, NULL, what, err);
}
