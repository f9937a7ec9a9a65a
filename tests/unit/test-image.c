/* Unit tests for images/: blobs (blob.c), the store directory (store.c), manifests, indexes,
 * configs and references (manifest.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/unit/tap.h"

#define EMPTY_SHA "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char *tmp_store(void)
{
  char tmpl[] = "/tmp/nook-test-image.XXXXXX";
  char *d = mkdtemp(tmpl);

  return d ? xasprintf("%s/store", d) : NULL;
}

static void test_digests(void)
{
  char d[IMAGE_DIGEST_LEN + 1];
  struct image_hash *h = image_hash_new();

  image_digest_buf("", 0, d);
  tap_is_str(d, EMPTY_SHA, "sha256 of nothing");
  image_hash_update(h, "a", 1);
  image_hash_update(h, "bc", 2);
  image_hash_final(h, d);
  image_hash_free(h);
  tap_is_str(d, ABC_SHA, "incremental sha256 of abc");
  tap_ok(image_digest_valid(ABC_SHA), "valid digest");
  tap_ok(!image_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
         "uppercase hex refused");
  tap_ok(!image_digest_valid("sha512:ba78"), "other algorithm refused");
  tap_ok(!image_digest_valid("sha256:../../../etc/passwd"), "path in a digest refused");
  tap_ok(!image_digest_valid(NULL), "NULL refused");
}

static void test_blobs(struct image_store *s)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *digest = NULL, *data = NULL;
  struct image_blob_writer *w = NULL;
  uint64_t off = 99, size = 0;
  size_t len = 0;
  int r;

  r = image_blob_put(s, "abc", 3, NULL, &digest, &err);
  tap_ok(r == 0 && streq(digest, ABC_SHA), "put a blob");
  tap_ok(image_blob_exists(s, ABC_SHA), "the blob exists");
  r = image_blob_read(s, ABC_SHA, 100, &data, &len, &err);
  tap_ok(r == 0 && len == 3 && memcmp(data, "abc", 3) == 0, "read it back");
  tap_ok(image_blob_size(s, ABC_SHA, &size, &err) == 0 && size == 3, "its size");

  r = image_blob_put(s, "abd", 3, ABC_SHA, NULL, &err);
  tap_ok(r < 0 && err && strstr(err->msg, "digest mismatch"), "a mismatching blob is refused");
  nook_error_freep(&err);

  /* A corrupt blob on disk is found on read. */
  {
    _cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", s->path, ABC_SHA + 7);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
    tap_ok(fd >= 0 && write(fd, "xyz", 3) == 3, "corrupt the blob on disk");
  }
  free(data);
  data = NULL;
  r = image_blob_read(s, ABC_SHA, 100, &data, &len, &err);
  tap_ok(r < 0 && err && strstr(err->msg, "is corrupt"), "a corrupt blob is refused on read");
  nook_error_freep(&err);
  tap_ok(image_blob_remove(s, ABC_SHA, &err) == 0 && !image_blob_exists(s, ABC_SHA), "remove");

  r = image_blob_open(s, ABC_SHA, &(int){ -1 }, &err);
  tap_ok(r == -ENOENT && strstr(err->msg, "is not in the store"), "open of a missing blob: ENOENT");
  nook_error_freep(&err);
  r = image_blob_open(s, "sha256:../../x", &(int){ -1 }, &err);
  tap_ok(r == -EINVAL, "open of a hostile digest: EINVAL");
  nook_error_freep(&err);

  /* Resume: a first writer stops after "a"; a second continues. */
  r = image_blob_writer_resume(s, ABC_SHA, &w, &off, &err);
  tap_ok(r == 0 && off == 0, "resume of a new blob starts at 0");
  image_blob_writer_write(w, "a", 1, &err);
  image_blob_writer_free(w);
  w = NULL;
  r = image_blob_writer_resume(s, ABC_SHA, &w, &off, &err);
  tap_ok(r == 0 && off == 1, "resume continues after the bytes kept");
  image_blob_writer_write(w, "bc", 2, &err);
  r = image_blob_writer_commit(w, ABC_SHA, 3, NULL, &err);
  image_blob_writer_free(w);
  tap_ok(r == 0 && image_blob_exists(s, ABC_SHA), "a resumed blob commits");
  {
    _cleanup_free_ char *p = xasprintf("tmp/partial-%s", ABC_SHA + 7);
    tap_ok(faccessat(s->dirfd, p, F_OK, 0) < 0, "the partial file is gone");
  }
  /* A partial file is written by one writer at a time; a stored blob is not resumed. */
  {
    struct image_blob_writer *w2 = NULL;
    r = image_blob_writer_resume(s, EMPTY_SHA, &w, &off, &err);
    tap_ok(r == 0, "resume takes the partial file's lock");
    r = image_blob_writer_resume(s, EMPTY_SHA, &w2, &off, &err);
    tap_ok(r == -EBUSY && w2 == NULL, "a second writer of the same partial file: EBUSY");
    nook_error_freep(&err);
    image_blob_writer_free(w);
    w = NULL;
    r = image_blob_writer_resume(s, ABC_SHA, &w2, &off, &err);
    tap_ok(r == -EEXIST && w2 == NULL, "resume of a blob in the store: EEXIST");
    nook_error_freep(&err);
  }
  /* Reset: a server that ignored Range sends the whole blob again. */
  r = image_blob_writer_resume(s, EMPTY_SHA, &w, &off, &err);
  image_blob_writer_write(w, "junk", 4, &err);
  r = image_blob_writer_reset(w, &err);
  tap_ok(r == 0 && image_blob_writer_size(w) == 0, "reset empties a resumable blob");
  r = image_blob_writer_commit(w, EMPTY_SHA, 0, NULL, &err);
  image_blob_writer_free(w);
  tap_ok(r == 0 && image_blob_exists(s, EMPTY_SHA), "a reset blob commits with the new content");
  r = image_blob_writer_new(s, &w, &err);
  image_blob_writer_write(w, "abc", 3, &err);
  r = image_blob_writer_commit(w, NULL, 4, NULL, &err);
  image_blob_writer_free(w);
  tap_ok(r < 0 && strstr(err->msg, "size mismatch"), "a size mismatch is refused");
  nook_error_freep(&err);
}

