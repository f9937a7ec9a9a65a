/* Unit tests for images/unpack.c: layers built in memory with libarchive's writer (none, gzip,
 * zstd), unpacked into a temporary directory next to a sentinel directory that must stay
 * untouched; every hostile case must be refused with an error naming the entry.  The hostile
 * cases run a second time with openat2 made ENOSYS (the walk fallback).  Most checks need root
 * (owners, devices, trusted.* xattrs). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <zlib.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/unit/dl-archive-writer.h"
#include "tests/unit/tap.h"

#define MTIME 1600000000

/* ---- building layers ----------------------------------------------------------------------- */

enum filter
{
  F_NONE,
  F_GZIP,
  F_ZSTD,
};
static const char *const filter_names[] = { "tar", "tar+gzip", "tar+zstd" };

struct ent
{
  const char *path;
  mode_t type; /* AE_IFREG when 0 */
  mode_t mode; /* 0644 / 0755 when 0 */
  const char *data;
  const char *symlink;
  const char *hardlink;
  int64_t uid, gid;
  long nsec;
  dev_t rdev;
  const char *xattrs[3][2];
  int64_t size; /* a sparse file of this size with DATA at SIZE / 2 */
};

struct buf
{
  char *p;
  size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
  if (b->len + n > b->cap)
    {
      b->cap = (b->len + n) * 2;
      b->p = xrealloc(b->p, b->cap);
    }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static la_ssize_t write_cb(struct archive *a, void *data, const void *p, size_t n)
{
  buf_add(data, p, n);
  return (la_ssize_t)n;
}

static void add_entry(struct archive *a, const struct ent *e)
{
  struct archive_entry *ae = sym_archive_entry_new();
  size_t len = e->data ? strlen(e->data) : 0;
  mode_t type = e->type ? e->type : AE_IFREG;

  sym_archive_entry_copy_pathname(ae, e->path);
  sym_archive_entry_set_filetype(ae, type);
  sym_archive_entry_set_perm(ae, e->mode ? e->mode : type == AE_IFDIR ? 0755 : 0644);
  sym_archive_entry_set_uid(ae, e->uid);
  sym_archive_entry_set_gid(ae, e->gid);
  sym_archive_entry_set_mtime(ae, MTIME, e->nsec);
  sym_archive_entry_set_size(ae, type == AE_IFREG && !e->hardlink ? (int64_t)len : 0);
  if (e->symlink)
    sym_archive_entry_copy_symlink(ae, e->symlink);
  if (e->hardlink)
    sym_archive_entry_copy_hardlink(ae, e->hardlink);
  if (e->rdev)
    sym_archive_entry_set_rdev(ae, e->rdev);
  for (int i = 0; i < 3 && e->xattrs[i][0]; i++)
    sym_archive_entry_xattr_add_entry(ae, e->xattrs[i][0], e->xattrs[i][1], strlen(e->xattrs[i][1]));
  if (e->size)
    {
      sym_archive_entry_set_size(ae, e->size);
      sym_archive_entry_sparse_add_entry(ae, e->size / 2, (int64_t)len);
    }
  if (sym_archive_write_header(a, ae) < ARCHIVE_WARN)
    {
      printf("Bail out! writing `%s`: %s\n", e->path, sym_archive_error_string(a));
      exit(1);
    }
  if (e->size)
    {
      /* the writer takes the whole file and keeps what the sparse map says */
      _cleanup_free_ char *whole = xcalloc(1, (size_t)e->size);
      memcpy(whole + e->size / 2, e->data, len);
      sym_archive_write_data(a, whole, (size_t)e->size);
    }
  else if (len > 0 && !e->hardlink)
    sym_archive_write_data(a, e->data, len);
  sym_archive_entry_free(ae);
}

/* A layer of N entries in FORMAT (ARCHIVE_FORMAT_TAR_*), compressed with F. */
static struct buf build(const struct ent *ents, size_t n, int format, enum filter f)
{
  struct archive *a = sym_archive_write_new();
  struct buf b = { 0 };

  sym_archive_write_set_format(a, format);
  if (f == F_GZIP)
    sym_archive_write_add_filter_gzip(a);
  else if (f == F_ZSTD)
    sym_archive_write_add_filter_zstd(a);
  sym_archive_write_set_bytes_in_last_block(a, 1); /* no zeros after the compressed stream */
  sym_archive_write_open2(a, &b, NULL, write_cb, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    add_entry(a, &ents[i]);
  sym_archive_write_close(a);
  sym_archive_write_free(a);
  return b;
}

/* A ustar header written by hand, for what libarchive's writer refuses to make. */
static void raw_header(struct buf *b, const char *name, char type, const char *size)
{
  unsigned char h[512] = { 0 };
  unsigned sum = 0;

  memcpy(h, name, strlen(name));
  memcpy(h + 100, "0000644", 7);
  memcpy(h + 108, "0000000", 7);
  memcpy(h + 116, "0000000", 7);
  memcpy(h + 124, size, strlen(size));
  memcpy(h + 136, "13200000000", 11);
  memset(h + 148, ' ', 8);
  h[156] = (unsigned char)type;
  memcpy(h + 257, "ustar\00000", 8);
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  buf_add(b, h, sizeof(h));
}

static void raw_end(struct buf *b)
{
  static const char zero[1024];
  buf_add(b, zero, sizeof(zero));
}

static struct buf gzip_buf(const void *data, size_t len)
{
  struct buf b = { .cap = compressBound(len) + 64 };
  z_stream z = { 0 };

