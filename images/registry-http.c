/* The HTTP side of a pull, over libcurl: one client per registry and repository, whose
 * handles share connections (keep-alive, HTTP/2 when the server offers it), DNS and TLS
 * sessions; manifests and tokens one at a time, blobs in parallel (registry-blobs.c).
 *
 * Every transfer follows redirects (registries send blobs to a storage host; curl drops our
 * Authorization header when the host changes), gives up connecting after 30 s and fails when
 * nothing moves for stall_seconds, so a stuck server cannot hang a pull. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/util.h"
#include "images/registry-internal.h"

#define CONNECT_TIMEOUT 30L
#define STALL_DEFAULT 60L
#define MAX_REDIRECTS 10L
#define ERRBODY_MAX (16u << 10)
#define TOKEN_MAX (1u << 20)

int registry_client_new(const char *registry, const char *repository, bool insecure,
                        struct registry_client **ret, struct nook_error **err)
{
  struct registry_client *c;
  const char *stall = getenv("NOOK_PULL_STALL_TIMEOUT");
  int n;

  if (dl_libcurl_load(err) < 0)
    return -1;
  c = xcalloc(1, sizeof *c);
  c->registry = xstrdup(registry);
  /* The reference keeps docker.io (the name people know); its API lives elsewhere. */
  c->host = xstrdup(streq(registry, "docker.io") ? "registry-1.docker.io" : registry);
  c->repository = xstrdup(repository);
  c->insecure = insecure;
  c->scheme = insecure ? NULL : "https";
  /* Only for tests of stuck servers: the seconds without a byte before a transfer fails. */
  c->stall_seconds = stall && nook_parse_int(stall, &n) == 0 && n > 0 ? n : STALL_DEFAULT;
  c->share = sym_curl_share_init();
  c->doc = sym_curl_easy_init();
  c->multi = sym_curl_multi_init();
  if (!c->share || !c->doc || !c->multi)
    {
      registry_client_free(c);
      return nook_error_setx(err, ENOMEM, "cannot create libcurl handles");
    }
  sym_curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  sym_curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  sym_curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  *ret = c;
  return 0;
}

void registry_client_free(struct registry_client *c)
{
  if (!c)
    return;
  /* The share goes last: the handles that use it must be gone first. */
  if (c->doc)
    sym_curl_easy_cleanup(c->doc);
  if (c->multi)
    sym_curl_multi_cleanup(c->multi);
  if (c->share)
    sym_curl_share_cleanup(c->share);
  free(c->registry);
  free(c->host);
  free(c->repository);
  free(c->token);
  free(c);
}

char *registry_url(const struct registry_client *c, const char *fmt, ...)
{
  _cleanup_free_ char *rest = NULL;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&rest, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort();
  return xasprintf("%s://%s/v2/%s/%s", c->scheme ? c->scheme : "https", c->host, c->repository,
                   rest);
}

/* ---- responses ------------------------------------------------------------------------------ */

void registry_resp_clear(struct registry_resp *r)
{
  free(r->content_type);
  free(r->docker_digest);
  nook_strv_free(r->challenges);
  free(r->errbody);
  memset(r, 0, sizeof *r);
}

void registry_xfer_clear(struct registry_xfer *x)
{
  if (x->headers) /* without a transfer libcurl may not be loaded */
    sym_curl_slist_free_all(x->headers);
  x->headers = NULL;
  registry_resp_clear(&x->resp);
}

