/* Image manifests, indexes and configs (OCI image-spec 1.1 and Docker's schema 2), and
 * references.  The documents come from archives and registries, so every field is checked for
 * the type nook needs and a failure names it: "manifest: layers[2].digest: expected a sha256
 * digest".  Unknown fields are ignored, as the image-spec asks. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/json.h"
#include "common/util.h"
#include "images/image.h"

/* ---- field access with a path for errors ------------------------------------------------ */

static int field_error(struct nook_error **err, const char *doc, const char *path, const char *what)
{
  return nook_error_setx(err, EINVAL, "%s: %s: %s", doc, path, what);
}

/* An optional string member: *ret stays NULL when absent or null. */
static int opt_str(yajl_val obj, const char *key, const char *doc, const char *prefix, char **ret,
                   struct nook_error **err)
{
  yajl_val v = nook_json_get(obj, key);
  _cleanup_free_ char *path = NULL;

  if (!v || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_STRING(v))
    {
      path = xasprintf("%s%s", prefix, key);
      return field_error(err, doc, path, "expected a string");
    }
  *ret = xstrdup(YAJL_GET_STRING(v));
  return 0;
}

/* An optional array of strings (NULL when absent or null). */
static int opt_strv(yajl_val obj, const char *key, const char *doc, const char *prefix, char ***ret,
                    struct nook_error **err)
{
  yajl_val v = nook_json_get(obj, key);
  _cleanup_strv_ char **out = NULL;
  _cleanup_free_ char *path = NULL;

  if (!v || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_ARRAY(v))
    goto bad;
  out = xcalloc(v->u.array.len + 1, sizeof *out);
  for (size_t i = 0; i < v->u.array.len; i++)
    {
      if (!YAJL_IS_STRING(v->u.array.values[i]))
        goto bad;
      out[i] = xstrdup(YAJL_GET_STRING(v->u.array.values[i]));
    }
  *ret = TAKE_PTR(out);
  return 0;
bad:
  path = xasprintf("%s%s", prefix, key);
  return field_error(err, doc, path, "expected an array of strings");
}

/* The keys of an object member ("ExposedPorts": {"80/tcp": {}}), or "KEY=VALUE" for an object
 * of strings (Labels). */
static int opt_keys(yajl_val obj, const char *key, bool with_values, const char *doc,
                    const char *prefix, char ***ret, struct nook_error **err)
{
  yajl_val v = nook_json_get(obj, key);
  _cleanup_strv_ char **out = NULL;
  _cleanup_free_ char *path = NULL;

  if (!v || YAJL_IS_NULL(v))
    return 0;
  path = xasprintf("%s%s", prefix, key);
  if (!YAJL_IS_OBJECT(v))
    return field_error(err, doc, path, "expected an object");
  out = xcalloc(v->u.object.len + 1, sizeof *out);
  for (size_t i = 0; i < v->u.object.len; i++)
    {
      if (!with_values)
        {
          out[i] = xstrdup(v->u.object.keys[i]);
          continue;
        }
      if (!YAJL_IS_STRING(v->u.object.values[i]))
        return field_error(err, doc, path, "expected an object of strings");
      out[i] = xasprintf("%s=%s", v->u.object.keys[i], YAJL_GET_STRING(v->u.object.values[i]));
    }
  *ret = TAKE_PTR(out);
  return 0;
}

static int parse_tree(const char *json, size_t len, const char *doc, yajl_val *ret,
                      struct nook_error **err)
{
  int r = nook_json_parse_untrusted(json, len, IMAGE_JSON_MAX, doc, ret, err);

  if (r < 0)
    return r;
  if (!YAJL_IS_OBJECT(*ret))
    {
      yajl_tree_free(*ret);
      *ret = NULL;
      return nook_error_setx(err, EINVAL, "%s: expected a JSON object", doc);
    }
  return 0;
}

/* ---- descriptors ------------------------------------------------------------------------ */

static int parse_descriptor(yajl_val v, const char *doc, const char *path,
                            struct image_descriptor *d, struct nook_error **err)
{
  _cleanup_free_ char *prefix = xasprintf("%s.", path);
  yajl_val size, platform, annotations;
  int r;

