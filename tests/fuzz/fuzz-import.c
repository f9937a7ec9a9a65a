/* Fuzz target for image archives (images/import.c, import-archive.c): each input becomes an
 * archive given to image_import() with a fresh store, as `nook image import FILE` does.
 *   - A tar (or gzip / zstd data): the archive itself: docker-archive, oci-archive or rootfs
 *     tarball (seeds from tests/fuzz/make-seeds.py).
 *   - A JSON array: the manifest.json of a docker-archive that holds fixed, valid members:
 *     config.json, HEX.json (the same config), layer.tar, HEX/layer.tar and a symlink
 *     HEX2/layer.tar -> ../HEX/layer.tar (docker's old layout), blobs/sha256/HEX for the config
 *     and the layer (the new one), and a `repositories` file.
 *   - A JSON object: the index.json of an oci-archive with oci-layout and blobs/sha256/ holding
 *     a valid manifest, its config and layer, and an index of that manifest.
 * In the JSON forms, @C@ @L@ @M@ @I@ stand for the hex digests of the fixed config, layer,
 * manifest and inner index, and @CS@ @LS@ @MS@ @IS@ for their sizes, so that the checked-in
 * seeds (tests/fuzz/corpus/import/) stay text.  Every other input is imported with --name.
 *
 * Checked: no memory error, no leak, no undefined behaviour; a failure is one printable line;
 * nothing is written outside the store; every name an import gives is canonical and opens as
 * a complete image (image_open: manifest, config and every layer unpacked and verified). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/fuzz/fuzz.h"

#define HEX2 "2222222222222222222222222222222222222222222222222222222222222222"

static const char *base;
static int base_fd = -1;
static struct fuzz_buf layer, config, manifest, inner;
static char digests[4][IMAGE_DIGEST_LEN + 1]; /* config, layer, manifest, inner index */
static const char *const tokens[] = { "@C@", "@L@", "@M@", "@I@", "@CS@", "@LS@", "@MS@", "@IS@" };

static void buf_printf(struct fuzz_buf *b, const char *fmt, ...) _printf_(2, 3);
static void buf_printf(struct fuzz_buf *b, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;

  va_start(ap, fmt);
  fuzz_check(vasprintf(&s, fmt, ap) >= 0, "out of memory", NULL);
  va_end(ap);
  b->data = (uint8_t *)s;
  b->len = strlen(s);
}

static const char *hex(int i)
{
  return digests[i] + 7;
}

/* The fixed blobs: a layer with a file and a directory, its config, a manifest, an index. */
static void make_blobs(void)
{
  static const char hello[] = "hello\n";

  fuzz_tar_add(&layer, "etc/", '5', NULL, NULL, 0);
  fuzz_tar_add(&layer, "etc/hello", '0', NULL, hello, sizeof(hello) - 1);
  fuzz_tar_end(&layer);
  image_digest_buf(layer.data, layer.len, digests[1]);
  buf_printf(&config,
             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],"
             "\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
             image_host_arch(), digests[1]);
  image_digest_buf(config.data, config.len, digests[0]);
  buf_printf(&manifest,
             "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"config\":{"
             "\"mediaType\":\"" IMAGE_MT_OCI_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"" IMAGE_MT_OCI_LAYER "\",\"digest\":\"%s\",\"size\":%zu}]}",
             digests[0], config.len, digests[1], layer.len);
  image_digest_buf(manifest.data, manifest.len, digests[2]);
  buf_printf(&inner,
             "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_INDEX "\",\"manifests\":[{"
             "\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
             "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
             digests[2], manifest.len, image_host_arch());
  image_digest_buf(inner.data, inner.len, digests[3]);
}

static void make_archive(struct fuzz_buf *tar, const char *json, size_t len, bool docker);

/* The fixed archive with a valid manifest.json must import: else (libarchive not loaded, a
 * store that cannot be written) every input would fail and nothing would be fuzzed. */
static void check_setup(void)
{
  static const char json[] = "[{\"Config\":\"config.json\",\"Layers\":[\"layer.tar\"]}]";
  _cleanup_free_ char *input = xasprintf("%s/input", base), *store = xasprintf("%s/store", base);
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **names = NULL;
  struct fuzz_buf tar = { 0 };

  make_archive(&tar, json, strlen(json), true);
  fuzz_write_file(base_fd, "input", tar.data, tar.len);
  free(tar.data);
  fuzz_check(image_store_open(store, &s, &err) == 0
                 && image_import(s, input, "fuzz.example/setup:1", NULL, &names, &err) == 0,
             "the harness's own archive does not import", err ? err->msg : NULL);
  image_store_free(TAKE_PTR(s));
  fuzz_check(nook_rm_rf_at(base_fd, "store", NULL) == 0, "cannot remove", store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct rlimit fsize = { 64 << 20, 64 << 20 };

  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &fsize);
  base_fd = fuzz_tmpdir(&base);
  make_blobs();
  check_setup();
  return 0;
}

