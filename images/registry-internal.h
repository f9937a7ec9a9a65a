/* Registry pull, the parts behind image_pull(): the HTTP client over libcurl
 * (registry-http.c), authentication challenges and tokens (registry-auth.c).  Internal to
 * images/; the unit tests include it. */
#ifndef NOOK_REGISTRY_INTERNAL_H
#define NOOK_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "images/image.h"

/* ---- WWW-Authenticate (RFC 7235) ----------------------------------------------------------- */

struct registry_param
{
  char *name; /* lowercase */
  char *value;
};

struct registry_challenge
{
  char *scheme; /* lowercase: "bearer", "basic", ... */
  struct registry_param *params;
  size_t n_params;
};

/* Parses one WWW-Authenticate value, which may hold several challenges
 * (`Basic realm="r", Bearer realm="https://a/token",service="s",scope="repository:x:pull"`).
 * Parameter values are tokens or quoted strings (backslash escapes, commas inside quotes).
 * Appends to *challenges / *n.  EINVAL "invalid WWW-Authenticate header: ..." when malformed
 * (what was parsed before stays appended). */
int registry_challenges_parse(const char *header, struct registry_challenge **challenges, size_t *n,
                              struct nook_error **err);
/* The value of parameter NAME (case-insensitive), or NULL. */
const char *registry_challenge_param(const struct registry_challenge *c, const char *name);
void registry_challenges_free(struct registry_challenge *c, size_t n);

/* The token in a token server's JSON answer ("token", or OAuth2's "access_token"). */
int registry_token_parse(const char *json, size_t len, char **ret, struct nook_error **err);

/* ---- the HTTP client (registry-http.c) ------------------------------------------------------ */

#include "images/dl-curl.h"

struct registry_client
{
  char *registry; /* as in the reference, for messages: "docker.io", "127.0.0.1:5000" */
  char *host;     /* where requests go: registry-1.docker.io for docker.io */
  char *repository;
  bool insecure;
  const char *scheme; /* "https", or "http" once an insecure client found https failing */
  char *token;        /* bearer token, once a challenge asked for one */
  CURLSH *share;      /* connections, DNS and TLS sessions, for every handle below */
  CURL *doc;          /* manifests and tokens, one at a time */
  CURLM *multi;       /* blobs, in parallel */
  long stall_seconds; /* a transfer that moves no byte for so long fails */
};

/* A client for REGISTRY (as in a reference) and REPOSITORY.  INSECURE allows plain http
 * (tried when https fails) and skips TLS verification. */
int registry_client_new(const char *registry, const char *repository, bool insecure,
                        struct registry_client **ret, struct nook_error **err);
void registry_client_free(struct registry_client *c);
static inline void registry_client_freep(struct registry_client **c)
{
  registry_client_free(*c);
}
#define _cleanup_registry_client_ _cleanup_(registry_client_freep)

/* "SCHEME://HOST/v2/REPOSITORY/" + the formatted rest. */
char *registry_url(const struct registry_client *c, const char *fmt, ...) _printf_(2, 3);

/* The last response of a transfer (redirects followed).  Bodies of answers other than 2xx
 * are kept (at most 16 KiB) for the error message. */
struct registry_resp
{
  long status;
  char *content_type;  /* without parameters */
  char *docker_digest; /* Docker-Content-Digest */
  char **challenges;   /* every WWW-Authenticate value */
  bool headers_done;   /* the blank line after the headers was seen */
  bool has_range;      /* Content-Range: bytes START-... */
  uint64_t range_start;
  char *errbody;
  size_t errbody_len;
};

/* One HTTP transfer on an easy handle: the response is parsed, the 2xx body goes to SINK. */
struct registry_xfer
{
  struct registry_client *client;
  CURL *h;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  struct registry_resp resp;
  /* Called once the headers of a 2xx answer are in; false aborts the transfer. */
  bool (*on_headers)(struct registry_xfer *x);
  /* Gets the 2xx body; false aborts the transfer. */
  bool (*sink)(struct registry_xfer *x, const char *data, size_t len);
  void *data;
};

/* Sets up X on the easy handle H (reset first) for a GET of URL with ACCEPT (may be NULL) and
 * the bearer token, if any. */
void registry_xfer_setup(struct registry_xfer *x, struct registry_client *c, CURL *h,
                         const char *url, const char *accept);
/* One header line of a response as libcurl hands it over (CRLF included): a status line starts
 * a new response, the blank line ends the headers; Content-Type, Docker-Content-Digest,
 * WWW-Authenticate and Content-Range go to X->resp.  Returns LEN, or 0 when X->on_headers
 * refused the response.  (libcurl's header callback; the fuzz target calls it directly.) */
size_t registry_xfer_header(struct registry_xfer *x, const char *line, size_t len);
/* Forgets the last response, for a new attempt. */
void registry_resp_clear(struct registry_resp *r);
void registry_xfer_clear(struct registry_xfer *x);

/* The error for a transfer that failed with curl's RESULT: connection refused, TLS (with a
 * hint to use --insecure for a plain-http registry), timeouts, a broken connection. */
int registry_xfer_error(struct registry_xfer *x, CURLcode result, struct nook_error **err);
/* The error for an answer other than 2xx: the registry's own message when its body has one
 * ({"errors":[{"message":...}]}), and the status: "manifest unknown (404)".  ENOENT for 404,
 * EACCES for 401 and 403, EIO else. */
int registry_status_error(const struct registry_resp *r, struct nook_error **err);

/* After a 401: asks the token server of its Bearer challenge for a token (anonymously) and
 * keeps it in the client.  A Basic challenge, or none, is EACCES with a clear message. */
int registry_authenticate(struct registry_client *c, const struct registry_resp *r,
                          struct nook_error **err);

/* What a GET of a manifest returned. */
struct registry_doc
{
  char *data; /* NUL-terminated */
  size_t len;
  char *content_type;  /* without parameters, or NULL */
  char *docker_digest; /* the Docker-Content-Digest header, or NULL */
};
void registry_doc_clear(struct registry_doc *d);

/* GET /v2/REPOSITORY/manifests/REFERENCE with ACCEPT, at most IMAGE_JSON_MAX bytes (EFBIG).
 * Authenticates when challenged; an insecure client that meets a TLS or connection error on
 * its first request tries plain http.  Errors as registry_status_error() and
 * registry_xfer_error(). */
int registry_get_manifest(struct registry_client *c, const char *reference, const char *accept,
                          struct registry_doc *ret, struct nook_error **err);

/* ---- blobs (registry-blobs.c) -------------------------------------------------------------- */

struct registry_blob
{
  const char *digest;
  int64_t size; /* from the descriptor; -1 when unknown */
};

/* Downloads BLOBS into the store, PARALLEL at a time, each resumable (ROOT/tmp/partial-HEX,
 * Range: bytes=N-) and verified (digest and size) before it gets its name.  A download
 * broken after it made progress is resumed up to twice; a resumed one that fails its digest
 * starts once more from byte 0.  On the first failure the others stop (their partial files
 * stay for the next pull) and the error names the blob.  PROGRESS (may be NULL) gets one item
 * per blob, its digest shortened to 12 hex digits. */
int registry_get_blobs(struct registry_client *c, struct image_store *s,
                       const struct registry_blob *blobs, size_t n, int parallel,
                       const struct image_progress *progress, struct nook_error **err);

#endif