  if (!v || !YAJL_IS_OBJECT(v))
    return field_error(err, doc, path, "expected an object");
  if ((r = opt_str(v, "mediaType", doc, prefix, &d->media_type, err)) < 0
      || (r = opt_str(v, "digest", doc, prefix, &d->digest, err)) < 0)
    return r;
  if (!image_digest_valid(d->digest))
    {
      _cleanup_free_ char *p = xasprintf("%sdigest", prefix);
      return field_error(err, doc, p, d->digest ? "expected a sha256 digest" : "missing");
    }
  size = nook_json_get(v, "size");
  if (!size || !YAJL_IS_INTEGER(size) || YAJL_GET_INTEGER(size) < 0)
    {
      _cleanup_free_ char *p = xasprintf("%ssize", prefix);
      return field_error(err, doc, p, "expected a size in bytes");
    }
  d->size = YAJL_GET_INTEGER(size);
  annotations = nook_json_get(v, "annotations");
  if (annotations && YAJL_IS_OBJECT(annotations))
    {
      _cleanup_free_ char *ap = xasprintf("%sannotations.", prefix);
      r = opt_str(annotations, "org.opencontainers.image.ref.name", doc, ap, &d->ref_name, err);
      if (r < 0)
        return r;
    }
  platform = nook_json_get(v, "platform");
  if (platform && YAJL_IS_OBJECT(platform))
    {
      _cleanup_free_ char *pp = xasprintf("%splatform.", prefix);
      if ((r = opt_str(platform, "os", doc, pp, &d->os, err)) < 0
          || (r = opt_str(platform, "architecture", doc, pp, &d->architecture, err)) < 0
          || (r = opt_str(platform, "variant", doc, pp, &d->variant, err)) < 0)
        return r;
    }
  return 0;
}

void image_descriptor_clear(struct image_descriptor *d)
{
  free(d->media_type);
  free(d->digest);
  free(d->ref_name);
  free(d->os);
  free(d->architecture);
  free(d->variant);
  memset(d, 0, sizeof *d);
}

static int parse_descriptors(yajl_val obj, const char *key, const char *doc,
                             struct image_descriptor **ret, size_t *ret_n, struct nook_error **err)
{
  yajl_val v = nook_json_get(obj, key);
  struct image_descriptor *out;
  size_t n;

  if (!v || !YAJL_IS_ARRAY(v))
    return field_error(err, doc, key, "expected an array");
  n = v->u.array.len;
  out = xcalloc(n + 1, sizeof *out);
  for (size_t i = 0; i < n; i++)
    {
      _cleanup_free_ char *path = xasprintf("%s[%zu]", key, i);
      int r = parse_descriptor(v->u.array.values[i], doc, path, &out[i], err);
      if (r < 0)
        {
          for (size_t j = 0; j <= i; j++)
            image_descriptor_clear(&out[j]);
          free(out);
          return r;
        }
    }
  *ret = out;
  *ret_n = n;
  return 0;
}

/* ---- manifests and indexes -------------------------------------------------------------- */

const char *image_json_kind(const char *json, size_t len)
{
  _cleanup_json_ yajl_val tree = NULL;
  const char *mt;

  if (parse_tree(json, len, "document", &tree, NULL) < 0)
    return NULL;
  mt = nook_json_get_str(tree, "mediaType");
  if (mt && (streq(mt, IMAGE_MT_OCI_INDEX) || streq(mt, IMAGE_MT_DOCKER_LIST)))
    return IMAGE_MT_OCI_INDEX;
  if (mt && (streq(mt, IMAGE_MT_OCI_MANIFEST) || streq(mt, IMAGE_MT_DOCKER_MANIFEST)))
    return IMAGE_MT_OCI_MANIFEST;
  if (nook_json_get(tree, "manifests"))
    return IMAGE_MT_OCI_INDEX;
  if (nook_json_get(tree, "layers"))
    return IMAGE_MT_OCI_MANIFEST;
  return NULL;
}

void image_manifest_free(struct image_manifest *m)
{
  if (!m)
    return;
  free(m->media_type);
  image_descriptor_clear(&m->config);
  for (size_t i = 0; i < m->n_layers; i++)
    image_descriptor_clear(&m->layers[i]);
  free(m->layers);
  free(m);
}