  b.p = xmalloc(b.cap);
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  z.next_in = (unsigned char *)data;
  z.avail_in = (uInt)len;
  z.next_out = (unsigned char *)b.p;
  z.avail_out = (uInt)b.cap;
  deflate(&z, Z_FINISH);
  b.len = b.cap - z.avail_out;
  deflateEnd(&z);
  return b;
}

static void sha256_hex(const void *data, size_t len, char ret[IMAGE_DIGEST_LEN + 1])
{
  struct sha256_ctx c;
  uint8_t d[SHA256_DIGEST_SIZE];
  int o = snprintf(ret, IMAGE_DIGEST_LEN + 1, "sha256:");

  sha256_init(&c);
  sha256_update(&c, len, data);
  sha256_digest(&c, sizeof(d), d);
  for (size_t i = 0; i < sizeof(d); i++)
    o += snprintf(ret + o, (size_t)(IMAGE_DIGEST_LEN + 1 - o), "%02x", d[i]);
}

/* ---- unpacking ----------------------------------------------------------------------------- */

/* BASE/root is the layer, BASE/sentinel/keep what no layer may touch. */
struct dirs
{
  char base[64];
  int root;
};

static void dirs_make(struct dirs *d)
{
  snprintf(d->base, sizeof(d->base), "/tmp/nook-unpack-XXXXXX");
  if (mkdtemp(d->base) == NULL)
    {
      printf("Bail out! mkdtemp: %s\n", strerror(errno));
      exit(1);
    }
  int bfd = open(d->base, O_PATH | O_DIRECTORY | O_CLOEXEC), sfd;
  mkdirat(bfd, "root", 0755);
  mkdirat(bfd, "sentinel", 0755);
  sfd = openat(bfd, "sentinel", O_PATH | O_DIRECTORY | O_CLOEXEC);
  nook_write_file_atomic_at(sfd, "keep", "keep\n", 5, 0644, NULL);
  fchmodat(sfd, "keep", 0644, 0);
  d->root = openat(bfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  close(sfd);
  close(bfd);
}

static void dirs_free(struct dirs *d)
{
  close(d->root);
  nook_rm_rf_at(AT_FDCWD, d->base, NULL);
}

static char *in_root(struct dirs *d, const char *path)
{
  static char p[2][PATH_MAX + 128];
  static int i;
  i ^= 1;
  snprintf(p[i], sizeof(p[i]), "%s/root/%s", d->base, path);
  return p[i];
}

/* The base holds only root/ and sentinel/, the sentinel only keep, unchanged and unlinked. */
static bool outside_untouched(struct dirs *d)
{
  const char *want[] = { "root", "sentinel", "keep" };
  char path[128];
  _cleanup_free_ char *keep = NULL;
  struct stat st;
  int n = 0;

  for (int pass = 0; pass < 2; pass++)
    {
      _cleanup_closedir_ DIR *dir = NULL;
      struct dirent *de;

      snprintf(path, sizeof(path), "%s%s", d->base, pass ? "/sentinel" : "");
      dir = opendir(path);
      while (dir && (de = readdir(dir)))
        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
          {
            bool known = false;
            for (size_t i = pass ? 2 : 0; i < (pass ? 3u : 2u); i++)
              known |= streq(de->d_name, want[i]);
            if (!known)
              printf("#   unexpected `%s/%s`\n", path, de->d_name);
            n += known ? 1 : 100;
          }
    }
  snprintf(path, sizeof(path), "%s/sentinel/keep", d->base);
  return n == 3 && stat(path, &st) == 0 && st.st_nlink == 1 && (st.st_mode & 07777) == 0644
         && nook_read_file_at(AT_FDCWD, path, 64, &keep, NULL, NULL) == 0 && streq(keep, "keep\n");
}

static int unpack_mem(int root, const void *data, size_t len, const struct image_unpack_opts *o,
                      char **diff_id, struct nook_error **err)
{
  int fd = memfd_create("layer", MFD_CLOEXEC), r;

  if (len > 0)
    nook_write_all(fd, data, len);
  lseek(fd, 0, SEEK_SET);
  r = image_unpack(fd, root, o, diff_id, err);
  close(fd);
  return r;
}

static const struct image_unpack_opts overlay = { .overlay_whiteouts = true, .keep_owner = true };
static const struct image_unpack_opts plain = { .keep_owner = true };

/* Unpacks ENTS (pax, gzip) into a fresh layer; returns 0 or the error in *err. */
static int unpack_ents(struct dirs *d, const struct ent *ents, size_t n,
                       const struct image_unpack_opts *o, struct nook_error **err)
{
  struct buf b = build(ents, n, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_GZIP);
  int r;

  dirs_make(d);
  r = unpack_mem(d->root, b.p, b.len, o, NULL, err);
  free(b.p);
  return r;
}

static bool has_text(const char *path, const char *text)
{
  _cleanup_free_ char *s = NULL;
  return nook_read_file_at(AT_FDCWD, path, 16 << 20, &s, NULL, NULL) == 0 && streq(s, text);
}

static bool is_node(const char *path, mode_t type, mode_t mode, uid_t uid, gid_t gid)
{
  struct stat st;
  if (lstat(path, &st) < 0)
    return false;
  if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != mode || st.st_uid != uid
      || st.st_gid != gid)
    printf("#   %s: mode 0%o uid %u gid %u\n", path, st.st_mode, st.st_uid, st.st_gid);
  return (st.st_mode & S_IFMT) == type && (st.st_mode & 07777) == mode && st.st_uid == uid
         && st.st_gid == gid;
}

static bool mtime_is(const char *path, long nsec)
{
  struct stat st;
  return lstat(path, &st) == 0 && st.st_mtim.tv_sec == MTIME && st.st_mtim.tv_nsec == nsec
         && st.st_atim.tv_sec == MTIME;
}

static bool xattr_is(const char *path, const char *name, const char *value)
{
  char v[256];
  ssize_t n = lgetxattr(path, name, v, sizeof(v) - 1);
  if (n < 0)
    return value == NULL;
  v[n] = '\0';
  return value && streq(v, value);
}

#define ERR_MSG(err) ((err) ? (err)->msg : "(no error)")

/* ---- what a layer may hold ----------------------------------------------------------------- */

static void test_kinds(void)
{
  const struct ent ents[] = {
    { .path = "./", .type = AE_IFDIR, .mode = 0751 },
    { .path = "d",
      .type = AE_IFDIR,
      .mode = 0750,
      .uid = 1000,
      .gid = 1001,
      .nsec = 5,
      .xattrs = { { "user.dir", "yes" } } },
    { .path = "d/f",
      .mode = 04755,
      .uid = 1000,
      .gid = 1001,
      .data = "hello\n",
      .nsec = 500,
      .xattrs = { { "user.foo", "bar" },
                  { "trusted.t", "1" },
                  { "trusted.overlay.redirect", "/x" } } },
    { .path = "d/ro", .mode = 0400, .data = "read only\n" },
    { .path = "d/link",
      .type = AE_IFLNK,
      .symlink = "f",
      .uid = 1002,
      .gid = 1003,
      .nsec = 7,
      .xattrs = { { "user.skipped", "1" }, { "trusted.sym", "2" } } },
    { .path = "d/hard", .hardlink = "d/f" },
    { .path = "dev/null", .type = AE_IFCHR, .mode = 0666, .rdev = makedev(1, 3) },
    { .path = "dev/loop0", .type = AE_IFBLK, .mode = 0660, .gid = 6, .rdev = makedev(7, 0) },
    { .path = "run/fifo", .type = AE_IFIFO, .mode = 0620 },
    { .path = "tmp", .type = AE_IFDIR, .mode = 01777 },
    { .path = "sgid", .type = AE_IFDIR, .mode = 02555 },
    { .path = "sgid/inner/x", .data = "x" },
    { .path = "sparse", .data = "middle", .size = 1 << 20 },
    { .path = "/abs/name", .data = "abs" },
  };
  struct dirs d;
  struct nook_error *err = NULL;
  struct stat st, st2;
  _cleanup_free_ char *sp = NULL;
  size_t splen = 0;

  int r = unpack_ents(&d, ents, ARRAY_SIZE(ents), &overlay, &err);

  tap_ok(r == 0, "every kind: unpacked (%s)", ERR_MSG(err));
  nook_error_freep(&err);
  tap_ok(is_node(in_root(&d, "d"), S_IFDIR, 0750, 1000, 1001) && mtime_is(in_root(&d, "d"), 5),
         "dir: mode, owner and mtime (set after its children)");
  tap_ok(xattr_is(in_root(&d, "d"), "user.dir", "yes"), "dir: xattr");
  tap_ok(is_node(in_root(&d, "."), S_IFDIR, 0751, 0, 0),
         "the `./` entry sets the layer root's mode");
  tap_ok(is_node(in_root(&d, "d/f"), S_IFREG, 04755, 1000, 1001)
             && mtime_is(in_root(&d, "d/f"), 500) && has_text(in_root(&d, "d/f"), "hello\n"),
         "file: setuid mode after chown, owner, mtime with nanoseconds, content");
  tap_ok(xattr_is(in_root(&d, "d/f"), "user.foo", "bar")
             && xattr_is(in_root(&d, "d/f"), "trusted.t", "1"),
         "file: user.* and trusted.* xattrs");
  tap_ok(xattr_is(in_root(&d, "d/f"), "trusted.overlay.redirect", NULL),
         "file: the layer's own trusted.overlay.* xattr is dropped");
  tap_ok(is_node(in_root(&d, "d/ro"), S_IFREG, 0400, 0, 0)
             && has_text(in_root(&d, "d/ro"), "read only\n"),
         "read-only file written");
  tap_ok(is_node(in_root(&d, "d/link"), S_IFLNK, 0777, 1002, 1003)
             && mtime_is(in_root(&d, "d/link"), 7),
         "symlink: owner and mtime of the link itself");
  tap_ok(xattr_is(in_root(&d, "d/link"), "trusted.sym", "2")
             && xattr_is(in_root(&d, "d/link"), "user.skipped", NULL),
         "symlink: trusted.* set, user.* skipped");
  tap_ok(lstat(in_root(&d, "d/hard"), &st) == 0 && stat(in_root(&d, "d/f"), &st2) == 0
             && st.st_ino == st2.st_ino && st.st_nlink == 2,
         "hardlink: same inode");
  tap_ok(is_node(in_root(&d, "dev/null"), S_IFCHR, 0666, 0, 0)
             && lstat(in_root(&d, "dev/null"), &st) == 0 && st.st_rdev == makedev(1, 3),
         "char device 1:3");
  tap_ok(is_node(in_root(&d, "dev/loop0"), S_IFBLK, 0660, 0, 6)
             && lstat(in_root(&d, "dev/loop0"), &st) == 0 && st.st_rdev == makedev(7, 0),
         "block device 7:0");
  tap_ok(is_node(in_root(&d, "run/fifo"), S_IFIFO, 0620, 0, 0), "fifo");
  tap_ok(is_node(in_root(&d, "tmp"), S_IFDIR, 01777, 0, 0), "sticky directory");
  tap_ok(is_node(in_root(&d, "sgid"), S_IFDIR, 02555, 0, 0)
             && has_text(in_root(&d, "sgid/inner/x"), "x"),
         "read-only setgid directory with an implicit child directory");
  tap_ok(is_node(in_root(&d, "sgid/inner"), S_IFDIR, 0755, 0, 0), "implicit directory: 0755");
  tap_ok(nook_read_file_at(AT_FDCWD, in_root(&d, "sparse"), 2 << 20, &sp, &splen, NULL) == 0
             && splen == 1 << 20 && memcmp(sp + (1 << 19), "middle", 6) == 0 && sp[0] == 0
             && sp[splen - 1] == 0,
         "sparse file: size and data at its offset");
  tap_ok(has_text(in_root(&d, "abs/name"), "abs"), "an absolute name lands inside the layer");
  tap_ok(outside_untouched(&d), "every kind: nothing outside the layer");
  dirs_free(&d);
}

static void test_owner_not_kept(void)
{
  static const struct ent ents[] = { { .path = "f", .uid = 1000, .gid = 1000, .data = "x" } };
  static const struct image_unpack_opts o = { 0 };
  struct nook_error *err = NULL;
  struct dirs d;

  int r = unpack_ents(&d, ents, 1, &o, &err);

  tap_ok(r == 0 && is_node(in_root(&d, "f"), S_IFREG, 0644, geteuid(), getegid()),
         "keep_owner false: the caller's ids (%s)", ERR_MSG(err));
  nook_error_freep(&err);
  dirs_free(&d);
}

static void test_long_names(void)
{
  char name[1300], target[700], dname[300];
  struct ent ents[4] = { { 0 } };
  struct nook_error *err = NULL;
  static const int formats[] = { ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FORMAT_TAR_GNUTAR };

  memset(dname, 'd', 250);
  dname[250] = '\0';
  snprintf(name, sizeof(name), "%s/%s/%s/caf\xc3\xa9-%.240s", dname, dname, dname, dname);
  snprintf(target, sizeof(target), "../../%s/%s", dname, dname);
  ents[0] = (struct ent){ .path = name, .data = "long\n" };
  ents[1] = (struct ent){ .path = "sym", .type = AE_IFLNK, .symlink = target };
  ents[2] = (struct ent){ .path = "hard", .hardlink = name };
  for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
    {
      struct buf b = build(ents, 3, formats[i], F_NONE);
      struct dirs d;
      char got[700];
      ssize_t n;
      int r;

      dirs_make(&d);
      r = unpack_mem(d.root, b.p, b.len, &overlay, NULL, &err);
      tap_ok(r == 0 && has_text(in_root(&d, name), "long\n"),
             "%s long name (%zu bytes, UTF-8) (%s)", i ? "GNU" : "pax", strlen(name), ERR_MSG(err));
      nook_error_freep(&err);
      n = readlink(in_root(&d, "sym"), got, sizeof(got) - 1);
      got[n > 0 ? n : 0] = '\0';
      tap_is_str(got, target, i ? "GNU long symlink target" : "pax long symlink target");
      tap_ok(has_text(in_root(&d, "hard"), "long\n"), "%s long hardlink target", i ? "GNU" : "pax");
      dirs_free(&d);
      free(b.p);
    }
}

/* ---- layers for overlay -------------------------------------------------------------------- */

static void test_whiteouts(void)
{
  static const struct ent ents[] = {
    { .path = "a/b", .data = "old" },
    { .path = "a/.wh.b" },
    { .path = "a/.wh.gone" },
    { .path = "o/.wh..wh..opq" },
    { .path = "o/kept", .data = "k" },
    { .path = "dir", .type = AE_IFDIR },
    { .path = "dir/.wh..wh..opq" },
    { .path = ".wh..wh.plnk", .type = AE_IFDIR },
    { .path = ".wh..wh.plnk/1.2", .data = "aufs" },
    { .path = ".wh..wh.aufs" },
  };
  struct nook_error *err = NULL;
  struct stat st;
  struct dirs d;

  int r = unpack_ents(&d, ents, ARRAY_SIZE(ents), &overlay, &err);

  tap_ok(r == 0, "whiteouts: unpacked (%s)", ERR_MSG(err));
  nook_error_freep(&err);
  tap_ok(lstat(in_root(&d, "a/b"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
         "a/.wh.b replaced a/b of this layer with a 0/0 char device");
  tap_ok(lstat(in_root(&d, "a/gone"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
         "a/.wh.gone: 0/0 char device");
  tap_ok(lstat(in_root(&d, "a/.wh.b"), &st) < 0, "no .wh. file is written");
  tap_ok(xattr_is(in_root(&d, "o"), "trusted.overlay.opaque", "y")
             && has_text(in_root(&d, "o/kept"), "k"),
         "opaque marker before its directory: made, trusted.overlay.opaque=y");
  tap_ok(xattr_is(in_root(&d, "dir"), "trusted.overlay.opaque", "y"), "opaque directory");
  tap_ok(lstat(in_root(&d, ".wh..wh.plnk"), &st) < 0 && lstat(in_root(&d, ".wh..wh.aufs"), &st) < 0,
         "aufs metadata skipped");
  dirs_free(&d);

  r = unpack_ents(&d, ents + 1, 1, &plain, &err);
  tap_ok(r < 0 && err && strstr(err->msg, "`a/.wh.b`") && strstr(err->msg, "whiteout"),
         "a whiteout in a plain tarball is refused: %s", ERR_MSG(err));
  nook_error_freep(&err);
  dirs_free(&d);
}

static void test_replace(void)
{
  static const struct ent ents[] = {
    { .path = "f", .data = "first" },
    { .path = "f", .data = "second" },
    { .path = "x", .data = "file" },
    { .path = "x", .type = AE_IFDIR, .mode = 0700 },
    { .path = "x/in", .data = "in" },
    { .path = "t", .type = AE_IFDIR },
    { .path = "t/deep/file", .data = "gone" },
    { .path = "t", .data = "now a file" },
    { .path = "s", .type = AE_IFLNK, .symlink = "/etc" },
    { .path = "s", .data = "not a link" },
    { .path = "k", .type = AE_IFDIR, .mode = 0755 },
    { .path = "k/child", .data = "stays" },
    { .path = "k", .type = AE_IFDIR, .mode = 0711 },
    { .path = "h", .data = "h" },
    { .path = "h2", .hardlink = "h" },
    { .path = "h2", .hardlink = "h" },
  };
  struct nook_error *err = NULL;
  struct dirs d;

  int r = unpack_ents(&d, ents, ARRAY_SIZE(ents), &overlay, &err);

  tap_ok(r == 0, "replacements: unpacked (%s)", ERR_MSG(err));
  nook_error_freep(&err);
  tap_ok(has_text(in_root(&d, "f"), "second"), "a later file replaces an earlier one");
  tap_ok(is_node(in_root(&d, "x"), S_IFDIR, 0700, 0, 0) && has_text(in_root(&d, "x/in"), "in"),
         "a directory replaces a file");
  tap_ok(has_text(in_root(&d, "t"), "now a file"), "a file replaces a directory tree");
  tap_ok(has_text(in_root(&d, "s"), "not a link"),
         "a file replaces a symlink, written in the layer");
  tap_ok(is_node(in_root(&d, "k"), S_IFDIR, 0711, 0, 0)
             && has_text(in_root(&d, "k/child"), "stays"),
         "a directory over a directory keeps its children and takes the new mode");
  tap_ok(has_text(in_root(&d, "h2"), "h"), "a hardlink again to the same file");
  tap_ok(outside_untouched(&d), "replacements: nothing outside the layer");
  dirs_free(&d);
}

/* ---- compression and the diff-id ----------------------------------------------------------- */

static void progress_cb(void *data, uint64_t done)
{
  uint64_t *v = data;
  if (done < v[0])
    v[2] = 1; /* went backwards */
  v[0] = done;
  v[1]++;
}

static void test_diff_id(void)
{
  struct ent ents[40] = { { 0 } };
  char names[40][32], want[IMAGE_DIGEST_LEN + 1];
  _cleanup_free_ char *big = xmalloc(3 << 20);
  struct buf ref;

  for (size_t i = 0; i < (3u << 20); i++)
    big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
  big[(3 << 20) - 1] = '\0';
  for (size_t i = 0; i < ARRAY_SIZE(ents); i++)
    {
      snprintf(names[i], sizeof(names[i]), "dir%zu/file%zu", i % 5, i);
      ents[i] = (struct ent){ .path = names[i], .data = i == 7 ? big : names[i] };
    }
  ref = build(ents, ARRAY_SIZE(ents), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_NONE);
  sha256_hex(ref.p, ref.len, want);
  for (int f = F_NONE; f <= F_ZSTD; f++)
    {
      struct buf b = build(ents, ARRAY_SIZE(ents), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, f);
      struct image_unpack_opts o = overlay;
      _cleanup_free_ char *diff_id = NULL;
      struct nook_error *err = NULL;
      uint64_t prog[3] = { 0 };
      struct dirs d;
      int r;

      o.progress = progress_cb;
      o.progress_data = prog;
      dirs_make(&d);
      r = unpack_mem(d.root, b.p, b.len, &o, &diff_id, &err);
      tap_ok(r == 0 && has_text(in_root(&d, "dir2/file7"), big),
             "%s: unpacked, 3 MiB file intact (%s)", filter_names[f], ERR_MSG(err));
      tap_is_str(diff_id, want,
                 f == F_NONE   ? "tar: diff-id is the sha256 of the tar"
                 : f == F_GZIP ? "gzip: diff-id is the sha256 of the uncompressed tar"
                               : "zstd: diff-id is the sha256 of the uncompressed tar");
      tap_ok(prog[1] >= 1 && prog[0] == b.len && !prog[2],
             "%s: progress reports compressed bytes, last %" PRIu64 " of %zu, %" PRIu64 " calls",
             filter_names[f], prog[0], b.len, prog[1]);
      nook_error_freep(&err);
      dirs_free(&d);
      free(b.p);
    }
  free(ref.p);
}

/* Two gzip members, as `cat a.gz b.gz` makes: gzip -d reads both, so does nook. */
static void test_gzip_members(void)
{
  static const struct ent ents[] = { { .path = "one", .data = "1" },
                                     { .path = "two", .data = "2" } };
  struct buf ref = build(ents, 2, ARCHIVE_FORMAT_TAR_USTAR, F_NONE);
  struct buf a = gzip_buf(ref.p, 1000), b = gzip_buf(ref.p + 1000, ref.len - 1000);
  char want[IMAGE_DIGEST_LEN + 1];
  _cleanup_free_ char *diff_id = NULL;
  struct nook_error *err = NULL;
  struct dirs d;
  int r;

  buf_add(&a, b.p, b.len);
  sha256_hex(ref.p, ref.len, want);
  dirs_make(&d);
  r = unpack_mem(d.root, a.p, a.len, &overlay, &diff_id, &err);
  tap_ok(r == 0 && has_text(in_root(&d, "two"), "2") && streq(diff_id, want),
         "concatenated gzip members (%s)", ERR_MSG(err));
  nook_error_freep(&err);
  dirs_free(&d);
  free(a.p);
  free(b.p);
  free(ref.p);
}

static void expect_fail(const struct buf *b, const char *what, const char *want1, const char *want2)
{
  struct nook_error *err = NULL;
  struct dirs d;
  int r;

  dirs_make(&d);
  r = unpack_mem(d.root, b->p, b->len, &overlay, NULL, &err);
  tap_ok(r < 0 && err && strstr(err->msg, want1) && (!want2 || strstr(err->msg, want2)),
         "%s: refused: %s", what, ERR_MSG(err));
  tap_ok(outside_untouched(&d), "%s: nothing outside the layer", what);
  nook_error_freep(&err);
  dirs_free(&d);
}

static void test_corrupt(void)
{
  struct ent ents[8] = { { 0 } };
  char names[8][16];
  _cleanup_free_ char *big = xmalloc(1 << 20);
  struct buf b;

  uint32_t x = 2463534242u;

  for (size_t i = 0; i < (1u << 20); i++) /* xorshift: incompressible */
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      big[i] = (char)(' ' + x % 94);
    }
  big[(1 << 20) - 1] = '\0';
  for (size_t i = 0; i < ARRAY_SIZE(ents); i++)
    {
      snprintf(names[i], sizeof(names[i]), "f%zu", i);
      ents[i] = (struct ent){ .path = names[i], .data = big };
    }
  b = build(ents, ARRAY_SIZE(ents), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_GZIP);
  b.len /= 2;
  expect_fail(&b, "truncated gzip", "gzip: unexpected end of stream", "layer entry `f");
  b.len *= 2;
  for (size_t i = b.len / 3; i < b.len / 3 + 64; i++)
    b.p[i] ^= 0x5a;
  expect_fail(&b, "corrupt gzip", "gzip: corrupt stream", NULL);
  free(b.p);

  b = build(ents, ARRAY_SIZE(ents), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_ZSTD);
  b.len = b.len * 2 / 3;
  expect_fail(&b, "truncated zstd", "zstd: unexpected end of stream", "layer entry `f");
  free(b.p);

  b = (struct buf){ 0 };
  for (size_t i = 0; i < 4096; i++)
    buf_add(&b, &big[i * 7], 1);
  expect_fail(&b, "garbage", "layer: ", "unrecognized archive format");
  b.len = 0;
  expect_fail(&b, "empty input", "layer: ", NULL);
  b.len = 2;
  memcpy(b.p, "\x1f\x8b", 2);
  expect_fail(&b, "a gzip magic and nothing else", "gzip: unexpected end of stream", NULL);
  free(b.p);
}

/* ---- hostile layers ------------------------------------------------------------------------ */

static void hostile(const char *what, const struct ent *ents, size_t n, const char *want1,
                    const char *want2)
{
  struct buf b = build(ents, n, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_GZIP);
  expect_fail(&b, what, want1, want2);
  free(b.p);
}

/* What libarchive's writer will not make: headers written by hand, after a pax header with
 * PAX when not NULL, followed by one block of data when DATA. */
static void test_raw(void)
{
  static const struct
  {
    const char *what, *name;
    char type;
    const char *size, *pax;
    bool data;
    const char *want1, *want2;
  } cases[] = {
    { "an empty name", "", '0', "00000000000", NULL, false, "layer entry ``: empty name", NULL },
    { "a file larger than the stream", "big", '0', "77777777777", NULL, true,
      "layer entry `big`: ", "truncated" },
    { "a base-256 size of 2^63", "huge", '0', "\x80\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff", NULL,
      false, "layer entry `huge`: ", "overflow" },
    { "a pax size of 10^20", "paxbig", '0', "00000000001", "29 size=99999999999999999999\n", true,
      "layer entry `paxbig`: ", "overflow" },
    { "a file as the root", ".", '0', "00000000000", NULL, false,
      "layer entry `.`: only a directory can be the layer's root", NULL },
    { "a symlink with an empty target", "lnk", '2', "00000000000", NULL, false,
      "`lnk`: symlink with an empty", NULL },
  };
  static const char block[512];

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
    {
      struct buf b = { 0 };
      char size[16];

      if (cases[i].pax)
        {
          snprintf(size, sizeof(size), "%011o", (unsigned)strlen(cases[i].pax));
          raw_header(&b, "PaxHeaders/x", 'x', size);
          buf_add(&b, cases[i].pax, strlen(cases[i].pax));
          buf_add(&b, block, 512 - strlen(cases[i].pax));
        }
      raw_header(&b, cases[i].name, cases[i].type, cases[i].size);
      if (cases[i].data)
        buf_add(&b, block, sizeof(block));
      raw_end(&b);
      expect_fail(&b, cases[i].what, cases[i].want1, cases[i].want2);
      free(b.p);
    }
}

static void test_hostile(void)
{
  char canary[64], canary_etc[80], longname[PATH_MAX + 16];
  struct stat before, after;

  snprintf(canary, sizeof(canary), "a/nook-canary-%d", (int)getpid());
  snprintf(canary_etc, sizeof(canary_etc), "/etc/nook-canary-%d", (int)getpid());
  {
    const struct ent e[] = { { .path = "../../etc/passwd", .data = "x" } };
    hostile("`../../etc/passwd`", e, 1, "layer entry `../../etc/passwd`: path escapes the layer",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "ok/../../sentinel/keep", .data = "x" } };
    hostile("`..` above the root", e, 1, "`ok/../../sentinel/keep`: path escapes the layer", NULL);
  }
  {
    const struct ent e[] = { { .path = "a", .type = AE_IFLNK, .symlink = "/etc" },
                             { .path = canary, .data = "x" } };
    char want[128];
    snprintf(want, sizeof(want), "layer entry `%s`: `a` is a symlink: refusing to write through it",
             canary);
    hostile("symlink to /etc, then a file through it", e, 2, want, NULL);
    tap_ok(access(canary_etc, F_OK) < 0, "symlink to /etc: nothing in /etc");
  }
  {
    const struct ent e[] = { { .path = "s", .type = AE_IFLNK, .symlink = "../sentinel" },
                             { .path = "s/keep", .data = "x" } };
    hostile("symlink to ../sentinel, then a file through it", e, 2, "`s/keep`: `s` is a symlink",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "real", .type = AE_IFDIR },
                             { .path = "in", .type = AE_IFLNK, .symlink = "real" },
                             { .path = "in/deeper/x", .data = "x" } };
    hostile("a file through a symlink inside the layer", e, 3, "`in/deeper/x`: `in` is a symlink",
            NULL);
  }
  {
    /* the symlink's target exists in the layer: a lookup in the root would succeed */
    const struct ent e[] = { { .path = "etc/sub", .type = AE_IFDIR },
                             { .path = "a", .type = AE_IFLNK, .symlink = "/etc" },
                             { .path = "a/x", .data = "x" } };
    const struct ent e2[] = { e[0], e[1], { .path = "a/sub/x", .data = "x" } };
    hostile("a file through a symlink to a directory of the layer", e, 3,
            "`a/x`: `a` is a symlink: refusing to write through it", NULL);
    hostile("a file two levels through such a symlink", e2, 3,
            "`a/sub/x`: `a` is a symlink: refusing to write through it", NULL);
  }
  {
    const struct ent e[] = { { .path = "l", .hardlink = "../sentinel/keep" } };
    hostile("hardlink to ../sentinel/keep", e, 1, "`l`: hardlink target `../sentinel/keep` escapes",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "l", .hardlink = "/etc/passwd" } };
    stat("/etc/passwd", &before);
    hostile("hardlink to /etc/passwd", e, 1, "layer entry `l`: hardlink target `/etc/passwd`",
            NULL);
    tap_ok(stat("/etc/passwd", &after) == 0 && after.st_nlink == before.st_nlink,
           "hardlink to /etc/passwd: its link count is unchanged");
  }
  {
    const struct ent e[] = { { .path = "d/f", .data = "x" },
                             { .path = "s", .type = AE_IFLNK, .symlink = "d" },
                             { .path = "l", .hardlink = "s/f" } };
    hostile("hardlink through a symlink", e, 3, "`l`: hardlink target `s/f` goes through a symlink",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "d", .type = AE_IFDIR }, { .path = "l", .hardlink = "d" } };
    hostile("hardlink to a directory", e, 2, "`l`: hardlink target `d` is not a file of this layer",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "s", .type = AE_IFLNK, .symlink = "/etc/passwd" },
                             { .path = "l", .hardlink = "s" },
                             { .path = "l2", .hardlink = "missing" } };
    hostile("hardlink to a missing file", e, 3, "`l2`: hardlink target `missing`", NULL);
  }
  {
    const struct ent e[] = { { .path = "f", .data = "x" }, { .path = "f/under", .data = "x" } };
    hostile("a file below a file", e, 2, "`f/under`: `f` is not a directory", NULL);
  }
  {
    const struct ent e[] = { { .path = "a/.wh.b", .type = AE_IFDIR },
                             { .path = "a/.wh.b/c", .data = "x" } };
    hostile("a whiteout as a directory", e, 2, "`a/.wh.b/c`: a whiteout cannot be a directory",
            NULL);
  }
  {
    const struct ent e[] = { { .path = "f", .uid = 4294967295LL, .data = "x" } };
    hostile("uid -1", e, 1, "`f`: uid 4294967295 or gid 0 out of range", NULL);
  }
  {
    const struct ent e[] = { { .path = "f", .data = "x", .xattrs = { { "bogus.name", "v" } } } };
    hostile("an xattr the kernel refuses", e, 1, "`f`: set xattr `bogus.name`", NULL);
  }
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  for (size_t i = 200; i < sizeof(longname) - 1; i += 200)
    longname[i] = '/';
  {
    const struct ent e[] = { { .path = longname, .data = "x" } };
    hostile("a name longer than PATH_MAX", e, 1, "name longer than PATH_MAX", "`nnnnnnnn");
  }

