#include "config.h"

#include <string.h>

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

void nook_json_kv_bool(yajl_gen g, const char *key, bool value)
{
  nook_json_str(g, key);
  yajl_gen_bool(g, value);
}

int nook_json_parse(const char *text, const char *what, yajl_val *ret, struct nook_error **err)
{
  char errbuf[256] = "";
  yajl_val v = yajl_tree_parse(text, errbuf, sizeof(errbuf));

  if (v == NULL)
    {
      char *nl;
      while ((nl = strchr(errbuf, '\n')) != NULL)
        *nl = ' ';
      return nook_error_set(err, EINVAL, "%s: invalid JSON: %s", what, errbuf);
    }
  *ret = v;
  return 0;
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
