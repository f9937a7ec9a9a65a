/* `nook image pull`: an image from a registry over the OCI distribution API v2.
 *
 *   GET /v2/REPO/manifests/REFERENCE  (Accept: OCI index and manifest, Docker list and v2)
 *     an index -> the entry for linux/<host arch> -> GET /v2/REPO/manifests/DIGEST
 *   GET /v2/REPO/blobs/DIGEST         config and layers missing from the store, in parallel
 *   unpack each layer, then name the platform manifest by the reference.
 *
 * Everything fetched is checked against the digest that names it before it is stored: the
 * manifest against the digest of a pull by digest (or the index entry that led to it), blobs
 * against their descriptors.  What a tag resolves to is only as trustworthy as the registry,
 * as with every client. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "images/registry-internal.h"
#include "images/store-internal.h"

#define ACCEPT_MANIFESTS                                                                           \
  IMAGE_MT_OCI_INDEX ", " IMAGE_MT_OCI_MANIFEST ", " IMAGE_MT_DOCKER_LIST                          \
                     ", " IMAGE_MT_DOCKER_MANIFEST
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

static int schema1_error(struct nook_error **err)
{
  return nook_error_setx(err, EINVAL,
                         "the registry has only a Docker schema 1 manifest, which nook "
                         "does not support (push the image again with a current client)");
}

static bool is_schema1(const struct registry_doc *d)
{
  _cleanup_json_ yajl_val tree = NULL;
  int64_t version = 0;

  if (streq(d->content_type, MT_DOCKER_SCHEMA1) || streq(d->content_type, MT_DOCKER_SCHEMA1_SIGNED))
    return true;
  return nook_json_parse_untrusted(d->data, d->len, IMAGE_JSON_MAX, "manifest", &tree, NULL) == 0
         && nook_json_get_i64(tree, "schemaVersion", &version) && version == 1;
}

/* IMAGE_MT_OCI_INDEX or IMAGE_MT_OCI_MANIFEST for what the registry sent: its Content-Type,
 * or (for registries that send a generic one) what the document itself says. */
static int doc_kind(const struct registry_doc *d, const char **ret, struct nook_error **err)
{
  const char *ct = d->content_type, *kind = NULL;

  if (is_schema1(d))
    return schema1_error(err);
  if (streq(ct, IMAGE_MT_OCI_INDEX) || streq(ct, IMAGE_MT_DOCKER_LIST))
    kind = IMAGE_MT_OCI_INDEX;
  else if (streq(ct, IMAGE_MT_OCI_MANIFEST) || streq(ct, IMAGE_MT_DOCKER_MANIFEST))
    kind = IMAGE_MT_OCI_MANIFEST;
  else
    kind = image_json_kind(d->data, d->len);
  if (!kind)
    return nook_error_setx(err, EINVAL, "the registry sent a `%s` document, not an image manifest",
                           ct ? ct : "untyped");
  *ret = kind;
  return 0;
}

/* GET a manifest by REFERENCE and check it: against WANT_DIGEST when not NULL (a pull by
 * digest, an index entry), against the registry's Docker-Content-Digest when it sends one, and
 * for its kind (*ret_kind: IMAGE_MT_OCI_INDEX or IMAGE_MT_OCI_MANIFEST). */
static int fetch_doc(struct registry_client *c, const char *reference, const char *want_digest,
                     struct registry_doc *ret, char ret_digest[IMAGE_DIGEST_LEN + 1],
                     const char **ret_kind, struct nook_error **err)
{
  struct registry_doc d = { 0 };
  int r;

  r = registry_get_manifest(c, reference, ACCEPT_MANIFESTS, &d, err);
  if (r < 0)
    return r;
  image_digest_buf(d.data, d.len, ret_digest);
  if (want_digest && !streq(want_digest, ret_digest))
    r = nook_error_setx(err, EINVAL, "manifest `%s`: the registry sent content with digest `%s`",
                        want_digest, ret_digest);
  else if (d.docker_digest && image_digest_valid(d.docker_digest)
           && !streq(d.docker_digest, ret_digest))
    r = nook_error_setx(err, EINVAL,
                        "manifest `%s`: the registry says its digest is `%s`, it is `%s`",
                        reference, d.docker_digest, ret_digest);
  else
    r = doc_kind(&d, ret_kind, err);
  if (r < 0)
    {
      registry_doc_clear(&d);
      return r;
    }
  *ret = d;
  return 0;
}

/* The image manifest for this host that REF names (through an index when it names one).
 * Both are stored as blobs once they have been checked and parsed. */
