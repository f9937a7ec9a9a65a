/* image_import: OCI image layouts, oci-archives, docker-archives and plain rootfs tarballs.
 *
 * Whatever the kind, the blobs are verified on their way into the store (against their
 * names, their descriptors, or the diff-ids of the config), every layer is unpacked, and only
 * then is the image named: a name always stands for a complete, runnable image.  The store
 * lock is held shared throughout, so prune cannot take blobs that are not named yet.
 *
 * Names: --name when given (then the archive must hold one image); else the archive's own:
 * RepoTags of a docker-archive, org.opencontainers.image.ref.name of an OCI index when it is
 * a reference with a repository ("docker.io/library/busybox:latest", "busybox:1.36").  A
 * ref.name without '/' and ':' ("latest", as `skopeo copy ... oci:DIR:latest` writes) is only
 * a tag, as the image-spec describes it, and needs --name. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "images/image.h"
#include "images/store-internal.h"

#define COPY_BUF (256u << 10)
#define INDEX_MAX_DEPTH 4
#define INDEX_MAX_ENTRIES 1024

#define ROOTFS_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct import
{
  struct image_store *s;
  const char *path; /* as the user gave it */
  const char *name; /* --name, canonical */
  const struct image_progress *progress;
  int layout_fd; /* an OCI layout directory, or -1 */
  struct image_archive *archive;
  char **names; /* given so far */
};

/* ---- copying ---------------------------------------------------------------------------- */

int image_blob_copy(struct image_store *s, image_read_fn rd, void *src, const char *expected,
                    int64_t expected_size, const char *item, const struct image_progress *progress,
                    char **ret_digest, uint64_t *ret_size, struct nook_error **err)
{
  _cleanup_blob_writer_ struct image_blob_writer *w = NULL;
  _cleanup_free_ char *buf = xmalloc(COPY_BUF);
  uint64_t total = expected_size > 0 ? (uint64_t)expected_size : 0;
  int r;

  r = image_blob_writer_new(s, &w, err);
  while (r >= 0)
    {
      size_t n = 0;
      r = rd(src, buf, COPY_BUF, &n, err);
      if (r < 0 || n == 0)
        break;
      r = image_blob_writer_write(w, buf, n, err);
      if (r >= 0 && progress && progress->update)
        progress->update(progress->data, item, image_blob_writer_size(w), total);
    }
  if (r >= 0 && ret_size)
    *ret_size = image_blob_writer_size(w);
  if (r >= 0)
    r = image_blob_writer_commit(w, expected, expected_size, ret_digest, err);
  if (r >= 0 && progress && progress->done)
    progress->done(progress->data, item);
  return r;
}