static const char manifest_ok[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" ABC_SHA
    "\",\"size\":3},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"" EMPTY_SHA "\",\"size\":0}]}";

static void expect_error(int r, struct nook_error **err, const char *want, const char *name)
{
  tap_ok(r < 0 && *err && strstr((*err)->msg, want), "%s", name);
  if (!(r < 0 && *err && strstr((*err)->msg, want)))
    printf("#   got: %s\n#   want: %s\n", *err ? (*err)->msg : "(success)", want);
  nook_error_freep(err);
}

static int manifest_str(const char *json, struct image_manifest **ret, struct nook_error **err)
{
  return image_manifest_parse(json, strlen(json), ret, err);
}

static int config_str(const char *json, struct image_config **ret, struct nook_error **err)
{
  return image_config_parse(json, strlen(json), ret, err);
}

static void test_manifests(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_manifest *m = NULL;
  struct image_index *idx = NULL;
  struct image_config *c = NULL;
  const struct image_descriptor *d;
  int r;

  r = image_manifest_parse(manifest_ok, strlen(manifest_ok), &m, &err);
  tap_ok(r == 0 && m->n_layers == 1 && streq(m->config.digest, ABC_SHA) && m->config.size == 3,
         "a manifest parses");
  image_manifest_free(m);
  tap_is_str(image_json_kind(manifest_ok, strlen(manifest_ok)), IMAGE_MT_OCI_MANIFEST,
             "its kind");

  r = manifest_str("{\"config\":{\"digest\":\"" ABC_SHA "\",\"size\":3},\"layers\":"
                           "[{\"digest\":\"sha256:1234\",\"size\":1}]}", &m, &err);
  expect_error(r, &err, "manifest: layers[0].digest: expected a sha256 digest",
               "a bad layer digest is named");
  r = manifest_str("{\"config\":{\"digest\":\"" ABC_SHA "\",\"size\":-1},\"layers\":[]}",
                   &m, &err);
  expect_error(r, &err, "manifest: config.size: expected a size in bytes", "negative size");
  r = manifest_str("[1]", &m, &err);
  expect_error(r, &err, "manifest: expected a JSON object", "not an object");
  r = manifest_str("{\"layers\": [", &m, &err);
  expect_error(r, &err, "manifest: invalid JSON", "truncated JSON");
  {
    char deep[300];
    memset(deep, '[', sizeof deep);
    r = image_manifest_parse(deep, sizeof deep, &m, &err);
    expect_error(r, &err, "nesting deeper than 64 levels", "deep nesting refused before parsing");
  }

  {
    static const char index[] =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"digest\":\"" ABC_SHA "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}},"
        "{\"digest\":\"" EMPTY_SHA "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    r = image_index_parse(index, strlen(index), &idx, &err);
    tap_ok(r == 0 && idx->n_manifests == 2, "an index parses");
    d = image_index_select(idx, &err);
    if (streq(image_host_arch(), "amd64"))
      tap_ok(d && streq(d->digest, EMPTY_SHA), "the amd64 entry is selected");
    else
      tap_ok(!d, "no entry for this host");
    image_index_free(idx);
    nook_error_freep(&err);
    static const char other[] =
        "{\"manifests\":[{\"digest\":\"" ABC_SHA "\",\"size\":1,\"platform\":{\"os\":\"linux\","
        "\"architecture\":\"mips64le\"}}]}";
    image_index_parse(other, strlen(other), &idx, &err);
    d = image_index_select(idx, &err);
    tap_ok(!d && err && strstr(err->msg, "it has: linux/mips64le"), "no match names the platforms offered");
    nook_error_freep(&err);
    image_index_free(idx);
  }

  {
    static const char cfg[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"www\",\"Env\":[\"A=1\"],"
        "\"Entrypoint\":null,\"Cmd\":[\"sh\"],\"WorkingDir\":\"/srv\",\"ExposedPorts\":{\"80/tcp\":{}},"
        "\"Volumes\":{\"/data\":{}},\"Labels\":{\"k\":\"v\"},\"StopSignal\":\"SIGQUIT\"},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" ABC_SHA "\"]}}";
    r = image_config_parse(cfg, strlen(cfg), &c, &err);
    tap_ok(r == 0 && streq(c->user, "www") && streq(c->env[0], "A=1") && !c->entrypoint
               && streq(c->cmd[0], "sh") && streq(c->working_dir, "/srv")
               && streq(c->exposed_ports[0], "80/tcp") && streq(c->volumes[0], "/data")
               && streq(c->labels[0], "k=v") && streq(c->stop_signal, "SIGQUIT") && c->n_diff_ids == 1,
           "an image config parses");
    image_config_free(c);
    r = config_str("{\"config\":{\"Env\":[\"NOEQUALS\"]},\"rootfs\":{\"diff_ids\":[]}}", &c,
                           &err);
    expect_error(r, &err, "config.Env[0]: `NOEQUALS` is not KEY=VALUE", "a bad Env entry is named");
    r = config_str("{\"rootfs\":{\"diff_ids\":[\"sha256:zz\"]}}", &c, &err);
    expect_error(r, &err, "rootfs.diff_ids[0]: expected a sha256 digest", "a bad diff id is named");
    r = config_str("{\"config\":{\"Cmd\":\"sh\"},\"rootfs\":{\"diff_ids\":[]}}", &c, &err);
    expect_error(r, &err, "config.Cmd: expected an array of strings", "Cmd as a string refused");
  }
}

static void check_ref(const char *in, const char *want)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_ref *r = NULL;
  _cleanup_free_ char *out = NULL;

  if (image_ref_parse(in, &r, &err) == 0)
    out = image_ref_format(r);
  image_ref_free(r);
  if (want)
    tap_is_str(out, want, in);
  else
    tap_ok(out == NULL && err && strstr(err->msg, "image reference"), "`%s` refused", in);
}

static void test_refs(void)
{
  check_ref("busybox", "docker.io/library/busybox:latest");
  check_ref("busybox:1.36", "docker.io/library/busybox:1.36");
  check_ref("user/app", "docker.io/user/app:latest");
  check_ref("index.docker.io/library/alpine", "docker.io/library/alpine:latest");
  check_ref("localhost/busybox", "localhost/busybox:latest");
  check_ref("127.0.0.1:5000/test/img:v1", "127.0.0.1:5000/test/img:v1");
  check_ref("quay.io/a/b@" ABC_SHA, "quay.io/a/b@" ABC_SHA);
  check_ref("localhost:5000/x", "localhost:5000/x:latest");
  check_ref("Busybox", NULL);
  check_ref("busybox:", NULL);
  check_ref("a//b", NULL);
  check_ref("x@sha256:123", NULL);
  check_ref("../etc", NULL);
  check_ref("", NULL);
}

int main(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *path = tmp_store();
  struct image_store *s = NULL;
  struct stat st;

  test_digests();
  tap_ok(path && image_store_open(path, &s, &err) == 0, "open a new store");
  tap_ok(s && fstatat(s->dirfd, "blobs/sha256", &st, 0) == 0 && (st.st_mode & 0777) == 0700,
         "the store has its directories, 0700");
  if (s)
    {
      tap_ok(image_store_lock(s, true, &err) == 0, "lock it");
      image_store_unlock(s);
      test_blobs(s);
      nook_rm_rf_at(AT_FDCWD, path, NULL);
      image_store_free(s);
    }
  test_manifests();
  test_refs();
  if (path)
    {
      *strrchr(path, '/') = '\0';
      rmdir(path);
    }
  return tap_done();
}