static bool layer_type_known(const char *mt)
{
  static const char *const known[] = {
    IMAGE_MT_OCI_LAYER, IMAGE_MT_OCI_LAYER_GZIP, IMAGE_MT_OCI_LAYER_ZSTD, IMAGE_MT_DOCKER_LAYER,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  if (!mt)
    return true; /* docker-archive manifests made by hand often omit it; content decides */
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (streq(mt, known[i]))
      return true;
  return false;
}

int image_manifest_parse(const char *json, size_t len, struct image_manifest **ret,
                         struct nook_error **err)
{
  _cleanup_json_ yajl_val tree = NULL;
  struct image_manifest *m;
  int64_t version = 0;
  int r;

  r = parse_tree(json, len, "manifest", &tree, err);
  if (r < 0)
    return r;
  if (nook_json_get(tree, "schemaVersion")
      && (!nook_json_get_i64(tree, "schemaVersion", &version) || version != 2))
    return field_error(err, "manifest", "schemaVersion", "only version 2 is supported");
  m = xcalloc(1, sizeof *m);
  r = opt_str(tree, "mediaType", "manifest", "", &m->media_type, err);
  if (r >= 0 && m->media_type && !streq(m->media_type, IMAGE_MT_OCI_MANIFEST)
      && !streq(m->media_type, IMAGE_MT_DOCKER_MANIFEST))
    r = nook_error_setx(err, EINVAL, "manifest: mediaType: `%s` is not an image manifest",
                        m->media_type);
  if (r >= 0)
    r = parse_descriptor(nook_json_get(tree, "config"), "manifest", "config", &m->config, err);
  if (r >= 0)
    r = parse_descriptors(tree, "layers", "manifest", &m->layers, &m->n_layers, err);
  for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
    if (!layer_type_known(m->layers[i].media_type))
      r = nook_error_setx(err, EINVAL, "manifest: layers[%zu].mediaType: unsupported layer type `%s`",
                          i, m->layers[i].media_type);
  if (r < 0)
    {
      image_manifest_free(m);
      return r;
    }
  *ret = m;
  return 0;
}

void image_index_free(struct image_index *idx)
{
  if (!idx)
    return;
  free(idx->media_type);
  for (size_t i = 0; i < idx->n_manifests; i++)
    image_descriptor_clear(&idx->manifests[i]);
  free(idx->manifests);
  free(idx);
}

int image_index_parse(const char *json, size_t len, struct image_index **ret,
                      struct nook_error **err)
{
  _cleanup_json_ yajl_val tree = NULL;
  struct image_index *idx;
  int r;

  r = parse_tree(json, len, "index", &tree, err);
  if (r < 0)
    return r;
  idx = xcalloc(1, sizeof *idx);
  r = opt_str(tree, "mediaType", "index", "", &idx->media_type, err);
  if (r >= 0)
    r = parse_descriptors(tree, "manifests", "index", &idx->manifests, &idx->n_manifests, err);
  if (r < 0)
    {
      image_index_free(idx);
      return r;
    }
  *ret = idx;
  return 0;
}

const char *image_host_arch(void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  static struct utsname u;
  if (!u.machine[0] && uname(&u) < 0)
    return "unknown";
  return u.machine;
#endif
}

static const char *host_variant(void)
{
#if defined(__aarch64__)
  return "v8";
#elif defined(__arm__)
  return "v7";
#else
  return NULL;
#endif
}

const struct image_descriptor *image_index_select(const struct image_index *idx,
                                                  struct nook_error **err)
{
  const char *arch = image_host_arch(), *variant = host_variant();
  const struct image_descriptor *best = NULL;
  _cleanup_free_ char *offered = NULL;

  for (size_t i = 0; i < idx->n_manifests; i++)
    {
      const struct image_descriptor *d = &idx->manifests[i];
      if (!streq(d->os, "linux") || !streq(d->architecture, arch))
        continue;
      if (variant && d->variant && streq(d->variant, variant))
        return d;
      if (!best || (!d->variant && best->variant))
        best = d;
    }
  if (best)
    return best;
  /* A single-image index without platforms (oci-archive, OCI layout) means "this image". */
  if (idx->n_manifests == 1 && !idx->manifests[0].os && !idx->manifests[0].architecture)
    return &idx->manifests[0];
  for (size_t i = 0; i < idx->n_manifests; i++)
    {
      const struct image_descriptor *d = &idx->manifests[i];
      char *next = xasprintf("%s%s%s/%s%s%s", offered ? offered : "", offered ? ", " : "",
                             d->os ? d->os : "?", d->architecture ? d->architecture : "?",
                             d->variant ? "/" : "", d->variant ? d->variant : "");
      free(offered);
      offered = next;
    }
  nook_error_setx(err, ENOENT, "no image for linux/%s in the index (it has: %s)", arch,
                  offered ? offered : "nothing");
  return NULL;
}

/* ---- configs ---------------------------------------------------------------------------- */

void image_config_free(struct image_config *c)
{
  if (!c)
    return;
  free(c->architecture);
  free(c->os);
  free(c->created);
  free(c->user);
  nook_strv_free(c->env);
  nook_strv_free(c->entrypoint);
  nook_strv_free(c->cmd);
  free(c->working_dir);
  free(c->stop_signal);
  nook_strv_free(c->exposed_ports);
  nook_strv_free(c->volumes);
  nook_strv_free(c->labels);
  nook_strv_free(c->diff_ids);
  free(c);
}

static int parse_run_config(yajl_val cfg, struct image_config *c, struct nook_error **err)
{
  static const char doc[] = "image config";
  static const char p[] = "config.";
  int r;

  if (!cfg || YAJL_IS_NULL(cfg))
    return 0;
  if (!YAJL_IS_OBJECT(cfg))
    return field_error(err, doc, "config", "expected an object");
  if ((r = opt_str(cfg, "User", doc, p, &c->user, err)) < 0
      || (r = opt_strv(cfg, "Env", doc, p, &c->env, err)) < 0
      || (r = opt_strv(cfg, "Entrypoint", doc, p, &c->entrypoint, err)) < 0
      || (r = opt_strv(cfg, "Cmd", doc, p, &c->cmd, err)) < 0
      || (r = opt_str(cfg, "WorkingDir", doc, p, &c->working_dir, err)) < 0
      || (r = opt_str(cfg, "StopSignal", doc, p, &c->stop_signal, err)) < 0
      || (r = opt_keys(cfg, "ExposedPorts", false, doc, p, &c->exposed_ports, err)) < 0
      || (r = opt_keys(cfg, "Volumes", false, doc, p, &c->volumes, err)) < 0
      || (r = opt_keys(cfg, "Labels", true, doc, p, &c->labels, err)) < 0)
    return r;
  for (size_t i = 0; c->env && c->env[i]; i++)
    if (!strchr(c->env[i], '='))
      return nook_error_setx(err, EINVAL, "%s: config.Env[%zu]: `%s` is not KEY=VALUE", doc, i,
                             c->env[i]);
  return 0;
}

int image_config_parse(const char *json, size_t len, struct image_config **ret,
                       struct nook_error **err)
{
  static const char doc[] = "image config";
  _cleanup_json_ yajl_val tree = NULL;
  struct image_config *c;
  yajl_val rootfs;
  int r;

  r = parse_tree(json, len, doc, &tree, err);
  if (r < 0)
    return r;
  c = xcalloc(1, sizeof *c);
  if ((r = opt_str(tree, "architecture", doc, "", &c->architecture, err)) < 0
      || (r = opt_str(tree, "os", doc, "", &c->os, err)) < 0
      || (r = opt_str(tree, "created", doc, "", &c->created, err)) < 0
      || (r = parse_run_config(nook_json_get(tree, "config"), c, err)) < 0)
    goto fail;
  rootfs = nook_json_get(tree, "rootfs");
  if (!rootfs || !YAJL_IS_OBJECT(rootfs))
    {
      r = field_error(err, doc, "rootfs", "expected an object");
      goto fail;
    }
  r = opt_strv(rootfs, "diff_ids", doc, "rootfs.", &c->diff_ids, err);
  if (r < 0)
    goto fail;
  if (!c->diff_ids)
    {
      r = field_error(err, doc, "rootfs.diff_ids", "expected an array of strings");
      goto fail;
    }
  c->n_diff_ids = nook_strv_length(c->diff_ids);
  for (size_t i = 0; i < c->n_diff_ids; i++)
    if (!image_digest_valid(c->diff_ids[i]))
      {
        r = nook_error_setx(err, EINVAL, "%s: rootfs.diff_ids[%zu]: expected a sha256 digest", doc, i);
        goto fail;
      }
  *ret = c;
  return 0;
fail:
  image_config_free(c);
  return r;
}

/* ---- references ------------------------------------------------------------------------- */

void image_ref_free(struct image_ref *r)
{
  if (!r)
    return;
  free(r->registry);
  free(r->repository);
  free(r->tag);
  free(r->digest);
  free(r);
}

static bool is_sep(char c)
{
  return c == '.' || c == '_' || c == '-';
}

/* distribution/reference's path grammar: lowercase alnum components joined by '/', separators
 * . _ __ and runs of - between alnum runs. */
static bool repository_valid(const char *s)
{
  bool at_start = true;

  if (!*s || strlen(s) > 255)
    return false;
  for (const char *p = s; *p; p++)
    {
      if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
        at_start = false;
      else if (*p == '/')
        {
          if (at_start || !p[1])
            return false;
          at_start = true;
        }
      else if (is_sep(*p))
        {
          if (at_start || !p[1] || p[1] == '/')
            return false;
          if (*p == '.' && is_sep(p[1]))
            return false;
        }
      else
        return false;
    }
  return true;
}

static bool tag_valid(const char *s)
{
  size_t n = strlen(s);

  if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || *p == '_' || *p == '.' || *p == '-'))
      return false;
  return true;
}

