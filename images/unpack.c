/* Layer unpack: libarchive parses the tar that unpack-stream.c decompresses and hashes; every
 * entry is written here, below the layer's dirfd and never outside it.
 *
 * Names are cleaned lexically first (a leading `/` dropped as GNU tar does, `..` that would
 * climb above the root refused).  The parent directory is opened with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), so that no symlink is followed on the way (a
 * tar that writes through a symlink it made itself is refused, even inside the layer), or, when
 * the kernel lacks openat2 or a directory is missing, by a walk of O_NOFOLLOW opens that
 * creates the missing ones.  The last component is made with mkdirat, openat(O_CREAT | O_EXCL
 * | O_NOFOLLOW), symlinkat, linkat or mknodat, none of which follows a symlink; what was there
 * is replaced (the later entry wins), except a directory by a directory.  Directories get their
 * mode and times last, deepest first, since creating children changes them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#else
struct open_how
{
  unsigned long long flags, mode, resolve;
};
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#include "common/fault.h"
#include "common/util.h"
#include "images/dl-archive.h"
#include "images/image.h"
#include "images/unpack-internal.h"

/* Decompress in a second thread (see unpack-stream.c); 0 for the one-thread variant. */
#ifndef UNPACK_THREADED
#define UNPACK_THREADED 1
#endif

#define MAX_ENTRIES 1000000
#define PROGRESS_STEP (64u << 10)

struct dir_meta
{
  char *path; /* clean and relative; "" is the layer's root */
  mode_t mode;
  struct timespec times[2];
  dev_t dev;
  ino_t ino;
  size_t depth, seq;
};

/* The (st_dev, st_ino) of every non-directory this layer wrote: a hardlink may only name one
 * of those.  Open addressing; {0, 0} is free (no file system gives inode 0 to a file). */
struct inode_set
{
  uint64_t (*v)[2];
  size_t n, cap;
};

struct unpack
{
  int root;
  const struct image_unpack_opts *opts;
  struct archive *ar;
  struct archive_entry *entry;
  struct unpack_stream *stream;
  const unsigned char *buf; /* what libarchive reads now: BUF_LEN bytes at BUF_OFF of the tar */
  size_t buf_len;
  uint64_t buf_off;
  char name[256];    /* the current entry's name as the tar has it, escaped, for messages */
  char *parent_path; /* the directory the last entry was made in, and its O_PATH fd */
  int parent_fd;
  bool no_openat2;
  struct dir_meta *dirs;
  size_t n_dirs, cap_dirs;
  struct inode_set inodes;
  uint64_t n_entries, progress_done;
};

/* ---- messages ------------------------------------------------------------------------------ */

/* Copies at most LEN bytes of S for a message: control characters and backquotes as \xNN, an
 * ellipsis when it does not fit. */
static void escape(char *buf, size_t size, const char *s, size_t len)
{
  size_t o = 0, i;

  for (i = 0; i < len && s[i] && o + 8 < size; i++)
    {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == 0x7f || c == '`')
        o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
      else
        buf[o++] = (char)c;
    }
  if (i < len && s[i])
    o += (size_t)snprintf(buf + o, size - o, "...");
  buf[o] = '\0';
}

/* "layer entry `NAME`: MESSAGE", followed by ": strerror(errnum)" when SYS (a failed system
 * call), not when the tar itself is wrong. */
static int entry_fail_(struct unpack *u, struct nook_error **err, int errnum, bool sys,
                       const char *fmt, ...) _printf_(5, 6);
static int entry_fail_(struct unpack *u, struct nook_error **err, int errnum, bool sys,
                       const char *fmt, ...)
{
  _cleanup_error_ struct nook_error *e = NULL;
  va_list ap;

  va_start(ap, fmt);
  nook_error_setv(&e, sys ? errnum : 0, fmt, ap);
  va_end(ap);
  return nook_error_setx(err, errnum, "layer entry `%s`: %s", u->name, e->msg);
}
#define entry_fail(u, err, errnum, ...) entry_fail_(u, err, errnum, true, __VA_ARGS__)
#define entry_failx(u, err, errnum, ...) entry_fail_(u, err, errnum, false, __VA_ARGS__)

