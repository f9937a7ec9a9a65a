/* Unit tests for the store checker (images/check.c): a store an import made is consistent;
 * each kind of damage is reported by the path of what is wrong or missing; --repair mends
 * what it can; what a running holder of the store lock is making is left alone. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "common/util.h"
#include "images/image.h"
#include "tests/unit/dl-archive-writer.h"
#include "tests/unit/tap.h"

#define NAME "example.org/check:1"

static char *tmp_dir;

/* A gzip tar of one directory and one file, as a root filesystem tarball. */
static void write_rootfs(const char *path)
{
  static const char data[] = "hello from the checked layer\n";
  struct archive *a = sym_archive_write_new();
  struct archive_entry *e = sym_archive_entry_new();

  sym_archive_write_set_format_pax_restricted(a);
  sym_archive_write_add_filter_gzip(a);
  sym_archive_write_open_filename(a, path);
  sym_archive_entry_set_pathname(e, "etc");
  sym_archive_entry_set_filetype(e, AE_IFDIR);
  sym_archive_entry_set_perm(e, 0755);
  sym_archive_write_header(a, e);
  sym_archive_entry_free(e);
  e = sym_archive_entry_new();
  sym_archive_entry_set_pathname(e, "etc/hello");
  sym_archive_entry_set_filetype(e, AE_IFREG);
  sym_archive_entry_set_perm(e, 0644);
  sym_archive_entry_set_size(e, sizeof data - 1);
  sym_archive_write_header(a, e);
  sym_archive_write_data(a, data, sizeof data - 1);
  sym_archive_entry_free(e);
  sym_archive_write_close(a);
  sym_archive_write_free(a);
}

/* A new store holding one imported image; *ret_image gets its manifest and config. */
static struct image_store *imported_store(const char *name, struct image_manifest **ret_m,
                                          struct image_config **ret_c)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *p = xasprintf("%s/%s", tmp_dir, name);
  _cleanup_free_ char *tar = xasprintf("%s/rootfs.tar.gz", tmp_dir);
  struct image_store *s = NULL;
  struct image_entry e = { 0 };

  if (image_store_open(p, &s, &err) < 0 || image_import(s, tar, NAME, NULL, NULL, &err) < 0
      || image_store_resolve(s, NAME, &e, &err) < 0
      || image_manifest_load(s, e.manifest_digest, ret_m, ret_c, &err) < 0)
    {
      printf("Bail out! cannot make the store %s: %s\n", p, err ? err->msg : "?");
      exit(1);
    }
  image_entry_clear(&e);
  return s;
}

static struct image_check_report *check(struct image_store *s, bool repair)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_check_report *rep = NULL;

  if (image_store_check(s, repair, &rep, &err) < 0)
    {
      printf("Bail out! check: %s\n", err->msg);
      exit(1);
    }
  for (size_t i = 0; i < rep->n_problems; i++)
    printf("#   %s: %s%s%s\n", rep->problems[i].path, rep->problems[i].message,
           rep->problems[i].repair ? " -> " : "", rep->problems[i].repair ? rep->problems[i].repair : "");
  return rep;
}

/* The problem reported at ROOT/REL whose message holds WANT, or NULL. */
static const struct image_check_problem *find(const struct image_check_report *rep,
                                              struct image_store *s, const char *rel,
                                              const char *want)
{
  _cleanup_free_ char *path = xasprintf("%s/%s", s->path, rel);

  for (size_t i = 0; i < rep->n_problems; i++)
    if (streq(rep->problems[i].path, path) && strstr(rep->problems[i].message, want))
      return &rep->problems[i];
  return NULL;
}

/* What --repair did about the problem at ROOT/REL holding WANT ("" when nothing or none). */
static const char *repair_of(const struct image_check_report *rep, struct image_store *s,
                             const char *rel, const char *want)
{
  const struct image_check_problem *p = find(rep, s, rel, want);

  return p && p->repair ? p->repair : "";
}

static char *blob_rel(const char *digest)
{
  return xasprintf("blobs/sha256/%s", digest + 7);
}