  test_raw();
}

/* A file that was in the directory before the layer is not one a hardlink may name. */
static void test_hardlink_preexisting(void)
{
  const struct ent e[] = { { .path = "l", .hardlink = "pre" } };
  struct buf b = build(e, 1, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_NONE);
  struct nook_error *err = NULL;
  struct stat st;
  struct dirs d;
  int r;

  dirs_make(&d);
  nook_write_file_atomic_at(d.root, "pre", "pre", 3, 0644, NULL);
  r = unpack_mem(d.root, b.p, b.len, &overlay, NULL, &err);
  tap_ok(r < 0 && err && strstr(err->msg, "`l`: hardlink target `pre` is not a file of this layer"),
         "hardlink to a file the layer did not write: refused: %s", ERR_MSG(err));
  tap_ok(stat(in_root(&d, "pre"), &st) == 0 && st.st_nlink == 1, "its link count is unchanged");
  nook_error_freep(&err);
  dirs_free(&d);
  free(b.p);
}

/* More than a million entries: 1001 gzip members of 1000 skipped aufs entries each. */
static void test_too_many(void)
{
  struct buf hdrs = { 0 }, member, all = { 0 }, end;
  static const char zero[1024];

  for (int i = 0; i < 1000; i++)
    raw_header(&hdrs, ".wh..wh.plnk", '5', "00000000000");
  member = gzip_buf(hdrs.p, hdrs.len);
  for (int i = 0; i < 1001; i++)
    buf_add(&all, member.p, member.len);
  end = gzip_buf(zero, sizeof(zero));
  buf_add(&all, end.p, end.len);
  expect_fail(&all, "1,001,000 entries", "layer: more than 1000000 entries", NULL);
  free(hdrs.p);
  free(member.p);
  free(all.p);
  free(end.p);
}