/* Trims spaces around [s, s+len) and returns a copy. */
static char *header_value(const char *s, size_t len)
{
  while (len && (*s == ' ' || *s == '\t'))
    s++, len--;
  while (len
         && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
    len--;
  return xstrndup(s, len);
}

static void header_line(struct registry_xfer *x, const char *line, size_t len)
{
  struct registry_resp *r = &x->resp;
  const char *colon = memchr(line, ':', len);
  _cleanup_free_ char *value = NULL;
  size_t name_len;

  if (!colon)
    return;
  name_len = (size_t)(colon - line);
  value = header_value(colon + 1, len - name_len - 1);
  if (name_len == 12 && strncasecmp(line, "content-type", 12) == 0)
    {
      value[strcspn(value, "; \t\r\n")] = '\0'; /* a bare CR is no part of it either */
      free(r->content_type);
      r->content_type = TAKE_PTR(value);
    }
  else if (name_len == 21 && strncasecmp(line, "docker-content-digest", 21) == 0)
    {
      free(r->docker_digest);
      r->docker_digest = TAKE_PTR(value);
    }
  else if (name_len == 16 && strncasecmp(line, "www-authenticate", 16) == 0)
    nook_strv_push(&r->challenges, value);
  else if (name_len == 13 && strncasecmp(line, "content-range", 13) == 0)
    {
      unsigned long long start;
      if (sscanf(value, "bytes %llu-", &start) == 1)
        {
          r->has_range = true;
          r->range_start = start;
        }
    }
}

static size_t header_cb(char *buf, size_t size, size_t nmemb, void *data)
{
  struct registry_xfer *x = data;
  size_t len = size * nmemb;

  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0)
    {
      /* A new response (after a redirect or 100 Continue): forget the previous one. */
      _cleanup_free_ char *line = xstrndup(buf, len); /* libcurl's is not NUL-terminated */
      const char *sp = strchr(line, ' ');
      registry_resp_clear(&x->resp);
      x->resp.status = sp ? strtol(sp + 1, NULL, 10) : 0;
    }
  else if (len <= 2 && (len == 0 || buf[0] == '\r' || buf[0] == '\n'))
    {
      bool ok2xx = x->resp.status >= 200 && x->resp.status < 300;
      if (!x->resp.headers_done && ok2xx && x->on_headers && !x->on_headers(x))
        return 0;
      x->resp.headers_done = true;
    }
  else if (!x->resp.headers_done)
    header_line(x, buf, len);
  return len;
}

size_t registry_xfer_header(struct registry_xfer *x, const char *line, size_t len)
{
  return header_cb((char *)line, 1, len, x);
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *data)
{
  struct registry_xfer *x = data;
  struct registry_resp *r = &x->resp;
  size_t len = size * nmemb;

  if (r->status >= 200 && r->status < 300)
    return x->sink(x, buf, len) ? len : 0;
  if (r->status >= 400 && r->errbody_len < ERRBODY_MAX)
    {
      size_t n = len < ERRBODY_MAX - r->errbody_len ? len : ERRBODY_MAX - r->errbody_len;
      r->errbody = xrealloc(r->errbody, r->errbody_len + n + 1);
      memcpy(r->errbody + r->errbody_len, buf, n);
      r->errbody_len += n;
      r->errbody[r->errbody_len] = '\0';
    }
  return len; /* the body of a redirect or an error is not the blob */
}

static void xfer_setup(struct registry_xfer *x, struct registry_client *c, CURL *h, const char *url,
                       const char *accept, bool auth)
{
  const char *protocols = c->insecure ? "http,https" : "https";

  registry_xfer_clear(x);
  x->client = c;
  x->h = h;
  x->errbuf[0] = '\0';
  sym_curl_easy_reset(h);
  if (accept)
    {
      _cleanup_free_ char *line = xasprintf("Accept: %s", accept);
      x->headers = sym_curl_slist_append(x->headers, line);
    }
  if (auth && c->token)
    {
      _cleanup_free_ char *line = xasprintf("Authorization: Bearer %s", c->token);
      x->headers = sym_curl_slist_append(x->headers, line);
    }
  sym_curl_easy_setopt(h, CURLOPT_URL, url);
  sym_curl_easy_setopt(h, CURLOPT_SHARE, c->share);
  sym_curl_easy_setopt(h, CURLOPT_PRIVATE, x);
  sym_curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
  sym_curl_easy_setopt(h, CURLOPT_USERAGENT, "nook/" PACKAGE_VERSION);
  sym_curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
  sym_curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  sym_curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  sym_curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
  sym_curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  sym_curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  sym_curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
#if LIBCURL_VERSION_NUM >= 0x075500
  sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
  sym_curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
#else
  sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS,
                   c->insecure ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS);
  sym_curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
                   c->insecure ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS);
