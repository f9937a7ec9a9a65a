/* images/: the OCI image store, layer unpack, overlay root filesystems.
 *
 * Layout of a store (default /var/lib/nook, `--storage DIR`):
 *
 *   lock                 flock: shared for the whole of an import, pull, tag, remove,
 *                        export or check (anything that writes or reads blobs and layers),
 *                        exclusive for prune and check --repair, so that prune never sees an
 *                        import's blobs before its name
 *   index.lock           flock, exclusive: serialises the writers of index.json (who hold
 *                        `lock` shared at the same time)
 *   index.json           OCI image index; one manifest descriptor per name, the name in the
 *                        annotation org.opencontainers.image.ref.name (a canonical reference)
 *   blobs/sha256/HEX     content-addressed blobs, written to tmp/ then renamed (atomic)
 *   layers/HEX/diff      unpacked layers, keyed by diff-id (sha256 of the uncompressed tar);
 *                        whiteouts are overlay whiteouts (char 0/0, trusted.overlay.opaque)
 *   containers/ID/       image (the manifest digest), layers (diff-ids, lowest first),
 *                        upper/ work/ rootfs/ (the overlay mount point)
 *   tmp/                 blobs and layers being written; a pull's partial downloads
 *                        (partial-HEX, resumed by the next pull); prune empties it
 *
 * Blobs and layers need no lock of their own: a name is only ever given to complete, verified
 * content with rename(2), and two writers of the same content produce the same bytes.
 * index.json is rewritten atomically (temp, fsync, rename) under index.lock.
 *
 * Every fallible function returns < 0 and fills *err (see common/error.h). */
#ifndef NOOK_IMAGE_H
#define NOOK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define IMAGE_STORE_DEFAULT "/var/lib/nook"

/* "sha256:" + 64 lowercase hex + NUL */
#define IMAGE_DIGEST_LEN (7 + 64)

/* Media types */
#define IMAGE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMAGE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMAGE_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define IMAGE_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define IMAGE_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define IMAGE_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define IMAGE_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Largest manifest, index or config nook reads (they are read whole and verified). */
#define IMAGE_JSON_MAX (4u << 20)

/* ------------------------------------------------------------------------------------------
 * The store (images/store.c)
 * ---------------------------------------------------------------------------------------- */

struct image_store
{
  char *path; /* absolute */
  int dirfd;  /* O_PATH|O_DIRECTORY of path */
  int lockfd; /* ROOT/lock, -1 until image_store_lock() */
};

/* Opens the store at PATH, creating it (0700) and its subdirectories when missing. */
int image_store_open(const char *path, struct image_store **ret, struct nook_error **err);
void image_store_free(struct image_store *s);
static inline void image_store_freep(struct image_store **s)
{
  image_store_free(*s);
}
#define _cleanup_image_store_ _cleanup_(image_store_freep)

/* flock(2) on ROOT/lock, exclusive or shared; blocks.  Released by image_store_unlock() or
 * image_store_free(). */
int image_store_lock(struct image_store *s, bool exclusive, struct nook_error **err);
void image_store_unlock(struct image_store *s);

/* ------------------------------------------------------------------------------------------
 * Digests and blobs (images/blob.c)
 * ---------------------------------------------------------------------------------------- */

/* True for "sha256:" followed by exactly 64 lowercase hex digits (the only algorithm nook
 * stores; any other is refused with a clear error by the callers). */
bool image_digest_valid(const char *digest);
/* The sha256 digest of a buffer, as "sha256:HEX" in ret (IMAGE_DIGEST_LEN + 1 bytes). */
void image_digest_buf(const void *data, size_t len, char ret[IMAGE_DIGEST_LEN + 1]);

/* Incremental sha256, for callers that hash a stream they also consume (unpack, pull). */
struct image_hash;
struct image_hash *image_hash_new(void);
void image_hash_update(struct image_hash *h, const void *data, size_t len);
/* Writes "sha256:HEX"; the hash may not be updated afterwards. */
void image_hash_final(struct image_hash *h, char ret[IMAGE_DIGEST_LEN + 1]);
void image_hash_free(struct image_hash *h);

