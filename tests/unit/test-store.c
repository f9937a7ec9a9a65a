/* Unit tests for the image store's names (names.c), layers (layer.c), import of hand-made
 * archives (import.c, import-archive.c), export (export.c), remove and prune (gc.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/unit/dl-archive-writer.h"
#include "tests/unit/tap.h"

static char *tmp_dir;

/* ---- building archives ------------------------------------------------------------------ */

struct member
{
  const char *name;
  const char *data; /* a regular file; NULL with link: a symlink; NULL: a directory */
  size_t len;       /* 0: strlen(data) */
  const char *link;
};

/* Writes a tar of MEMBERS to PATH (gzip-compressed when GZIP). */
static void write_tar(const char *path, const struct member *m, size_t n, bool gzip)
{
  struct archive *a = sym_archive_write_new();

  sym_archive_write_set_format_pax_restricted(a);
  if (gzip)
    sym_archive_write_add_filter_gzip(a);
  sym_archive_write_open_filename(a, path);
  for (size_t i = 0; i < n; i++)
    {
      struct archive_entry *e = sym_archive_entry_new();
      size_t len = m[i].data ? (m[i].len ? m[i].len : strlen(m[i].data)) : 0;
      sym_archive_entry_set_pathname(e, m[i].name);
      sym_archive_entry_set_mtime(e, 1700000000, 0);
      if (m[i].data)
        {
          sym_archive_entry_set_filetype(e, AE_IFREG);
          sym_archive_entry_set_perm(e, 0644);
          sym_archive_entry_set_size(e, (la_int64_t)len);
        }
      else if (m[i].link)
        {
          sym_archive_entry_set_filetype(e, AE_IFLNK);
          sym_archive_entry_set_symlink(e, m[i].link);
          sym_archive_entry_set_perm(e, 0777);
        }
      else
        {
          sym_archive_entry_set_filetype(e, AE_IFDIR);
          sym_archive_entry_set_perm(e, 0755);
        }
      sym_archive_write_header(a, e);
      if (len)
        sym_archive_write_data(a, m[i].data, len);
      sym_archive_entry_free(e);
    }
  sym_archive_write_close(a);
  sym_archive_write_free(a);
}

static char *read_all(const char *path, size_t *ret_len)
{
  char *data = NULL;

  if (nook_read_file_at(AT_FDCWD, path, 64u << 20, &data, ret_len, NULL) < 0)
    return NULL;
  return data;
}

static void write_file(const char *path, const char *data)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (fd < 0 || nook_write_all(fd, data, strlen(data)) < 0)
    printf("# cannot write %s\n", path);
}

static char *digest_of(const char *data, size_t len)
{
  char d[IMAGE_DIGEST_LEN + 1];

  image_digest_buf(data, len, d);
  return xstrdup(d);
}

/* A layer tar in memory, with its digest (the diff-id, uncompressed). */
struct blob
{
  char *data;
  size_t len;
  char *digest;
};

static void blob_free(struct blob *b)
{
  free(b->data);
  free(b->digest);
}

static struct blob make_layer(const struct member *m, size_t n)
{
  _cleanup_free_ char *p = xasprintf("%s/layer.tar", tmp_dir);
  struct blob b = { 0 };

  write_tar(p, m, n, false);
  b.data = read_all(p, &b.len);
  b.digest = digest_of(b.data, b.len);
  unlink(p);
  return b;
}

static struct blob make_json(const char *json)
{
  struct blob b = { xstrdup(json), strlen(json), NULL };

  b.digest = digest_of(b.data, b.len);
  return b;
}

static struct blob make_config(const char *created, const struct blob *layers, size_t n)
{
  _cleanup_free_ char *ids = xstrdup("");

  for (size_t i = 0; i < n; i++)
    {
      char *next = xasprintf("%s%s\"%s\"", ids, i ? "," : "", layers[i].digest);
      free(ids);
      ids = next;
    }
  {
    _cleanup_free_ char *json = xasprintf(
        "{\"architecture\":\"%s\",\"os\":\"linux\",\"created\":\"%s\",\"config\":{\"Cmd\":[\"sh\"]},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
        image_host_arch(), created, ids);
    return make_json(json);
  }
}