static bool registry_valid(const char *s)
{
  if (!*s || strlen(s) > 255 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')
                                  || (s[0] >= '0' && s[0] <= '9') || s[0] == '[')
      || strstr(s, ".."))
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
      return false;
  return true;
}

int image_ref_parse(const char *s, struct image_ref **ret, struct nook_error **err)
{
  _cleanup_free_ char *name = NULL;
  struct image_ref *r;
  char *at, *slash, *colon;

  if (!s || !*s)
    return nook_error_setx(err, EINVAL, "empty image reference");
  r = xcalloc(1, sizeof *r);
  name = xstrdup(s);
  if ((at = strchr(name, '@')))
    {
      *at = '\0';
      r->digest = xstrdup(at + 1);
      if (!image_digest_valid(r->digest))
        goto bad;
    }
  slash = strrchr(name, '/');
  colon = strrchr(name, ':');
  if (colon && (!slash || colon > slash))
    {
      *colon = '\0';
      r->tag = xstrdup(colon + 1);
      if (!tag_valid(r->tag))
        goto bad;
    }
  slash = strchr(name, '/');
  if (slash && (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name))
                || ((size_t)(slash - name) == 9 && strncmp(name, "localhost", 9) == 0)))
    {
      r->registry = xstrndup(name, (size_t)(slash - name));
      r->repository = xstrdup(slash + 1);
      if (!registry_valid(r->registry))
        goto bad;
      if (streq(r->registry, "index.docker.io") || streq(r->registry, "registry-1.docker.io"))
        {
          free(r->registry);
          r->registry = xstrdup("docker.io");
        }
    }
  else
    {
      r->registry = xstrdup("docker.io");
      r->repository = xstrdup(name);
    }
  if (streq(r->registry, "docker.io") && !strchr(r->repository, '/'))
    {
      char *lib = xasprintf("library/%s", r->repository);
      free(r->repository);
      r->repository = lib;
    }
  if (!repository_valid(r->repository))
    goto bad;
  if (!r->tag && !r->digest)
    r->tag = xstrdup("latest");
  *ret = r;
  return 0;
bad:
  image_ref_free(r);
  return nook_error_setx(err, EINVAL, "invalid image reference `%s`", s);
}

char *image_ref_format(const struct image_ref *r)
{
  if (r->tag && r->digest)
    return xasprintf("%s/%s:%s@%s", r->registry, r->repository, r->tag, r->digest);
  if (r->digest)
    return xasprintf("%s/%s@%s", r->registry, r->repository, r->digest);
  return xasprintf("%s/%s:%s", r->registry, r->repository, r->tag);
}