#endif
  sym_curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
  sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_seconds);
  sym_curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  sym_curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (c->insecure)
    {
      sym_curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      sym_curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void registry_xfer_setup(struct registry_xfer *x, struct registry_client *c, CURL *h,
                         const char *url, const char *accept)
{
  xfer_setup(x, c, h, url, accept, true);
}

/* ---- errors --------------------------------------------------------------------------------- */

/* HOST[:PORT] of the URL the transfer ended on (a redirect may have left the registry). */
static char *xfer_host(struct registry_xfer *x)
{
  const char *url = NULL, *p, *at, *end;

  if (sym_curl_easy_getinfo(x->h, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || !url
      || !(p = strstr(url, "://")))
    return xstrdup(x->client->host);
  p += 3;
  end = p + strcspn(p, "/?#");
  at = memchr(p, '@', (size_t)(end - p));
  if (at)
    p = at + 1;
  return xstrndup(p, (size_t)(end - p));
}

int registry_xfer_error(struct registry_xfer *x, CURLcode result, struct nook_error **err)
{
  _cleanup_free_ char *host = xfer_host(x);
  const char *detail = x->errbuf[0] ? x->errbuf : sym_curl_easy_strerror(result);
  bool insecure = x->client->insecure;
  long oserr = 0;

  switch (result)
    {
    case CURLE_COULDNT_RESOLVE_HOST:
      return nook_error_setx(err, EHOSTUNREACH, "cannot resolve `%s`", host);
    case CURLE_COULDNT_CONNECT:
      sym_curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &oserr);
      return nook_error_set(err, oserr > 0 ? (int)oserr : ECONNREFUSED, "connect to `%s`", host);
    case CURLE_OPERATION_TIMEDOUT:
      /* The low-speed limit (a reused connection has no connect time to tell them apart) */
      if (strstr(x->errbuf, "too slow"))
        return nook_error_setx(err, ETIMEDOUT, "`%s` sent nothing for %ld s", host,
                               x->client->stall_seconds);
      return nook_error_setx(err, ETIMEDOUT, "connect to `%s`: no answer in %ld s", host,
                             CONNECT_TIMEOUT);
    case CURLE_PEER_FAILED_VERIFICATION:
      return nook_error_setx(err, EPROTO, "TLS certificate of `%s` not trusted: %s%s", host, detail,
                             insecure ? "" : " (--insecure skips the check)");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED:
      return nook_error_setx(err, EPROTO, "TLS handshake with `%s` failed: %s%s", host, detail,
                             insecure ? "" : " (a plain-HTTP registry needs --insecure)");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return nook_error_setx(err, EPROTO, "`%s`: %s%s", host, detail,
                             insecure ? "" : " (plain http needs --insecure)");
    case CURLE_TOO_MANY_REDIRECTS:
      return nook_error_setx(err, ELOOP, "more than %ld redirects from `%s`", MAX_REDIRECTS, host);
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return nook_error_setx(err, EIO, "connection to `%s` broken: %s", host, detail);
    default: return nook_error_setx(err, EIO, "`%s`: %s", host, detail);
    }
}

static const char *status_text(long status)
{
  switch (status)
    {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "denied";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 416: return "range not satisfiable";
    case 429: return "too many requests";
    default: return status >= 500 ? "server error" : "unexpected answer";
    }
}

int registry_status_error(const struct registry_resp *r, struct nook_error **err)
{
  _cleanup_json_ yajl_val tree = NULL;
  _cleanup_free_ char *msg = NULL;
  int e = r->status == 404 ? ENOENT : r->status == 401 || r->status == 403 ? EACCES : EIO;
  yajl_val errors;

  /* The distribution spec's error body: {"errors":[{"code":..,"message":..,"detail":..}]} */
  if (r->errbody
      && nook_json_parse_untrusted(r->errbody, r->errbody_len, ERRBODY_MAX, "error", &tree, NULL)
             == 0
      && (errors = nook_json_get(tree, "errors")) && YAJL_IS_ARRAY(errors)
      && errors->u.array.len > 0)
    {
      const char *m = nook_json_get_str(errors->u.array.values[0], "message");
      if (!m || !*m)
        m = nook_json_get_str(errors->u.array.values[0], "code");
      if (m && *m)
        msg = xstrndup(m, 200);
    }
  if (!msg)
    msg = xstrdup(status_text(r->status));
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  return nook_error_setx(err, e, "%s (%ld)", msg, r->status);
}

/* ---- documents and tokens ------------------------------------------------------------------- */

struct doc_buf
{
  char *data;
  size_t len, max;
  bool too_big;
};

static bool doc_sink(struct registry_xfer *x, const char *data, size_t len)
{
  struct doc_buf *b = x->data;

  if (len > b->max - b->len)
    {
      b->too_big = true;
      return false;
    }
  b->data = xrealloc(b->data, b->len + len + 1);
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return true;
}

/* GET URL on the client's document handle into B (emptied first). */
static CURLcode doc_get(struct registry_client *c, struct registry_xfer *x, const char *url,
                        const char *accept, bool auth, struct doc_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->too_big = false;
  xfer_setup(x, c, c->doc, url, accept, auth);
  x->sink = doc_sink;
  x->data = b;
  return sym_curl_easy_perform(c->doc);
}

/* Appends "NAME=VALUE" to *q, percent-encoding VALUE. */
static void query_add(char **q, const char *name, const char *value)
{
  char *esc = sym_curl_easy_escape(NULL, value, 0);
  char *next;

  if (!esc)
    abort();
  next = xasprintf("%s%s%s=%s", *q ? *q : "", *q ? "&" : "", name, esc);
  sym_curl_free(esc);
  free(*q);
  *q = next;
}

static int fetch_token(struct registry_client *c, const struct registry_challenge *ch,
                       struct nook_error **err)
{
  const char *realm = registry_challenge_param(ch, "realm");
  const char *service = registry_challenge_param(ch, "service");
  const char *scope = registry_challenge_param(ch, "scope");
  _cleanup_free_ char *query = NULL, *url = NULL, *fallback_scope = NULL;
  struct registry_xfer x = { 0 };
  struct doc_buf b = { .max = TOKEN_MAX };
  CURLcode res;
  int r;

  if (!realm
      || !(nook_has_prefix(realm, "https://")
           || (c->insecure && nook_has_prefix(realm, "http://"))))
    return nook_error_setx(err, EACCES, "the token realm `%s` is not an %s URL", realm ? realm : "",
                           c->insecure ? "http(s)" : "https");
  if (service)
    query_add(&query, "service", service);
  if (!scope)
    scope = fallback_scope = xasprintf("repository:%s:pull", c->repository);
  query_add(&query, "scope", scope);
  url = xasprintf("%s%c%s", realm, strchr(realm, '?') ? '&' : '?', query);
  res = doc_get(c, &x, url, "application/json", false, &b);
  if (res != CURLE_OK && b.too_big)
    r = nook_error_setx(err, EFBIG, "larger than %u bytes", TOKEN_MAX);
  else if (res != CURLE_OK)
    r = registry_xfer_error(&x, res, err);
  else if (x.resp.status != 200)
    r = registry_status_error(&x.resp, err);
  else
    {
      free(c->token);
      c->token = NULL;
      r = registry_token_parse(b.data ? b.data : "", b.len, &c->token, err);
    }
  if (r < 0)
    nook_error_prefix(err, "token from `%s`", realm);
  registry_xfer_clear(&x);
  free(b.data);
  return r;
}

int registry_authenticate(struct registry_client *c, const struct registry_resp *resp,
                          struct nook_error **err)
{
  struct registry_challenge *ch = NULL;
  size_t n = 0;
  int r = 0;

  for (size_t i = 0; resp->challenges && resp->challenges[i] && r >= 0; i++)
    r = registry_challenges_parse(resp->challenges[i], &ch, &n, err);
  for (size_t i = 0; r >= 0 && i < n; i++)
    if (streq(ch[i].scheme, "bearer"))
      {
        r = fetch_token(c, &ch[i], err);
        registry_challenges_free(ch, n);
        return r;
      }
  if (r >= 0)
    {
      bool basic = false;
      for (size_t i = 0; i < n; i++)
        basic = basic || streq(ch[i].scheme, "basic");
      if (basic)
        r = nook_error_setx(err, EACCES,
                            "`%s` asks for a user name and password (basic authentication); "
                            "nook pulls anonymously only",
                            c->registry);
      else
        r = registry_status_error(resp, err);
    }
  registry_challenges_free(ch, n);
  return r;
}

void registry_doc_clear(struct registry_doc *d)
{
  free(d->data);
  free(d->content_type);
  free(d->docker_digest);
  memset(d, 0, sizeof *d);
}

/* The first request of an insecure client finds out the scheme: https (certificate not
 * checked) when it answers, else plain http, as podman's --tls-verify=false does. */
static CURLcode manifest_get_once(struct registry_client *c, struct registry_xfer *x,
                                  const char *reference, const char *accept, struct doc_buf *b)
{
  _cleanup_free_ char *url = NULL;
  CURLcode res;

  if (c->scheme)
    {
      url = registry_url(c, "manifests/%s", reference);
      return doc_get(c, x, url, accept, true, b);
    }
  c->scheme = "https";
  url = registry_url(c, "manifests/%s", reference);
  res = doc_get(c, x, url, accept, true, b);
  if (res == CURLE_OK || b->too_big)
    return res;
  c->scheme = "http";
  free(url);
  url = registry_url(c, "manifests/%s", reference);
  res = doc_get(c, x, url, accept, true, b);
  if (res != CURLE_OK && !b->too_big)
    c->scheme = NULL;
  return res;
}

int registry_get_manifest(struct registry_client *c, const char *reference, const char *accept,
                          struct registry_doc *ret, struct nook_error **err)
{
  struct registry_xfer x = { 0 };
  struct doc_buf b = { .max = IMAGE_JSON_MAX };
  bool authenticated = false;
  CURLcode res;
  int r;

  for (;;)
    {
      res = manifest_get_once(c, &x, reference, accept, &b);
      if (res != CURLE_OK)
        {
          if (b.too_big)
            r = nook_error_setx(err, EFBIG, "manifest larger than %u bytes", IMAGE_JSON_MAX);
          else
            r = registry_xfer_error(&x, res, err);
          break;
        }
      if (x.resp.status == 401 && !authenticated)
        {
          authenticated = true;
          r = registry_authenticate(c, &x.resp, err);
          if (r < 0)
            break;
          continue;
        }
      if (x.resp.status < 200 || x.resp.status >= 300)
        {
          r = registry_status_error(&x.resp, err);
          break;
        }
      ret->data = b.data ? TAKE_PTR(b.data) : xstrdup("");
      ret->len = b.len;
      ret->content_type = TAKE_PTR(x.resp.content_type);
      ret->docker_digest = TAKE_PTR(x.resp.docker_digest);
      r = 0;
      break;
    }
  registry_xfer_clear(&x);
  free(b.data);
  return r;
}