static struct blob make_manifest(const struct blob *config, const struct blob *layers, size_t n)
{
  _cleanup_free_ char *descs = xstrdup("");

  for (size_t i = 0; i < n; i++)
    {
      char *next = xasprintf("%s%s{\"mediaType\":\"" IMAGE_MT_OCI_LAYER "\",\"digest\":\"%s\",\"size\":%zu}",
                             descs, i ? "," : "", layers[i].digest, layers[i].len);
      free(descs);
      descs = next;
    }
  {
    _cleanup_free_ char *json = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\""
        IMAGE_MT_OCI_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
        config->digest, config->len, descs);
    return make_json(json);
  }
}

static char *blob_name(const struct blob *b)
{
  return xasprintf("blobs/sha256/%s", b->digest + 7);
}

static char *oci_index(const struct blob *manifest, const char *ref)
{
  return xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
                   "\",\"digest\":\"%s\",\"size\":%zu%s%s%s}]}",
                   manifest->digest, manifest->len,
                   ref ? ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" : "",
                   ref ? ref : "", ref ? "\"}" : "");
}

static void expect_error(int r, struct nook_error **err, const char *want, const char *name)
{
  bool ok = r < 0 && *err && strstr((*err)->msg, want);

  tap_ok(ok, "%s", name);
  if (!ok)
    printf("#   got: %s\n#   want: %s\n", *err ? (*err)->msg : "(success)", want);
  nook_error_freep(err);
}

