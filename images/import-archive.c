/* Image archives (oci-archive, docker-archive) and rootfs tarballs, read in two passes.
 *
 * A tar cannot be read out of order, and the document that says what its members are
 * (manifest.json, index.json) may come last, so the first pass only records the members'
 * names, types and sizes and reads the few small JSON documents; it costs a seek per member
 * in an uncompressed tar.  The second pass streams the members the documents want straight
 * into the blob store.  Member names are only ever keys to look up: nothing is written under
 * them, so `..` or an absolute name can at worst fail to be found. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "images/dl-archive.h"
#include "images/image.h"
#include "images/store-internal.h"

#define ARCHIVE_BLOCK (256u << 10)
#define ARCHIVE_MAX_MEMBERS 100000
#define ARCHIVE_MAX_LINKS 8

/* ---- names ------------------------------------------------------------------------------ */

/* Appends the components of P to OUT (a normalised name), resolving ".." against what is
 * there when RESOLVE (false when OUT would go above the top), else keeping it as a name. */
static bool name_append(char **out, const char *p, bool resolve)
{
  _cleanup_free_ char *copy = xstrdup(p);
  char *save = NULL;

  for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
    {
      char *next;
      if (streq(c, "."))
        continue;
      if (resolve && streq(c, ".."))
        {
          char *slash = strrchr(*out, '/');
          if (!**out)
            return false;
          if (slash)
            *slash = '\0';
          else
            **out = '\0';
          continue;
        }
      next = xasprintf("%s%s%s", *out, **out ? "/" : "", c);
      free(*out);
      *out = next;
    }
  return true;
}

/* "./blobs//sha256/x/" -> "blobs/sha256/x"; an absolute name keeps its leading '/'. */
static char *name_normalize(const char *name)
{
  char *out = xstrdup("");

  name_append(&out, name ? name : "", false);
  if (name && name[0] == '/')
    {
      char *abs = xasprintf("/%s", out);
      free(out);
      out = abs;
    }
  return out;
}

/* The member a symlink at NAME pointing at TARGET names, or NULL when it leaves the archive. */
static char *link_resolve(const char *name, const char *target)
{
  char *slash = strrchr(name, '/');
  char *out = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup("");

  if (!target || target[0] == '/' || !name_append(&out, target, true))
    {
      free(out);
      return NULL;
    }
  return out;
}

static bool is_hex64(const char *s, size_t len)
{
  return len == 64 && strspn(s, "0123456789abcdef") >= 64;
}

/* Whether a member may belong to an image archive: docker's (old and new), podman's,
 * skopeo's, go-containerregistry's.  They keep their directories and everything below them
 * under blobs/ or a 64-hex directory; their top-level files have any name ("HEX.tar",
 * "sha256:HEX", "manifest.json").  Any other directory, a file below one, or a top-level
 * symlink or device is a root filesystem's. */
static bool image_member(const char *name, unsigned type)
{
  size_t first = strcspn(name, "/");

  if (!*name)
    return true; /* "./" */
  if ((first == 5 && strncmp(name, "blobs", 5) == 0) || (first == 64 && is_hex64(name, 64)))
    return true;
  return !name[first] && type == AE_IFREG;
}

/* The digest a member's name promises: blobs/sha256/HEX, and at the top HEX.json (docker's
 * config) or sha256:HEX (go-containerregistry's), else NULL. */
