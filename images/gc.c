/* Removing names, and prune: mark what a name or a container reaches, sweep the rest.
 *
 * Prune holds the store lock exclusive, and every importer holds it shared for its whole
 * run, so whatever prune finds unmarked is not an import's work in progress.  A layer is
 * first renamed into tmp/ and only then removed, so that a crash leaves no half layer under
 * its name; what is in tmp/ goes too: no import or pull is running to need it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "images/store-internal.h"

#define SMALL_FILE_MAX 65536

/* ---- containers ------------------------------------------------------------------------- */

char *image_store_container_file(struct image_store *s, const char *id, const char *name)
{
  _cleanup_free_ char *p = xasprintf("containers/%s/%s", id, name);
  char *data = NULL;

  if (nook_read_file_at(s->dirfd, p, SMALL_FILE_MAX, &data, NULL, NULL) < 0)
    return NULL;
  return data;
}

/* Calls FN for every container directory's id. */
static void containers_each(struct image_store *s, void (*fn)(struct image_store *, const char *, void *),
                            void *data)
{
  int fd = openat(s->dirfd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *de;

  if (!d)
    {
      if (fd >= 0)
        close(fd);
      return;
    }
  while ((de = readdir(d)))
    if (de->d_name[0] != '.')
      fn(s, de->d_name, data);
}

struct user_search
{
  const char *digest;
  char *found;
};

static void user_check(struct image_store *s, const char *id, void *data)
{
  struct user_search *u = data;
  _cleanup_free_ char *image = NULL;

  if (u->found || !(image = image_store_container_file(s, id, "image")))
    return;
  image[strcspn(image, " \t\r\n")] = '\0';
  if (streq(image, u->digest))
    u->found = xstrdup(id);
}

char *image_store_user(struct image_store *s, const char *manifest_digest)
{
  struct user_search u = { manifest_digest, NULL };

  containers_each(s, user_check, &u);
  return u.found;
}

/* ---- remove ----------------------------------------------------------------------------- */

static size_t names_of(struct image_store *s, const char *manifest_digest)
{
  struct image_index *idx = NULL;
  size_t n = 0;

  if (image_names_read(s, &idx, NULL) < 0)
    return 0;
  for (size_t i = 0; i < idx->n_manifests; i++)
    n += idx->manifests[i].ref_name && streq(idx->manifests[i].digest, manifest_digest);
  image_index_free(idx);
  return n;
}

int image_remove(struct image_store *s, const char *what, bool force, struct nook_error **err)
{
  struct image_entry e = { 0 };
  _cleanup_free_ char *user = NULL;
  bool by_name = false;
  int r;

  r = image_names_find(s, what, &e, &by_name, err);
  if (r < 0)
    return r;
  /* A container keeps its layers whatever happens to the name; EBUSY only protects a user
   * from losing the last name of an image in use. */
  if (!force && (!by_name || names_of(s, e.manifest_digest) <= 1)
      && (user = image_store_user(s, e.manifest_digest)))
    r = nook_error_setx(err, EBUSY, "image `%s` is in use by container `%s`", what, user);
  if (r >= 0)
    r = image_names_remove(s, by_name ? e.name : NULL, e.manifest_digest, NULL, err);
  image_entry_clear(&e);
  return r;
}

/* ---- prune: mark ------------------------------------------------------------------------ */

struct marks
{
  char **blobs;  /* digests */
  char **layers; /* diff-ids */
};

static void mark(char ***set, const char *digest)
{
  if (image_digest_valid(digest))
    nook_strv_push(set, digest);
}

/* The manifest DIGEST, its config and layer blobs, and its layers' diff-ids.  What cannot be
 * read is not followed (and its blobs go). */
static void mark_image(struct image_store *s, const char *digest, struct marks *mk)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;

  mark(&mk->blobs, digest);
  if (image_manifest_load(s, digest, &m, NULL, NULL) < 0)
    return;
  mark(&mk->blobs, m->config.digest);
  for (size_t i = 0; i < m->n_layers; i++)
    mark(&mk->blobs, m->layers[i].digest);
  if (image_manifest_load(s, digest, NULL, &c, NULL) >= 0)
    for (size_t i = 0; i < c->n_diff_ids; i++)
      mark(&mk->layers, c->diff_ids[i]);
  image_manifest_free(m);
  image_config_free(c);
}

char **image_store_container_layers(struct image_store *s, const char *id)
{
  _cleanup_free_ char *layers = image_store_container_file(s, id, "layers");
  char **out = NULL;

  /* Every sha256 digest in the file, whatever its layout (lines, JSON). */
  for (char *p = layers; p && (p = strstr(p, "sha256:")); p += 7)
    {
      _cleanup_free_ char *d = xstrndup(p, IMAGE_DIGEST_LEN);
      if (image_digest_valid(d))
        nook_strv_push(&out, d);
    }
  return out;
}