static bool exists_at(struct image_store *s, const char *fmt, ...) _printf_(2, 3);
static bool exists_at(struct image_store *s, const char *fmt, ...)
{
  _cleanup_free_ char *p = NULL;
  va_list ap;

  va_start(ap, fmt);
  if (vasprintf(&p, fmt, ap) < 0)
    p = NULL;
  va_end(ap);
  return p && faccessat(s->dirfd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static size_t tmp_entries(struct image_store *s)
{
  _cleanup_closedir_ DIR *d = fdopendir(openat(s->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct dirent *de;
  size_t n = 0;

  while (d && (de = readdir(d)))
    n += de->d_name[0] != '.';
  return n;
}

static struct image_store *new_store(const char *name)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *p = xasprintf("%s/%s", tmp_dir, name);
  struct image_store *s = NULL;

  if (image_store_open(p, &s, &err) < 0)
    {
      printf("Bail out! cannot open a store in %s: %s\n", p, err->msg);
      exit(1);
    }
  return s;
}

/* ---- names ------------------------------------------------------------------------------ */

/* Puts an image with one (fake) layer blob in the store and returns its manifest digest. */
static char *put_image(struct image_store *s, const char *created, char **ret_config)
{
  static const char layer_data[] = "not a tar; names need no unpacked layer";
  struct blob layer = make_json(layer_data);
  struct blob config = make_config(created, &layer, 1);
  struct blob manifest = make_manifest(&config, &layer, 1);
  char *digest = xstrdup(manifest.digest);

  image_blob_put(s, layer.data, layer.len, NULL, NULL, NULL);
  image_blob_put(s, config.data, config.len, NULL, NULL, NULL);
  image_blob_put(s, manifest.data, manifest.len, NULL, NULL, NULL);
  if (ret_config)
    *ret_config = xstrdup(config.digest);
  blob_free(&layer);
  blob_free(&config);
  blob_free(&manifest);
  return digest;
}

static bool resolves_to(struct image_store *s, const char *what, const char *name)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_entry e = { 0 };
  bool ok = image_store_resolve(s, what, &e, &err) == 0 && streq(e.name, name);

  if (!ok)
    printf("#   `%s` resolved to %s\n", what, e.name ? e.name : err ? err->msg : "?");
  image_entry_clear(&e);
  return ok;
}

/* Two images whose ids start with the same 4 hex digits (a birthday search, ~300 tries). */
static void colliding_images(struct image_store *s, char **ret_a, char **ret_b, char **ret_prefix)
{
  char **seen = xcalloc(65536, sizeof *seen);
  char created[64];

  for (int i = 0; !*ret_b; i++)
    {
      _cleanup_free_ char *config = NULL;
      char *m, hex[5] = "";
      unsigned long slot;
      snprintf(created, sizeof created, "2024-01-01T00:00:%02d.%dZ", i % 60, i);
      m = put_image(s, created, &config);
      memcpy(hex, config + 7, 4);
      slot = strtoul(hex, NULL, 16);
      if (!seen[slot])
        {
          seen[slot] = m;
          continue;
        }
      *ret_a = TAKE_PTR(seen[slot]);
      *ret_b = m;
      *ret_prefix = xstrdup(hex);
    }
  for (size_t i = 0; i < 65536; i++)
    free(seen[i]);
  free(seen);
}

static void test_names(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("names");
  _cleanup_free_ char *m1 = NULL, *m2 = NULL, *c1 = NULL, *a = NULL, *b = NULL, *prefix = NULL;
  struct image_entry *list = NULL;
  size_t n = 0;
  int r;

  m1 = put_image(s, "2024-01-02T03:04:05Z", &c1);
  m2 = put_image(s, "2023-06-07T08:09:10Z", NULL);
  tap_ok(image_store_tag(s, "docker.io/library/alpha:latest", m1, &err) == 0, "tag a name");
  tap_ok(image_store_tag(s, "localhost/beta:1", m2, &err) == 0, "tag another");
  tap_ok(image_store_tag(s, "docker.io/library/alpha:2", m1, &err) == 0, "a second name for an image");
  r = image_store_tag(s, "alpha", m1, &err);
  expect_error(r, &err, "is not a canonical reference", "a short name is not stored");
  r = image_store_tag(s, "docker.io/library/x:latest", "sha256:0000000000000000000000000000000000000000000000000000000000000000", &err);
  expect_error(r, &err, "is not in the store", "a missing manifest is not tagged");

  r = image_store_list(s, &list, &n, &err);
  tap_ok(r == 0 && n == 3, "list has three names");
  if (n == 3)
    {
      tap_is_str(list[0].name, "docker.io/library/alpha:2", "sorted by name (1)");
      tap_is_str(list[2].name, "localhost/beta:1", "sorted by name (3)");
      tap_is_str(list[0].config_digest, c1, "the id is the config digest");
      tap_is_str(list[0].created, "2024-01-02T03:04:05Z", "created from the config");
      tap_ok(list[0].size > 0 && list[0].size == list[1].size, "size: config + layers");
    }
  image_entries_free(list, n);

  tap_ok(resolves_to(s, "alpha", "docker.io/library/alpha:latest"), "a short name");
  tap_ok(resolves_to(s, "alpha:2", "docker.io/library/alpha:2"), "a short name with a tag");
  tap_ok(resolves_to(s, "docker.io/library/alpha", "docker.io/library/alpha:latest"), "a full name");
  tap_ok(resolves_to(s, "beta:1", "localhost/beta:1"), "a short name found in localhost/");
  tap_ok(resolves_to(s, c1 + 7, "docker.io/library/alpha:2"), "a whole image id");
  {
    _cleanup_free_ char *p = xstrndup(c1 + 7, 12);
    tap_ok(resolves_to(s, p, "docker.io/library/alpha:2"), "an id prefix");
  }
  tap_ok(resolves_to(s, m2, "localhost/beta:1"), "a manifest digest");
  {
    _cleanup_free_ char *ref = xasprintf("alpha@%s", m1);
    tap_ok(resolves_to(s, ref, "docker.io/library/alpha:2"), "NAME@DIGEST");
  }
  {
    struct image_entry e = { 0 };
    _cleanup_free_ char *p = xstrndup(c1 + 7, 3);
    r = image_store_resolve(s, p, &e, &err);
    expect_error(r, &err, "not found", "a prefix of 3 hex digits is not an id");
    r = image_store_resolve(s, "gamma", &e, &err);
    expect_error(r, &err, "image `gamma` not found", "an unknown name: ENOENT");
  }

  colliding_images(s, &a, &b, &prefix);
  image_store_tag(s, "docker.io/library/c1:latest", a, NULL);
  image_store_tag(s, "docker.io/library/c2:latest", b, NULL);
  {
    struct image_entry e = { 0 };
    r = image_store_resolve(s, prefix, &e, &err);
    tap_ok(r == -EINVAL, "an ambiguous prefix is EINVAL");
    expect_error(r, &err, "is ambiguous", "and says so");
  }

  tap_ok(image_remove(s, "alpha:2", false, &err) == 0, "remove one name");
  tap_ok(resolves_to(s, "alpha", "docker.io/library/alpha:latest"), "the other name stays");
  tap_ok(image_remove(s, m2 + 7, false, &err) == 0, "remove by digest");
  r = image_remove(s, "beta:1", false, &err);
  expect_error(r, &err, "not found", "the names of that image are gone");
  r = image_remove(s, "nosuch", false, &err);
  expect_error(r, &err, "image `nosuch` not found", "remove of an unknown name");
}

/* ---- layers ----------------------------------------------------------------------------- */

static const struct member layer_members[] = {
  { "etc", NULL, 0, NULL },
  { "etc/hello", "hello from a layer\n", 0, NULL },
  { "bin", NULL, 0, NULL },
  { "bin/sh", NULL, 0, "busybox" },
};

static int ensure_in_child(const char *path, const struct image_descriptor *d, const char *diff_id)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_store *s = NULL;
  int r;

  if (image_store_open(path, &s, &err) < 0)
    return 2;
  r = image_layer_ensure(s, d, diff_id, NULL, &err);
  if (r < 0)
    printf("# child %d: %s\n", (int)getpid(), err->msg);
  image_store_free(s);
  return r < 0 ? 1 : 0;
}

static void test_layers(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("layers");
  struct blob layer = make_layer(layer_members, ARRAY_SIZE(layer_members));
  struct image_descriptor d = { (char *)IMAGE_MT_OCI_LAYER, layer.digest, (int64_t)layer.len };
  _cleanup_free_ char *hello = NULL, *p = NULL;
  int r;

  image_blob_put(s, layer.data, layer.len, NULL, NULL, &err);
  r = image_layer_ensure(s, &d, "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                         NULL, &err);
  expect_error(r, &err, "diff-id mismatch", "a layer whose diff-id does not match is refused");
  tap_ok(tmp_entries(s) == 0, "and leaves nothing in tmp/");

  /* Both children unpack; one rename wins, the other discards its copy. */
  for (int round = 0; round < 3; round++)
    {
      pid_t pids[2];
      int ok = 0, status;
      _cleanup_free_ char *dir = xasprintf("layers/%s", layer.digest + 7);
      nook_rm_rf_at(s->dirfd, dir, NULL);
      for (int i = 0; i < 2; i++)
        if ((pids[i] = fork()) == 0)
          _exit(ensure_in_child(s->path, &d, layer.digest));
      for (int i = 0; i < 2; i++)
        if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0)
          ok++;
      tap_ok(ok == 2, "round %d: two concurrent ensures of one layer both succeed", round);
    }
  p = xasprintf("%s/layers/%s/diff/etc/hello", s->path, layer.digest + 7);
  hello = read_all(p, NULL);
  tap_is_str(hello, "hello from a layer\n", "the layer is whole");
  tap_ok(tmp_entries(s) == 0, "the loser's copy is gone from tmp/");
  tap_ok(image_layer_ensure(s, &d, layer.digest, NULL, &err) == 0, "ensure of an unpacked layer");
  blob_free(&layer);
}

/* ---- import ----------------------------------------------------------------------------- */

/* An image of two layers: the second deletes /d/f (whiteout) and makes /e opaque. */
struct image_files
{
  struct blob layers[2], config, manifest;
};

static void make_image(struct image_files *im)
{
  static const struct member l1[] = {
    { "d", NULL, 0, NULL },      { "d/f", "f\n", 0, NULL }, { "d/g", "g\n", 0, NULL },
    { "e", NULL, 0, NULL },      { "e/old", "old\n", 0, NULL },
  };
  static const struct member l2[] = {
    { "d", NULL, 0, NULL }, { "d/.wh.f", "", 0, NULL }, { "e", NULL, 0, NULL },
    { "e/.wh..wh..opq", "", 0, NULL }, { "e/new", "new\n", 0, NULL },
  };

  im->layers[0] = make_layer(l1, ARRAY_SIZE(l1));
  im->layers[1] = make_layer(l2, ARRAY_SIZE(l2));
  im->config = make_config("2024-02-03T04:05:06Z", im->layers, 2);
  im->manifest = make_manifest(&im->config, im->layers, 2);
}

static void image_files_free(struct image_files *im)
{
  blob_free(&im->layers[0]);
  blob_free(&im->layers[1]);
  blob_free(&im->config);
  blob_free(&im->manifest);
}

static int import(struct image_store *s, const char *file, const char *name, char ***names,
                  struct nook_error **err)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", tmp_dir, file);

  return image_import(s, p, name, NULL, names, err);
}