/* Devices need CAP_MKNOD: as nobody, the error says so. */
static void test_not_root(void)
{
  const struct ent ents[] = { { .path = "dev/x", .type = AE_IFCHR, .rdev = makedev(1, 3) } };
  struct buf b = build(ents, 1, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, F_NONE);
  char msg[512] = "";
  int p[2], status = 0;
  struct dirs d;
  pid_t pid;

  dirs_make(&d);
  chmod(in_root(&d, ""), 0777);
  if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
    return;
  if (pid == 0)
    {
      struct nook_error *err = NULL;
      static const struct image_unpack_opts o = { 0 };
      if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0
          || setresuid(65534, 65534, 65534) < 0)
        _exit(2);
      unpack_mem(d.root, b.p, b.len, &o, NULL, &err);
      nook_write_all(p[1], ERR_MSG(err), strlen(ERR_MSG(err)));
      _exit(0);
    }
  close(p[1]);
  nook_read_all(p[0], msg, sizeof(msg) - 1);
  close(p[0]);
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(msg, "layer entry `dev/x`: ")
             && strstr(msg, "CAP_MKNOD"),
         "a device node as nobody: %s", msg);
  dirs_free(&d);
  free(b.p);
}

/* Runs FN in a child where openat2 fails with ENOSYS, as before Linux 5.6; the child's TAP
 * counters come back over a pipe. */
