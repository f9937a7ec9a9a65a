/* Names: ROOT/index.json, an OCI image index with one manifest descriptor per name.
 *
 * A name is the annotation org.opencontainers.image.ref.name, a canonical reference
 * (image_ref_format).  index.json is rewritten whole (temp file, fsync, rename(2)) under
 * ROOT/index.lock, which serialises its writers.  They hold the store lock shared meanwhile,
 * as importers do for their whole run, so prune (exclusive) never sees an import's blobs
 * before its name.  Readers need no lock: they see the old file or the new one. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "images/image.h"
#include "images/store-internal.h"

#define INDEX_FILE "index.json"
#define INDEX_LOCK "index.lock"
#define REF_NAME_KEY "org.opencontainers.image.ref.name"

/* ---- index.json ------------------------------------------------------------------------- */

int image_names_read(struct image_store *s, struct image_index **ret, struct nook_error **err)
{
  _cleanup_free_ char *data = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = 0;
  int r;

  fd = openat(s->dirfd, INDEX_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    {
      *ret = xcalloc(1, sizeof **ret);
      return 0;
    }
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, INDEX_FILE);
  r = nook_read_fd(fd, IMAGE_JSON_MAX, &data, &len, err);
  if (r >= 0)
    r = image_index_parse(data, len, ret, err);
  if (r < 0)
    return nook_error_prefix(err, "`%s/%s`", s->path, INDEX_FILE);
  return 0;
}

static int cmp_desc_name(const void *a, const void *b)
{
  const struct image_descriptor *x = a, *y = b;

  return strcmp(x->ref_name, y->ref_name);
}

void image_json_descriptor(yajl_gen g, const struct image_descriptor *d)
{
  yajl_gen_map_open(g);
  if (d->media_type)
    nook_json_kv_str(g, "mediaType", d->media_type);
  nook_json_kv_str(g, "digest", d->digest);
  nook_json_kv_int(g, "size", d->size);
  if (d->ref_name)
    {
      nook_json_str(g, "annotations");
      yajl_gen_map_open(g);
      nook_json_kv_str(g, REF_NAME_KEY, d->ref_name);
      yajl_gen_map_close(g);
    }
  yajl_gen_map_close(g);
}