static int resolve_manifest(struct registry_client *c, struct image_store *s,
                            const struct image_ref *ref, struct image_manifest **ret,
                            char **ret_digest, struct nook_error **err)
{
  struct registry_doc top = { 0 }, d = { 0 };
  char top_digest[IMAGE_DIGEST_LEN + 1], digest[IMAGE_DIGEST_LEN + 1];
  struct image_manifest *m = NULL;
  struct image_index *idx = NULL;
  const char *kind = NULL;
  int r;

  r = fetch_doc(c, ref->digest ? ref->digest : ref->tag, ref->digest, &top, top_digest, &kind, err);
  if (r >= 0 && streq(kind, IMAGE_MT_OCI_INDEX))
    {
      const struct image_descriptor *desc = NULL;

      r = image_index_parse(top.data, top.len, &idx, err);
      if (r >= 0 && !(desc = image_index_select(idx, err)))
        r = -ENOENT;
      if (r >= 0)
        r = fetch_doc(c, desc->digest, desc->digest, &d, digest, &kind, err);
      if (r >= 0 && !streq(kind, IMAGE_MT_OCI_MANIFEST))
        r = nook_error_setx(err, EINVAL, "manifest `%s`: an index inside an index", desc->digest);
    }
  else if (r >= 0)
    {
      d = top;
      memset(&top, 0, sizeof top);
      memcpy(digest, top_digest, sizeof digest);
    }
  if (r >= 0)
    r = image_manifest_parse(d.data, d.len, &m, err);
  if (r >= 0 && top.data)
    r = image_blob_put(s, top.data, top.len, top_digest, NULL, err);
  if (r >= 0)
    r = image_blob_put(s, d.data, d.len, digest, NULL, err);
  if (r >= 0)
    {
      *ret = TAKE_PTR(m);
      *ret_digest = xstrdup(digest);
    }
  image_manifest_free(m);
  image_index_free(idx);
  registry_doc_clear(&top);
  registry_doc_clear(&d);
  return r;
}

/* The config and layers not in the store yet, each once. */
static size_t missing_blobs(struct image_store *s, const struct image_manifest *m,
                            struct registry_blob *ret)
{
  size_t n = 0;

  for (size_t i = 0; i <= m->n_layers; i++)
    {
      const struct image_descriptor *d = i == 0 ? &m->config : &m->layers[i - 1];
      bool seen = false;

      for (size_t k = 0; k < n; k++)
        seen = seen || streq(ret[k].digest, d->digest);
      if (seen || image_blob_exists(s, d->digest))
        continue;
      ret[n].digest = d->digest;
      ret[n].size = d->size;
      n++;
    }
  return n;
}

/* Reads the config and unpacks every layer (layers already unpacked are skipped). */
static int unpack_layers(struct image_store *s, const struct image_manifest *m,
                         const struct image_progress *progress, struct nook_error **err)
{
  struct image_config *cfg = NULL;
  _cleanup_free_ char *json = NULL;
  const char *mt = m->config.media_type;
  size_t len = 0;
  int r;

  if (mt && !streq(mt, IMAGE_MT_OCI_CONFIG) && !streq(mt, IMAGE_MT_DOCKER_CONFIG))
    return nook_error_setx(err, EINVAL, "not a container image: its config is a `%s`", mt);
  r = image_blob_read(s, m->config.digest, IMAGE_JSON_MAX, &json, &len, err);
  if (r >= 0)
    r = image_config_parse(json, len, &cfg, err);
  if (r >= 0 && cfg->n_diff_ids != m->n_layers)
    r = nook_error_setx(err, EINVAL, "the config lists %zu layers, the manifest %zu",
                        cfg->n_diff_ids, m->n_layers);
  for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
    r = image_layer_ensure(s, &m->layers[i], cfg->diff_ids[i], progress, err);
  image_config_free(cfg);
  return r;
}

static int pull(struct image_store *s, const struct image_ref *ref, const char *name,
                const struct image_pull_opts *opts, struct nook_error **err)
{
  _cleanup_registry_client_ struct registry_client *c = NULL;
  _cleanup_free_ struct registry_blob *blobs = NULL;
  _cleanup_free_ char *digest = NULL;
  struct image_manifest *m = NULL;
  int r;

  r = registry_client_new(ref->registry, ref->repository, opts && opts->insecure, &c, err);
  if (r >= 0)
    r = resolve_manifest(c, s, ref, &m, &digest, err);
  if (r < 0)
    return r;
  blobs = xcalloc(m->n_layers + 1, sizeof *blobs);
  r = registry_get_blobs(c, s, blobs, missing_blobs(s, m, blobs), opts ? opts->parallel : 0,
                         opts ? opts->progress : NULL, err);
  if (r >= 0)
    r = unpack_layers(s, m, opts ? opts->progress : NULL, err);
  if (r >= 0)
    r = image_store_tag(s, name, digest, err);
  image_manifest_free(m);
  return r;
}

int image_pull(struct image_store *s, const char *ref, const struct image_pull_opts *opts,
               char **ret_name, struct nook_error **err)
{
  struct image_ref *parsed = NULL;
  _cleanup_free_ char *name = NULL;
  bool locked = false;
  int r;

  r = image_ref_parse(ref, &parsed, err);
  if (r < 0)
    return r;
  /* A pull by digest alone is named REPOSITORY@DIGEST: there is no tag to give it. */
  name = image_ref_format(parsed);
  /* Held shared throughout, as import does: prune (exclusive) never sees the blobs and layers
   * of a pull before its name. */
  r = image_store_lock_shared(s, &locked, err);
  if (r >= 0)
    r = pull(s, parsed, name, opts, err);
  if (locked)
    image_store_unlock(s);
  image_ref_free(parsed);
  if (r < 0)
    return nook_error_prefix(err, "pull `%s`", name);
  if (ret_name)
    *ret_name = TAKE_PTR(name);
  return 0;
}
