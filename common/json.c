#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "common/json.h"
#include "common/util.h"

yajl_gen nook_json_gen_new(bool pretty)
{
  yajl_gen g = yajl_gen_alloc(NULL);
  if (g == NULL)
    {
      /* yajl only fails on allocation */
      abort();
    }
  if (pretty)
    {
      yajl_gen_config(g, yajl_gen_beautify, 1);
      yajl_gen_config(g, yajl_gen_indent_string, "  ");
    }
  return g;
}

char *nook_json_gen_finish(yajl_gen g, size_t *ret_len)
{
  const unsigned char *buf = NULL;
  size_t len = 0;
  char *r;

  yajl_gen_get_buf(g, &buf, &len);
  r = xstrndup((const char *)buf, len);
  yajl_gen_free(g);
  if (ret_len)
    *ret_len = len;
  return r;
}

void nook_json_str(yajl_gen g, const char *s)
{
  if (s == NULL)
    s = "";
  yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void nook_json_kv_str(yajl_gen g, const char *key, const char *value)
{
  nook_json_str(g, key);
  nook_json_str(g, value);
}

void nook_json_kv_int(yajl_gen g, const char *key, long long value)
{
  nook_json_str(g, key);
  yajl_gen_integer(g, value);
}

void nook_json_kv_u64(yajl_gen g, const char *key, uint64_t value)
{
  char buf[24];
  int n = snprintf(buf, sizeof(buf), "%" PRIu64, value);

  nook_json_str(g, key);
  yajl_gen_number(g, buf, (size_t)n);
}

void nook_json_kv_bool(yajl_gen g, const char *key, bool value)
{
  nook_json_str(g, key);
  yajl_gen_bool(g, value);
}

void nook_json_kv_strv(yajl_gen g, const char *key, char *const *v)
{
  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; v && v[i]; i++)
    nook_json_str(g, v[i]);
  yajl_gen_array_close(g);
}

yajl_val nook_json_get(yajl_val obj, const char *key)
{
  if (obj == NULL || !YAJL_IS_OBJECT(obj))
    return NULL;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (streq(obj->u.object.keys[i], key))
      return obj->u.object.values[i];
  return NULL;
}