static void mark_container(struct image_store *s, const char *id, void *data)
{
  struct marks *mk = data;
  _cleanup_free_ char *image = image_store_container_file(s, id, "image");
  _cleanup_strv_ char **layers = image_store_container_layers(s, id);

  if (image)
    {
      image[strcspn(image, " \t\r\n")] = '\0';
      mark_image(s, image, mk);
    }
  for (size_t i = 0; layers && layers[i]; i++)
    mark(&mk->layers, layers[i]);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void image_strv_sort(char **set)
{
  if (set)
    qsort(set, nook_strv_length(set), sizeof *set, cmp_str);
}

bool image_strv_sorted_has(char **set, const char *s)
{
  return set && bsearch(&s, set, nook_strv_length(set), sizeof *set, cmp_str) != NULL;
}

static int mark_all(struct image_store *s, struct marks *mk, struct nook_error **err)
{
  struct image_index *idx = NULL;
  int r;

  r = image_names_read(s, &idx, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < idx->n_manifests; i++)
    mark_image(s, idx->manifests[i].digest, mk);
  image_index_free(idx);
  containers_each(s, mark_container, mk);
  image_strv_sort(mk->blobs);
  image_strv_sort(mk->layers);
  return 0;
}

/* ---- prune: sweep ----------------------------------------------------------------------- */

struct sweep
{
  uint64_t count;
  uint64_t bytes;
};

/* Disk space of DIRFD/NAME and everything below it. */
static uint64_t tree_bytes(int dfd, const char *name)
{
  struct stat st;
  uint64_t sum;
  int fd;
  DIR *d;
  struct dirent *de;

  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  sum = (uint64_t)st.st_blocks * 512;
  if (!S_ISDIR(st.st_mode))
    return sum;
  fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || !(d = fdopendir(fd)))
    {
      if (fd >= 0)
        close(fd);
      return sum;
    }
  while ((de = readdir(d)))
    if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
      sum += tree_bytes(dirfd(d), de->d_name);
  closedir(d);
  return sum;
}

static int sweep_remove(struct image_store *s, const char *rel, struct sweep *sw,
                        struct nook_error **err)
{
  uint64_t bytes = tree_bytes(s->dirfd, rel);
  int r = nook_rm_rf_at(s->dirfd, rel, err);

  if (r < 0)
    return nook_error_prefix(err, "prune `%s/%s`", s->path, rel);
  sw->count++;
  sw->bytes += bytes;
  return 0;
}

char **image_store_dir_names(struct image_store *s, const char *dir)
{
  int fd = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  char **out = NULL;
  struct dirent *de;

  if (!d && fd >= 0)
    close(fd);
  while (d && (de = readdir(d)))
    if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
      nook_strv_push(&out, de->d_name);
  return out;
}

bool image_hex64(const char *s)
{
  return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Removes the entries of ROOT/DIR named by 64 hex digits that SET does not hold; through
 * tmp/ when VIA_TMP, so that a crash leaves no half-removed tree under its name. */
static int sweep_dir(struct image_store *s, const char *dir, char **set, bool via_tmp,
                     struct sweep *sw, struct nook_error **err)
{
  _cleanup_strv_ char **names = image_store_dir_names(s, dir);
  int r = 0;

  for (size_t i = 0; r >= 0 && names && names[i]; i++)
    {
      _cleanup_free_ char *digest = xasprintf("sha256:%s", names[i]);
      _cleanup_free_ char *rel = xasprintf("%s/%s", dir, names[i]);
      _cleanup_free_ char *tmp = xasprintf("tmp/" IMAGE_GC_PREFIX "%s", names[i]);
      if (!image_hex64(names[i]) || image_strv_sorted_has(set, digest))
        continue;
      if (via_tmp && renameat(s->dirfd, rel, s->dirfd, tmp) < 0)
        return nook_error_set(err, errno, "prune `%s/%s`", s->path, rel);
      r = sweep_remove(s, via_tmp ? tmp : rel, sw, err);
    }
  return r;
}

/* tmp/: every writer of tmp/ holds the store lock shared while it writes, so under prune's
 * exclusive lock everything there was left by a process that died or failed (or moved there
 * by prune itself) and goes.  That includes a pull's partial downloads: the next pull would
 * resume them, but prune is what frees a full disk, and a partial download may be what
 * filled it. */
static int sweep_tmp(struct image_store *s, struct sweep *sw, struct nook_error **err)
{
  _cleanup_strv_ char **names = image_store_dir_names(s, "tmp");
  int r = 0;

  for (size_t i = 0; r >= 0 && names && names[i]; i++)
    {
      _cleanup_free_ char *rel = xasprintf("tmp/%s", names[i]);
      struct sweep ignored = { 0 };
      r = sweep_remove(s, rel, &ignored, err);
      sw->bytes += ignored.bytes;
    }
  return r;
}

int image_prune(struct image_store *s, uint64_t *ret_blobs, uint64_t *ret_bytes,
                struct nook_error **err)
{
  struct marks mk = { NULL, NULL };
  struct sweep sw = { 0, 0 };
  int r;

  r = image_store_lock(s, true, err);
  if (r < 0)
    return r;
  r = mark_all(s, &mk, err);
  if (r >= 0)
    r = sweep_dir(s, "blobs/sha256", mk.blobs, false, &sw, err);
  if (r >= 0)
    r = sweep_dir(s, "layers", mk.layers, true, &sw, err);
  if (r >= 0)
    r = sweep_tmp(s, &sw, err);
  image_store_unlock(s);
  nook_strv_free(mk.blobs);
  nook_strv_free(mk.layers);
  if (r < 0)
    return r;
  if (ret_blobs)
    *ret_blobs = sw.count;
  if (ret_bytes)
    *ret_bytes = sw.bytes;
  return 0;
}
