/* Fuzz target for the image documents (images/manifest.c): each input goes to all three parsers,
 * image_manifest_parse(), image_index_parse() (then image_index_select(), the platform choice)
 * and image_config_parse(), and to image_json_kind().  They read what archives and registries
 * send, so whatever the input, a parse either fails with one printable line naming the
 * document ("manifest: layers[2].digest: expected a sha256 digest") or gives a model whose
 * digests are valid sha256 digests and whose sizes are not negative. */
#include "config.h"

#include <string.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/fuzz/fuzz.h"

static void check_descriptor(const struct image_descriptor *d)
{
  fuzz_check(image_digest_valid(d->digest), "a descriptor with an invalid digest", d->digest);
  fuzz_check(d->size >= 0, "a descriptor with a negative size", d->digest);
}

static void fuzz_manifest(const char *json, size_t len)
{
  struct image_manifest *m = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int r = image_manifest_parse(json, len, &m, &err);

  fuzz_check_error(r, err, "manifest");
  if (r < 0)
    return;
  check_descriptor(&m->config);
  fuzz_check(m->n_layers == 0 || m->layers, "layers counted but absent", NULL);
  for (size_t i = 0; i < m->n_layers; i++)
    check_descriptor(&m->layers[i]);
  image_manifest_free(m);
}

static void fuzz_index(const char *json, size_t len)
{
  struct image_index *idx = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  const struct image_descriptor *d;
  int r = image_index_parse(json, len, &idx, &err);

  fuzz_check_error(r, err, "index");
  if (r < 0)
    return;
  for (size_t i = 0; i < idx->n_manifests; i++)
    check_descriptor(&idx->manifests[i]);
  d = image_index_select(idx, &err);
  fuzz_check_error(d ? 0 : -1, err, "no image for");
  fuzz_check(!d || (d >= idx->manifests && d < idx->manifests + idx->n_manifests),
             "a selected entry outside the index", NULL);
  image_index_free(idx);
}

static void fuzz_config(const char *json, size_t len)
{
  struct image_config *c = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int r = image_config_parse(json, len, &c, &err);

  fuzz_check_error(r, err, "image config");
  if (r < 0)
    return;
  fuzz_check(c->n_diff_ids == nook_strv_length(c->diff_ids), "diff_ids miscounted", NULL);
  for (size_t i = 0; i < c->n_diff_ids; i++)
    fuzz_check(image_digest_valid(c->diff_ids[i]), "an invalid diff_id", c->diff_ids[i]);
  for (size_t i = 0; c->env && c->env[i]; i++)
    fuzz_check(strchr(c->env[i], '=') != NULL, "an Env entry without `=`", c->env[i]);
  image_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *json = (const char *)data;
  const char *kind = image_json_kind(json, size);

  fuzz_check(!kind || streq(kind, IMAGE_MT_OCI_INDEX) || streq(kind, IMAGE_MT_OCI_MANIFEST),
             "an unknown document kind", kind);
  fuzz_manifest(json, size);
  fuzz_index(json, size);
  fuzz_config(json, size);
  return 0;
}