char *image_json_index(const struct image_descriptor *d, size_t n, bool pretty, size_t *ret_len)
{
  yajl_gen g = nook_json_gen_new(pretty);

  yajl_gen_map_open(g);
  nook_json_kv_int(g, "schemaVersion", 2);
  nook_json_kv_str(g, "mediaType", IMAGE_MT_OCI_INDEX);
  nook_json_str(g, "manifests");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    image_json_descriptor(g, &d[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, ret_len);
}

/* Replaces index.json with IDX: temp file, fsync, rename, fsync of the directory. */
static int index_write(struct image_store *s, struct image_index *idx, struct nook_error **err)
{
  _cleanup_free_ char *tmp = xasprintf("tmp/index-%d.json", (int)getpid());
  _cleanup_close_ int fd = -1, dfd = -1;
  _cleanup_free_ char *json = NULL;
  size_t len = 0;

  qsort(idx->manifests, idx->n_manifests, sizeof *idx->manifests, cmp_desc_name);
  json = image_json_index(idx->manifests, idx->n_manifests, true, &len);

  fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return nook_error_set(err, errno, "create `%s/%s`", s->path, tmp);
  if (nook_write_all(fd, json, len) < 0 || nook_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0)
    goto fail;
  if (renameat(s->dirfd, tmp, s->dirfd, INDEX_FILE) < 0)
    goto fail;
  dfd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    fsync(dfd);
  return 0;
fail:
  {
    int e = errno;
    unlinkat(s->dirfd, tmp, 0);
    return nook_error_set(err, e, "write `%s/%s`", s->path, INDEX_FILE);
  }
}

int image_store_lock_shared(struct image_store *s, bool *ret_taken, struct nook_error **err)
{
  int r;

  if (s->lockfd >= 0)
    {
      *ret_taken = false;
      return 0;
    }
  r = image_store_lock(s, false, err);
  if (r < 0)
    return r;
  *ret_taken = true;
  return 0;
}

/* Takes ROOT/index.lock (and the store lock shared, when the caller holds none) for a
 * read-modify-write of index.json.  Returns the index lock's fd. */
static int index_lock(struct image_store *s, bool *ret_store_taken, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  int r;

  r = image_store_lock_shared(s, ret_store_taken, err);
  if (r < 0)
    return r;
  fd = openat(s->dirfd, INDEX_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    r = nook_error_set(err, errno, "open `%s/%s`", s->path, INDEX_LOCK);
  while (fd >= 0 && flock(fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        r = nook_error_set(err, errno, "lock `%s/%s`", s->path, INDEX_LOCK);
        break;
      }
  if (r < 0 && *ret_store_taken)
    image_store_unlock(s);
  return r < 0 ? r : TAKE_FD(fd);
}

static void index_unlock(struct image_store *s, int fd, bool store_taken)
{
  close(fd);
  if (store_taken)
    image_store_unlock(s);
}

/* ---- tag and untag ---------------------------------------------------------------------- */

/* The media type of the manifest DIGEST as its own mediaType says (docker or OCI). */
static int manifest_media_type(struct image_store *s, const char *digest, char **ret,
                               struct nook_error **err)
{
  struct image_manifest *m = NULL;
  int r;

  r = image_manifest_load(s, digest, &m, NULL, err);
  if (r < 0)
    return r;
  *ret = xstrdup(m->media_type ? m->media_type : IMAGE_MT_OCI_MANIFEST);
  image_manifest_free(m);
  return 0;
}

static int check_canonical(const char *name, struct nook_error **err)
{
  struct image_ref *ref = NULL;
  _cleanup_free_ char *canon = NULL;
  int r;

  r = image_ref_parse(name, &ref, err);
  if (r < 0)
    return r;
  canon = image_ref_format(ref);
  image_ref_free(ref);
  if (!streq(canon, name))
    return nook_error_setx(err, EINVAL, "`%s` is not a canonical reference (`%s`)", name, canon);
  return 0;
}

int image_store_tag(struct image_store *s, const char *name, const char *manifest_digest,
                    struct nook_error **err)
{
  _cleanup_free_ char *media_type = NULL;
  struct image_index *idx = NULL;
  struct image_descriptor *d = NULL;
  bool store_taken = false;
  uint64_t size = 0;
  int r, lfd;

  r = check_canonical(name, err);
  if (r < 0)
    return r;
  lfd = index_lock(s, &store_taken, err);
  if (lfd < 0)
    return lfd;
  r = manifest_media_type(s, manifest_digest, &media_type, err);
  if (r >= 0)
    r = image_blob_size(s, manifest_digest, &size, err);
  if (r >= 0)
    r = image_names_read(s, &idx, err);
  if (r < 0)
    goto out;
  for (size_t i = 0; i < idx->n_manifests && !d; i++)
    if (streq(idx->manifests[i].ref_name, name))
      d = &idx->manifests[i];
  if (!d)
    {
      idx->manifests = xrealloc(idx->manifests, (idx->n_manifests + 1) * sizeof *idx->manifests);
      d = &idx->manifests[idx->n_manifests++];
      memset(d, 0, sizeof *d);
      d->ref_name = xstrdup(name);
    }
  free(d->media_type);
  free(d->digest);
  d->media_type = TAKE_PTR(media_type);
  d->digest = xstrdup(manifest_digest);
  d->size = (int64_t)size;
  r = index_write(s, idx, err);
out:
  image_index_free(idx);
  index_unlock(s, lfd, store_taken);
  return r;
}

int image_names_remove(struct image_store *s, const char *name, const char *manifest_digest,
                       size_t *ret_n, struct nook_error **err)
{
  struct image_index *idx = NULL;
  bool store_taken = false;
  size_t kept = 0, removed = 0;
  int r, lfd;

  lfd = index_lock(s, &store_taken, err);
  if (lfd < 0)
    return lfd;
  r = image_names_read(s, &idx, err);
  if (r < 0)
    goto out;
  for (size_t i = 0; i < idx->n_manifests; i++)
    {
      struct image_descriptor *d = &idx->manifests[i];
      bool drop = !d->ref_name || (name ? streq(d->ref_name, name) : streq(d->digest, manifest_digest));
      if (drop)
        {
          removed += d->ref_name != NULL;
          image_descriptor_clear(d);
        }
      else
        idx->manifests[kept++] = *d;
    }
  idx->n_manifests = kept;
  if (removed > 0)
    r = index_write(s, idx, err);
  if (r >= 0 && ret_n)
    *ret_n = removed;
out:
  image_index_free(idx);
  index_unlock(s, lfd, store_taken);
  return r;
}

/* ---- list ------------------------------------------------------------------------------- */

int image_manifest_load(struct image_store *s, const char *digest, struct image_manifest **ret_manifest,
                        struct image_config **ret_config, struct nook_error **err)
{
  _cleanup_free_ char *mjson = NULL, *cjson = NULL;
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  size_t mlen = 0, clen = 0;
  int r;

  r = image_blob_read(s, digest, IMAGE_JSON_MAX, &mjson, &mlen, err);
  if (r >= 0)
    r = image_manifest_parse(mjson, mlen, &m, err);
  if (r >= 0 && ret_config)
    {
      r = image_blob_read(s, m->config.digest, IMAGE_JSON_MAX, &cjson, &clen, err);
      if (r >= 0)
        r = image_config_parse(cjson, clen, &c, err);
    }
  if (r < 0)
    {
      image_manifest_free(m);
      return nook_error_prefix(err, "image `%s`", digest);
    }
  if (ret_manifest)
    *ret_manifest = m;
  else
    image_manifest_free(m);
  if (ret_config)
    *ret_config = c;
  return 0;
}

void image_entry_clear(struct image_entry *e)
{
  free(e->name);
  free(e->manifest_digest);
  free(e->config_digest);
  free(e->created);
  memset(e, 0, sizeof *e);
}

void image_entries_free(struct image_entry *e, size_t n)
{
  for (size_t i = 0; e && i < n; i++)
    image_entry_clear(&e[i]);
  free(e);
}

/* Fills the id, size and created time of an entry from its manifest and config.  A damaged
 * image is still listed (without them), so that it can be removed. */
static void entry_fill(struct image_store *s, struct image_entry *e)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;

  if (image_manifest_load(s, e->manifest_digest, &m, &c, &err) < 0)
    {
      nook_debug("%s", err->msg);
      return;
    }
  e->config_digest = xstrdup(m->config.digest);
  e->size = (uint64_t)m->config.size;
  for (size_t i = 0; i < m->n_layers; i++)
    e->size += (uint64_t)m->layers[i].size;
  e->created = c->created ? xstrdup(c->created) : NULL;
  image_manifest_free(m);
  image_config_free(c);
}

static int cmp_entry_name(const void *a, const void *b)
{
  const struct image_entry *x = a, *y = b;

  return strcmp(x->name, y->name);
}

/* The names and their manifests, sorted by name; FILL adds ids, sizes and creation times,
 * which cost a read of each manifest and config. */
static int list_entries(struct image_store *s, bool fill, struct image_entry **ret, size_t *ret_n,
                        struct nook_error **err)
{
  struct image_index *idx = NULL;
  struct image_entry *out;
  size_t n = 0;
  int r;

  r = image_names_read(s, &idx, err);
  if (r < 0)
    return r;
  out = xcalloc(idx->n_manifests + 1, sizeof *out);
  for (size_t i = 0; i < idx->n_manifests; i++)
    {
      const struct image_descriptor *d = &idx->manifests[i];
      if (!d->ref_name)
        continue;
      out[n].name = xstrdup(d->ref_name);
      out[n].manifest_digest = xstrdup(d->digest);
      if (fill)
        entry_fill(s, &out[n]);
      n++;
    }
  image_index_free(idx);
  qsort(out, n, sizeof *out, cmp_entry_name);
  *ret = out;
  *ret_n = n;
  return 0;
}

int image_store_list(struct image_store *s, struct image_entry **ret, size_t *ret_n,
                     struct nook_error **err)
{
  return list_entries(s, true, ret, ret_n, err);
}

/* ---- resolve ---------------------------------------------------------------------------- */

static void entry_copy(const struct image_entry *from, struct image_entry *to)
{
  to->name = xstrdup(from->name);
  to->manifest_digest = xstrdup(from->manifest_digest);
  to->config_digest = from->config_digest ? xstrdup(from->config_digest) : NULL;
  to->size = from->size;
  to->created = from->created ? xstrdup(from->created) : NULL;
}

/* The names WHAT may stand for, most specific first: as typed, canonical, and for a name
 * typed without a registry localhost/NAME (where podman puts the images it names itself).
 * *ret_ref gets the parsed reference, NULL when WHAT is none. */
static char **name_candidates(const char *what, struct image_ref **ret_ref)
{
  char **out = NULL;
  struct image_ref *ref = NULL;
  const char *slash = strchr(what, '/');
  size_t first = slash ? (size_t)(slash - what) : 0;

  *ret_ref = NULL;
  nook_strv_push(&out, what);
  if (image_ref_parse(what, &ref, NULL) < 0)
    return out;
  out = xrealloc(out, 4 * sizeof *out);
  out[1] = image_ref_format(ref);
  out[2] = NULL;
  if (!slash || !(memchr(what, '.', first) || memchr(what, ':', first)
                  || (first == 9 && strncmp(what, "localhost", 9) == 0)))
    {
      struct image_ref local = *ref;
      local.registry = (char *)"localhost";
      if (!slash && nook_has_prefix(ref->repository, "library/"))
        local.repository = ref->repository + 8;
      out[2] = image_ref_format(&local);
      out[3] = NULL;
    }
  *ret_ref = ref;
  return out;
}

/* NAME@DIGEST: an entry of the same repository whose manifest is DIGEST. */
static const struct image_entry *find_by_digest_ref(const struct image_entry *list, size_t n,
                                                    char *const *cands, const char *digest)
{
  for (size_t c = 1; cands[c]; c++)
    {
      size_t len = strcspn(cands[c], "@");
      for (size_t i = 0; i < n; i++)
        if (strncmp(list[i].name, cands[c], len) == 0 && strchr(":@", list[i].name[len])
            && streq(list[i].manifest_digest, digest))
          return &list[i];
    }
  return NULL;
}

static bool hex_prefix_of(const char *hex, size_t len, const char *digest)
{
  return digest && strncmp(digest + 7, hex, len) == 0;
}

/* An image id or manifest digest, whole or a prefix of at least 4 hex digits. */
static int find_by_id(const struct image_entry *list, size_t n, const char *what,
                      const struct image_entry **ret, struct nook_error **err)
{
  const char *hex = nook_has_prefix(what, "sha256:") ? what + 7 : what;
  size_t len = strlen(hex);
  const struct image_entry *hit = NULL;

  if (len < 4 || len > 64 || strspn(hex, "0123456789abcdef") != len)
    return -ENOENT;
  for (size_t i = 0; i < n; i++)
    {
      if (!hex_prefix_of(hex, len, list[i].config_digest)
          && !hex_prefix_of(hex, len, list[i].manifest_digest))
        continue;
      if (hit && !streq(hit->manifest_digest, list[i].manifest_digest))
        return nook_error_setx(err, EINVAL, "image id `%s` is ambiguous: it matches `%s` and `%s`",
                               what, hit->name, list[i].name);
      if (!hit)
        hit = &list[i];
    }
  if (!hit)
    return -ENOENT;
  *ret = hit;
  return 0;
}

int image_names_find(struct image_store *s, const char *what, struct image_entry *ret,
                     bool *ret_by_name, struct nook_error **err)
{
  _cleanup_strv_ char **cands = NULL;
  const struct image_entry *hit = NULL;
  struct image_entry *list = NULL;
  struct image_ref *ref = NULL;
  bool by_name;
  size_t n = 0;
  int r;

  if (!what || !*what)
    return nook_error_setx(err, EINVAL, "empty image name");
  r = list_entries(s, false, &list, &n, err);
  if (r < 0)
    return r;
  cands = name_candidates(what, &ref);
  for (size_t c = 0; cands[c] && !hit; c++)
    for (size_t i = 0; i < n && !hit; i++)
      if (streq(list[i].name, cands[c]))
        hit = &list[i];
  if (!hit && ref && ref->digest)
    hit = find_by_digest_ref(list, n, cands, ref->digest);
  by_name = hit != NULL;
  r = 0;
  for (size_t i = 0; !hit && i < n; i++)
    entry_fill(s, &list[i]);
  if (!hit)
    r = find_by_id(list, n, what, &hit, err);
  if (r == -ENOENT)
    r = nook_error_setx(err, ENOENT, "image `%s` not found", what);
  if (r >= 0)
    {
      entry_copy(hit, ret);
      if (by_name)
        entry_fill(s, ret);
      if (ret_by_name)
        *ret_by_name = by_name;
    }
  image_ref_free(ref);
  image_entries_free(list, n);
  return r;
}

int image_store_resolve(struct image_store *s, const char *what, struct image_entry *ret,
                        struct nook_error **err)
{
  return image_names_find(s, what, ret, NULL, err);
}