static void write_at(struct image_store *s, const char *rel, const char *data)
{
  _cleanup_close_ int fd = openat(s->dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (fd < 0 || nook_write_all(fd, data, strlen(data)) < 0)
    printf("# cannot write %s\n", rel);
}

static void test_consistent(void)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  _cleanup_image_store_ struct image_store *s = imported_store("ok", &m, &c);
  struct image_check_report *rep = check(s, false);

  tap_is_int(rep->n_problems, 0, "a store an import made is consistent");
  tap_ok(rep->n_blobs == 3 && rep->n_layers == 1 && rep->n_images == 1 && rep->n_unreferenced == 0,
         "three blobs, a layer, an image, nothing unreferenced");
  image_check_report_free(rep);
  image_manifest_free(m);
  image_config_free(c);
}

static void test_damage(void)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  _cleanup_image_store_ struct image_store *s = imported_store("damaged", &m, &c);
  _cleanup_free_ char *config = blob_rel(m->config.digest), *layer = blob_rel(m->layers[0].digest);
  _cleanup_free_ char *manifest_rel = NULL;
  const char *dangling = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
  _cleanup_free_ char *index = NULL, *dangling_rel = blob_rel(dangling);
  struct image_entry e = { 0 };
  struct image_check_report *rep;

  image_store_resolve(s, NAME, &e, NULL);
  manifest_rel = blob_rel(e.manifest_digest);
  /* A byte of the config flipped, the layer blob gone, a name pointing nowhere. */
  {
    _cleanup_close_ int fd = openat(s->dirfd, config, O_RDWR | O_CLOEXEC);
    char b = 0;
    tap_ok(fd >= 0 && pread(fd, &b, 1, 2) == 1 && (b ^= 1, pwrite(fd, &b, 1, 2) == 1),
           "flip a byte of the config blob");
  }
  tap_ok(unlinkat(s->dirfd, layer, 0) == 0, "remove the layer blob");
  index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
                    "\",\"digest\":\"%s\",\"size\":%lld,\"annotations\":{\"org.opencontainers."
                    "image.ref.name\":\"" NAME "\"}},{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
                    "\",\"digest\":\"%s\",\"size\":12,\"annotations\":{\"org.opencontainers.image."
                    "ref.name\":\"example.org/dangling:1\"}}]}",
                    e.manifest_digest, 1000000LL, dangling);
  write_at(s, "index.json", index);

  rep = check(s, false);
  tap_ok(find(rep, s, config, "corrupt: its content is `sha256:") != NULL,
         "a flipped byte: the blob's path, corrupt");
  tap_ok(find(rep, s, "index.json", "image `" NAME "`: config") != NULL,
         "and the image whose config it is");
  tap_ok(find(rep, s, layer, "missing: layer 1 of image `" NAME "`") != NULL,
         "a missing layer blob: its path, and the image that needs it");
  tap_ok(find(rep, s, dangling_rel, "missing: manifest of image `example.org/dangling:1`") != NULL,
         "a dangling name: the missing manifest's path");
  tap_ok(find(rep, s, manifest_rel, "but image `" NAME "` says its manifest has 1000000") != NULL,
         "a descriptor whose size is wrong: the blob's path and both sizes");
  image_check_report_free(rep);

  rep = check(s, true);
  tap_is_str(repair_of(rep, s, config, "corrupt"), "removed", "--repair removes the corrupt blob");
  tap_is_str(repair_of(rep, s, layer, "missing"), "name `" NAME "` removed",
             "and the names of the damaged images");
  tap_is_str(repair_of(rep, s, dangling_rel, "missing"), "name `example.org/dangling:1` removed",
             "a dangling name is removed");
  image_check_report_free(rep);
  rep = check(s, false);
  tap_ok(rep->n_problems == 0 && rep->n_images == 0 && rep->n_layers == 0,
         "afterwards the store is consistent, without the image and its layer");
  image_check_report_free(rep);
  image_entry_clear(&e);
  image_manifest_free(m);
  image_config_free(c);
}

