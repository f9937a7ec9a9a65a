/* Checking the store: `nook system check`.
 *
 * Every blob is hashed (streamed) and compared with its name; every name in index.json must
 * reach a readable manifest, its config and its layer blobs with the sizes the descriptors
 * give, and its unpacked layers; every directory in layers/ must be needed by an image whose
 * manifest and config are in the store or by a container; every container's `image` and
 * `layers` must be there; tmp/ holds only the work of running processes.
 *
 * The check holds the store lock shared, as every reader does, so imports and pulls may run
 * meanwhile.  What they are making is not a problem yet: an unreferenced layer, a tmp/ entry
 * or a container directory whose ctime is not older than the start of every other holder of
 * the lock (read from /proc/locks) is left alone.  ctime, because a tar's mtimes are set on
 * purpose and ctime cannot be.  --repair holds the lock exclusive, as prune does: it removes
 * and unpacks while no one else reads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "images/store-internal.h"

#define CHECK_BUF (256u << 10)
/* Process start times come in clock ticks and file times from another clock: an entry this
 * close to a holder's start counts as its work. */
#define CHECK_SLACK_SECS 1.0

struct good_blob
{
  char *digest;
  uint64_t size;
};

struct manifest_rec
{
  char *digest;
  struct image_manifest *m;
  struct image_config *c; /* NULL when the config cannot be read */
  bool loaded;            /* c was looked for */
};

struct check
{
  struct image_store *s;
  bool repair;
  double cutoff; /* entries changed after this (seconds since the epoch) are in progress */
  struct image_check_report *rep;
  struct good_blob *good; /* sorted by digest once the blobs are read */
  size_t n_good;
  char **bad; /* corrupt blobs */
  struct manifest_rec **manifests; /* each its own allocation: late blobs add to the array */
  size_t n_manifests;
  char **recorded; /* diff-ids a manifest in the store or a container needs */
  char **reached;  /* blobs a name or a container reaches */
  char **drop_names;
};

/* ---- problems --------------------------------------------------------------------------- */

static struct image_check_problem *problem(struct check *ck, const char *rel, const char *fmt, ...)
    _printf_(3, 4);
static struct image_check_problem *problem(struct check *ck, const char *rel, const char *fmt, ...)
{
  struct image_check_report *rep = ck->rep;
  struct image_check_problem *p;
  char *msg = NULL;
  va_list ap;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  rep->problems = xrealloc(rep->problems, (rep->n_problems + 1) * sizeof *rep->problems);
  p = &rep->problems[rep->n_problems++];
  p->path = xasprintf("%s/%s", ck->s->path, rel);
  p->message = msg ? msg : xstrdup("?");
  p->repair = NULL;
  return p;
}

/* Removes ROOT/REL for --repair (a directory through tmp/gc-NAME, as prune does) and says so
 * in P. */
static void repair_remove(struct check *ck, struct image_check_problem *p, const char *rel,
                          const char *gc_name)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *via = gc_name ? xasprintf("tmp/" IMAGE_GC_PREFIX "%s", gc_name) : NULL;
  int r = 0;

  if (!ck->repair)
    return;
  if (via && renameat(ck->s->dirfd, rel, ck->s->dirfd, via) < 0)
    r = nook_error_set(&err, errno, "rename to `%s`", via);
  if (r >= 0)
    r = nook_rm_rf_at(ck->s->dirfd, via ? via : rel, &err);
  p->repair = r < 0 ? xasprintf("not removed: %s", err->msg) : xstrdup("removed");
}

/* ---- what is in progress ---------------------------------------------------------------- */