static void write_oci_archive(const char *file, struct image_files *im, const char *ref,
                              bool drop_layer, bool bad_blob)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", tmp_dir, file), *index = oci_index(&im->manifest, ref);
  _cleanup_free_ char *n0 = blob_name(&im->layers[0]), *n1 = blob_name(&im->layers[1]);
  _cleanup_free_ char *nc = blob_name(&im->config), *nm = blob_name(&im->manifest);
  struct member m[] = {
    { "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 0, NULL },
    { "index.json", index, 0, NULL },
    { "blobs", NULL, 0, NULL },
    { "blobs/sha256", NULL, 0, NULL },
    { nm, im->manifest.data, im->manifest.len, NULL },
    { nc, im->config.data, im->config.len, NULL },
    { n0, bad_blob ? "tampered" : im->layers[0].data, bad_blob ? 0 : im->layers[0].len, NULL },
    { n1, im->layers[1].data, im->layers[1].len, NULL },
  };

  write_tar(p, m, ARRAY_SIZE(m) - drop_layer, true);
}

#define HEX1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX2 "2222222222222222222222222222222222222222222222222222222222222222"

/* A docker-archive as podman writes it: HEX.tar layers, HEX/layer.tar symlinks to them,
 * HEX.json the config; LAYER0 is what manifest.json says the first layer is. */