static int fd_reader(void *src, void *buf, size_t len, size_t *ret_n, struct nook_error **err)
{
  ssize_t n;

  do
    n = read(*(int *)src, buf, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(err, errno, "read");
  *ret_n = (size_t)n;
  return 0;
}

/* ---- blobs an image needs --------------------------------------------------------------- */

/* Makes sure the blob of D is in the store with the size D says: already there, stored from
 * the archive, or copied (and verified) from the layout directory. */
static int fetch_blob(struct import *im, const struct image_descriptor *d, const char *what,
                      struct nook_error **err)
{
  _cleanup_free_ char *p = NULL;
  _cleanup_close_ int fd = -1;
  char item[40];
  uint64_t size = 0;
  int r;

  if (!image_blob_exists(im->s, d->digest))
    {
      if (im->layout_fd < 0)
        return nook_error_setx(err, ENOENT, "`%s`: %s `%s` is not in the archive", im->path, what,
                               d->digest);
      p = xasprintf("blobs/sha256/%s", d->digest + 7);
      fd = openat(im->layout_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
      if (fd < 0)
        return nook_error_set(err, errno, "`%s`: %s `%s`", im->path, what, p);
      snprintf(item, sizeof item, "blob %.12s", d->digest + 7);
      r = image_blob_copy(im->s, fd_reader, &fd, d->digest, d->size, item, im->progress, NULL,
                          NULL, err);
      if (r < 0)
        return nook_error_prefix(err, "`%s`: %s", im->path, what);
    }
  r = image_blob_size(im->s, d->digest, &size, err);
  if (r >= 0 && size != (uint64_t)d->size)
    r = nook_error_setx(err, EINVAL, "`%s`: %s `%s` has %llu bytes, its descriptor says %lld",
                        im->path, what, d->digest, (unsigned long long)size, (long long)d->size);
  return r;
}

static int canonical_name(const char *s, char **ret, struct nook_error **err)
{
  struct image_ref *ref = NULL;
  int r = image_ref_parse(s, &ref, err);

  if (r < 0)
    return r;
  *ret = image_ref_format(ref);
  image_ref_free(ref);
  return 0;
}

/* Unpacks the layers of the manifest DIGEST (M, with config C), then gives it NAMES. */
static int finish_image(struct import *im, const char *digest, const struct image_manifest *m,
                        const struct image_config *c, char *const *names, struct nook_error **err)
{
  int r;

  if (c->n_diff_ids != m->n_layers)
    return nook_error_setx(err, EINVAL, "`%s`: image `%s` has %zu layers but its config lists %zu diff-ids",
                           im->path, digest, m->n_layers, c->n_diff_ids);
  for (size_t i = 0; i < m->n_layers; i++)
    {
      r = image_layer_ensure(im->s, &m->layers[i], c->diff_ids[i], im->progress, err);
      if (r < 0)
        return nook_error_prefix(err, "`%s`", im->path);
    }
  for (size_t i = 0; names[i]; i++)
    {
      r = image_store_tag(im->s, names[i], digest, err);
      if (r < 0)
        return r;
      if (!nook_strv_contains(im->names, names[i]))
        nook_strv_push(&im->names, names[i]);
    }
  return 0;
}

/* The manifest D (fetched), its config and layers (fetched), unpacked and named. */
static int import_manifest(struct import *im, const struct image_descriptor *d,
                           char *const *names, struct nook_error **err)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  int r;

  r = image_manifest_load(im->s, d->digest, &m, NULL, err);
  if (r < 0)
    return nook_error_prefix(err, "`%s`", im->path);
  r = fetch_blob(im, &m->config, "config", err);
  for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
    r = fetch_blob(im, &m->layers[i], "layer", err);
  if (r >= 0 && (r = image_manifest_load(im->s, d->digest, NULL, &c, err)) < 0)
    nook_error_prefix(err, "`%s`", im->path);
  if (r >= 0)
    r = finish_image(im, d->digest, m, c, names, err);
  image_manifest_free(m);
  image_config_free(c);
  return r;
}

/* ---- OCI layouts and oci-archives ------------------------------------------------------- */

/* Follows D through nested indexes (a multi-platform image) to this host's manifest. */
static int select_manifest(struct import *im, const struct image_descriptor *d,
                           struct image_index **keep, const struct image_descriptor **ret,
                           struct nook_error **err)
{
  for (int depth = 0; depth < INDEX_MAX_DEPTH; depth++)
    {
      _cleanup_free_ char *json = NULL;
      struct image_index *idx = NULL;
      size_t len = 0;
      int r;

      r = fetch_blob(im, d, "manifest", err);
      if (r >= 0)
        r = image_blob_read(im->s, d->digest, IMAGE_JSON_MAX, &json, &len, err);
      if (r < 0)
        return r;
      if (!streq(image_json_kind(json, len), IMAGE_MT_OCI_INDEX))
        {
          *ret = d;
          return 0;
        }
      r = image_index_parse(json, len, &idx, err);
      if (r < 0)
        return nook_error_prefix(err, "`%s`: `%s`", im->path, d->digest);
      /* D may point into the index kept so far: it goes only now. */
      image_index_free(*keep);
      *keep = idx;
      d = image_index_select(idx, err);
      if (!d)
        return nook_error_prefix(err, "`%s`", im->path);
    }
  return nook_error_setx(err, EINVAL, "`%s`: indexes nested deeper than %d levels", im->path,
                         INDEX_MAX_DEPTH);
}

/* The name for an index entry with the annotation REF_NAME (may be NULL). */
static int oci_name(struct import *im, const char *ref_name, char **ret, struct nook_error **err)
{
  if (im->name)
    {
      *ret = xstrdup(im->name);
      return 0;
    }
  if (!ref_name)
    return nook_error_setx(err, EINVAL, "`%s` has no name (org.opencontainers.image.ref.name), use --name",
                           im->path);
  if (!strpbrk(ref_name, "/:"))
    return nook_error_setx(err, EINVAL, "`%s`: the image's name `%s` is only a tag, use --name REPOSITORY[:TAG]",
                           im->path, ref_name);
  if (canonical_name(ref_name, ret, err) < 0)
    return nook_error_prefix(err, "`%s`: org.opencontainers.image.ref.name", im->path);
  return 0;
}

/* The entries of IDX grouped by ref.name: each group is one image (several entries: one per
 * platform).  Returns the number of groups; *ret_first[g] is the first entry of group g. */
static size_t index_groups(const struct image_index *idx, size_t *first)
{
  size_t n = 0;

  for (size_t i = 0; i < idx->n_manifests; i++)
    {
      bool seen = false;
      for (size_t g = 0; g < n && !seen; g++)
        seen = streq(idx->manifests[first[g]].ref_name, idx->manifests[i].ref_name)
               || (!idx->manifests[first[g]].ref_name && !idx->manifests[i].ref_name);
      if (!seen)
        first[n++] = i;
    }
  return n;
}

/* Imports the image of group G (the entries named like FIRST) under NAME. */
static int import_group(struct import *im, const struct image_index *idx,
                        const struct image_descriptor *first, char *name, struct nook_error **err)
{
  struct image_index sub = { .manifests = xcalloc(idx->n_manifests, sizeof *idx->manifests) };
  struct image_index *nested = NULL;
  const struct image_descriptor *d = NULL, *m = NULL;
  char *names[] = { name, NULL };
  int r = 0;

  for (size_t i = 0; i < idx->n_manifests; i++)
    if (streq(idx->manifests[i].ref_name, first->ref_name)
        || (!first->ref_name && !idx->manifests[i].ref_name))
      sub.manifests[sub.n_manifests++] = idx->manifests[i];
  d = sub.n_manifests == 1 ? &sub.manifests[0] : image_index_select(&sub, err);
  if (!d)
    r = nook_error_prefix(err, "`%s`", im->path);
  if (r >= 0)
    r = select_manifest(im, d, &nested, &m, err);
  if (r >= 0)
    r = import_manifest(im, m, names, err);
  image_index_free(nested);
  free(sub.manifests); /* the entries belong to idx */
  return r;
}

static int import_index(struct import *im, const char *json, size_t len, struct nook_error **err)
{
  struct image_index *idx = NULL;
  _cleanup_free_ size_t *first = NULL;
  _cleanup_strv_ char **names = NULL;
  size_t n;
  int r;

  r = image_index_parse(json, len, &idx, err);
  if (r < 0)
    return nook_error_prefix(err, "`%s`: index.json", im->path);
  if (idx->n_manifests > INDEX_MAX_ENTRIES)
    {
      image_index_free(idx);
      return nook_error_setx(err, E2BIG, "`%s`: index.json lists more than %d manifests", im->path,
                             INDEX_MAX_ENTRIES);
    }
  first = xcalloc(idx->n_manifests + 1, sizeof *first);
  n = index_groups(idx, first);
  if (n == 0)
    r = nook_error_setx(err, EINVAL, "`%s`: index.json lists no image", im->path);
  else if (n > 1 && im->name)
    r = nook_error_setx(err, EINVAL, "`%s` holds %zu images: --name can name only one", im->path, n);
  /* Every name is checked before anything is stored. */
  names = xcalloc(n + 1, sizeof *names);
  for (size_t g = 0; r >= 0 && g < n; g++)
    r = oci_name(im, idx->manifests[first[g]].ref_name, &names[g], err);
  if (r >= 0 && im->archive)
    {
      image_archive_want_blobs(im->archive);
      r = image_archive_store(im->archive, im->s, im->progress, err);
    }
  for (size_t g = 0; r >= 0 && g < n; g++)
    r = import_group(im, idx, &idx->manifests[first[g]], names[g], err);
  image_index_free(idx);
  return r;
}

static int import_layout(struct import *im, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *json = NULL;
  size_t len = 0;
  int r;

  fd = open(im->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", im->path);
  if (faccessat(fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return nook_error_setx(err, EINVAL, "`%s` is not an OCI image layout: it has no `oci-layout`",
                           im->path);
  r = nook_read_file_at(fd, "index.json", IMAGE_JSON_MAX, &json, &len, err);
  if (r < 0)
    return nook_error_prefix(err, "`%s`", im->path);
  im->layout_fd = fd;
  r = import_index(im, json, len, err);
  im->layout_fd = -1;
  return r;
}

/* ---- docker-archives -------------------------------------------------------------------- */

struct docker_image
{
  const char *config;  /* member names, in the parsed manifest.json */
  const char **layers;
  size_t n_layers;
  char **names;
};

static void docker_images_free(struct docker_image *d, size_t n)
{
  for (size_t i = 0; d && i < n; i++)
    {
      free(d[i].layers);
      nook_strv_free(d[i].names);
    }
  free(d);
}

/* A member name from manifest.json, refused when it is absolute or has a ".." component:
 * it would name nothing inside the archive. */
static int docker_member(struct import *im, yajl_val v, const char *field,
                         struct image_archive_member **ret, struct nook_error **err)
{
  const char *name = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
  struct image_archive_member *m;
  size_t len;

  if (!name)
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s: expected a string", im->path, field);
  len = strlen(name);
  if (name[0] == '/' || streq(name, "..") || nook_has_prefix(name, "../") || strstr(name, "/../")
      || (len >= 3 && streq(name + len - 3, "/..")))
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s: `%s` is not a name inside the archive",
                           im->path, field, name);
  m = image_archive_find(im->archive, name);
  if (!m)
    return nook_error_setx(err, ENOENT, "`%s`: manifest.json: %s: `%s` is not in the archive",
                           im->path, field, name);
  m->wanted = true;
  *ret = m;
  return 0;
}

static int docker_names(struct import *im, yajl_val tags, const char *field, char ***ret,
                        struct nook_error **err)
{
  _cleanup_strv_ char **out = NULL;

  if (im->name)
    nook_strv_push(&out, im->name);
  else if (tags && YAJL_IS_ARRAY(tags))
    for (size_t i = 0; i < tags->u.array.len; i++)
      {
        yajl_val t = tags->u.array.values[i];
        char *canon = NULL;
        if (!YAJL_IS_STRING(t) || canonical_name(YAJL_GET_STRING(t), &canon, err) < 0)
          {
            nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s.RepoTags[%zu]: expected a reference",
                            im->path, field, i);
            return -EINVAL;
          }
        if (!nook_strv_contains(out, canon))
          nook_strv_push(&out, canon);
        free(canon);
      }
  else if (tags && !YAJL_IS_NULL(tags))
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s.RepoTags: expected an array",
                           im->path, field);
  if (!out)
    return nook_error_setx(err, EINVAL, "`%s` has no name (RepoTags in manifest.json), use --name",
                           im->path);
  *ret = TAKE_PTR(out);
  return 0;
}

static int docker_entry(struct import *im, yajl_val v, size_t i, struct docker_image *d,
                        struct nook_error **err)
{
  _cleanup_free_ char *field = xasprintf("[%zu]", i);
  struct image_archive_member *m = NULL;
  yajl_val layers = nook_json_get(v, "Layers");
  int r;

  if (!YAJL_IS_OBJECT(v))
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s: expected an object", im->path, field);
  r = docker_names(im, nook_json_get(v, "RepoTags"), field, &d->names, err);
  if (r < 0)
    return r;
  {
    _cleanup_free_ char *f = xasprintf("%s.Config", field);
    r = docker_member(im, nook_json_get(v, "Config"), f, &m, err);
    if (r < 0)
      return r;
    d->config = m->name;
  }
  if (!layers || !YAJL_IS_ARRAY(layers))
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: %s.Layers: expected an array",
                           im->path, field);
  d->layers = xcalloc(layers->u.array.len + 1, sizeof *d->layers);
  for (size_t j = 0; j < layers->u.array.len; j++)
    {
      _cleanup_free_ char *f = xasprintf("%s.Layers[%zu]", field, j);
      r = docker_member(im, layers->u.array.values[j], f, &m, err);
      if (r < 0)
        return r;
      d->layers[d->n_layers++] = m->name;
    }
  return 0;
}