static void test_layers_and_leftovers(void)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  _cleanup_image_store_ struct image_store *s = imported_store("layers", &m, &c);
  _cleanup_free_ char *layer = xasprintf("layers/%s", c->diff_ids[0] + 7);
  _cleanup_free_ char *hello = xasprintf("%s/diff/etc/hello", layer);
  const char *orphan = "layers/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const char *gone = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  _cleanup_free_ char *orphan_diff = xasprintf("%s/diff", orphan);
  _cleanup_free_ char *ctr_layers = xasprintf("%s\n%s\n", c->diff_ids[0], gone);
  struct image_check_report *rep;

  tap_ok(nook_rm_rf_at(s->dirfd, layer, NULL) == 0, "remove the unpacked layer");
  mkdirat(s->dirfd, orphan, 0755);
  mkdirat(s->dirfd, orphan_diff, 0755);
  mkdirat(s->dirfd, "layers/junk", 0755);
  write_at(s, "tmp/blob-1-left", "x");
  write_at(s, "tmp/partial-resumable", "x");
  mkdirat(s->dirfd, "containers/c1", 0700);
  write_at(s, "containers/c1/image",
           "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n");
  write_at(s, "containers/c1/layers", ctr_layers);
  mkdirat(s->dirfd, "containers/c2", 0700);

  rep = check(s, false);
  tap_ok(find(rep, s, layer, "missing: layer 1 of image `" NAME "`") != NULL,
         "a missing unpacked layer: its path and the image");
  tap_ok(find(rep, s, orphan, "unreferenced: no image or container") != NULL,
         "a layer no image and no container needs");
  tap_ok(find(rep, s, "layers/junk", "not a layer") != NULL, "a stray directory in layers/");
  tap_ok(find(rep, s, "tmp/blob-1-left", "left over") != NULL, "a tmp/ leftover");
  tap_ok(find(rep, s, "tmp/partial-resumable", "") == NULL && rep->n_resumable == 1,
         "a pull's partial download is not a problem");
  tap_ok(find(rep, s, "containers/c1/image", "is not in the store") != NULL,
         "a container whose image's manifest is gone");
  tap_ok(find(rep, s, "layers/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
              "missing: layer 2 of container `c1`")
             != NULL,
         "a container whose layer is gone");
  tap_ok(find(rep, s, "containers/c2", "no `image` record") != NULL, "a container without records");
  image_check_report_free(rep);

  rep = check(s, true);
  tap_ok(nook_has_prefix(repair_of(rep, s, layer, "missing"), "unpacked again from `sha256:"),
         "--repair unpacks a missing layer again from its blob");
  image_check_report_free(rep);
  {
    _cleanup_free_ char *text = NULL;
    tap_ok(nook_read_file_at(s->dirfd, hello, 4096, &text, NULL, NULL) == 0
               && streq(text, "hello from the checked layer\n"),
           "with its content");
  }
  tap_ok(faccessat(s->dirfd, orphan, F_OK, AT_SYMLINK_NOFOLLOW) < 0
             && faccessat(s->dirfd, "layers/junk", F_OK, AT_SYMLINK_NOFOLLOW) < 0
             && faccessat(s->dirfd, "tmp/blob-1-left", F_OK, AT_SYMLINK_NOFOLLOW) < 0
             && faccessat(s->dirfd, "tmp/partial-resumable", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
         "and removes the orphan, the stray and the leftover, not the partial download");
  nook_rm_rf_at(s->dirfd, "containers/c1", NULL);
  nook_rm_rf_at(s->dirfd, "containers/c2", NULL);
  rep = check(s, false);
  tap_is_int(rep->n_problems, 0, "consistent again once the broken containers are gone");
  image_check_report_free(rep);
  image_manifest_free(m);
  image_config_free(c);
}

/* Names that point at a manifest written with white space first (a registry's, as it came),
 * and at a blob that is no manifest. */