static void write_docker_archive(const char *file, struct image_files *im, const char *layer0)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", tmp_dir, file);
  _cleanup_free_ char *cname = xasprintf("%s.json", im->config.digest + 7);
  _cleanup_free_ char *manifest = xasprintf(
      "[{\"Config\":\"%s\",\"RepoTags\":[\"example.org/two:layers\"],\"Layers\":[\"%s\",\""
      HEX2 "/layer.tar\"]}]",
      cname, layer0);
  struct member m[] = {
    { HEX1, NULL, 0, NULL },
    { HEX1 "/layer.tar", im->layers[0].data, im->layers[0].len, NULL },
    { HEX2, NULL, 0, NULL },
    { HEX2 "/layer.tar", NULL, 0, "../" HEX2 ".tar" },
    { HEX2 ".tar", im->layers[1].data, im->layers[1].len, NULL },
    { cname, im->config.data, im->config.len, NULL },
    { "manifest.json", manifest, 0, NULL },
  };

  write_tar(p, m, ARRAY_SIZE(m), false);
}

static void check_whiteouts(struct image_store *s, const struct image_files *im)
{
  _cleanup_free_ char *wh = xasprintf("layers/%s/diff/d/f", im->layers[1].digest + 7);
  _cleanup_free_ char *opq = xasprintf("%s/layers/%s/diff/e", s->path, im->layers[1].digest + 7);
  struct stat st;
  char v[8] = "";

  tap_ok(fstatat(s->dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode)
             && st.st_rdev == makedev(0, 0),
         "a whiteout is a 0/0 char device in the layer");
  tap_ok(lgetxattr(opq, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y',
         "an opaque dir has trusted.overlay.opaque=y");
}

static void test_import(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("import");
  _cleanup_strv_ char **names = NULL;
  struct image_files im;
  int r;

  make_image(&im);
  write_oci_archive("oci.tar.gz", &im, "example.org/two:layers", false, false);
  r = import(s, "oci.tar.gz", NULL, &names, &err);
  tap_ok(r == 0 && names && streq(names[0], "example.org/two:layers") && !names[1],
         "a gzip oci-archive is imported under its ref.name");
  if (r < 0)
    printf("# %s\n", err->msg);
  nook_error_freep(&err);
  tap_ok(exists_at(s, "layers/%s/diff/d/g", im.layers[0].digest + 7), "its first layer is unpacked");
  if (geteuid() == 0)
    check_whiteouts(s, &im);
  else
    tap_ok(true, "# SKIP whiteouts need root");

  write_oci_archive("tag-only.tar", &im, "latest", false, false);
  r = import(s, "tag-only.tar", NULL, NULL, &err);
  expect_error(r, &err, "is only a tag, use --name", "a ref.name that is only a tag needs --name");
  nook_strv_free(names);
  names = NULL;
  r = import(s, "tag-only.tar", "mine:1", &names, &err);
  tap_ok(r == 0 && streq(names[0], "docker.io/library/mine:1"), "--name names it");
  write_oci_archive("noname.tar", &im, NULL, false, false);
  r = import(s, "noname.tar", NULL, NULL, &err);
  expect_error(r, &err, "has no name", "an archive without a name is refused");
  {
    _cleanup_image_store_ struct image_store *s2 = new_store("import-missing");
    write_oci_archive("missing.tar", &im, "x/missing:1", true, false);
    r = import(s2, "missing.tar", NULL, NULL, &err);
    tap_ok(r < 0 && err && strstr(err->msg, "is not in the archive") && strstr(err->msg, im.layers[1].digest),
           "a manifest referencing a missing blob is refused, naming it");
    nook_error_freep(&err);
  }
  {
    _cleanup_image_store_ struct image_store *s2 = new_store("import-bad");
    write_oci_archive("bad.tar", &im, "x/bad:1", false, true);
    r = import(s2, "bad.tar", NULL, NULL, &err);
    tap_ok(r < 0 && err && strstr(err->msg, "digest mismatch") && strstr(err->msg, "member `blobs/sha256/"),
           "a blob whose content does not match its name is refused, naming the member");
    nook_error_freep(&err);
    tap_ok(!image_blob_exists(s2, im.layers[0].digest), "and is not stored");
  }

  write_docker_archive("docker.tar", &im, HEX1 "/layer.tar");
  nook_strv_free(names);
  names = NULL;
  r = import(s, "docker.tar", NULL, &names, &err);
  tap_ok(r == 0 && names && streq(names[0], "example.org/two:layers"),
         "a docker-archive with a symlinked layer is imported under its RepoTags");
  if (r < 0)
    printf("# %s\n", err->msg);
  nook_error_freep(&err);
  write_docker_archive("hostile.tar", &im, "../../etc/passwd");
  r = import(s, "hostile.tar", NULL, NULL, &err);
  expect_error(r, &err, "[0].Layers[0]: `../../etc/passwd` is not a name inside the archive",
               "a docker-archive pointing outside itself is refused");
  write_docker_archive("hostile2.tar", &im, HEX1 "/../../etc/passwd");
  r = import(s, "hostile2.tar", NULL, NULL, &err);
  expect_error(r, &err, "is not a name inside the archive", "and with `..` inside the name");

  {
    _cleanup_free_ char *p = xasprintf("%s/notatar", tmp_dir);
    write_file(p, "hello");
    r = import(s, "notatar", "x", NULL, &err);
    expect_error(r, &err, "is not a tar archive", "a file that is not a tar is refused");
  }
  image_files_free(&im);
}

/* A plain root filesystem tarball (gzip), as `tar -C rootfs -cz .` makes it. */
static void test_import_rootfs(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("import-rootfs");
  int r;

  {
    static const struct member rootfs[] = {
      { "./", NULL, 0, NULL }, { "./bin", NULL, 0, NULL }, { "./bin/true", "#!/bin/sh\n", 0, NULL },
    };
    _cleanup_free_ char *p = xasprintf("%s/rootfs.tar.gz", tmp_dir);
    struct image_entry e = { 0 };
    struct image_config *c = NULL;
    write_tar(p, rootfs, ARRAY_SIZE(rootfs), true);
    r = import(s, "rootfs.tar.gz", NULL, NULL, &err);
    expect_error(r, &err, "root filesystem tarball without a name, use --name",
                 "a rootfs tarball needs --name");
    r = import(s, "rootfs.tar.gz", "localhost/rootfs", NULL, &err);
    tap_ok(r == 0, "a gzip rootfs tarball imports with --name");
    if (r == 0 && image_store_resolve(s, "localhost/rootfs", &e, &err) == 0
        && image_manifest_load(s, e.manifest_digest, NULL, &c, &err) == 0)
      {
        tap_ok(c->n_diff_ids == 1 && streq(c->os, "linux") && streq(c->architecture, image_host_arch())
                   && c->env && nook_has_prefix(c->env[0], "PATH=/usr/local/sbin:") && c->created,
               "its config: one layer, this host's platform, PATH, created");
        tap_ok(exists_at(s, "layers/%s/diff/bin/true", c->diff_ids[0] + 7), "and its layer is unpacked");
      }
    else
      tap_ok(false, "rootfs image readable: %s", err ? err->msg : "?");
    image_config_free(c);
    image_entry_clear(&e);
    nook_error_freep(&err);
  }

}

/* An OCI layout directory whose one name is a multi-platform index: only this host's image
 * is fetched (the other platform's manifest is not even there). */
static void test_layout_multiplatform(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("multi");
  _cleanup_free_ char *dir = xasprintf("%s/multi-layout", tmp_dir), *inner_json = NULL;
  _cleanup_free_ char *index = NULL;
  _cleanup_strv_ char **names = NULL;
  const char *other = streq(image_host_arch(), "s390x") ? "amd64" : "s390x";
  struct image_files im;
  struct blob inner;
  const struct blob *blobs[5];
  int r;

  make_image(&im);
  inner_json = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_INDEX "\",\"manifests\":["
                         "{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:%064d\",\"size\":9,"
                         "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}},"
                         "{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                         "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
                         0, other, im.manifest.digest, im.manifest.len, image_host_arch());
  inner = make_json(inner_json);
  index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MT_OCI_INDEX
                    "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":"
                    "{\"org.opencontainers.image.ref.name\":\"example.org/multi:1\"}}]}",
                    inner.digest, inner.len);
  blobs[0] = &inner;
  blobs[1] = &im.manifest;
  blobs[2] = &im.config;
  blobs[3] = &im.layers[0];
  blobs[4] = &im.layers[1];
  nook_mkdir_p(dir, 0755, NULL);
  {
    _cleanup_free_ char *p = xasprintf("%s/blobs/sha256", dir);
    _cleanup_free_ char *layout = xasprintf("%s/oci-layout", dir), *ip = xasprintf("%s/index.json", dir);
    nook_mkdir_p(p, 0755, NULL);
    write_file(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
    write_file(ip, index);
    for (size_t i = 0; i < ARRAY_SIZE(blobs); i++)
      {
        _cleanup_free_ char *bp = xasprintf("%s/%s", p, blobs[i]->digest + 7);
        _cleanup_close_ int fd = open(bp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || nook_write_all(fd, blobs[i]->data, blobs[i]->len) < 0)
          printf("# cannot write %s\n", bp);
      }
  }
  r = image_import(s, dir, NULL, NULL, &names, &err);
  tap_ok(r == 0 && names && streq(names[0], "example.org/multi:1"),
         "an OCI layout directory with a multi-platform index: this host's image is imported");
  if (r < 0)
    printf("# %s\n", err->msg);
  tap_ok(exists_at(s, "layers/%s/diff/e/new", im.layers[1].digest + 7), "its layers are unpacked");
  {
    uint64_t count = 0;
    tap_ok(image_prune(s, &count, NULL, &err) == 0 && count == 1 && !image_blob_exists(s, inner.digest),
           "the platform index is not named: prune removes it, and only it");
  }
  blob_free(&inner);
  image_files_free(&im);
}

