/* Content-addressed blobs: ROOT/blobs/sha256/HEX.
 *
 * A blob is written to ROOT/tmp while it is hashed, and gets its name by rename(2) only once
 * its digest (and size) are known to be what the caller expected, so a name in blobs/ always
 * holds complete, verified content and no lock is needed: two writers of one digest write the
 * same bytes and the second rename replaces the first with an identical file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "common/util.h"
#include "images/image.h"

#define BLOB_DIR "blobs/sha256"
#define BLOB_COPY_BUF (256u << 10)

struct image_hash
{
  struct sha256_ctx ctx;
};

struct image_blob_writer
{
  struct image_store *store;
  struct image_hash hash;
  int fd;
  uint64_t size;
  char *tmp;       /* name below ROOT */
  bool resumable;  /* keep tmp on free */
};

bool image_digest_valid(const char *digest)
{
  if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != IMAGE_DIGEST_LEN)
    return false;
  for (const char *p = digest + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static void hash_hex(struct sha256_ctx *ctx, char ret[IMAGE_DIGEST_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  uint8_t d[SHA256_DIGEST_SIZE];

  sha256_digest(ctx, sizeof d, d);
  memcpy(ret, "sha256:", 7);
  for (size_t i = 0; i < sizeof d; i++)
    {
      ret[7 + 2 * i] = hex[d[i] >> 4];
      ret[7 + 2 * i + 1] = hex[d[i] & 15];
    }
  ret[IMAGE_DIGEST_LEN] = '\0';
}

void image_digest_buf(const void *data, size_t len, char ret[IMAGE_DIGEST_LEN + 1])
{
  struct sha256_ctx ctx;

  sha256_init(&ctx);
  sha256_update(&ctx, len, data);
  hash_hex(&ctx, ret);
}

struct image_hash *image_hash_new(void)
{
  struct image_hash *h = xmalloc(sizeof *h);

  sha256_init(&h->ctx);
  return h;
}

void image_hash_update(struct image_hash *h, const void *data, size_t len)
{
  sha256_update(&h->ctx, len, data);
}

void image_hash_final(struct image_hash *h, char ret[IMAGE_DIGEST_LEN + 1])
{
  hash_hex(&h->ctx, ret);
}

void image_hash_free(struct image_hash *h)
{
  free(h);
}

/* "blobs/sha256/HEX" for a valid digest, or an EINVAL error naming it. */
static int blob_path(const char *digest, char **ret, struct nook_error **err)
{
  if (!image_digest_valid(digest))
    return nook_error_setx(err, EINVAL, "`%s` is not a sha256 digest", digest ? digest : "");
  *ret = xasprintf(BLOB_DIR "/%s", digest + 7);
  return 0;
}

int image_blob_writer_new(struct image_store *s, struct image_blob_writer **ret,
                          struct nook_error **err)
{
  struct image_blob_writer *w;
  _cleanup_close_ int fd = -1;

  /* O_TMPFILE would be neater, but linkat() of it cannot replace an existing name; a named
   * temp file that rename(2) moves keeps "a second writer wins" atomic. */
  _cleanup_free_ char *tmp = xasprintf("tmp/blob-%d-XXXXXX", (int)getpid());
  _cleanup_free_ char *full = xasprintf("%s/%s", s->path, tmp);

  fd = mkostemp(full, O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "create a blob in `%s/tmp`", s->path);
  fchmod(fd, 0644);
  w = xcalloc(1, sizeof *w);
  w->store = s;
  w->fd = TAKE_FD(fd);
  w->tmp = xstrdup(full + strlen(s->path) + 1);
  sha256_init(&w->hash.ctx);
  *ret = w;
  return 0;
}

/* Opens and locks ROOT/TMP (a partial blob), making sure the file locked is still the one
 * with that name: a holder of the lock that finished has renamed or removed it. */
static int partial_open_locked(struct image_store *s, const char *digest, const char *tmp,
                               int *ret_fd, struct nook_error **err)
{
  for (int tries = 0; tries < 10; tries++)
    {
      _cleanup_close_ int fd = -1;
      struct stat st_fd, st_name;

      if (image_blob_exists(s, digest))
        return nook_error_setx(err, EEXIST, "blob `%s` is in the store already", digest);
      fd = openat(s->dirfd, tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0)
        return nook_error_set(err, errno, "open `%s/%s`", s->path, tmp);
      if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        {
          if (errno == EWOULDBLOCK)
            return nook_error_setx(err, EBUSY, "blob `%s` is being written by another process",
                                   digest);
          return nook_error_set(err, errno, "lock `%s/%s`", s->path, tmp);
        }
      if (fstat(fd, &st_fd) < 0)
        return nook_error_set(err, errno, "stat `%s/%s`", s->path, tmp);
      if (fstatat(s->dirfd, tmp, &st_name, AT_SYMLINK_NOFOLLOW) < 0
          || st_fd.st_ino != st_name.st_ino || st_fd.st_dev != st_name.st_dev)
        continue;
      if (image_blob_exists(s, digest))
        {
          /* Committed by another process after the first check: this file is a new one. */
          unlinkat(s->dirfd, tmp, 0);
          return nook_error_setx(err, EEXIST, "blob `%s` is in the store already", digest);
        }
      *ret_fd = TAKE_FD(fd);
      return 0;
    }
  return nook_error_setx(err, EBUSY, "blob `%s`: its partial file keeps changing", digest);
}

int image_blob_writer_resume(struct image_store *s, const char *digest,
                             struct image_blob_writer **ret, uint64_t *ret_offset,
                             struct nook_error **err)
{
  _cleanup_free_ char *tmp = NULL;
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *buf = NULL;
  struct image_blob_writer *w;
  uint64_t size = 0;
  struct sha256_ctx ctx;
  int r;

  if (!image_digest_valid(digest))
    return nook_error_setx(err, EINVAL, "`%s` is not a sha256 digest", digest ? digest : "");
  tmp = xasprintf("tmp/partial-%s", digest + 7);
  r = partial_open_locked(s, digest, tmp, &fd, err);
  if (r < 0)
    return r;
  sha256_init(&ctx);
  buf = xmalloc(BLOB_COPY_BUF);
  for (;;)
    {
      ssize_t n = read(fd, buf, BLOB_COPY_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nook_error_set(err, errno, "read `%s/%s`", s->path, tmp);
      if (n == 0)
        break;
      sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
      size += (uint64_t)n;
    }
  w = xcalloc(1, sizeof *w);
  w->store = s;
  w->fd = TAKE_FD(fd);
  w->tmp = TAKE_PTR(tmp);
  w->hash.ctx = ctx;
  w->size = size;
  w->resumable = true;
  *ret = w;
  *ret_offset = size;
  return 0;
}

int image_blob_writer_write(struct image_blob_writer *w, const void *data, size_t len,
                            struct nook_error **err)
{
  if (nook_write_all(w->fd, data, len) < 0)
    return nook_error_set(err, errno, "write `%s/%s`", w->store->path, w->tmp);
  sha256_update(&w->hash.ctx, len, data);
  w->size += len;
  return 0;
}

uint64_t image_blob_writer_size(const struct image_blob_writer *w)
{
  return w->size;
}

int image_blob_writer_reset(struct image_blob_writer *w, struct nook_error **err)
{
  if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
    return nook_error_set(err, errno, "truncate `%s/%s`", w->store->path, w->tmp);
  sha256_init(&w->hash.ctx);
  w->size = 0;
  return 0;
}

int image_blob_writer_commit(struct image_blob_writer *w, const char *expected,
                             int64_t expected_size, char **ret_digest, struct nook_error **err)
{
  char digest[IMAGE_DIGEST_LEN + 1];
  _cleanup_free_ char *name = NULL;
  int r;

  hash_hex(&w->hash.ctx, digest);
  if ((expected && strcmp(expected, digest) != 0)
      || (expected_size >= 0 && (uint64_t)expected_size != w->size))
    {
      unlinkat(w->store->dirfd, w->tmp, 0);
      w->resumable = false;
      if (expected_size >= 0 && (uint64_t)expected_size != w->size)
        return nook_error_setx(err, EINVAL, "blob `%s`: size mismatch: expected %lld bytes, got %llu",
                               expected ? expected : digest, (long long)expected_size,
                               (unsigned long long)w->size);
      return nook_error_setx(err, EINVAL, "blob `%s`: digest mismatch: content is `%s`", expected,
                             digest);
    }
  r = blob_path(digest, &name, err);
  if (r < 0)
    return r;
  if (fdatasync(w->fd) < 0)
    return nook_error_set(err, errno, "sync `%s/%s`", w->store->path, w->tmp);
  if (renameat(w->store->dirfd, w->tmp, w->store->dirfd, name) < 0)
    return nook_error_set(err, errno, "rename `%s` to `%s/%s`", w->tmp, w->store->path, name);
  w->resumable = false;
  free(w->tmp);
  w->tmp = NULL;
  if (ret_digest)
    *ret_digest = xstrdup(digest);
  return 0;
}

void image_blob_writer_free(struct image_blob_writer *w)
{
  if (!w)
    return;
  /* An empty partial download has nothing to resume: it would only be litter.  It goes while
   * its lock is held; a pull that opens the name next makes a new file. */
  if (w->tmp && (!w->resumable || w->size == 0))
    unlinkat(w->store->dirfd, w->tmp, 0);
  if (w->fd >= 0)
    close(w->fd);
  free(w->tmp);
  free(w);
}

int image_blob_put(struct image_store *s, const void *data, size_t len, const char *expected,
                   char **ret_digest, struct nook_error **err)
{
  _cleanup_blob_writer_ struct image_blob_writer *w = NULL;
  int r;

  r = image_blob_writer_new(s, &w, err);
  if (r < 0)
    return r;
  r = image_blob_writer_write(w, data, len, err);
  if (r < 0)
    return r;
  return image_blob_writer_commit(w, expected, -1, ret_digest, err);
}

int image_blob_put_fd(struct image_store *s, int fd, const char *expected, int64_t expected_size,
                      char **ret_digest, struct nook_error **err)
{
  _cleanup_blob_writer_ struct image_blob_writer *w = NULL;
  _cleanup_free_ char *buf = xmalloc(BLOB_COPY_BUF);
  int r;

  r = image_blob_writer_new(s, &w, err);
  if (r < 0)
    return r;
  for (;;)
    {
      ssize_t n = read(fd, buf, BLOB_COPY_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nook_error_set(err, errno, "read a blob to store");
      if (n == 0)
        break;
      r = image_blob_writer_write(w, buf, (size_t)n, err);
      if (r < 0)
        return r;
    }
  return image_blob_writer_commit(w, expected, expected_size, ret_digest, err);
}

bool image_blob_exists(struct image_store *s, const char *digest)
{
  _cleanup_free_ char *name = NULL;

  if (blob_path(digest, &name, NULL) < 0)
    return false;
  return faccessat(s->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int image_blob_open(struct image_store *s, const char *digest, int *ret_fd, struct nook_error **err)
{
  _cleanup_free_ char *name = NULL;
  int fd, r;

  r = blob_path(digest, &name, err);
  if (r < 0)
    return r;
  fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return nook_error_setx(err, ENOENT, "blob `%s` is not in the store", digest);
  if (fd < 0)
    return nook_error_set(err, errno, "open blob `%s`", digest);
  *ret_fd = fd;
  return 0;
}

int image_blob_read(struct image_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *data = NULL;
  char actual[IMAGE_DIGEST_LEN + 1];
  size_t len = 0;
  int r;

  r = image_blob_open(s, digest, &fd, err);
  if (r < 0)
    return r;
  r = nook_read_fd(fd, max, &data, &len, err);
  if (r < 0)
    return nook_error_prefix(err, "blob `%s`", digest);
  image_digest_buf(data, len, actual);
  if (strcmp(actual, digest) != 0)
    return nook_error_setx(err, EIO, "blob `%s` is corrupt: its content is `%s`", digest, actual);
  *ret = TAKE_PTR(data);
  if (ret_len)
    *ret_len = len;
  return 0;
}

int image_blob_size(struct image_store *s, const char *digest, uint64_t *ret, struct nook_error **err)
{
  _cleanup_free_ char *name = NULL;
  struct stat st;
  int r;

  r = blob_path(digest, &name, err);
  if (r < 0)
    return r;
  if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return nook_error_setx(err, ENOENT, "blob `%s` is not in the store", digest);
      return nook_error_set(err, errno, "stat blob `%s`", digest);
    }
  *ret = (uint64_t)st.st_size;
  return 0;
}

int image_blob_remove(struct image_store *s, const char *digest, struct nook_error **err)
{
  _cleanup_free_ char *name = NULL;
  int r;

  r = blob_path(digest, &name, err);
  if (r < 0)
    return r;
  if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "remove blob `%s`", digest);
  return 0;
}