static void without_openat2(void (*fn)(void))
{
  int p[2], status = 0, counts[2] = { 0, 0 };
  pid_t pid;

  fflush(stdout);
  if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
    return;
  if (pid == 0)
    {
      scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
      if (ctx == NULL || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) < 0
          || seccomp_load(ctx) < 0)
        _exit(2);
      printf("# without openat2\n");
      fn();
      fflush(stdout);
      counts[0] = tap_n;
      counts[1] = tap_failed;
      nook_write_all(p[1], counts, sizeof(counts));
      _exit(0);
    }
  close(p[1]);
  if (nook_read_all(p[0], counts, sizeof(counts)) == sizeof(counts))
    {
      tap_n = counts[0];
      tap_failed = counts[1];
    }
  close(p[0]);
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child without openat2 ran");
}

static void test_without_openat2(void)
{
  test_hostile();
  test_replace();
}

/* ---- loading libarchive (images/dl.c) ----------------------------------------------------- */

/* dl_open_many() of SONAME for archive_read_new and, when NAME is not NULL, NAME too: fails
 * with ERRNUM, a message containing WANT, and no pointer set. */
static void expect_dl_error(const char *soname, const char *name, int errnum, const char *want,
                            const char *what)
{
  _cleanup_error_ struct nook_error *err = NULL;
  __typeof__(archive_read_new) *read_new = NULL;
  void *other = NULL, *dl = NULL;
  int r;

  r = dl_open_many(&dl, soname, &err, (void **)&read_new, "archive_read_new",
                   name ? &other : NULL, name, NULL);
  tap_ok(r == -errnum && !dl && !read_new && !other && err && strstr(err->msg, want), "%s", what);
  printf("# %s\n", err ? err->msg : "(no error)");
}