/* A blob being written: a temp file in ROOT/tmp, hashed as it is written. */
struct image_blob_writer;
int image_blob_writer_new(struct image_store *s, struct image_blob_writer **ret,
                          struct nook_error **err);
/* Continues a partial download of DIGEST kept in ROOT/tmp/partial-HEX (created empty when
 * missing); the bytes already there are hashed again and their count returned in
 * *ret_offset, so that the caller asks the server for the rest (HTTP Range).  The partial
 * file is locked (flock) while the writer lives: EBUSY when another process writes it now
 * (never blocks), EEXIST when the blob is in the store already. */
int image_blob_writer_resume(struct image_store *s, const char *digest,
                             struct image_blob_writer **ret, uint64_t *ret_offset,
                             struct nook_error **err);
int image_blob_writer_write(struct image_blob_writer *w, const void *data, size_t len,
                            struct nook_error **err);
uint64_t image_blob_writer_size(const struct image_blob_writer *w);
/* Empties the blob and its hash, for a download that must start again from byte 0 (a server
 * that answered a Range request with the whole blob). */
int image_blob_writer_reset(struct image_blob_writer *w, struct nook_error **err);
/* Ends the blob: when EXPECTED is not NULL, the digest must match it (and the size
 * EXPECTED_SIZE when >= 0), else EINVAL "digest mismatch"; the partial file is removed on a
 * mismatch.  Then fsync and rename into blobs/sha256/.  ret_digest may be NULL. */
int image_blob_writer_commit(struct image_blob_writer *w, const char *expected,
                             int64_t expected_size, char **ret_digest, struct nook_error **err);
/* Discards an uncommitted blob (a resumable one keeps its partial file unless it is empty). */
void image_blob_writer_free(struct image_blob_writer *w);
static inline void image_blob_writer_freep(struct image_blob_writer **w)
{
  image_blob_writer_free(*w);
}
#define _cleanup_blob_writer_ _cleanup_(image_blob_writer_freep)

/* Stores a buffer as a blob (verified against EXPECTED when not NULL). */
int image_blob_put(struct image_store *s, const void *data, size_t len, const char *expected,
                   char **ret_digest, struct nook_error **err);
/* Copies FD to its end into a blob. */
int image_blob_put_fd(struct image_store *s, int fd, const char *expected, int64_t expected_size,
                      char **ret_digest, struct nook_error **err);
bool image_blob_exists(struct image_store *s, const char *digest);
/* Opens a blob read-only; ENOENT "blob `DIGEST` is not in the store". */
int image_blob_open(struct image_store *s, const char *digest, int *ret_fd, struct nook_error **err);
/* Reads a blob of at most MAX bytes whole and checks its digest (EIO "blob `D` is corrupt"). */
int image_blob_read(struct image_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, struct nook_error **err);
int image_blob_size(struct image_store *s, const char *digest, uint64_t *ret, struct nook_error **err);
int image_blob_remove(struct image_store *s, const char *digest, struct nook_error **err);

/* ------------------------------------------------------------------------------------------
 * Layer unpack (images/unpack.c)
 * ---------------------------------------------------------------------------------------- */

struct image_unpack_opts
{
  /* Convert `.wh.NAME` to a 0/0 char device and `.wh..wh..opq` to trusted.overlay.opaque=y
   * (a layer for overlay).  False for a plain rootfs tarball, where such names are refused. */
  bool overlay_whiteouts;
  /* Apply the entries' uid/gid (true as root); false keeps the caller's ids. */
  bool keep_owner;
  /* Progress: called with the compressed bytes read so far (may be NULL). */
  void (*progress)(void *data, uint64_t done);
  void *progress_data;
};

/* Reads a layer from FD (a tar, gzip- or zstd-compressed or not: detected from its first
 * bytes) and writes its entries below the directory DIRFD, never outside it: paths are
 * resolved in DIRFD with RESOLVE_IN_ROOT semantics, `..` and absolute names and hardlinks to
 * outside are refused, a symlink is never followed when writing.  Regular files, dirs,
 * symlinks, hardlinks, char/block devices, fifos, xattrs (SCHILY.xattr), modes, ownership
 * and mtimes (dirs last).  On success *ret_diff_id (may be NULL) is the sha256 of the
 * uncompressed tar.  On failure the error names the entry; what was written stays for the
 * caller to remove. */