static double timespec_secs(const struct timespec *ts)
{
  return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* The wall-clock time process PID started, or -1. */
static double proc_started(pid_t pid)
{
  struct timespec real, boot;
  uint64_t ticks = 0;
  long hz = sysconf(_SC_CLK_TCK);

  if (nook_proc_start_time(pid, &ticks) < 0 || hz <= 0)
    return -1;
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return timespec_secs(&real) - timespec_secs(&boot) + (double)ticks / (double)hz;
}

/* Now, or the start of the oldest other process that holds (or waits for) ROOT/lock, less the
 * slack: what changed later may be someone's work in progress. */
static double progress_cutoff(struct image_store *s)
{
  _cleanup_free_ char *locks = NULL;
  struct timespec now;
  struct stat st;
  double cutoff;

  clock_gettime(CLOCK_REALTIME, &now);
  cutoff = timespec_secs(&now);
  if (fstatat(s->dirfd, "lock", &st, 0) < 0
      || nook_read_file_at(AT_FDCWD, "/proc/locks", 16u << 20, &locks, NULL, NULL) < 0)
    return cutoff;
  for (char *line = locks, *next; line && *line; line = next)
    {
      unsigned maj = 0, min = 0;
      unsigned long long ino = 0;
      int pid = 0;
      char *p;
      double started;
      next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      /* "1: FLOCK  ADVISORY  READ 1234 00:2d:5678 0 EOF", a waiter with "-> " before FLOCK */
      p = strstr(line, "FLOCK");
      if (!p || sscanf(p, "FLOCK %*s %*s %d %x:%x:%llu", &pid, &maj, &min, &ino) != 4)
        continue;
      if (ino != (unsigned long long)st.st_ino || maj != major(st.st_dev) || min != minor(st.st_dev)
          || pid == getpid())
        continue;
      started = proc_started(pid);
      if (started >= 0 && started - CHECK_SLACK_SECS < cutoff)
        cutoff = started - CHECK_SLACK_SECS;
    }
  return cutoff;
}

/* True when ROOT/REL changed after the cutoff (or is gone): another process's work. */
static bool in_progress(struct check *ck, const char *rel)
{
  struct stat st;
  double again;

  if (fstatat(ck->s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return true;
  if (timespec_secs(&st.st_ctim) >= ck->cutoff)
    return true;
  /* Before calling it a problem, the lock holders once more: a process that took the lock
   * after the check started may have made this (its file times come from the kernel's coarse
   * clock, a tick behind the check's own reading). */
  again = progress_cutoff(ck->s);
  if (again < ck->cutoff)
    ck->cutoff = again;
  return fstatat(ck->s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0
         || timespec_secs(&st.st_ctim) >= ck->cutoff;
}

/* ---- blobs ------------------------------------------------------------------------------ */

static int cmp_good(const void *a, const void *b)
{
  return strcmp(((const struct good_blob *)a)->digest, ((const struct good_blob *)b)->digest);
}

static const struct good_blob *good_find(struct check *ck, const char *digest)
{
  struct good_blob key = { (char *)digest, 0 };

  if (!ck->good || !digest)
    return NULL;
  return bsearch(&key, ck->good, ck->n_good, sizeof *ck->good, cmp_good);
}

/* Hashes FD to its end; keeps the content in *ret_json when it is small and starts like a
 * JSON object (a manifest, maybe). */
static int hash_fd(int fd, char ret_digest[IMAGE_DIGEST_LEN + 1], uint64_t *ret_size,
                   char **ret_json, size_t *ret_len)
{
  _cleanup_free_ char *buf = xmalloc(CHECK_BUF);
  _cleanup_free_ char *json = NULL;
  struct image_hash *h = image_hash_new();
  uint64_t size = 0;
  bool keep = true;

  for (;;)
    {
      ssize_t n = read(fd, buf, CHECK_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          image_hash_free(h);
          return -e;
        }
      if (n == 0)
        break;
      image_hash_update(h, buf, (size_t)n);
      if (size == 0)
        {
          size_t ws = 0;
          while (ws < (size_t)n && strchr(" \t\r\n", buf[ws]) && buf[ws])
            ws++;
          keep = ws < (size_t)n && buf[ws] == '{';
        }
      if (keep && size + (uint64_t)n <= IMAGE_JSON_MAX)
        {
          json = xrealloc(json, size + (size_t)n + 1);
          memcpy(json + size, buf, (size_t)n);
          json[size + (size_t)n] = '\0';
        }
      else
        keep = false;
      size += (uint64_t)n;
    }
  image_hash_final(h, ret_digest);
  image_hash_free(h);
  *ret_size = size;
  *ret_json = keep ? TAKE_PTR(json) : NULL;
  *ret_len = keep ? size : 0;
  return 0;
}

/* Keeps JSON (the blob DIGEST) when it is a manifest. */
static void manifest_keep(struct check *ck, const char *digest, const char *json, size_t len)
{
  struct image_manifest *m = NULL;

  if (!streq(image_json_kind(json, len), IMAGE_MT_OCI_MANIFEST)
      || image_manifest_parse(json, len, &m, NULL) < 0)
    return;
  ck->manifests = xrealloc(ck->manifests, (ck->n_manifests + 1) * sizeof *ck->manifests);
  ck->manifests[ck->n_manifests] = xcalloc(1, sizeof **ck->manifests);
  ck->manifests[ck->n_manifests]->digest = xstrdup(digest);
  ck->manifests[ck->n_manifests++]->m = m;
}

static void check_blob(struct check *ck, const char *name)
{
  _cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", name), *json = NULL;
  _cleanup_free_ char *named = xasprintf("sha256:%s", name);
  _cleanup_close_ int fd = -1;
  char digest[IMAGE_DIGEST_LEN + 1];
  uint64_t size = 0;
  size_t len = 0;
  struct stat st;
  int r;

  if (!image_hex64(name))
    {
      repair_remove(ck, problem(ck, rel, "not a blob: a blob's name is 64 hex digits"), rel, NULL);
      return;
    }
  fd = openat(ck->s->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
    {
      struct image_check_problem *p =
          fd < 0 && errno != ELOOP ? problem(ck, rel, "cannot be read: %s", strerror(errno))
                                   : problem(ck, rel, "not a regular file");
      repair_remove(ck, p, rel, NULL);
      return;
    }
  ck->rep->n_blobs++;
  r = hash_fd(fd, digest, &size, &json, &len);
  if (r < 0)
    {
      problem(ck, rel, "cannot be read: %s", strerror(-r));
      return;
    }
  if (!streq(digest, named))
    {
      repair_remove(ck, problem(ck, rel, "corrupt: its content is `%s`", digest), rel, NULL);
      nook_strv_push(&ck->bad, named);
      return;
    }
  ck->good = xrealloc(ck->good, (ck->n_good + 1) * sizeof *ck->good);
  ck->good[ck->n_good++] = (struct good_blob){ xstrdup(named), size };
  if (json)
    manifest_keep(ck, named, json, len);
}

static void check_blobs(struct check *ck)
{
  _cleanup_strv_ char **names = image_store_dir_names(ck->s, "blobs/sha256");

  for (size_t i = 0; names && names[i]; i++)
    check_blob(ck, names[i]);
  if (ck->good)
    qsort(ck->good, ck->n_good, sizeof *ck->good, cmp_good);
}

/* The good blob DIGEST, or NULL when it is missing or corrupt.  A blob that is not among those
 * read at first was stored since, by an import or pull running beside the check (for which
 * index.json may already name it): it is read and verified now. */
static const struct good_blob *blob_lookup(struct check *ck, const char *digest)
{
  const struct good_blob *g = good_find(ck, digest);
  _cleanup_free_ char *rel = NULL;

  if (g || !image_digest_valid(digest) || nook_strv_contains(ck->bad, digest))
    return g;
  rel = xasprintf("blobs/sha256/%s", digest + 7);
  if (faccessat(ck->s->dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return NULL;
  check_blob(ck, digest + 7);
  qsort(ck->good, ck->n_good, sizeof *ck->good, cmp_good);
  return good_find(ck, digest);
}

/* ---- what the manifests in the store need ----------------------------------------------- */

/* Reads the config of MR once, and records the diff-ids it lists. */
static void load_config(struct check *ck, struct manifest_rec *mr)
{
  _cleanup_free_ char *json = NULL;
  size_t len = 0;

  if (mr->loaded)
    return;
  mr->loaded = true;
  if (!blob_lookup(ck, mr->m->config.digest)
      || image_blob_read(ck->s, mr->m->config.digest, IMAGE_JSON_MAX, &json, &len, NULL) < 0
      || image_config_parse(json, len, &mr->c, NULL) < 0)
    return;
  for (size_t j = 0; j < mr->c->n_diff_ids; j++)
    nook_strv_push(&ck->recorded, mr->c->diff_ids[j]);
}

static void load_configs(struct check *ck)
{
  for (size_t i = 0; i < ck->n_manifests; i++)
    load_config(ck, ck->manifests[i]);
}

/* The manifest DIGEST as a good blob of the store holds it, with its config read; NULL when
 * there is none. */
static struct manifest_rec *manifest_find(struct check *ck, const char *digest)
{
  if (!blob_lookup(ck, digest))
    return NULL;
  for (int pass = 0; pass < 2; pass++)
    {
      _cleanup_free_ char *json = NULL;
      size_t len = 0;
      for (size_t i = 0; i < ck->n_manifests; i++)
        if (streq(ck->manifests[i]->digest, digest))
          {
            load_config(ck, ck->manifests[i]);
            return ck->manifests[i];
          }
      /* Not kept by the scan (it did not start like JSON): read it as a manifest now. */
      if (pass == 0 && image_blob_read(ck->s, digest, IMAGE_JSON_MAX, &json, &len, NULL) >= 0)
        manifest_keep(ck, digest, json, len);
    }
  return NULL;
}

/* The layer blob that DIFF_ID is unpacked from, by a manifest in the store, when the blob is
 * good; NULL otherwise. */
static const struct image_descriptor *layer_source(struct check *ck, const char *diff_id)
{
  for (size_t i = 0; i < ck->n_manifests; i++)
    {
      const struct manifest_rec *mr = ck->manifests[i];
      if (!mr->c || mr->c->n_diff_ids != mr->m->n_layers)
        continue;
      for (size_t j = 0; j < mr->c->n_diff_ids; j++)
        if (streq(mr->c->diff_ids[j], diff_id) && blob_lookup(ck, mr->m->layers[j].digest))
          return &mr->m->layers[j];
    }
  return NULL;
}

static bool layer_present(struct check *ck, const char *diff_id)
{
  _cleanup_free_ char *p = xasprintf("layers/%s/diff", diff_id + 7);
  struct stat st;

  return fstatat(ck->s->dirfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A missing layer: reported at layers/HEX, unpacked again from its blob by --repair. */
static void missing_layer(struct check *ck, const char *diff_id, const char *who)
{
  _cleanup_free_ char *rel = xasprintf("layers/%s", diff_id + 7);
  _cleanup_error_ struct nook_error *err = NULL;
  const struct image_descriptor *src;
  size_t at = ck->rep->n_problems;
  char *repair;

  problem(ck, rel, "missing: %s", who);
  if (!ck->repair)
    return;
  /* Looking for the blob may verify it, and report it: the problems may move. */
  src = layer_source(ck, diff_id);
  if (!src)
    repair = xstrdup("not repaired: no blob in the store to unpack it from");
  else if (image_layer_ensure(ck->s, src, diff_id, NULL, &err) < 0)
    repair = xasprintf("not repaired: %s", err->msg);
  else
    repair = xasprintf("unpacked again from `%s`", src->digest);
  ck->rep->problems[at].repair = repair;
}

/* Marks the blobs of the manifest DIGEST as reached. */
static void reach(struct check *ck, const char *digest)
{
  const struct manifest_rec *mr = manifest_find(ck, digest);

  nook_strv_push(&ck->reached, digest);
  if (!mr)
    return;
  nook_strv_push(&ck->reached, mr->m->config.digest);
  for (size_t i = 0; i < mr->m->n_layers; i++)
    nook_strv_push(&ck->reached, mr->m->layers[i].digest);
}

/* ---- names ------------------------------------------------------------------------------ */

/* The blob D (WHAT of image NAME) must be good and of the size D gives; a problem is reported
 * otherwise.  True when the blob is there and good (if maybe of another size), so that what
 * it refers to can be checked too. */
static bool check_ref(struct check *ck, const struct image_descriptor *d, const char *what,
                      const char *name)
{
  _cleanup_free_ char *rel = NULL;
  const struct good_blob *g;

  if (!image_digest_valid(d->digest))
    {
      problem(ck, "index.json", "image `%s`: %s `%s` is not a sha256 digest", name, what,
              d->digest ? d->digest : "");
      return false;
    }
  rel = xasprintf("blobs/sha256/%s", d->digest + 7);
  g = blob_lookup(ck, d->digest);
  if (nook_strv_contains(ck->bad, d->digest))
    problem(ck, "index.json", "image `%s`: %s `%s` is corrupt", name, what, d->digest);
  else if (!g)
    problem(ck, rel, "missing: %s of image `%s`", what, name);
  else if (d->size >= 0 && g->size != (uint64_t)d->size)
    problem(ck, rel, "has %llu bytes, but image `%s` says its %s has %lld",
            (unsigned long long)g->size, name, what, (long long)d->size);
  return g != NULL;
}

/* Checks the image the index entry D names; a damaged one's name goes with --repair. */
static void check_image(struct check *ck, const struct image_descriptor *d)
{
  const char *name = d->ref_name ? d->ref_name : d->digest ? d->digest : "?";
  const struct manifest_rec *mr = NULL;
  size_t before = ck->rep->n_problems;
  bool ok;

  ck->rep->n_images++;
  ok = check_ref(ck, d, "manifest", name);
  if (ok && !(mr = manifest_find(ck, d->digest)))
    {
      _cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", d->digest + 7);
      _cleanup_error_ struct nook_error *err = NULL;
      image_manifest_load(ck->s, d->digest, NULL, NULL, &err);
      problem(ck, rel, "image `%s`: not a manifest nook can read (%s)", name,
              err ? err->msg : "not a manifest");
    }
  if (mr)
    {
      char what[32];
      reach(ck, d->digest);
      ok = check_ref(ck, &mr->m->config, "config", name);
      for (size_t i = 0; i < mr->m->n_layers; i++)
        {
          snprintf(what, sizeof what, "layer %zu", i + 1);
          check_ref(ck, &mr->m->layers[i], what, name);
        }
      if (ok && !mr->c)
        problem(ck, "index.json", "image `%s`: its config `%s` cannot be read", name,
                mr->m->config.digest);
      else if (ok && mr->c->n_diff_ids != mr->m->n_layers)
        problem(ck, "index.json", "image `%s`: the config lists %zu layers, the manifest %zu", name,
                mr->c->n_diff_ids, mr->m->n_layers);
      else if (ok)
        for (size_t i = 0; i < mr->c->n_diff_ids; i++)
          if (!layer_present(ck, mr->c->diff_ids[i]))
            {
              _cleanup_free_ char *who = xasprintf("layer %zu of image `%s`", i + 1, name);
              missing_layer(ck, mr->c->diff_ids[i], who);
            }
    }
  /* A damaged image loses its name, unless all that was wrong was a layer unpacked again. */
  for (size_t i = before; ck->repair && i < ck->rep->n_problems; i++)
    {
      struct image_check_problem *p = &ck->rep->problems[i];
      if (p->repair && !nook_has_prefix(p->repair, "not "))
        continue;
      free(p->repair);
      p->repair = xasprintf("name `%s` removed", name);
      if (!nook_strv_contains(ck->drop_names, name))
        nook_strv_push(&ck->drop_names, name);
    }
}

static void check_names(struct check *ck)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_index *idx = NULL;

  if (image_names_read(ck->s, &idx, &err) < 0)
    {
      problem(ck, "index.json", "cannot be read: %s", err->msg);
      return;
    }
  for (size_t i = 0; i < idx->n_manifests; i++)
    check_image(ck, &idx->manifests[i]);
  image_index_free(idx);
  for (size_t i = 0; ck->drop_names && ck->drop_names[i]; i++)
    {
      _cleanup_error_ struct nook_error *e = NULL;
      if (image_names_remove(ck->s, ck->drop_names[i], NULL, NULL, &e) < 0)
        problem(ck, "index.json", "cannot remove the name `%s`: %s", ck->drop_names[i], e->msg);
    }
}

/* ---- layers, containers, tmp ------------------------------------------------------------ */

static void check_layers(struct check *ck)
{
  _cleanup_strv_ char **names = image_store_dir_names(ck->s, "layers");

  image_strv_sort(ck->recorded);
  for (size_t i = 0; names && names[i]; i++)
    {
      _cleanup_free_ char *rel = xasprintf("layers/%s", names[i]);
      _cleanup_free_ char *diff_id = xasprintf("sha256:%s", names[i]);
      if (!image_hex64(names[i]))
        repair_remove(ck, problem(ck, rel, "not a layer: a layer's name is 64 hex digits"), rel, NULL);
      else if (!layer_present(ck, diff_id))
        repair_remove(ck, problem(ck, rel, "not a layer: it has no `diff` directory"), rel, names[i]);
      else if (!image_strv_sorted_has(ck->recorded, diff_id) && !in_progress(ck, rel))
        repair_remove(ck, problem(ck, rel, "unreferenced: no image or container in the store needs it"),
                      rel, names[i]);
      ck->rep->n_layers++;
    }
}

/* The records of every container: first, so that the layers they need are recorded. */
static void record_containers(struct check *ck, char **ids)
{
  for (size_t i = 0; ids && ids[i]; i++)
    {
      _cleanup_free_ char *image = image_store_container_file(ck->s, ids[i], "image");
      _cleanup_strv_ char **ids_of = image_store_container_layers(ck->s, ids[i]);
      for (size_t j = 0; ids_of && ids_of[j]; j++)
        nook_strv_push(&ck->recorded, ids_of[j]);
      if (image)
        {
          image[strcspn(image, " \t\r\n")] = '\0';
          reach(ck, image);
        }
    }
}

static void check_container(struct check *ck, const char *id)
{
  _cleanup_free_ char *rel = xasprintf("containers/%s", id);
  _cleanup_free_ char *image = image_store_container_file(ck->s, id, "image");
  _cleanup_free_ char *layers = image_store_container_file(ck->s, id, "layers");
  _cleanup_strv_ char **diff_ids = image_store_container_layers(ck->s, id);

  if (in_progress(ck, rel))
    return;
  ck->rep->n_containers++;
  if (!image || !layers)
    {
      problem(ck, rel, "no `%s` record: not made by `nook run`, or its run crashed (`nook rm` it)",
              image ? "layers" : "image");
      return;
    }
  image[strcspn(image, " \t\r\n")] = '\0';
  if (!blob_lookup(ck, image))
    {
      _cleanup_free_ char *img_rel = xasprintf("%s/image", rel);
      problem(ck, img_rel, "its image's manifest `%s` is not in the store", image);
    }
  for (size_t i = 0; diff_ids && diff_ids[i]; i++)
    if (!layer_present(ck, diff_ids[i]))
      {
        _cleanup_free_ char *who = xasprintf("layer %zu of container `%s` (%s/layers)", i + 1, id, rel);
        missing_layer(ck, diff_ids[i], who);
      }
}

static void check_tmp(struct check *ck)
{
  _cleanup_strv_ char **names = image_store_dir_names(ck->s, "tmp");

  for (size_t i = 0; names && names[i]; i++)
    {
      _cleanup_free_ char *rel = xasprintf("tmp/%s", names[i]);
      /* A pull resumes these; prune removes them when they are old. */
      if (nook_has_prefix(names[i], "partial-"))
        {
          ck->rep->n_resumable++;
          continue;
        }
      if (!in_progress(ck, rel))
        repair_remove(ck, problem(ck, rel, "left over: no running process is writing it"), rel, NULL);
    }
}

static void count_unreferenced(struct check *ck)
{
  image_strv_sort(ck->reached);
  for (size_t i = 0; i < ck->n_good; i++)
    if (!image_strv_sorted_has(ck->reached, ck->good[i].digest))
      ck->rep->n_unreferenced++;
}

/* ---- the entry point -------------------------------------------------------------------- */

static void check_free(struct check *ck)
{
  for (size_t i = 0; i < ck->n_good; i++)
    free(ck->good[i].digest);
  free(ck->good);
  for (size_t i = 0; i < ck->n_manifests; i++)
    {
      free(ck->manifests[i]->digest);
      image_manifest_free(ck->manifests[i]->m);
      image_config_free(ck->manifests[i]->c);
      free(ck->manifests[i]);
    }
  free(ck->manifests);
  nook_strv_free(ck->bad);
  nook_strv_free(ck->recorded);
  nook_strv_free(ck->reached);
  nook_strv_free(ck->drop_names);
}

int image_store_check(struct image_store *s, bool repair, struct image_check_report **ret,
                      struct nook_error **err)
{
  struct check ck = { .s = s, .repair = repair };
  _cleanup_strv_ char **containers = NULL;
  int r;

  r = image_store_lock(s, repair, err);
  if (r < 0)
    return r;
  ck.rep = xcalloc(1, sizeof *ck.rep);
  ck.cutoff = progress_cutoff(s);
  containers = image_store_dir_names(s, "containers");
  check_blobs(&ck);
  load_configs(&ck);
  record_containers(&ck, containers);
  check_names(&ck);
  check_layers(&ck);
  for (size_t i = 0; containers && containers[i]; i++)
    check_container(&ck, containers[i]);
  check_tmp(&ck);
  count_unreferenced(&ck);
  image_store_unlock(s);
  *ret = TAKE_PTR(ck.rep);
  check_free(&ck);
  return 0;
}

void image_check_report_free(struct image_check_report *rep)
{
  if (!rep)
    return;
  for (size_t i = 0; i < rep->n_problems; i++)
    {
      free(rep->problems[i].path);
      free(rep->problems[i].message);
      free(rep->problems[i].repair);
    }
  free(rep->problems);
  free(rep);
}