static char *member_expected_digest(const char *name)
{
  if (nook_has_prefix(name, "blobs/sha256/") && is_hex64(name + 13, strlen(name + 13)))
    return xasprintf("sha256:%s", name + 13);
  if (strlen(name) == 69 && is_hex64(name, 64) && streq(name + 64, ".json"))
    return xasprintf("sha256:%.64s", name);
  if (image_digest_valid(name))
    return xstrdup(name);
  return NULL;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int archive_open(struct image_archive *a, struct archive **ret, struct nook_error **err)
{
  struct archive *ar;

  if (dl_libarchive_load(err) < 0)
    return -1;
  if (lseek(a->fd, 0, SEEK_SET) < 0)
    return nook_error_set(err, errno, "seek in `%s`", a->path);
  ar = sym_archive_read_new();
  if (!ar)
    return nook_error_set(err, ENOMEM, "read `%s`", a->path);
  sym_archive_read_support_filter_gzip(ar);
  sym_archive_read_support_filter_zstd(ar);
  sym_archive_read_support_format_tar(ar);
  if (sym_archive_read_open_fd(ar, a->fd, ARCHIVE_BLOCK) != ARCHIVE_OK)
    {
      int r = nook_error_setx(err, EINVAL, "`%s` is not a tar archive: %s", a->path,
                              sym_archive_error_string(ar));
      sym_archive_read_free(ar);
      return r;
    }
  *ret = ar;
  return 0;
}

static void archive_freep(struct archive **ar)
{
  if (*ar)
    sym_archive_read_free(*ar);
}

static int archive_reader(void *src, void *buf, size_t len, size_t *ret_n, struct nook_error **err)
{
  la_ssize_t n = sym_archive_read_data(src, buf, len);

  if (n < 0)
    return nook_error_setx(err, EIO, "read: %s", sym_archive_error_string(src));
  *ret_n = (size_t)n;
  return 0;
}

/* The next header; 0 at the end, 1 for a member. */
static int archive_next(struct image_archive *a, struct archive *ar, size_t i,
                        struct archive_entry **ret, struct nook_error **err)
{
  int x = sym_archive_read_next_header(ar, ret);

  if (x == ARCHIVE_EOF)
    return 0;
  if (x == ARCHIVE_OK || x == ARCHIVE_WARN)
    return 1;
  if (i == 0)
    return nook_error_setx(err, EINVAL, "`%s` is not a tar archive: %s", a->path,
                           sym_archive_error_string(ar));
  return nook_error_setx(err, EINVAL, "`%s`: member %zu (after `%s`): %s", a->path, i + 1,
                         a->members[i - 1].name, sym_archive_error_string(ar));
}

static int read_document(struct image_archive *a, struct archive *ar, const char *name,
                         char **ret, size_t *ret_len, struct nook_error **err)
{
  _cleanup_free_ char *buf = xmalloc(IMAGE_JSON_MAX + 1);
  size_t len = 0;

  if (*ret)
    return nook_error_setx(err, EINVAL, "`%s`: member `%s` is there twice", a->path, name);
  for (;;)
    {
      size_t n = 0;
      int r = archive_reader(ar, buf + len, IMAGE_JSON_MAX + 1 - len, &n, err);
      if (r < 0)
        return nook_error_prefix(err, "`%s`: member `%s`", a->path, name);
      if (n == 0)
        break;
      len += n;
      if (len > IMAGE_JSON_MAX)
        return nook_error_setx(err, EFBIG, "`%s`: member `%s` is larger than %u bytes", a->path,
                               name, IMAGE_JSON_MAX);
    }
  buf[len] = '\0';
  *ret = TAKE_PTR(buf);
  if (ret_len)
    *ret_len = len;
  return 0;
}

static void member_add(struct image_archive *a, char *name, struct archive_entry *e)
{
  struct image_archive_member *m;
  const char *hardlink = sym_archive_entry_hardlink(e);

  if (a->n_members % 64 == 0)
    a->members = xrealloc(a->members, (a->n_members + 64) * sizeof *a->members);
  m = &a->members[a->n_members++];
  memset(m, 0, sizeof *m);
  m->name = name;
  m->size = sym_archive_entry_size(e);
  if (hardlink)
    {
      m->is_link = true;
      m->link = name_normalize(hardlink);
    }
  else if (sym_archive_entry_filetype(e) == AE_IFLNK)
    {
      m->is_link = true;
      m->link = link_resolve(name, sym_archive_entry_symlink(e));
    }
  else
    m->is_file = sym_archive_entry_filetype(e) == AE_IFREG;
}

static int scan_member(struct image_archive *a, struct archive *ar, struct archive_entry *e,
                       bool *ret_stop, struct nook_error **err)
{
  char *name = name_normalize(sym_archive_entry_pathname(e));
  bool file = sym_archive_entry_filetype(e) == AE_IFREG && !sym_archive_entry_hardlink(e);

  *ret_stop = false;
  if (!image_member(name, sym_archive_entry_hardlink(e) ? 0 : sym_archive_entry_filetype(e)))
    {
      free(name);
      a->rootfs = true;
      *ret_stop = true;
      return 0;
    }
  if (a->n_members >= ARCHIVE_MAX_MEMBERS)
    {
      free(name);
      return nook_error_setx(err, E2BIG, "`%s`: more than %d members", a->path,
                             ARCHIVE_MAX_MEMBERS);
    }
  member_add(a, name, e);
  if (file && streq(name, "oci-layout"))
    return read_document(a, ar, name, &a->oci_layout, NULL, err);
  if (file && streq(name, "index.json"))
    return read_document(a, ar, name, &a->index_json, &a->index_len, err);
  if (file && streq(name, "manifest.json"))
    return read_document(a, ar, name, &a->manifest_json, &a->manifest_len, err);
  return 0;
}

int image_archive_scan(const char *path, struct image_archive **ret, struct nook_error **err)
{
  _cleanup_archive_ struct image_archive *a = xcalloc(1, sizeof *a);
  _cleanup_(archive_freep) struct archive *ar = NULL;
  struct archive_entry *e;
  bool stop = false;
  int r;

  a->path = xstrdup(path);
  a->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (a->fd < 0)
    return nook_error_set(err, errno, "open `%s`", path);
  r = archive_open(a, &ar, err);
  while (r >= 0 && !stop && (r = archive_next(a, ar, a->n_members, &e, err)) > 0)
    r = scan_member(a, ar, e, &stop, err);
  if (r < 0)
    return r;
  *ret = TAKE_PTR(a);
  return 0;
}

void image_archive_free(struct image_archive *a)
{
  if (!a)
    return;
  for (size_t i = 0; i < a->n_members; i++)
    {
      free(a->members[i].name);
      free(a->members[i].link);
      free(a->members[i].digest);
    }
  free(a->members);
  free(a->oci_layout);
  free(a->index_json);
  free(a->manifest_json);
  if (a->fd >= 0)
    close(a->fd);
  free(a->path);
  free(a);
}

struct image_archive_member *image_archive_find(struct image_archive *a, const char *name)
{
  _cleanup_free_ char *cur = name_normalize(name);

  for (int hops = 0; hops <= ARCHIVE_MAX_LINKS; hops++)
    {
      struct image_archive_member *m = NULL;
      /* The last member of a name is the one tar(1) would leave. */
      for (size_t i = a->n_members; i-- > 0 && !m;)
        if (streq(a->members[i].name, cur))
          m = &a->members[i];
      if (!m || (!m->is_link && !m->is_file) || (m->is_link && !m->link))
        return NULL;
      if (m->is_file)
        return m;
      free(cur);
      cur = xstrdup(m->link);
    }
  return NULL;
}

void image_archive_want_blobs(struct image_archive *a)
{
  for (size_t i = 0; i < a->n_members; i++)
    if (a->members[i].is_file && nook_has_prefix(a->members[i].name, "blobs/sha256/"))
      a->members[i].wanted = true;
}

/* A short name for progress: "blob HEX12" or "blob NAME". */
static void member_item(const char *name, char *buf, size_t size)
{
  const char *base = strrchr(name, '/');

  base = base ? base + 1 : name;
  if (strlen(base) >= 64 && is_hex64(base, 64))
    snprintf(buf, size, "blob %.12s", base);
  else
    snprintf(buf, size, "blob %.24s", base);
}

static int store_member(struct image_archive *a, struct archive *ar, struct image_store *s,
                        struct image_archive_member *m, const struct image_progress *progress,
                        struct nook_error **err)
{
  _cleanup_free_ char *expected = member_expected_digest(m->name);
  char item[40];
  int r;

  if (expected && image_blob_exists(s, expected))
    {
      m->digest = TAKE_PTR(expected);
      return 0;
    }
  member_item(m->name, item, sizeof item);
  r = image_blob_copy(s, archive_reader, ar, expected, m->size, item, progress, &m->digest, NULL,
                      err);
  if (r < 0)
    return nook_error_prefix(err, "`%s`: member `%s`", a->path, m->name);
  return 0;
}

int image_archive_store(struct image_archive *a, struct image_store *s,
                        const struct image_progress *progress, struct nook_error **err)
{
  _cleanup_(archive_freep) struct archive *ar = NULL;
  struct archive_entry *e;
  int r;

  r = archive_open(a, &ar, err);
  for (size_t i = 0; r >= 0 && i < a->n_members; i++)
    {
      struct image_archive_member *m = &a->members[i];
      _cleanup_free_ char *name = NULL;

      r = archive_next(a, ar, i, &e, err);
      if (r == 0)
        r = nook_error_setx(err, EIO, "`%s` changed while it was read", a->path);
      if (r < 0)
        break;
      name = name_normalize(sym_archive_entry_pathname(e));
      if (!streq(name, m->name))
        r = nook_error_setx(err, EIO, "`%s` changed while it was read", a->path);
      else if (m->wanted && m->is_file)
        r = store_member(a, ar, s, m, progress, err);
    }
  return r < 0 ? r : 0;
}