int image_unpack(int fd, int dirfd, const struct image_unpack_opts *opts, char **ret_diff_id,
                 struct nook_error **err);

/* ------------------------------------------------------------------------------------------
 * Manifests, indexes, configs and references (images/manifest.c)
 * ---------------------------------------------------------------------------------------- */

struct image_descriptor
{
  char *media_type;
  char *digest;
  int64_t size;
  char *ref_name;     /* annotation org.opencontainers.image.ref.name, or NULL */
  char *os;           /* platform, for index entries; NULL when absent */
  char *architecture;
  char *variant;
};

struct image_manifest
{
  char *media_type;
  struct image_descriptor config;
  struct image_descriptor *layers;
  size_t n_layers;
};

struct image_index
{
  char *media_type;
  struct image_descriptor *manifests;
  size_t n_manifests;
};

struct image_config
{
  char *architecture;
  char *os;
  char *created;
  char *user;
  char **env;        /* NULL-terminated */
  char **entrypoint; /* NULL when unset */
  char **cmd;        /* NULL when unset */
  char *working_dir;
  char *stop_signal;
  char **exposed_ports; /* "80/tcp" */
  char **volumes;       /* "/data" */
  char **labels;        /* "KEY=VALUE" */
  char **diff_ids;      /* rootfs.diff_ids, lowest layer first */
  size_t n_diff_ids;
};

/* Each parser checks the schema it needs and names the offending field:
 * "manifest: layers[2].digest: expected a sha256 digest". */
int image_manifest_parse(const char *json, size_t len, struct image_manifest **ret,
                         struct nook_error **err);
int image_index_parse(const char *json, size_t len, struct image_index **ret,
                      struct nook_error **err);
int image_config_parse(const char *json, size_t len, struct image_config **ret,
                       struct nook_error **err);
void image_descriptor_clear(struct image_descriptor *d);
void image_manifest_free(struct image_manifest *m);
void image_index_free(struct image_index *i);
void image_config_free(struct image_config *c);

/* The media type of a manifest-like document: its mediaType, or guessed from its keys
 * ("manifests" -> index, "layers" -> manifest) for documents that omit it. */
const char *image_json_kind(const char *json, size_t len);

/* The index entry for this host: os linux, architecture from uname (amd64, arm64, ...),
 * variant when the host has one.  ENOENT names the platforms the index offers. */
const struct image_descriptor *image_index_select(const struct image_index *idx,
                                                  struct nook_error **err);
/* The OCI architecture name of this host ("amd64" for x86_64). */
const char *image_host_arch(void);

/* A reference: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].  No registry -> docker.io, with
 * "library/" for a one-component repository; no tag and no digest -> "latest". */
struct image_ref
{
  char *registry;
  char *repository;
  char *tag;    /* NULL when only a digest was given */
  char *digest; /* NULL unless @sha256:... */
};
int image_ref_parse(const char *s, struct image_ref **ret, struct nook_error **err);
/* "registry/repository:tag" (or "@digest"), the form stored in index.json. */
char *image_ref_format(const struct image_ref *r);
void image_ref_free(struct image_ref *r);

/* ------------------------------------------------------------------------------------------
 * Names (images/names.c): index.json
 * ---------------------------------------------------------------------------------------- */

struct image_entry
{
  char *name;            /* canonical reference */
  char *manifest_digest;
  char *config_digest;   /* the image id */
  uint64_t size;         /* config + compressed layers */
  char *created;         /* from the config, may be NULL */
};

/* Points NAME (canonical: EINVAL otherwise) at MANIFEST_DIGEST, which must be in the store,
 * replacing what it named before; takes index.lock itself (and `lock` shared when the caller
 * holds no store lock). */
int image_store_tag(struct image_store *s, const char *name, const char *manifest_digest,
                    struct nook_error **err);
/* Every named image, sorted by name. */
int image_store_list(struct image_store *s, struct image_entry **ret, size_t *ret_n,
                     struct nook_error **err);