/* A library or symbol that is missing is an error naming it, and leaves nothing set; a library
 * loaded once is not loaded again. */
static void test_dl(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  __typeof__(archive_read_new) *read_new = NULL;
  void *dl = NULL;
  int r;

  expect_dl_error("libnook-no-such-library.so.0", NULL, ELIBACC,
                  "libnook-no-such-library.so.0: cannot open shared object file",
                  "a missing library is ELIBACC, and the error names it");
  expect_dl_error(NOOK_LIBARCHIVE_SONAME, "archive_no_such_function", ELIBBAD,
                  ": undefined symbol: archive_no_such_function",
                  "a missing function is ELIBBAD, names it, and no pointer is left set");

  r = dl_open_many(&dl, NOOK_LIBARCHIVE_SONAME, &err, (void **)&read_new, "archive_read_new",
                   NULL);
  tap_ok(r == 0 && dl && read_new == sym_archive_read_new,
         "a good load fills the pointers, the functions nook's table has");
  read_new = NULL;
  r = dl_open_many(&dl, NOOK_LIBARCHIVE_SONAME, &err, (void **)&read_new, "archive_read_new",
                   NULL);
  tap_ok(r == 0 && !read_new && dl_libarchive_load(&err) == 0,
         "a loaded library is not loaded again");
}

int main(void)
{
  archive_writer_load();
  test_dl();
  if (geteuid() != 0)
    {
      printf("ok %d # SKIP layer unpack tests need root (owners, devices, trusted.* xattrs)\n",
             ++tap_n);
      return tap_done();
    }
  test_kinds();
  test_owner_not_kept();
  test_long_names();
  test_whiteouts();
  test_replace();
  test_diff_id();
  test_gzip_members();
  test_corrupt();
  test_hostile();
  test_hardlink_preexisting();
  test_too_many();
  test_not_root();
  without_openat2(test_without_openat2);
  return tap_done();
}