const char *nook_json_get_str(yajl_val obj, const char *key)
{
  yajl_val v = nook_json_get(obj, key);
  return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

bool nook_json_get_i64(yajl_val obj, const char *key, int64_t *ret)
{
  yajl_val v = nook_json_get(obj, key);
  if (!YAJL_IS_INTEGER(v))
    return false;
  *ret = v->u.number.i;
  return true;
}

bool nook_json_get_u64(yajl_val obj, const char *key, uint64_t *ret)
{
  yajl_val v = nook_json_get(obj, key);
  if (v == NULL || !YAJL_IS_NUMBER(v))
    return false;
  return nook_parse_u64(v->u.number.r, ret) == 0;
}

bool nook_json_get_bool(yajl_val obj, const char *key, bool *ret)
{
  yajl_val v = nook_json_get(obj, key);
  if (YAJL_IS_TRUE(v))
    *ret = true;
  else if (YAJL_IS_FALSE(v))
    *ret = false;
  else
    return false;
  return true;
}

#define JSON_MAX_DEPTH 64
#define JSON_MAX_VALUES 1000000

/* A first pass with yajl's event parser: strict JSON (no comments), at most JSON_MAX_DEPTH
 * levels and JSON_MAX_VALUES values, no NUL inside strings or keys.  Nothing is built, so
 * nothing recurses.  (yajl_tree_free() recurses, so the depth must be known first.) */
struct prescan
{
  unsigned depth;
  size_t values;
  const char *fail;
};

static int ps_count(struct prescan *ps)
{
  if (++ps->values > JSON_MAX_VALUES)
    {
      ps->fail = "more than 1000000 JSON values";
      return 0;
    }
  return 1;
}
static int ps_null(void *ctx)
{
  return ps_count(ctx);
}
static int ps_bool(void *ctx, int b)
{
  return ps_count(ctx);
}
static int ps_number(void *ctx, const char *s, size_t len)
{
  return ps_count(ctx);
}
static int ps_key(void *ctx, const unsigned char *s, size_t len)
{
  struct prescan *ps = ctx;
  if (memchr(s, '\0', len))
    {
      ps->fail = "string contains a NUL character";
      return 0;
    }
  return 1;
}
static int ps_string(void *ctx, const unsigned char *s, size_t len)
{
  return ps_key(ctx, s, len) && ps_count(ctx);
}
static int ps_open(void *ctx)
{
  struct prescan *ps = ctx;
  if (++ps->depth > JSON_MAX_DEPTH)
    {
      ps->fail = "nesting deeper than 64 levels";
      return 0;
    }
  return ps_count(ps);
}
static int ps_close(void *ctx)
{
  ((struct prescan *)ctx)->depth--;
  return 1;
}

static const yajl_callbacks prescan_callbacks = {
  .yajl_null = ps_null,
  .yajl_boolean = ps_bool,
  .yajl_number = ps_number,
  .yajl_string = ps_string,
  .yajl_start_map = ps_open,
  .yajl_map_key = ps_key,
  .yajl_end_map = ps_close,
  .yajl_start_array = ps_open,
  .yajl_end_array = ps_close,
};

/* yajl's message on one line, without the trailing period, and where it happened: yajl
 * stops just after the offending byte. */
static int syntax_error(const char *what, const char *msg, const char *data, size_t offset,
                        struct nook_error **err)
{
  _cleanup_free_ char *m = xstrdup(msg ? msg : "syntax error");
  size_t line = 1, col = 1, n;

  if (offset > 0)
    offset--;
  for (char *c = m; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t')
      *c = ' ';
  n = strlen(m);
  while (n > 0 && (m[n - 1] == ' ' || m[n - 1] == '.'))
    m[--n] = '\0';
  for (size_t i = 0; i < offset; i++)
    {
      col++;
      if (data[i] == '\n')
        {
          line++;
          col = 1;
        }
    }
  return nook_error_setx(err, EINVAL, "%s: invalid JSON: %s (line %zu, column %zu)", what, m, line,
                         col);
}

static int prescan(const char *what, const char *data, size_t len, struct nook_error **err)
{
  struct prescan ps = { 0 };
  yajl_handle h = yajl_alloc(&prescan_callbacks, NULL, &ps);
  yajl_status st;
  size_t offset = len;
  int r = 0;

  if (h == NULL)
    return nook_error_set(err, ENOMEM, "%s: allocate a JSON parser", what);
  st = yajl_parse(h, (const unsigned char *)data, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(h);
  else
    offset = yajl_get_bytes_consumed(h);
  if (st == yajl_status_client_canceled)
    r = nook_error_setx(err, EINVAL, "%s: %s", what, ps.fail);
  else if (st != yajl_status_ok)
    {
      unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
      r = syntax_error(what, (const char *)msg, data, offset > len ? len : offset, err);
      yajl_free_error(h, msg);
    }
  yajl_free(h);
  return r;
}

int nook_json_parse(const char *text, const char *what, yajl_val *ret, struct nook_error **err)
{
  /* nook's own files (state.json, a network's config.json) get the same limits: a damaged
   * one must fail, not blow the stack in yajl_tree_free() */
  return nook_json_parse_untrusted(text, strlen(text), SIZE_MAX, what, ret, err);
}

int nook_json_parse_untrusted(const char *data, size_t len, size_t max_size, const char *what,
                              yajl_val *ret, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  char errbuf[256] = "";
  yajl_val tree;

  if (len > max_size)
    return nook_error_setx(err, EFBIG, "%s: larger than %zu MiB", what, max_size >> 20);
  if (prescan(what, data, len, err) < 0)
    return -EINVAL;
  /* yajl_tree_parse() wants a NUL-terminated string; the prescan excluded NUL bytes. */
  text = xmalloc(len + 1);
  if (len)
    memcpy(text, data, len);
  text[len] = '\0';
  tree = yajl_tree_parse(text, errbuf, sizeof(errbuf));
  if (tree == NULL)
    return syntax_error(what, errbuf, text, len, err);
  *ret = tree;
  return 0;
}