/* The name in the ustar header at OFF of the tar, if that block is in the buffer at hand and
 * its checksum says it is a header. */
static bool raw_header_name(struct unpack *u, int64_t off, char *buf, size_t size)
{
  const unsigned char *h;
  unsigned sum = 0;
  char field[9];

  if (off < 0 || (uint64_t)off < u->buf_off || (uint64_t)off - u->buf_off + 512 > u->buf_len)
    return false;
  h = u->buf + ((uint64_t)off - u->buf_off);
  for (int i = 0; i < 512; i++)
    sum += i >= 148 && i < 156 ? ' ' : h[i];
  snprintf(field, sizeof(field), "%.8s", (const char *)h + 148);
  if (strtoul(field, NULL, 8) != sum)
    return false;
  if (memcmp(h + 257, "ustar", 6) == 0 && h[345])
    snprintf(buf, size, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
  else
    snprintf(buf, size, "%.100s", (const char *)h);
  return *buf != '\0';
}

/* libarchive refuses some headers before it has set the entry's name (a size that overflows):
 * the name is then read from the raw header, which is the block at libarchive's position or,
 * when it has consumed it already (3.6), the one before. */
static bool name_from_header(struct unpack *u)
{
  int64_t pos = sym_archive_filter_bytes(u->ar, 0);
  char name[260];

  if (!raw_header_name(u, pos, name, sizeof(name))
      && !raw_header_name(u, pos - 512, name, sizeof(name)))
    return false;
  escape(u->name, sizeof(u->name), name, SIZE_MAX);
  return true;
}

/* A failure libarchive reported, or the stream below it: the stream's message wins, since
 * libarchive only knows that its read callback failed, or that the tar it got is damaged. */
static int archive_fail(struct unpack *u, bool in_entry, struct nook_error **err)
{
  const struct nook_error *se = unpack_stream_check(u->stream);
  const char *what = se ? se->msg : sym_archive_error_string(u->ar);
  int errnum = se ? se->errnum : sym_archive_errno(u->ar);
  char buf[512];

  snprintf(buf, sizeof(buf), "%s", what ? what : "unknown error");
  /* libarchive capitalises its messages ("Truncated tar archive") */
  if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a' && buf[1] <= 'z')
    buf[0] = (char)(buf[0] - 'A' + 'a');
  if (errnum <= 0)
    errnum = EIO;
  if (in_entry || (!se && name_from_header(u)))
    return entry_failx(u, err, errnum, "%s", buf);
  if (u->n_entries == 0)
    return nook_error_setx(err, errnum, "layer: %s", buf);
  return nook_error_setx(err, errnum, "layer: after entry `%s`: %s", u->name, buf);
}

/* ---- paths --------------------------------------------------------------------------------- */

/* Opens the directory PATH (clean, relative) below the root with no symlink followed: -1 with
 * errno ELOOP (a symlink on the way), ENOTDIR, ENOENT, or ENOSYS without openat2. */
static int open_dir_openat2(int root, const char *path, int flags)
{
  struct open_how how = {
    .flags = (unsigned long long)(flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  long fd = -1;

  for (int i = 0; i < 32; i++)
    {
      fd = syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
      /* EAGAIN: a concurrent rename raced with the lookup; the kernel asks for a retry */
      if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  return (int)fd;
}

/* The same one component at a time with O_NOFOLLOW, creating missing directories (0755) when
 * CREATE.  Returns an O_PATH fd, or -1 with errno as above and *ret_bad the length of the
 * prefix of PATH that failed. */
static int open_dir_walk(int root, const char *path, bool create, size_t *ret_bad)
{
  _cleanup_close_ int cur = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  const char *p = path;

  *ret_bad = 0;
  while (cur >= 0 && *p)
    {
      size_t n = strcspn(p, "/");
      _cleanup_free_ char *comp = xstrndup(p, n);
      int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;

      *ret_bad = (size_t)(p + n - path);
      if (next < 0 && errno == ENOENT && create)
        {
          /* 0755 whatever the umask, as containerd makes implicit parents */
          if (mkdirat(cur, comp, 0755) == 0 ? fchmodat(cur, comp, 0755, 0) < 0 : errno != EEXIST)
            return -1;
          next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0 && (errno == ENOTDIR || errno == ELOOP))
        {
          int e = fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
          errno = e ? ELOOP : ENOTDIR;
        }
      if (next < 0)
        return -1;
      close(cur);
      cur = next;
      p += n + (p[n] == '/');
    }
  return TAKE_FD(cur);
}

/* An fd of the directory PATH of the layer (FLAGS: O_PATH or O_RDONLY); -1 with errno. */
static int open_dir(struct unpack *u, const char *path, int flags, bool create, size_t *ret_bad)
{
  int fd = u->no_openat2 ? (errno = ENOSYS, -1) : open_dir_openat2(u->root, path, flags);
  _cleanup_close_ int walked = -1;

  *ret_bad = strlen(path);
  if (fd >= 0
      || (errno != ENOSYS && !(create && errno == ENOENT) && errno != ELOOP && errno != ENOTDIR))
    return fd;
  u->no_openat2 |= errno == ENOSYS;
  /* the walk creates what is missing and says which component is a symlink or not a dir */
  walked = open_dir_walk(u->root, path, create, ret_bad);
  if (walked < 0 || flags == O_PATH)
    return TAKE_FD(walked);
  return openat(walked, ".", flags | O_DIRECTORY | O_CLOEXEC);
}

static int dir_fail(struct unpack *u, const char *path, size_t bad, struct nook_error **err)
{
  char what[256];

  escape(what, sizeof(what), path, bad);
  if (errno == ELOOP)
    return entry_failx(u, err, ELOOP, "`%s` is a symlink: refusing to write through it", what);
  if (errno == ENOTDIR)
    return entry_failx(u, err, ENOTDIR, "`%s` is not a directory", what);
  return entry_fail(u, err, errno, "open `%s`", *what ? what : ".");
}

/* The O_PATH fd of the directory PATH, made when missing.  Entries come grouped by directory,
 * so the last one is kept open (and owned by u).  It never needs to be dropped when an entry
 * is removed: the cached directory is the current entry's parent, never below the entry. */
static int open_parent(struct unpack *u, const char *path, struct nook_error **err)
{
  size_t bad;
  int fd;

  if (u->parent_fd >= 0 && streq(u->parent_path, path))
    return u->parent_fd;
  fd = open_dir(u, path, O_PATH, true, &bad);
  if (fd < 0)
    return dir_fail(u, path, bad, err);
  if (u->parent_fd >= 0)
    close(u->parent_fd);
  free(u->parent_path);
  u->parent_path = xstrdup(path);
  u->parent_fd = fd;
  return fd;
}

/* ---- bookkeeping --------------------------------------------------------------------------- */

static size_t inode_slot(const struct inode_set *s, const struct stat *st)
{
  uint64_t h = ((uint64_t)st->st_ino * 0x9e3779b97f4a7c15ull) ^ (uint64_t)st->st_dev;
  size_t i = (size_t)(h ^ (h >> 29)) & (s->cap - 1);

  while ((s->v[i][0] || s->v[i][1])
         && (s->v[i][0] != (uint64_t)st->st_ino || s->v[i][1] != (uint64_t)st->st_dev))
    i = (i + 1) & (s->cap - 1);
  return i;
}

static bool inode_has(const struct inode_set *s, const struct stat *st)
{
  size_t i = s->cap > 0 ? inode_slot(s, st) : 0;

  return s->cap > 0 && s->v[i][0] == (uint64_t)st->st_ino && s->v[i][1] == (uint64_t)st->st_dev;
}

static void inode_add(struct inode_set *s, const struct stat *st)
{
  size_t i;

  if (2 * (s->n + 1) > s->cap)
    {
      struct inode_set bigger = { xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(*s->v)), 0,
                                  s->cap ? 2 * s->cap : 1024 };
      for (size_t j = 0; j < s->cap; j++)
        if (s->v[j][0] || s->v[j][1])
          {
            struct stat k = { .st_ino = (ino_t)s->v[j][0], .st_dev = (dev_t)s->v[j][1] };
            memcpy(bigger.v[inode_slot(&bigger, &k)], s->v[j], sizeof(*s->v));
            bigger.n++;
          }
      free(s->v);
      *s = bigger;
    }
  i = inode_slot(s, st);
  if (!s->v[i][0] && !s->v[i][1])
    s->n++;
  s->v[i][0] = (uint64_t)st->st_ino;
  s->v[i][1] = (uint64_t)st->st_dev;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = sym_archive_entry_mtime(e);
  ts[1].tv_nsec = sym_archive_entry_mtime_nsec(e);
  ts[0] = ts[1];
  if (sym_archive_entry_atime_is_set(e))
    {
      ts[0].tv_sec = sym_archive_entry_atime(e);
      ts[0].tv_nsec = sym_archive_entry_atime_nsec(e);
    }
}

/* A directory's mode and times, applied by apply_dirs() at the end. */
static void defer_dir(struct unpack *u, const char *path, const struct stat *st)
{
  struct dir_meta *d;

  if (u->n_dirs == u->cap_dirs)
    {
      u->cap_dirs = u->cap_dirs ? 2 * u->cap_dirs : 256;
      u->dirs = xrealloc(u->dirs, u->cap_dirs * sizeof(*u->dirs));
    }
  d = &u->dirs[u->n_dirs];
  *d = (struct dir_meta){ .path = xstrdup(path),
                          .mode = sym_archive_entry_perm(u->entry) & 07777,
                          .dev = st->st_dev,
                          .ino = st->st_ino,
                          .seq = u->n_dirs };
  entry_times(u->entry, d->times);
  for (const char *p = path; *p; p++)
    d->depth += *p == '/';
  d->depth += *path != '\0';
  u->n_dirs++;
}

static int cmp_dirs(const void *a, const void *b)
{
  const struct dir_meta *x = a, *y = b;

  if (x->depth != y->depth)
    return x->depth > y->depth ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Deepest first; a directory replaced since (another inode now, or not a directory) is
 * skipped, and of two entries for the same directory the later is applied last. */
static int apply_dirs(struct unpack *u, struct nook_error **err)
{
  if (u->n_dirs > 0)
    qsort(u->dirs, u->n_dirs, sizeof(*u->dirs), cmp_dirs);
  for (size_t i = 0; i < u->n_dirs; i++)
    {
      struct dir_meta *d = &u->dirs[i];
      _cleanup_close_ int fd = -1;
      struct stat st;
      size_t bad;

      fd = open_dir(u, d->path, O_RDONLY, false, &bad);
      if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
        continue;
      escape(u->name, sizeof(u->name), *d->path ? d->path : ".", SIZE_MAX);
      if (fd < 0 || fstat(fd, &st) < 0)
        return entry_fail(u, err, errno, "open");
      if (st.st_dev != d->dev || st.st_ino != d->ino)
        continue;
      if (fchmod(fd, d->mode) < 0)
        return entry_fail(u, err, errno, "chmod");
      if (futimens(fd, d->times) < 0)
        return entry_fail(u, err, errno, "set times");
    }
  return 0;
}

/* ---- metadata ------------------------------------------------------------------------------ */

/* 1 and the entry's ids when they are to be applied (opts->keep_owner), 0 when not. */
static int entry_owner(struct unpack *u, uid_t *ret_uid, gid_t *ret_gid, struct nook_error **err)
{
  int64_t uid = sym_archive_entry_uid(u->entry), gid = sym_archive_entry_gid(u->entry);

  if (!u->opts->keep_owner)
    return 0;
  /* (uid_t)-1 would mean "leave unchanged" to chown */
  if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
    return entry_failx(u, err, EINVAL, "uid %" PRId64 " or gid %" PRId64 " out of range", uid, gid);
  *ret_uid = (uid_t)uid;
  *ret_gid = (gid_t)gid;
  return 1;
}

/* The entry's xattrs, on FD when it is an open regular file or directory, else on PARENT/NAME
 * (a symlink or a special file) through /proc/self/fd, where the kernel takes only trusted.*
 * and security.* (user.* is for regular files and directories).  A layer's own
 * trusted.overlay.* are dropped: overlay would act on them (redirect, metacopy) in a lower
 * layer; the opaque marker comes from `.wh..wh..opq` only. */
static int apply_xattrs(struct unpack *u, int fd, int parent, const char *name,
                        struct nook_error **err)
{
  const char *xname;
  const void *value;
  size_t size;

  sym_archive_entry_xattr_reset(u->entry);
  while (sym_archive_entry_xattr_next(u->entry, &xname, &value, &size) == ARCHIVE_OK)
    {
      char proc[64 + NAME_MAX], what[128];
      int r;

      if (nook_has_prefix(xname, "trusted.overlay."))
        continue;
      if (fd >= 0)
        r = fsetxattr(fd, xname, value, size, 0);
      else if (nook_has_prefix(xname, "trusted.") || nook_has_prefix(xname, "security."))
        {
          snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", parent, name);
          r = lsetxattr(proc, xname, value, size, 0);
        }
      else
        continue;
      /* a file system without SELinux labels: what every tool does with them */
      if (r < 0 && errno == EOPNOTSUPP && streq(xname, "security.selinux"))
        continue;
      if (r < 0)
        {
          int e = errno;
          escape(what, sizeof(what), xname, SIZE_MAX);
          return entry_fail(u, err, e, "set xattr `%s`", what);
        }
    }
  return 0;
}

/* Owner, mode, xattrs and times, in that order (chown clears the setuid bits and
 * security.capability), then the inode is noted for hardlinks.  On FD when it is an open
 * regular file, else on PARENT/NAME (a symlink or a special file), never following it. */
static int finish(struct unpack *u, int fd, int parent, const char *name, struct nook_error **err)
{
  mode_t mode = sym_archive_entry_perm(u->entry) & 07777;
  bool symlink = sym_archive_entry_filetype(u->entry) == AE_IFLNK;
  struct timespec ts[2];
  struct stat st;
  uid_t uid;
  gid_t gid;
  int r = entry_owner(u, &uid, &gid, err);

  if (r < 0)
    return -1;
  if (r > 0
      && (fd >= 0 ? fchown(fd, uid, gid) : fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW))
             < 0)
    return entry_fail(u, err, errno, "chown to %u:%u", uid, gid);
  if (!symlink
      && (fd >= 0 ? fchmod(fd, mode) : fchmodat(parent, name, mode, AT_SYMLINK_NOFOLLOW)) < 0)
    return entry_fail(u, err, errno, "chmod");
  if (apply_xattrs(u, fd, parent, name, err) < 0)
    return -1;
  entry_times(u->entry, ts);
  if ((fd >= 0 ? futimens(fd, ts) : utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW)) < 0)
    return entry_fail(u, err, errno, "set times");
  if ((fd >= 0 ? fstat(fd, &st) : fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
    return entry_fail(u, err, errno, "stat");
  inode_add(&u->inodes, &st);
  return 0;
}

/* ---- entries ------------------------------------------------------------------------------- */

/* Makes room for a new entry NAME in PARENT: the later entry wins, as in tar, and a directory
 * goes with its tree. */
static int remove_existing(struct unpack *u, int parent, const char *name, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;

  if (nook_rm_rf_at(parent, name, &e) < 0)
    return entry_failx(u, err, e->errnum, "replace the existing entry: %s", e->msg);
  return 0;
}

/* Creates NAME in PARENT as TYPE; what is there is replaced, except a directory by a directory.
 * Returns an open fd for a regular file or directory, 0 for the others. */
static int create_node(struct unpack *u, int parent, const char *name, mode_t type,
                       struct nook_error **err)
{
  const char *target = sym_archive_entry_symlink(u->entry);
  mode_t perm = sym_archive_entry_perm(u->entry) & 0777;

  for (int attempt = 0;; attempt++)
    {
      struct stat st;
      int r;

      switch (type)
        {
        case S_IFREG:
          r = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
          break;
        case S_IFDIR: r = mkdirat(parent, name, 0700); break; /* mode: apply_dirs() */
        case S_IFLNK: r = symlinkat(target, parent, name); break;
        default: r = mknodat(parent, name, type | perm, sym_archive_entry_rdev(u->entry)); break;
        }
      if (r < 0 && errno == EEXIST && type == S_IFDIR
          && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        r = 0; /* a directory over a directory: kept, its metadata updated */
      if (r >= 0 && type == S_IFDIR)
        r = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (r >= 0)
        return type == S_IFREG || type == S_IFDIR ? r : 0;
      if (errno != EEXIST || attempt > 0)
        break;
      if (remove_existing(u, parent, name, err) < 0)
        return -1;
    }
  if (errno == EPERM && (type == S_IFCHR || type == S_IFBLK))
    return entry_fail(u, err, errno, "cannot create a device node (CAP_MKNOD is needed)");
  return entry_fail(u, err, errno, "create");
}

static int write_data(struct unpack *u, int fd, struct nook_error **err)
{
  int64_t pos = 0, size = sym_archive_entry_size(u->entry);

  for (;;)
    {
      const void *buf;
      size_t len;
      la_int64_t off;
      int r = sym_archive_read_data_block(u->ar, &buf, &len, &off);

      if (r == ARCHIVE_EOF)
        break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return archive_fail(u, true, err);
      /* sparse files: libarchive gives the data blocks at their offsets */
      if (off != pos && lseek(fd, off, SEEK_SET) < 0)
        return entry_fail(u, err, errno, "seek");
      if (len > 0 && nook_write_all(fd, buf, len) < 0)
        return entry_fail(u, err, errno, "write");
      pos = off + (int64_t)len;
    }
  if (size > pos && ftruncate(fd, size) < 0) /* a hole at the end */
    return entry_fail(u, err, errno, "truncate");
  return 0;
}

static int make_regular(struct unpack *u, int parent, const char *name, struct nook_error **err)
{
  _cleanup_close_ int fd = create_node(u, parent, name, S_IFREG, err);

  if (fd < 0 || write_data(u, fd, err) < 0)
    return -1;
  return finish(u, fd, -1, NULL, err);
}

static int make_dir(struct unpack *u, int parent, const char *name, const char *path,
                    struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  struct stat st;
  uid_t uid;
  gid_t gid;
  int r;

  fd = *path ? create_node(u, parent, name, S_IFDIR, err)
             : openat(u->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return *path ? -1 : entry_fail(u, err, errno, "open the layer's root");
  r = entry_owner(u, &uid, &gid, err);
  if (r < 0)
    return -1;
  if (r > 0 && fchown(fd, uid, gid) < 0)
    return entry_fail(u, err, errno, "chown to %u:%u", uid, gid);
  if (apply_xattrs(u, fd, -1, NULL, err) < 0)
    return -1;
  if (fstat(fd, &st) < 0)
    return entry_fail(u, err, errno, "stat");
  defer_dir(u, path, &st);
  return 0;
}

static int make_hardlink(struct unpack *u, int parent, const char *name, const char *raw,
                         struct nook_error **err)
{
  _cleanup_free_ char *target = NULL;
  _cleanup_close_ int tdir = -1;
  char *tbase, what[256];
  struct stat st, cur;
  size_t bad;

  escape(what, sizeof(what), raw, SIZE_MAX);
  if (*raw == '\0' || strlen(raw) >= PATH_MAX)
    return entry_failx(u, err, EINVAL, "hardlink with an empty or overlong target");
  if (nook_path_clean_rel(raw, true, &target) < 0 || *target == '\0')
    return entry_failx(u, err, EINVAL, "hardlink target `%s` escapes the layer", what);
  tbase = strrchr(target, '/');
  if (tbase)
    *tbase++ = '\0';
  tdir = open_dir(u, tbase ? target : "", O_PATH, false, &bad);
  if (tdir < 0 && errno == ELOOP)
    return entry_failx(u, err, ELOOP, "hardlink target `%s` goes through a symlink", what);
  if (tdir < 0 || fstatat(tdir, tbase ? tbase : target, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return entry_fail(u, err, errno, "hardlink target `%s`", what);
  if (S_ISDIR(st.st_mode) || !inode_has(&u->inodes, &st))
    return entry_failx(u, err, EINVAL, "hardlink target `%s` is not a file of this layer", what);
  for (int attempt = 0;; attempt++)
    {
      if (linkat(tdir, tbase ? tbase : target, parent, name, 0) == 0)
        return 0;
      if (errno != EEXIST || attempt > 0)
        return entry_fail(u, err, errno, "hardlink to `%s`", what);
      if (fstatat(parent, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st.st_dev
          && cur.st_ino == st.st_ino)
        return 0; /* already that file */
      if (remove_existing(u, parent, name, err) < 0)
        return -1;
    }
}

/* `DIR/.wh.NAME` removes NAME of the layers below: a 0/0 char device NAME. */
static int make_whiteout(struct unpack *u, int parent, const char *name, struct nook_error **err)
{
  if (*name == '\0' || streq(name, ".") || streq(name, ".."))
    return entry_failx(u, err, EINVAL, "not a valid whiteout");
  if (remove_existing(u, parent, name, err) < 0)
    return -1;
  if (mknodat(parent, name, S_IFCHR, makedev(0, 0)) < 0)
    return entry_fail(u, err, errno, "create the whiteout (a 0/0 char device)");
  return 0;
}

/* `DIR/.wh..wh..opq` hides everything the layers below have in DIR. */
static int make_opaque(struct unpack *u, int parent, struct nook_error **err)
{
  _cleanup_close_ int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
    return entry_fail(u, err, errno, "set trusted.overlay.opaque on the directory");
  return 0;
}

enum whiteout
{
  WH_NONE,
  WH_FILE,   /* .wh.NAME */
  WH_OPAQUE, /* .wh..wh..opq */
  WH_META,   /* other .wh..wh.* (aufs bookkeeping): skipped, as containerd does */
};

static int classify(struct unpack *u, const char *path, enum whiteout *ret, struct nook_error **err)
{
  *ret = WH_NONE;
  if (strstr(path, ".wh.") == NULL)
    return 0;
  for (const char *c = path; *c; c += strcspn(c, "/"), c += *c == '/')
    {
      bool last = c[strcspn(c, "/")] == '\0';

      if (!nook_has_prefix(c, ".wh."))
        continue;
      if (!u->opts->overlay_whiteouts)
        return entry_failx(u, err, EINVAL, "a whiteout (`.wh.` name) in a plain tarball");
      if (nook_has_prefix(c, ".wh..wh."))
        {
          *ret = last && streq(c, ".wh..wh..opq") ? WH_OPAQUE : WH_META;
          return 0;
        }
      if (!last)
        return entry_failx(u, err, EINVAL, "a whiteout cannot be a directory");
      *ret = WH_FILE;
    }
  return 0;
}

static int unpack_entry(struct unpack *u, struct nook_error **err)
{
  const char *raw = sym_archive_entry_pathname(u->entry);
  const char *link = sym_archive_entry_hardlink(u->entry);
  const char *target = sym_archive_entry_symlink(u->entry);
  mode_t type = sym_archive_entry_filetype(u->entry);
  _cleanup_free_ char *path = NULL;
  const char *dir = "", *name;
  enum whiteout wh;
  char *slash;
  int parent;

  escape(u->name, sizeof(u->name), raw ? raw : "", SIZE_MAX);
  if (raw == NULL || *raw == '\0')
    return entry_failx(u, err, EINVAL, "empty name");
  if (strlen(raw) >= PATH_MAX)
    return entry_failx(u, err, ENAMETOOLONG, "name longer than PATH_MAX");
  if (nook_path_clean_rel(raw, true, &path) < 0)
    return entry_failx(u, err, EINVAL, "path escapes the layer");
  if (classify(u, path, &wh, err) < 0)
    return -1;
  if (wh == WH_META)
    return 0;
  if (*path == '\0' && (link || type != AE_IFDIR))
    return entry_failx(u, err, EINVAL, "only a directory can be the layer's root");
  if (*path == '\0')
    return make_dir(u, -1, "", "", err);
  name = path;
  slash = strrchr(path, '/');
  if (slash)
    {
      *slash = '\0';
      dir = path;
      name = slash + 1;
    }
  parent = open_parent(u, dir, err);
  if (parent < 0)
    return -1;
  if (slash)
    *slash = '/'; /* path is whole again, for the directory records */
  if (wh == WH_OPAQUE)
    return make_opaque(u, parent, err);
  if (wh == WH_FILE)
    return make_whiteout(u, parent, name + strlen(".wh."), err);
  if (link)
    return make_hardlink(u, parent, name, link, err);
  switch (type)
    {
    case AE_IFREG: return make_regular(u, parent, name, err);
    case AE_IFDIR: return make_dir(u, parent, name, path, err);
    case AE_IFLNK:
      if (target == NULL || *target == '\0' || strlen(target) >= PATH_MAX)
        return entry_failx(u, err, EINVAL, "symlink with an empty or overlong target");
      if (create_node(u, parent, name, S_IFLNK, err) < 0)
        return -1;
      return finish(u, -1, parent, name, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      if (create_node(u, parent, name, type, err) < 0)
        return -1;
      return finish(u, -1, parent, name, err);
    default: return entry_failx(u, err, EINVAL, "unsupported entry type 0%o", (unsigned)type);
    }
}

/* ---- the archive --------------------------------------------------------------------------- */

static void report_progress(struct unpack *u, uint64_t done, bool last)
{
  if (u->opts->progress && (last || done - u->progress_done >= PROGRESS_STEP))
    {
      u->progress_done = done;
      u->opts->progress(u->opts->progress_data, done);
    }
}

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
  struct unpack *u = data;
  uint64_t in_done = 0;
  ssize_t n = unpack_stream_next(u->stream, buf, &in_done);

  u->buf_off += u->buf_len;
  u->buf = n > 0 ? *buf : NULL;
  u->buf_len = n > 0 ? (size_t)n : 0;
  if (n < 0)
    {
      sym_archive_set_error(a, EIO, "%s", unpack_stream_error(u->stream)->msg);
      return -1;
    }
  if (n > 0)
    report_progress(u, in_done, false);
  return n;
}

static void unpack_clear(struct unpack *u)
{
  if (u->ar)
    sym_archive_read_free(u->ar);
  unpack_stream_free(u->stream);
  if (u->parent_fd >= 0)
    close(u->parent_fd);
  free(u->parent_path);
  for (size_t i = 0; i < u->n_dirs; i++)
    free(u->dirs[i].path);
  free(u->dirs);
  free(u->inodes.v);
}

int image_unpack(int fd, int dirfd, const struct image_unpack_opts *opts, char **ret_diff_id,
                 struct nook_error **err)
{
  static const struct image_unpack_opts defaults;
  _cleanup_(unpack_clear) struct unpack u = {
    .root = dirfd,
    .opts = opts ? opts : &defaults,
    .parent_fd = -1,
  };
  char diff_id[IMAGE_DIGEST_LEN + 1];
  uint64_t total;
  int r;

  if (dl_libarchive_load(err) < 0 || unpack_stream_open(fd, UNPACK_THREADED, &u.stream, err) < 0)
    return -1;
  u.ar = sym_archive_read_new();
  if (u.ar == NULL)
    return nook_error_set(err, ENOMEM, "libarchive");
  sym_archive_read_support_format_tar(u.ar); /* ustar, pax, GNU; no filters: we decompress */
  if (sym_archive_read_open(u.ar, &u, NULL, read_cb, NULL) != ARCHIVE_OK)
    return archive_fail(&u, false, err);
  while ((r = sym_archive_read_next_header(u.ar, &u.entry)) != ARCHIVE_EOF)
    {
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) /* WARN: e.g. a name not in the locale */
        return archive_fail(&u, false, err);
      if (++u.n_entries > MAX_ENTRIES)
        return nook_error_setx(err, EFBIG, "layer: more than %d entries", MAX_ENTRIES);
      if (unpack_entry(&u, err) < 0)
        return -1;
      NOOK_FAULT_POINT("mid-unpack");
    }
  if (unpack_stream_finish(u.stream, diff_id, &total, err) < 0)
    return nook_error_prefix(err, "layer");
  if (apply_dirs(&u, err) < 0)
    return -1;
  report_progress(&u, total, true);
  if (ret_diff_id)
    *ret_diff_id = xstrdup(diff_id);
  return 0;
}
