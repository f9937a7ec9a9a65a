/* image_export: an image as an oci-archive (oci-layout, index.json, blobs/sha256/...), as
 * `podman save --format oci-archive` writes it: the index's one entry carries the image's
 * canonical name in org.opencontainers.image.ref.name, so that an import (nook's, podman's,
 * skopeo's) names it again.  Blobs are verified as they are copied; the archive is written to
 * FILE.tmp and renamed to FILE when complete.  Members have mtime 0: exports of one image are
 * identical. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "images/dl-archive.h"
#include "images/image.h"
#include "images/store-internal.h"

#define EXPORT_BUF (256u << 10)

struct export
{
  struct image_store *s;
  const char *file;
  struct archive *ar;
};

static int export_error(struct export *ex, const char *member, struct nook_error **err)
{
  return nook_error_setx(err, EIO, "export to `%s`: `%s`: %s", ex->file, member,
                         sym_archive_error_string(ex->ar));
}

static int write_header(struct export *ex, const char *name, bool dir, int64_t size,
                        struct nook_error **err)
{
  struct archive_entry *e = sym_archive_entry_new();
  int x;

  sym_archive_entry_set_pathname(e, name);
  sym_archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
  sym_archive_entry_set_perm(e, dir ? 0755 : 0644);
  sym_archive_entry_set_size(e, dir ? 0 : size);
  sym_archive_entry_set_mtime(e, 0, 0);
  x = sym_archive_write_header(ex->ar, e);
  sym_archive_entry_free(e);
  return x == ARCHIVE_OK ? 0 : export_error(ex, name, err);
}

static int write_buf(struct export *ex, const char *name, const char *data, size_t len,
                     struct nook_error **err)
{
  int r = write_header(ex, name, false, (int64_t)len, err);

  if (r >= 0 && sym_archive_write_data(ex->ar, data, len) != (la_ssize_t)len)
    r = export_error(ex, name, err);
  return r;
}

/* Copies the blob DIGEST into blobs/sha256/HEX, checking its digest on the way. */
static int write_blob(struct export *ex, const char *digest, struct nook_error **err)
{
  _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest + 7);
  _cleanup_free_ char *buf = xmalloc(EXPORT_BUF);
  _cleanup_close_ int fd = -1;
  struct image_hash *h = NULL;
  char got[IMAGE_DIGEST_LEN + 1];
  struct stat st;
  int r;

  r = image_blob_open(ex->s, digest, &fd, err);
  if (r < 0)
    return r;
  if (fstat(fd, &st) < 0)
    return nook_error_set(err, errno, "stat blob `%s`", digest);
  r = write_header(ex, name, false, st.st_size, err);
  if (r < 0)
    return r;
  h = image_hash_new();
  for (;;)
    {
      ssize_t n = read(fd, buf, EXPORT_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        r = nook_error_set(err, errno, "read blob `%s`", digest);
      if (n <= 0)
        break;
      image_hash_update(h, buf, (size_t)n);
      if (sym_archive_write_data(ex->ar, buf, (size_t)n) != n)
        {
          r = export_error(ex, name, err);
          break;
        }
    }
  image_hash_final(h, got);
  image_hash_free(h);
  if (r >= 0 && !streq(got, digest))
    r = nook_error_setx(err, EIO, "blob `%s` is corrupt: its content is `%s`", digest, got);
  return r;
}

static int export_members(struct export *ex, const struct image_entry *e,
                          const struct image_manifest *m, struct nook_error **err)
{
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  _cleanup_free_ char *index = NULL;
  _cleanup_strv_ char **done = NULL;
  uint64_t size = 0;
  size_t len = 0;
  int r;

  r = image_blob_size(ex->s, e->manifest_digest, &size, err);
  if (r < 0)
    return r;
  {
    struct image_descriptor d = { .media_type = m->media_type ? m->media_type : (char *)IMAGE_MT_OCI_MANIFEST,
                                  .digest = e->manifest_digest, .size = (int64_t)size, .ref_name = e->name };
    index = image_json_index(&d, 1, false, &len);
  }
  if ((r = write_buf(ex, "oci-layout", layout, strlen(layout), err)) < 0
      || (r = write_buf(ex, "index.json", index, len, err)) < 0
      || (r = write_header(ex, "blobs", true, 0, err)) < 0
      || (r = write_header(ex, "blobs/sha256", true, 0, err)) < 0
      || (r = write_blob(ex, e->manifest_digest, err)) < 0
      || (r = write_blob(ex, m->config.digest, err)) < 0)
    return r;
  for (size_t i = 0; i < m->n_layers; i++)
    {
      /* A layer may be listed twice (empty layers); a tar has each blob once. */
      if (streq(m->layers[i].digest, m->config.digest) || nook_strv_contains(done, m->layers[i].digest))
        continue;
      r = write_blob(ex, m->layers[i].digest, err);
      if (r < 0)
        return r;
      nook_strv_push(&done, m->layers[i].digest);
    }
  return 0;
}

static int export_to(struct image_store *s, const struct image_entry *e, const char *file,
                     const char *tmp, struct nook_error **err)
{
  struct export ex = { s, file, NULL };
  struct image_manifest *m = NULL;
  _cleanup_close_ int fd = -1;
  int r;

  r = dl_libarchive_load(err);
  if (r >= 0)
    r = image_manifest_load(s, e->manifest_digest, &m, NULL, err);
  if (r < 0)
    return r;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
  if (fd < 0)
    r = nook_error_set(err, errno, "create `%s`", tmp);
  if (r >= 0)
    {
      ex.ar = sym_archive_write_new();
      sym_archive_write_set_format_pax_restricted(ex.ar);
      if (sym_archive_write_open_fd(ex.ar, fd) != ARCHIVE_OK)
        r = export_error(&ex, "", err);
    }
  if (r >= 0)
    r = export_members(&ex, e, m, err);
  if (r >= 0 && sym_archive_write_close(ex.ar) != ARCHIVE_OK)
    r = export_error(&ex, "", err);
  if (ex.ar)
    sym_archive_write_free(ex.ar);
  if (r >= 0 && fsync(fd) < 0)
    r = nook_error_set(err, errno, "sync `%s`", tmp);
  if (r >= 0 && rename(tmp, file) < 0)
    r = nook_error_set(err, errno, "rename `%s` to `%s`", tmp, file);
  if (r < 0 && fd >= 0)
    unlink(tmp);
  image_manifest_free(m);
  return r;
}

int image_export(struct image_store *s, const char *what, const char *file, struct nook_error **err)
{
  _cleanup_free_ char *tmp = xasprintf("%s.tmp", file);
  struct image_entry e = { 0 };
  bool taken = false;
  int r;

  r = image_store_lock_shared(s, &taken, err);
  if (r < 0)
    return r;
  r = image_store_resolve(s, what, &e, err);
  if (r >= 0)
    r = export_to(s, &e, file, tmp, err);
  if (taken)
    image_store_unlock(s);
  image_entry_clear(&e);
  return r;
}