void image_entries_free(struct image_entry *e, size_t n);
/* Finds an image by a name as the user typed it (short names: as given, then
 * docker.io/library/NAME:latest, then localhost/NAME:latest; any tag-less name gets
 * :latest), or by an image id / manifest digest or a unique prefix of one (at least 4 hex).
 * ENOENT "image `x` not found"; EINVAL when a prefix is ambiguous. */
int image_store_resolve(struct image_store *s, const char *what, struct image_entry *ret,
                        struct nook_error **err);
void image_entry_clear(struct image_entry *e);

/* Reads the manifest DIGEST and (when RET_CONFIG is not NULL) its config from the store, both
 * verified and parsed; RET_MANIFEST may be NULL too.  Errors start with "image `DIGEST`". */
int image_manifest_load(struct image_store *s, const char *digest,
                        struct image_manifest **ret_manifest, struct image_config **ret_config,
                        struct nook_error **err);

/* ------------------------------------------------------------------------------------------
 * Images: import, export, remove, prune (images/import.c, export.c, gc.c, layer.c)
 * ---------------------------------------------------------------------------------------- */

/* Progress reports for import and pull: one line per item (a layer), bytes done of total
 * (total 0 when unknown).  The CLI draws them on a TTY and stays quiet otherwise. */
struct image_progress
{
  void (*update)(void *data, const char *item, uint64_t done, uint64_t total);
  void (*done)(void *data, const char *item);
  void *data;
};

/* Imports PATH: an OCI image layout directory, an oci-archive tar, a docker-archive tar
 * (docker/podman save) or a plain rootfs tarball (docker export; one layer, a minimal
 * config).  Compressed archives (gzip/zstd) are accepted.  Names: NAME when not NULL (EINVAL
 * for an archive of several images), else the archive's own (RepoTags;
 * org.opencontainers.image.ref.name when it has a '/' or a ':', as one without is only a
 * tag); an archive without one and no NAME is refused (EINVAL "... has no name, use --name")
 * before anything is stored.  Every blob is verified, every layer unpacked before the image
 * is named.  Holds the store lock shared throughout.  *ret_names (may be NULL) gets the
 * canonical names given, NULL-terminated. */
int image_import(struct image_store *s, const char *path, const char *name,
                 const struct image_progress *progress, char ***ret_names, struct nook_error **err);
/* Writes an oci-archive of the image WHAT to FILE (atomic: temp + rename). */
int image_export(struct image_store *s, const char *what, const char *file, struct nook_error **err);
/* Removes the name WHAT (or every name of an image given by id or digest).  Blobs and
 * layers go with the next prune.  EBUSY when a container uses the image and this is its last
 * name, unless FORCE (the container keeps its layers either way); ENOENT when unknown. */
int image_remove(struct image_store *s, const char *what, bool force, struct nook_error **err);
/* Removes blobs and layers no name and no container reaches (a container: the manifest in
 * containers/ID/image and the diff-ids in containers/ID/layers), and everything in tmp/:
 * every writer of tmp/ holds the store lock, so under prune's exclusive lock nothing there is
 * in progress (a pull's partial downloads go too, and a later pull starts them again).  Takes
 * the store lock exclusive.  *ret_blobs counts the blobs and layers
 * removed, *ret_bytes the disk space freed (tmp/ included); both may be NULL. */
int image_prune(struct image_store *s, uint64_t *ret_blobs, uint64_t *ret_bytes,
                struct nook_error **err);

/* Makes sure layers/HEX(DIFF_ID)/diff exists, unpacking the blob LAYER (whose media type
 * says its compression; detection is by content anyway) when it does not, and checks that
 * the uncompressed digest is DIFF_ID.  Concurrent callers each unpack into tmp/ and the
 * first rename wins. */
int image_layer_ensure(struct image_store *s, const struct image_descriptor *layer,
                       const char *diff_id, const struct image_progress *progress,
                       struct nook_error **err);

/* ------------------------------------------------------------------------------------------
 * Checking the store (images/check.c)
 * ---------------------------------------------------------------------------------------- */

struct image_check_problem
{
  char *path;    /* absolute: what is wrong, or what is missing */
  char *message; /* one line: "corrupt: its content is `sha256:...`" */
  char *repair;  /* with --repair: what was done ("removed"; "not ..." when nothing could be
                  * done); NULL otherwise */
};

