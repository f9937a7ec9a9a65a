/* Unpacked layers: ROOT/layers/HEX/diff, keyed by diff-id.
 *
 * A layer is unpacked into tmp/layer-XXXXXX/diff, its diff-id checked, the filesystem synced,
 * and tmp/layer-XXXXXX renamed to layers/HEX with RENAME_NOREPLACE, so that the name only ever
 * appears on a complete layer.  Two importers of one layer both unpack it; the second rename
 * fails with EEXIST and that importer discards its copy: the layers are identical. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "images/store-internal.h"

const char *image_layer_media_type(int fd)
{
  unsigned char m[4] = { 0 };
  ssize_t n = pread(fd, m, sizeof m, 0);

  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
    return IMAGE_MT_OCI_LAYER_GZIP;
  if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
    return IMAGE_MT_OCI_LAYER_ZSTD;
  return IMAGE_MT_OCI_LAYER;
}

static bool layer_exists(struct image_store *s, const char *diff_id)
{
  _cleanup_free_ char *p = xasprintf("layers/%s/diff", diff_id + 7);

  return faccessat(s->dirfd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

struct layer_progress
{
  const struct image_progress *progress;
  const char *item;
  uint64_t total;
};

static void layer_progress_update(void *data, uint64_t done)
{
  struct layer_progress *lp = data;

  lp->progress->update(lp->progress->data, lp->item, done, lp->total);
}

/* Gives the unpacked layer in ROOT/TMP its name layers/HEX(DIFF_ID); when another importer
 * was first, ours is the one to discard (the caller does, as for a failure). */
static int layer_publish(struct image_store *s, const char *tmp, const char *diff_id,
                         bool *ret_published, struct nook_error **err)
{
  _cleanup_free_ char *target = xasprintf("layers/%s", diff_id + 7);
  int r = renameat2(s->dirfd, tmp, s->dirfd, target, RENAME_NOREPLACE);

  if (r < 0 && errno == EINVAL)
    {
      /* A filesystem without RENAME_NOREPLACE: renaming onto a non-empty directory fails
       * anyway, so only an empty one could be replaced, which no importer leaves. */
      r = renameat(s->dirfd, tmp, s->dirfd, target);
    }
  if (r < 0 && (errno == EEXIST || errno == ENOTEMPTY))
    {
      *ret_published = false;
      return 0;
    }
  if (r < 0)
    return nook_error_set(err, errno, "rename `%s` to `%s/%s`", tmp, s->path, target);
  *ret_published = true;
  return 0;
}

/* Unpacks the blob of LAYER into tmp/layer-XXXXXX/diff; *ret_tmp gets the directory (below
 * ROOT) even on failure, for the caller to remove. */
static int layer_unpack_tmp(struct image_store *s, const struct image_descriptor *layer,
                            bool whiteouts, const struct image_progress *progress, char **ret_tmp,
                            char **ret_diff_id, struct nook_error **err)
{
  _cleanup_free_ char *full = xasprintf("%s/tmp/layer-XXXXXX", s->path), *diff = NULL;
  _cleanup_close_ int fd = -1, dfd = -1;
  struct image_unpack_opts opts = { .overlay_whiteouts = whiteouts, .keep_owner = geteuid() == 0 };
  char item[32];
  struct layer_progress lp = { progress, item, (uint64_t)(layer->size > 0 ? layer->size : 0) };
  int r;

  r = image_blob_open(s, layer->digest, &fd, err);
  if (r < 0)
    return r;
  if (!mkdtemp(full))
    return nook_error_set(err, errno, "create a directory in `%s/tmp`", s->path);
  *ret_tmp = xstrdup(full + strlen(s->path) + 1);
  diff = xasprintf("%s/diff", *ret_tmp);
  if (mkdirat(s->dirfd, diff, 0755) < 0)
    return nook_error_set(err, errno, "create `%s/%s`", s->path, diff);
  dfd = openat(s->dirfd, diff, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, diff);
  snprintf(item, sizeof item, "layer %.12s", layer->digest + 7);
  if (progress && progress->update)
    {
      opts.progress = layer_progress_update;
      opts.progress_data = &lp;
    }
  r = image_unpack(fd, dfd, &opts, ret_diff_id, err);
  if (r < 0)
    return nook_error_prefix(err, "layer `%s`", layer->digest);
  if (syncfs(dfd) < 0)
    return nook_error_set(err, errno, "sync `%s/%s`", s->path, diff);
  if (progress && progress->done)
    progress->done(progress->data, item);
  return 0;
}

int image_layer_unpack(struct image_store *s, const struct image_descriptor *layer,
                       const char *diff_id, const struct image_progress *progress,
                       char **ret_diff_id, struct nook_error **err)
{
  _cleanup_free_ char *tmp = NULL, *got = NULL;
  bool published = false;
  int r;

  if (diff_id && !image_digest_valid(diff_id))
    return nook_error_setx(err, EINVAL, "layer `%s`: diff-id `%s` is not a sha256 digest",
                           layer->digest, diff_id);
  if (diff_id && layer_exists(s, diff_id))
    {
      if (ret_diff_id)
        *ret_diff_id = xstrdup(diff_id);
      return 0;
    }
  r = layer_unpack_tmp(s, layer, diff_id != NULL, progress, &tmp, &got, err);
  if (r >= 0 && diff_id && !streq(got, diff_id))
    r = nook_error_setx(err, EINVAL, "layer `%s`: diff-id mismatch: the config says `%s`, the content is `%s`",
                        layer->digest, diff_id, got);
  if (r >= 0)
    r = layer_publish(s, tmp, got, &published, err);
  if (tmp && !published)
    nook_rm_rf_at(s->dirfd, tmp, NULL);
  if (r < 0)
    return r;
  if (ret_diff_id)
    *ret_diff_id = TAKE_PTR(got);
  return 0;
}

int image_layer_ensure(struct image_store *s, const struct image_descriptor *layer,
                       const char *diff_id, const struct image_progress *progress,
                       struct nook_error **err)
{
  if (!diff_id)
    return nook_error_setx(err, EINVAL, "layer `%s`: no diff-id", layer->digest);
  return image_layer_unpack(s, layer, diff_id, progress, NULL, err);
}