static int docker_parse(struct import *im, yajl_val tree, struct docker_image **ret, size_t *ret_n,
                        struct nook_error **err)
{
  struct docker_image *out;
  size_t n;
  int r = 0;

  if (!YAJL_IS_ARRAY(tree))
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json: expected an array", im->path);
  n = tree->u.array.len;
  if (n == 0)
    return nook_error_setx(err, EINVAL, "`%s`: manifest.json lists no image", im->path);
  if (n > 1 && im->name)
    return nook_error_setx(err, EINVAL, "`%s` holds %zu images: --name can name only one", im->path, n);
  out = xcalloc(n, sizeof *out);
  for (size_t i = 0; r >= 0 && i < n; i++)
    r = docker_entry(im, tree->u.array.values[i], i, &out[i], err);
  if (r < 0)
    {
      docker_images_free(out, n);
      return r;
    }
  *ret = out;
  *ret_n = n;
  return 0;
}

/* Writes an OCI manifest for CONFIG and LAYERS into the store; *ret_digest gets its digest. */
static int put_manifest(struct image_store *s, const struct image_descriptor *config,
                        const struct image_descriptor *layers, size_t n, char **ret_digest,
                        struct nook_error **err)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *json = NULL;
  size_t len = 0;

  yajl_gen_map_open(g);
  nook_json_kv_int(g, "schemaVersion", 2);
  nook_json_kv_str(g, "mediaType", IMAGE_MT_OCI_MANIFEST);
  nook_json_str(g, "config");
  image_json_descriptor(g, config);
  nook_json_str(g, "layers");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    image_json_descriptor(g, &layers[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  json = nook_json_gen_finish(g, &len);
  return image_blob_put(s, json, len, NULL, ret_digest, err);
}

/* A descriptor for a blob already in the store, its media type from its content for a layer. */
static int blob_descriptor(struct image_store *s, const char *digest, const char *media_type,
                           struct image_descriptor *d, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  uint64_t size = 0;
  int r;

  r = image_blob_size(s, digest, &size, err);
  if (r >= 0 && !media_type && (r = image_blob_open(s, digest, &fd, err)) >= 0)
    media_type = image_layer_media_type(fd);
  if (r < 0)
    return r;
  d->media_type = xstrdup(media_type);
  d->digest = xstrdup(digest);
  d->size = (int64_t)size;
  return 0;
}

static int docker_import_one(struct import *im, const struct docker_image *d,
                             struct nook_error **err)
{
  struct image_descriptor config = { 0 }, *layers = xcalloc(d->n_layers + 1, sizeof *layers);
  _cleanup_free_ char *digest = NULL;
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  int r;

  r = blob_descriptor(im->s, image_archive_find(im->archive, d->config)->digest,
                      IMAGE_MT_OCI_CONFIG, &config, err);
  for (size_t i = 0; r >= 0 && i < d->n_layers; i++)
    r = blob_descriptor(im->s, image_archive_find(im->archive, d->layers[i])->digest, NULL,
                        &layers[i], err);
  if (r >= 0)
    r = put_manifest(im->s, &config, layers, d->n_layers, &digest, err);
  if (r >= 0)
    r = image_manifest_load(im->s, digest, &m, &c, err);
  if (r < 0)
    nook_error_prefix(err, "`%s`", im->path);
  else
    r = finish_image(im, digest, m, c, d->names, err);
  image_manifest_free(m);
  image_config_free(c);
  image_descriptor_clear(&config);
  for (size_t i = 0; i < d->n_layers; i++)
    image_descriptor_clear(&layers[i]);
  free(layers);
  return r;
}

static int import_docker(struct import *im, struct nook_error **err)
{
  _cleanup_free_ char *what = xasprintf("`%s`: manifest.json", im->path);
  _cleanup_json_ yajl_val tree = NULL;
  struct docker_image *images = NULL;
  size_t n = 0;
  int r;

  r = nook_json_parse_untrusted(im->archive->manifest_json, im->archive->manifest_len,
                                IMAGE_JSON_MAX, what, &tree, err);
  if (r >= 0)
    r = docker_parse(im, tree, &images, &n, err);
  if (r >= 0)
    r = image_archive_store(im->archive, im->s, im->progress, err);
  for (size_t i = 0; r >= 0 && i < n; i++)
    r = docker_import_one(im, &images[i], err);
  docker_images_free(images, n);
  return r;
}

/* ---- plain root filesystem tarballs ----------------------------------------------------- */

/* A minimal OCI config for a root filesystem of one layer DIFF_ID. */
static char *rootfs_config(const char *diff_id, size_t *ret_len)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *now = nook_time_rfc3339();

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "created", now);
  nook_json_kv_str(g, "architecture", image_host_arch());
  nook_json_kv_str(g, "os", "linux");
  nook_json_str(g, "config");
  yajl_gen_map_open(g);
  nook_json_str(g, "Env");
  yajl_gen_array_open(g);
  nook_json_str(g, ROOTFS_PATH_ENV);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  nook_json_str(g, "rootfs");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "type", "layers");
  nook_json_str(g, "diff_ids");
  yajl_gen_array_open(g);
  nook_json_str(g, diff_id);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  nook_json_str(g, "history");
  yajl_gen_array_open(g);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "created", now);
  nook_json_kv_str(g, "created_by", "nook image import");
  yajl_gen_map_close(g);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, ret_len);
}