struct image_check_report
{
  struct image_check_problem *problems;
  size_t n_problems;
  /* What was looked at: blobs hashed, layer directories, names, containers. */
  size_t n_blobs, n_layers, n_images, n_containers;
  /* Not problems: blobs no name or container reaches (prune's to remove), and the partial
   * downloads a pull resumes (tmp/partial-HEX). */
  size_t n_unreferenced, n_resumable;
};

/* Checks the store: every blob's sha256 against its name (streamed); every name in
 * index.json reaches its manifest, config and layer blobs with the sizes the descriptors say,
 * and its unpacked layers; every directory in layers/ is needed by an image whose manifest
 * and config are in the store, or by a container; containers/ID/{image,layers} name what is
 * there; tmp/ holds nothing but the work of running processes.  Entries newer than the start
 * of every other holder of the store lock (/proc/locks) are in progress and left alone.
 * Holds the store lock shared; with REPAIR exclusive, and then removes corrupt blobs,
 * unreferenced layers and tmp/ leftovers, unpacks missing layers again from their blobs and
 * removes the names of images that stay damaged.  Returns 0 with *ret filled whatever it
 * found; < 0 only when the store could not be checked (its lock). */
int image_store_check(struct image_store *s, bool repair, struct image_check_report **ret,
                      struct nook_error **err);
void image_check_report_free(struct image_check_report *rep);

/* ------------------------------------------------------------------------------------------
 * Registry pull (images/registry.c)
 * ---------------------------------------------------------------------------------------- */

struct image_pull_opts
{
  bool insecure; /* plain http allowed, TLS not verified */
  const struct image_progress *progress;
  int parallel; /* concurrent blob downloads, 0 = default (3) */
};

/* Pulls REF over the OCI distribution API and names it by its canonical reference, which
 * is returned in *ret_name (may be NULL). */
int image_pull(struct image_store *s, const char *ref, const struct image_pull_opts *opts,
               char **ret_name, struct nook_error **err);

/* ------------------------------------------------------------------------------------------
 * Root filesystems (images/rootfs.c)
 * ---------------------------------------------------------------------------------------- */

/* An image opened for a container: its manifest and config, layers unpacked. */
struct image
{
  struct image_entry entry;
  struct image_manifest *manifest;
  struct image_config *config;
};

int image_open(struct image_store *s, const char *what, struct image **ret, struct nook_error **err);
void image_free(struct image *img);
static inline void image_freep(struct image **i)
{
  image_free(*i);
}
#define _cleanup_image_ _cleanup_(image_freep)

/* Mounts the image's layers with overlay at ROOT/containers/ID/rootfs (upper and work next
 * to it; READ_ONLY: no upper), records the image and layers, and returns the mount point.
 * Layers are shared: a second container costs a mount, no copy. */
int image_rootfs_mount(struct image_store *s, const struct image *img, const char *id,
                       bool read_only, char **ret_rootfs, struct nook_error **err);
/* Unmounts ROOT/containers/ID/rootfs (if mounted) and removes the directory when REMOVE. */
int image_rootfs_umount(struct image_store *s, const char *id, bool remove, struct nook_error **err);

/* The image's Volumes for the container ID (mounted by image_rootfs_mount()): for each path of
 * config.Volumes, ROOT/containers/ID/volumes/N holding a copy of what the image has there
 * (owners, modes, links and nodes kept; an absent path gives an empty directory).
 * *ret_sources gets the directories, in the order of config.Volumes (NULL when none). */
int image_volumes_prepare(struct image_store *s, const struct image *img, const char *id,
                          char ***ret_sources, struct nook_error **err);

/* Resolves a user as an image's config.User says it ("name", "uid", "name:group",
 * "uid:gid") in the rootfs at ROOTFS_DIRFD (etc/passwd, etc/group, read inside the rootfs).
 * Unknown names are ENOENT naming the user. *ret_gids gets the supplementary groups of a
 * named user (may be NULL). */
int image_user_resolve(int rootfs_dirfd, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                       gid_t **ret_gids, size_t *ret_ngids, struct nook_error **err);

#endif