/* The JSON input with the tokens replaced. */
static char *expand(const uint8_t *data, size_t size, size_t *ret_len)
{
  struct fuzz_buf out = { 0 };
  const size_t sizes[] = { config.len, layer.len, manifest.len, inner.len };
  char num[32];

  out.data = xmalloc(size * 70 / 3 + 1);
  for (size_t i = 0; i < size;)
    {
      size_t k = 0;
      for (; k < ARRAY_SIZE(tokens); k++)
        if (size - i >= strlen(tokens[k]) && memcmp(data + i, tokens[k], strlen(tokens[k])) == 0)
          break;
      if (k == ARRAY_SIZE(tokens))
        {
          out.data[out.len++] = data[i++];
          continue;
        }
      i += strlen(tokens[k]);
      if (k >= 4)
        snprintf(num, sizeof(num), "%zu", sizes[k - 4]);
      memcpy(out.data + out.len, k < 4 ? hex((int)k) : num, strlen(k < 4 ? hex((int)k) : num));
      out.len += strlen(k < 4 ? hex((int)k) : num);
    }
  *ret_len = out.len;
  return (char *)out.data;
}

static void add_blob(struct fuzz_buf *tar, const struct fuzz_buf *blob, int i)
{
  _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", hex(i));

  fuzz_tar_add(tar, name, '0', NULL, blob->data, blob->len);
}

/* The archive around a manifest.json (docker) or an index.json (OCI). */
static void make_archive(struct fuzz_buf *tar, const char *json, size_t len, bool docker)
{
  _cleanup_free_ char *cfg_json = xasprintf("%s.json", hex(0));
  _cleanup_free_ char *old = xasprintf("%s/layer.tar", hex(1));
  _cleanup_free_ char *target = xasprintf("../%s/layer.tar", hex(1));

  if (docker)
    {
      fuzz_tar_add(tar, "config.json", '0', NULL, config.data, config.len);
      fuzz_tar_add(tar, cfg_json, '0', NULL, config.data, config.len);
      fuzz_tar_add(tar, "layer.tar", '0', NULL, layer.data, layer.len);
      fuzz_tar_add(tar, old, '0', NULL, layer.data, layer.len);
      fuzz_tar_add(tar, HEX2 "/layer.tar", '2', target, NULL, 0);
      fuzz_tar_add(tar, "repositories", '0', NULL, "{}", 2);
    }
  else
    {
      static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
      fuzz_tar_add(tar, "oci-layout", '0', NULL, layout, sizeof(layout) - 1);
      add_blob(tar, &manifest, 2);
      add_blob(tar, &inner, 3);
    }
  add_blob(tar, &config, 0);
  add_blob(tar, &layer, 1);
  fuzz_tar_add(tar, docker ? "manifest.json" : "index.json", '0', NULL, json, len);
  fuzz_tar_end(tar);
}

/* BASE holds the input and the store only. */
static void check_outside(void)
{
  _cleanup_closedir_ DIR *d = NULL;
  struct dirent *de;
  int fd = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  d = fd >= 0 ? fdopendir(fd) : NULL;
  fuzz_check(d != NULL, "cannot list", base);
  while ((de = readdir(d)))
    fuzz_check(streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "input")
                   || streq(de->d_name, "store"),
               "an entry outside the store", de->d_name);
}

static void check_names(struct image_store *s, char **names)
{
  for (size_t i = 0; names[i]; i++)
    {
      _cleanup_error_ struct nook_error *err = NULL;
      struct image_ref *ref = NULL;
      struct image *img = NULL;
      _cleanup_free_ char *canon = NULL;
      int r = image_ref_parse(names[i], &ref, &err);

      fuzz_check(r == 0, "a name that is not a reference", names[i]);
      canon = image_ref_format(ref);
      image_ref_free(ref);
      fuzz_check(streq(canon, names[i]), "a name that is not canonical", names[i]);
      r = image_open(s, names[i], &img, &err);
      fuzz_check(r == 0, "an imported image does not open", err ? err->msg : names[i]);
      image_free(img);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *input = NULL, *store_path = NULL, *json = NULL;
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_strv_ char **names = NULL;
  struct fuzz_buf tar = { 0 };
  size_t skip = 0, len = 0;
  int r;

  if (base_fd < 0)
    LLVMFuzzerInitialize(NULL, NULL);
  /* libFuzzer sets its own SIGXFSZ handler after LLVMFuzzerInitialize (a "crash"): a layer
   * past RLIMIT_FSIZE must get EFBIG instead */
  signal(SIGXFSZ, SIG_IGN);
  while (skip < size && strchr(" \t\r\n", data[skip]) && data[skip])
    skip++;
  if (skip < size && (data[skip] == '[' || data[skip] == '{'))
    {
      json = expand(data, size, &len);
      make_archive(&tar, json, len, data[skip] == '[');
      fuzz_write_file(base_fd, "input", tar.data, tar.len);
      free(tar.data);
    }
  else
    fuzz_write_file(base_fd, "input", data, size);
  input = xasprintf("%s/input", base);
  store_path = xasprintf("%s/store", base);
  r = image_store_open(store_path, &s, &err);
  fuzz_check(r == 0, "cannot open the store", err ? err->msg : NULL);
  r = image_import(s, input, size % 2 ? "fuzz.example/named:1" : NULL, NULL, &names, &err);
  fuzz_check_error(r, err, NULL);
  if (r == 0)
    {
      fuzz_check(names && names[0], "an import that gives no name", NULL);
      check_names(s, names);
    }
  check_outside();
  image_store_free(TAKE_PTR(s));
  fuzz_check(nook_rm_rf_at(base_fd, "store", NULL) == 0, "cannot remove", store_path);
  return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
  return fuzz_tar_custom_mutator(data, size, max, seed);
}