static int import_rootfs(struct import *im, struct nook_error **err)
{
  struct image_descriptor layer = { 0 }, config = { 0 };
  _cleanup_free_ char *diff_id = NULL, *json = NULL, *digest = NULL;
  char *names[] = { (char *)im->name, NULL };
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  int fd = im->archive->fd, r;
  size_t len = 0;
  struct stat st;

  if (!im->name)
    return nook_error_setx(err, EINVAL, "`%s` is a root filesystem tarball without a name, use --name",
                           im->path);
  if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
    return nook_error_set(err, errno, "read `%s`", im->path);
  r = image_blob_copy(im->s, fd_reader, &fd, NULL, st.st_size, "blob rootfs", im->progress,
                      &layer.digest, NULL, err);
  layer.media_type = (char *)image_layer_media_type(fd);
  layer.size = st.st_size;
  if (r >= 0)
    r = image_layer_unpack(im->s, &layer, NULL, im->progress, &diff_id, err);
  if (r >= 0)
    {
      json = rootfs_config(diff_id, &len);
      r = image_blob_put(im->s, json, len, NULL, &config.digest, err);
    }
  config.media_type = (char *)IMAGE_MT_OCI_CONFIG;
  config.size = (int64_t)len;
  if (r >= 0)
    r = put_manifest(im->s, &config, &layer, 1, &digest, err);
  if (r >= 0)
    r = image_manifest_load(im->s, digest, &m, &c, err);
  if (r < 0)
    nook_error_prefix(err, "`%s`", im->path);
  else
    r = finish_image(im, digest, m, c, names, err);
  image_manifest_free(m);
  image_config_free(c);
  free(layer.digest);
  free(config.digest);
  return r;
}

