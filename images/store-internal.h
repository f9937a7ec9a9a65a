/* Internal to the image store: shared by names.c, layer.c, import.c, export.c and gc.c.  Other
 * areas use images/image.h. */
#ifndef NOOK_STORE_INTERNAL_H
#define NOOK_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "images/image.h"


/* ---- names (names.c) -------------------------------------------------------------------- */

/* index.json as parsed (an empty index when the file does not exist yet). */
int image_names_read(struct image_store *s, struct image_index **ret, struct nook_error **err);

/* image_store_resolve(), and whether WHAT matched a name (true) or an id/digest (false). */
int image_names_find(struct image_store *s, const char *what, struct image_entry *ret,
                     bool *ret_by_name, struct nook_error **err);

/* Removes the name NAME, or every name of MANIFEST_DIGEST when NAME is NULL, from index.json
 * (under its lock).  *ret_n (may be NULL) gets how many were removed. */
int image_names_remove(struct image_store *s, const char *name, const char *manifest_digest,
                       size_t *ret_n, struct nook_error **err);

/* A descriptor as JSON: mediaType, digest, size, and the ref.name annotation when set. */
void image_json_descriptor(yajl_gen g, const struct image_descriptor *d);
/* An OCI image index of the descriptors D (index.json of the store or of an archive). */
char *image_json_index(const struct image_descriptor *d, size_t n, bool pretty, size_t *ret_len);

/* Holds the store lock shared for the caller's operation unless the caller holds it already;
 * *ret_taken says whether image_store_unlock() is the caller's to call. */
int image_store_lock_shared(struct image_store *s, bool *ret_taken, struct nook_error **err);

/* ---- layers (layer.c) ------------------------------------------------------------------- */

/* The media type of a layer blob from its first bytes: tar, tar+gzip or tar+zstd. */
const char *image_layer_media_type(int fd);

/* image_layer_ensure() for a layer whose diff-id is not known yet (DIFF_ID NULL: a plain rootfs
 * tarball, unpacked without overlay whiteouts).  *ret_diff_id (may be NULL) gets it. */
int image_layer_unpack(struct image_store *s, const struct image_descriptor *layer,
                       const char *diff_id, const struct image_progress *progress,
                       char **ret_diff_id, struct nook_error **err);

/* ---- copying streams into blobs (import.c) ----------------------------------------------- */

/* Reads up to LEN bytes from SRC: *ret_n = 0 at its end.  Fills *err on failure. */
typedef int (*image_read_fn)(void *src, void *buf, size_t len, size_t *ret_n,
                             struct nook_error **err);

/* Copies the stream SRC into a blob, verified against EXPECTED and EXPECTED_SIZE when given
 * (NULL, -1 when not), and reports progress as ITEM of TOTAL bytes (0: unknown). */
int image_blob_copy(struct image_store *s, image_read_fn rd, void *src, const char *expected,
                    int64_t expected_size, const char *item, const struct image_progress *progress,
                    char **ret_digest, uint64_t *ret_size, struct nook_error **err);

/* ---- archives read in two passes (import-archive.c) ------------------------------------- */

struct image_archive_member
{
  char *name;   /* normalised: no leading "./" or trailing '/', "//" collapsed; only a key */
  char *link;   /* a symlink's target (resolved against the member's directory, NULL when
                 * it leaves the archive) or a hardlink's; NULL for other members */
  bool is_link;
  bool is_file; /* a regular file */
  bool wanted;  /* to be stored by image_archive_store() */
  int64_t size;
  char *digest; /* once stored */
};

/* A tar file, possibly gzip- or zstd-compressed, as its first pass found it. */
struct image_archive
{
  char *path;
  int fd;
  struct image_archive_member *members;
  size_t n_members;
  /* The JSON documents of an image archive, read whole (at most IMAGE_JSON_MAX bytes). */
  char *oci_layout, *index_json, *manifest_json;
  size_t index_len, manifest_len;
  /* A member no image archive has (a directory outside blobs/ or a 64-hex one, a file in
   * one): a root filesystem tarball; the scan stopped there. */
  bool rootfs;
};

/* The first pass: names, types and sizes of the members (up to the first one that shows a
 * root filesystem), and the JSON documents.  Nothing is written. */
int image_archive_scan(const char *path, struct image_archive **ret, struct nook_error **err);
/* The member named NAME, following links (at most 8), or NULL. */
struct image_archive_member *image_archive_find(struct image_archive *a, const char *name);
/* Marks every regular member named blobs/sha256/HEX as wanted. */
void image_archive_want_blobs(struct image_archive *a);
/* The second pass: stores every wanted member as a blob (verified when its name is
 * blobs/sha256/HEX or HEX.json at the top) and records its digest. */
int image_archive_store(struct image_archive *a, struct image_store *s,
                        const struct image_progress *progress, struct nook_error **err);
void image_archive_free(struct image_archive *a);
static inline void image_archive_freep(struct image_archive **a)
{
  image_archive_free(*a);
}
#define _cleanup_archive_ _cleanup_(image_archive_freep)

/* ---- containers (gc.c) ------------------------------------------------------------------ */

/* What prune moves into tmp/ before it removes it: tmp/gc-NAME. */
#define IMAGE_GC_PREFIX "gc-"

/* The id of a container in ROOT/containers whose `image` is MANIFEST_DIGEST, or NULL. */
char *image_store_user(struct image_store *s, const char *manifest_digest);
/* ROOT/containers/ID/NAME (`image`, `layers`), at most 64 KiB, or NULL. */
char *image_store_container_file(struct image_store *s, const char *id, const char *name);
/* The diff-ids in ROOT/containers/ID/layers (every sha256 digest in it), or NULL. */
char **image_store_container_layers(struct image_store *s, const char *id);
/* Sorts a string vector for image_strv_sorted_has() (a binary search). */
void image_strv_sort(char **set);
bool image_strv_sorted_has(char **set, const char *s);
/* The names in ROOT/DIR but . and .., or NULL when it cannot be read or is empty. */
char **image_store_dir_names(struct image_store *s, const char *dir);
/* True for exactly 64 lowercase hex digits: the name of a blob or a layer. */
bool image_hex64(const char *s);

#endif