static void test_manifest_forms(void)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  _cleanup_image_store_ struct image_store *s = imported_store("forms", &m, &c);
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *digest = NULL, *config = blob_rel(m->config.digest), *json = NULL;
  struct image_entry e = { 0 };
  struct image_check_report *rep;
  size_t len = 0;

  image_store_resolve(s, NAME, &e, NULL);
  image_blob_read(s, e.manifest_digest, IMAGE_JSON_MAX, &json, &len, NULL);
  {
    _cleanup_free_ char *spaced = xasprintf("\n  %s", json);
    tap_ok(image_blob_put(s, spaced, strlen(spaced), NULL, &digest, &err) == 0
               && image_store_tag(s, "example.org/spaced:1", digest, &err) == 0,
           "name a manifest that starts with white space");
  }
  rep = check(s, false);
  tap_is_int(rep->n_problems, 0, "it is read as a manifest");
  image_check_report_free(rep);

  {
    _cleanup_free_ char *index = xasprintf(
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST
        "\",\"digest\":\"%s\",\"size\":%lld,\"annotations\":{\"org.opencontainers.image."
        "ref.name\":\"example.org/config:1\"}}]}",
        m->config.digest, (long long)m->config.size);
    write_at(s, "index.json", index);
  }
  rep = check(s, false);
  tap_ok(find(rep, s, config, "image `example.org/config:1`: not a manifest nook can read (") != NULL,
         "a name pointing at a config: not a manifest, at the blob's path");
  image_check_report_free(rep);
  image_entry_clear(&e);
  image_manifest_free(m);
  image_config_free(c);
}

/* A process that holds the store lock shared until its pipe closes. */
static pid_t hold_lock(struct image_store *s, int *ret_fd)
{
  int p[2], ready[2];
  pid_t pid;
  char c;

  if (pipe2(p, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
    return -1;
  pid = fork();
  if (pid == 0)
    {
      int fd = openat(s->dirfd, "lock", O_RDWR | O_CLOEXEC);
      close(p[1]);
      if (fd < 0 || flock(fd, LOCK_SH) < 0)
        _exit(1);
      if (write(ready[1], "r", 1) != 1)
        _exit(1);
      while (read(p[0], &c, 1) < 0 && errno == EINTR)
        ;
      _exit(0);
    }
  close(p[0]);
  close(ready[1]);
  if (pid < 0 || read(ready[0], &c, 1) != 1)
    pid = -1;
  close(ready[0]);
  *ret_fd = p[1];
  return pid;
}

static void test_in_progress(void)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  _cleanup_image_store_ struct image_store *s = imported_store("busy", &m, &c);
  const char *fresh = "layers/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
  _cleanup_free_ char *fresh_diff = xasprintf("%s/diff", fresh);
  struct image_check_report *rep;
  int fd = -1, status;
  pid_t pid = hold_lock(s, &fd);

  tap_ok(pid > 0, "another process holds the store lock");
  /* Made after it started: its work, for all the checker knows. */
  write_at(s, "tmp/blob-2-writing", "x");
  mkdirat(s->dirfd, fresh, 0755);
  mkdirat(s->dirfd, fresh_diff, 0755);
  rep = check(s, false);
  tap_is_int(rep->n_problems, 0, "what is newer than a running holder of the lock is left alone");
  image_check_report_free(rep);
  close(fd);
  waitpid(pid, &status, 0);
  rep = check(s, false);
  tap_ok(rep->n_problems == 2 && find(rep, s, "tmp/blob-2-writing", "left over")
             && find(rep, s, fresh, "unreferenced"),
         "once it is gone, it is left over");
  image_check_report_free(rep);
  image_manifest_free(m);
  image_config_free(c);
}

int main(void)
{
  char tmpl[] = "/tmp/nook-test-check.XXXXXX";
  _cleanup_free_ char *tar = NULL;

  archive_writer_load();
  tmp_dir = mkdtemp(tmpl);
  if (!tmp_dir)
    {
      printf("Bail out! mkdtemp\n");
      return 1;
    }
  tar = xasprintf("%s/rootfs.tar.gz", tmp_dir);
  write_rootfs(tar);
  test_consistent();
  test_damage();
  test_layers_and_leftovers();
  test_manifest_forms();
  test_in_progress();
  nook_rm_rf_at(AT_FDCWD, tmp_dir, NULL);
  return tap_done();
}