/* ---- export, remove, prune -------------------------------------------------------------- */

static void test_export_prune(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = new_store("gc");
  _cleanup_image_store_ struct image_store *s2 = new_store("gc-2");
  _cleanup_free_ char *exp = xasprintf("%s/export.tar", tmp_dir);
  _cleanup_strv_ char **names = NULL;
  struct image_entry e1 = { 0 }, e2 = { 0 };
  struct image_files im;
  uint64_t count = 99, bytes = 0;
  int r;

  make_image(&im);
  write_oci_archive("gc.tar", &im, "example.org/gc:1", false, false);
  r = import(s, "gc.tar", NULL, NULL, &err);
  tap_ok(r == 0 && image_prune(s, &count, &bytes, &err) == 0 && count == 0,
         "prune of a store whose blobs are all named removes nothing");
  tap_ok(image_export(s, "example.org/gc:1", exp, &err) == 0, "export");
  r = image_import(s2, exp, NULL, NULL, &names, &err);
  tap_ok(r == 0 && names && streq(names[0], "example.org/gc:1"), "its export imports under its name");
  if (r < 0)
    printf("# %s\n", err->msg);
  nook_error_freep(&err);
  tap_ok(image_store_resolve(s, "example.org/gc:1", &e1, NULL) == 0
             && image_store_resolve(s2, "example.org/gc:1", &e2, NULL) == 0
             && streq(e1.manifest_digest, e2.manifest_digest),
         "with the same manifest digest");

  /* A container holds the image: rm needs -f, prune keeps its blobs and layers. */
  {
    _cleanup_free_ char *dir = xasprintf("%s/containers/c1", s->path);
    _cleanup_free_ char *layers = xasprintf("%s\n%s\n", im.layers[0].digest, im.layers[1].digest);
    mkdir(dir, 0700);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    nook_write_file_atomic_at(dfd, "image", e1.manifest_digest, strlen(e1.manifest_digest), 0644, NULL);
    nook_write_file_atomic_at(dfd, "layers", layers, strlen(layers), 0644, NULL);
    close(dfd);
  }
  r = image_remove(s, "example.org/gc:1", false, &err);
  tap_ok(r == -EBUSY, "rm of an image a container uses: EBUSY");
  expect_error(r, &err, "is in use by container `c1`", "naming the container");
  tap_ok(image_remove(s, "example.org/gc:1", true, &err) == 0, "rm -f removes the name");
  count = 99;
  tap_ok(image_prune(s, &count, &bytes, &err) == 0 && count == 0
             && exists_at(s, "layers/%s/diff", im.layers[1].digest + 7),
         "prune keeps what a container uses");
  {
    _cleanup_free_ char *dir = xasprintf("%s/containers/c1", s->path);
    nook_rm_rf_at(AT_FDCWD, dir, NULL);
  }
  /* What an import that died left (its writers hold the store lock, prune excludes them), and
   * a pull's partial download that was just written. */
  {
    _cleanup_free_ char *blob = xasprintf("%s/tmp/blob-1-left", s->path);
    _cleanup_free_ char *partial = xasprintf("%s/tmp/partial-fresh", s->path);
    write_file(blob, "x");
    write_file(partial, "x");
  }
  count = 0;
  r = image_prune(s, &count, &bytes, &err);
  tap_ok(r == 0 && count == 6 && bytes > 0, "prune removes the 4 blobs and 2 layers no one uses (%llu)",
         (unsigned long long)count);
  tap_ok(!image_blob_exists(s, im.config.digest) && !exists_at(s, "layers/%s", im.layers[0].digest + 7),
         "the blobs and layers are gone");
  tap_ok(!exists_at(s, "tmp/%s", "blob-1-left"), "a blob an import left in tmp/ is removed at once");
  tap_ok(!exists_at(s, "tmp/%s", "partial-fresh"), "and so is a partial download");
  image_entry_clear(&e1);
  image_entry_clear(&e2);
  image_files_free(&im);
}

int main(void)
{
  char tmpl[] = "/tmp/nook-test-store.XXXXXX";

  archive_writer_load();
  tmp_dir = mkdtemp(tmpl);
  if (!tmp_dir)
    {
      printf("Bail out! mkdtemp\n");
      return 1;
    }
  test_names();
  test_layers();
  test_import();
  test_import_rootfs();
  test_layout_multiplatform();
  test_export_prune();
  nook_rm_rf_at(AT_FDCWD, tmp_dir, NULL);
  return tap_done();
}