/* ---- the entry point -------------------------------------------------------------------- */

static int import_archive(struct import *im, struct nook_error **err)
{
  _cleanup_archive_ struct image_archive *a = NULL;
  int r;

  r = image_archive_scan(im->path, &a, err);
  if (r < 0)
    return r;
  im->archive = a;
  /* Without the documents of an image archive (all of its members are top-level files), a
   * tarball is a root filesystem too. */
  if (a->rootfs || (!a->manifest_json && !a->index_json && !a->oci_layout && a->n_members > 0))
    r = import_rootfs(im, err);
  else if (a->manifest_json)
    r = import_docker(im, err);
  else if (a->index_json && a->oci_layout)
    r = import_index(im, a->index_json, a->index_len, err);
  else if (a->n_members == 0)
    r = nook_error_setx(err, EINVAL, "`%s` is an empty archive", im->path);
  else
    r = nook_error_setx(err, EINVAL, "`%s` is not an image archive: it has %s but no %s", im->path,
                        a->index_json ? "index.json" : "oci-layout",
                        a->index_json ? "oci-layout" : "index.json");
  im->archive = NULL;
  return r;
}

int image_import(struct image_store *s, const char *path, const char *name,
                 const struct image_progress *progress, char ***ret_names, struct nook_error **err)
{
  _cleanup_free_ char *canon = NULL;
  struct import im = { .s = s, .path = path, .progress = progress, .layout_fd = -1 };
  bool taken = false;
  struct stat st;
  int r;

  if (name && canonical_name(name, &canon, err) < 0)
    return nook_error_prefix(err, "--name");
  im.name = canon;
  if (stat(path, &st) < 0)
    return nook_error_set(err, errno, "`%s`", path);
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
    return nook_error_setx(err, EINVAL, "`%s` is neither a file nor a directory", path);
  r = image_store_lock_shared(s, &taken, err);
  if (r < 0)
    return r;
  r = S_ISDIR(st.st_mode) ? import_layout(&im, err) : import_archive(&im, err);
  if (taken)
    image_store_unlock(s);
  if (r >= 0 && ret_names)
    *ret_names = TAKE_PTR(im.names);
  nook_strv_free(im.names);
  return r;
}
