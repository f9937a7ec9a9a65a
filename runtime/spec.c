/* config.json -> struct nook_spec: the entry points and the generic engine.
 *
 * The grammar lives in tables (one per JSON object type, in spec-tables.c) that the small
 * generic walker here uses both to parse and to free, so that a field is described once.  Every
 * error names the JSON path of the offending value; the path is a chain of stack frames rendered
 * only on failure.  The semantic checks of nook_spec_validate() are in spec-validate.c.
 *
 * Hostile input: the raw text goes first through yajl's event parser, which checks the size,
 * the nesting depth, the number of values and embedded NUL characters before yajl_tree (whose
 * free function recurses) builds anything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/spec.h"
#include "runtime/spec-internal.h"

#define SPEC_MAX_SIZE ((size_t)16 * 1024 * 1024)
#define USER_TEXT_MAX 64

/* ---- JSON paths and errors ------------------------------------------------------------- */

/* A short, one-line, unambiguous rendering of user input for a message. */
char *spec_user_text(const char *s)
{
  size_t n = strlen(s), cut = n > USER_TEXT_MAX ? USER_TEXT_MAX : n, o = 0;
  char *buf;

  while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
    cut--; /* do not split a UTF-8 sequence */
  buf = xmalloc(cut * 4 + 4);
  for (size_t i = 0; i < cut; i++)
    {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == 0x7f || c == '`' || c == '"' || c == '\\')
        o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
      else
        buf[o++] = (char)c;
    }
  if (cut < n)
    {
      memcpy(buf + o, "...", 3);
      o += 3;
    }
  buf[o] = '\0';
  return buf;
}

static char *jpath_render(const struct jpath *p)
{
  _cleanup_free_ char *head = NULL;
  _cleanup_free_ char *key = NULL;

  if (p == NULL || p->doc)
    return xstrdup("");
  head = jpath_render(p->parent);
  if (p->key == NULL)
    return xasprintf("%s[%zu]", head, p->index);
  if (p->map_key)
    {
      key = spec_user_text(p->key);
      return xasprintf("%s[\"%s\"]", head, key);
    }
  return xasprintf("%s%s%s", head, *head ? "." : "", p->key);
}

/* Sets "config.json: PATH: MESSAGE" with the given errnum, without strerror(): the message
 * says it all.  Returns -errnum. */
static int spec_errorv(struct nook_error **err, int errnum, const struct jpath *p, const char *fmt,
                       va_list ap) _printf_(4, 0);
static int spec_errorv(struct nook_error **err, int errnum, const struct jpath *p, const char *fmt,
                       va_list ap)
{
  _cleanup_free_ char *where = NULL;
  const struct jpath *root = p;
  const char *doc;

  if (err == NULL || *err != NULL)
    return -errnum;
  while (root && root->parent)
    root = root->parent;
  doc = root && root->doc ? root->doc : "config.json";
  where = jpath_render(p);
  nook_error_setv(err, 0, fmt, ap);
  if (*where)
    nook_error_prefix(err, "%s: %s", doc, where);
  else
    nook_error_prefix(err, "%s", doc);
  (*err)->errnum = errnum;
  return -errnum;
}

int spec_error(struct nook_error **err, const struct jpath *p, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = spec_errorv(err, EINVAL, p, fmt, ap);
  va_end(ap);
  return r;
}

/* The same, with another errnum and no path. */
static int spec_error_errno(struct nook_error **err, int errnum, const char *fmt, ...)
    _printf_(3, 4);
static int spec_error_errno(struct nook_error **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = spec_errorv(err, errnum, NULL, fmt, ap);
  va_end(ap);
  return r;
}

/* ---- the walker: values ---------------------------------------------------------------- */

/* The value of key in an object, NULL when absent or null.  A repeated key: the last wins,
 * as with Go's encoding/json (runc). */
yajl_val spec_obj_get(yajl_val obj, const char *key)
{
  yajl_val r = NULL;

  for (size_t i = 0; i < obj->u.object.len; i++)
    if (streq(obj->u.object.keys[i], key))
      r = obj->u.object.values[i];
  return YAJL_IS_NULL(r) ? NULL : r;
}

int spec_require_one_of(yajl_val v, const struct jpath *p, const char *a, const char *b,
                        struct nook_error **err)
{
  if (spec_obj_get(v, a) || spec_obj_get(v, b))
    return 0;
  return spec_error(err, p, "one of `%s` and `%s` is required", a, b);
}

static int get_string(yajl_val v, const struct jpath *p, const char **ret, struct nook_error **err)
{
  if (!YAJL_IS_STRING(v))
    return spec_error(err, p, "expected a string");
  *ret = v->u.string;
  return 0;
}

static int get_choice(yajl_val v, const struct jpath *p, const struct choices *c, int *ret,
                      struct nook_error **err)
{
  const struct choice *found;
  const char *s = NULL;
  _cleanup_free_ char *t = NULL;

  if (get_string(v, p, &s, err) < 0)
    return -EINVAL;
  found = spec_tables_choice_find(c, s);
  if (found)
    {
      *ret = found->value;
      return 0;
    }
  t = spec_user_text(s);
  return spec_error(err, p, "unknown %s `%s`", c->what, t);
}

/* Integers come as yajl's unparsed text, so that the whole uint64 range is exact. */
static int check_integer(yajl_val v, const struct jpath *p, bool is_unsigned,
                         struct nook_error **err)
{
  _cleanup_free_ char *t = NULL;
  const char *r;

  if (!YAJL_IS_NUMBER(v))
    return spec_error(err, p,
                      is_unsigned ? "expected a non-negative integer" : "expected an integer");
  r = v->u.number.r;
  if (strpbrk(r, ".eE") == NULL && !(is_unsigned && r[0] == '-'))
    return 0;
  t = spec_user_text(r);
  if (strpbrk(r, ".eE"))
    return spec_error(err, p, "expected an integer, got `%s`", t);
  return spec_error(err, p, "expected a non-negative integer, got `%s`", t);
}

static int get_u64(yajl_val v, const struct jpath *p, uint64_t max, uint64_t *ret,
                   struct nook_error **err)
{
  _cleanup_free_ char *t = NULL;
  uint64_t n = 0;

  if (check_integer(v, p, true, err) < 0)
    return -EINVAL;
  if (nook_parse_u64(v->u.number.r, &n) == 0 && n <= max)
    {
      *ret = n;
      return 0;
    }
  t = spec_user_text(v->u.number.r);
  return spec_error(err, p, "value `%s` out of range [0, %" PRIu64 "]", t, max);
}

static int get_i64(yajl_val v, const struct jpath *p, int64_t min, int64_t max, int64_t *ret,
                   struct nook_error **err)
{
  _cleanup_free_ char *t = NULL;
  int64_t n = 0;

  if (check_integer(v, p, false, err) < 0)
    return -EINVAL;
  if (nook_parse_i64(v->u.number.r, &n) == 0 && n >= min && n <= max)
    {
      *ret = n;
      return 0;
    }
  t = spec_user_text(v->u.number.r);
  return spec_error(err, p, "value `%s` out of range [%" PRId64 ", %" PRId64 "]", t, min, max);
}

static int parse_str(yajl_val v, const struct jpath *p, const struct field *f, void *obj,
                     struct nook_error **err)
{
  const char *s = NULL;
  int value = 0;

  if (get_string(v, p, &s, err) < 0)
    return -EINVAL;
  if (f->choices && get_choice(v, p, f->choices, &value, err) < 0)
    return -EINVAL;
  if (f->flags & FL_VALUE)
    *(int *)((char *)obj + f->val_off) = value;
  *(char **)((char *)obj + f->off) = xstrdup(s);
  return 0;
}

static int parse_strv(yajl_val v, const struct jpath *p, const struct field *f, char ***dst,
                      struct nook_error **err)
{
  size_t n;
  int unused;

  if (!YAJL_IS_ARRAY(v))
    return spec_error(err, p, "expected an array of strings");
  n = v->u.array.len;
  if (n == 0 && (f->flags & FL_NONEMPTY))
    return spec_error(err, p, "must not be empty");
  *dst = xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    {
      struct jpath ep = { .parent = p, .index = i };
      const char *s = NULL;
      if (get_string(v->u.array.values[i], &ep, &s, err) < 0)
        return -EINVAL;
      if (f->choices && get_choice(v->u.array.values[i], &ep, f->choices, &unused, err) < 0)
        return -EINVAL;
      (*dst)[i] = xstrdup(s);
    }
  return 0;
}

static int parse_bool(yajl_val v, const struct jpath *p, const struct field *f, void *dst,
                      struct nook_error **err)
{
  bool b;

  if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
    return spec_error(err, p, "expected a boolean");
  b = YAJL_IS_TRUE(v);
  if (f->kind == K_BOOL)
    *(bool *)dst = b;
  else
    *(struct nook_opt_bool *)dst = (struct nook_opt_bool){ .set = true, .value = b };
  return 0;
}

static int parse_unsigned(yajl_val v, const struct jpath *p, const struct field *f, void *dst,
                          struct nook_error **err)
{
  uint64_t max = f->umax ? f->umax : f->kind == K_U32 ? UINT32_MAX : UINT64_MAX;
  uint64_t n = 0;

  if (get_u64(v, p, max, &n, err) < 0)
    return -EINVAL;
  if (f->kind == K_U32)
    *(uint32_t *)dst = (uint32_t)n;
  else if (f->kind == K_U64)
    *(uint64_t *)dst = n;
  else
    *(struct nook_opt_u64 *)dst = (struct nook_opt_u64){ .set = true, .value = n };
  return 0;
}

static int parse_signed(yajl_val v, const struct jpath *p, const struct field *f, void *dst,
                        struct nook_error **err)
{
  int64_t min = INT64_MIN, max = INT64_MAX, n = 0;

  if (f->min || f->max)
    {
      min = f->min;
      max = f->max;
    }
  else if (f->kind == K_INT)
    {
      min = INT_MIN;
      max = INT_MAX;
    }
  if (get_i64(v, p, min, max, &n, err) < 0)
    return -EINVAL;
  if (f->kind == K_INT)
    *(int *)dst = (int)n;
  else if (f->kind == K_I64)
    *(int64_t *)dst = n;
  else
    *(struct nook_opt_i64 *)dst = (struct nook_opt_i64){ .set = true, .value = n };
  return 0;
}

static int parse_enum(yajl_val v, const struct jpath *p, const struct field *f, void *dst,
                      struct nook_error **err)
{
  int value = 0;

  if (get_choice(v, p, f->choices, &value, err) < 0)
    return -EINVAL;
  if (f->flags & FL_CHAR)
    *(char *)dst = (char)value;
  else
    *(int *)dst = value;
  return 0;
}

/* ---- the walker: containers ------------------------------------------------------------ */

static int parse_object(yajl_val v, const struct jpath *p, const struct table *t, void *obj,
                        struct nook_error **err);

static size_t *count_of(void *obj, const struct field *f)
{
  return (size_t *)((char *)obj + f->count_off);
}

static int parse_gids(yajl_val v, const struct jpath *p, const struct field *f, void *obj,
                      struct nook_error **err)
{
  gid_t **dst = (gid_t **)((char *)obj + f->off);
  size_t n;

  if (!YAJL_IS_ARRAY(v))
    return spec_error(err, p, "expected an array of integers");
  n = v->u.array.len;
  *dst = xcalloc(n, sizeof(gid_t));
  *count_of(obj, f) = n;
  for (size_t i = 0; i < n; i++)
    {
      struct jpath ep = { .parent = p, .index = i };
      uint64_t id;
      if (get_u64(v->u.array.values[i], &ep, UINT32_MAX, &id, err) < 0)
        return -EINVAL;
      (*dst)[i] = (gid_t)id;
    }
  return 0;
}

static int parse_map(yajl_val v, const struct jpath *p, const struct field *f, void *obj,
                     struct nook_error **err)
{
  struct nook_kv **dst = (struct nook_kv **)((char *)obj + f->off);
  size_t n;

  if (!YAJL_IS_OBJECT(v))
    return spec_error(err, p, "expected an object");
  n = v->u.object.len;
  *dst = xcalloc(n, sizeof(struct nook_kv));
  *count_of(obj, f) = n;
  for (size_t i = 0; i < n; i++)
    {
      struct jpath kp = { .parent = p, .key = v->u.object.keys[i], .map_key = true };
      const char *s = NULL;
      if (get_string(v->u.object.values[i], &kp, &s, err) < 0)
        return -EINVAL;
      (*dst)[i].key = xstrdup(v->u.object.keys[i]);
      (*dst)[i].value = xstrdup(s);
    }
  return 0;
}

/* K_ARRAY and K_OBJMAP.  The array and its count are stored before the elements are parsed,
 * so that a failure half-way leaves a spec that nook_spec_free() releases. */
static int parse_elements(yajl_val v, const struct jpath *p, const struct field *f, void *obj,
                          struct nook_error **err)
{
  const struct table *sub = f->sub;
  bool is_map = f->kind == K_OBJMAP;
  size_t n;
  char *elems;

  if (is_map ? !YAJL_IS_OBJECT(v) : !YAJL_IS_ARRAY(v))
    return spec_error(err, p, is_map ? "expected an object" : "expected an array");
  n = is_map ? v->u.object.len : v->u.array.len;
  if (n == 0 && (f->flags & FL_NONEMPTY))
    return spec_error(err, p, "must not be empty");
  elems = xcalloc(n, sub->size);
  *(void **)((char *)obj + f->off) = elems;
  *count_of(obj, f) = n;
  for (size_t i = 0; i < n; i++)
    {
      char *e = elems + i * sub->size;
      struct jpath ep = { .parent = p, .index = i };
      if (is_map)
        {
          ep = (struct jpath){ .parent = p, .key = v->u.object.keys[i], .map_key = true };
          *(char **)(e + sub->key_off) = xstrdup(v->u.object.keys[i]);
        }
      if (parse_object(is_map ? v->u.object.values[i] : v->u.array.values[i], &ep, sub, e, err) < 0)
        return -EINVAL;
    }
  return 0;
}

static int parse_field(yajl_val v, const struct jpath *p, const struct field *f, void *obj,
                       struct nook_error **err)
{
  void *dst = (char *)obj + f->off;

  switch (f->kind)
    {
    case K_STR: return parse_str(v, p, f, obj, err);
    case K_STRV: return parse_strv(v, p, f, dst, err);
    case K_BOOL:
    case K_OPT_BOOL: return parse_bool(v, p, f, dst, err);
    case K_U32:
    case K_U64:
    case K_OPT_U64: return parse_unsigned(v, p, f, dst, err);
    case K_INT:
    case K_I64:
    case K_OPT_I64: return parse_signed(v, p, f, dst, err);
    case K_ENUM: return parse_enum(v, p, f, dst, err);
    case K_GIDS: return parse_gids(v, p, f, obj, err);
    case K_MAP: return parse_map(v, p, f, obj, err);
    case K_STRUCT:
      if (f->flags & FL_SET)
        *(bool *)dst = true;
      return parse_object(v, p, f->sub, dst, err);
    case K_PTR:
      *(void **)dst = xcalloc(1, f->sub->size);
      return parse_object(v, p, f->sub, *(void **)dst, err);
    case K_ARRAY:
    case K_OBJMAP: return parse_elements(v, p, f, obj, err);
    }
  return 0;
}

static int parse_object(yajl_val v, const struct jpath *p, const struct table *t, void *obj,
                        struct nook_error **err)
{
  if (!YAJL_IS_OBJECT(v))
    return spec_error(err, p, "expected an object");
  if (t->init)
    t->init(obj);
  for (size_t i = 0; i < t->n; i++)
    {
      const struct field *f = &t->fields[i];
      struct jpath fp = { .parent = p, .key = f->name };
      yajl_val fv = spec_obj_get(v, f->name);

      if (fv == NULL)
        {
          if (f->flags & FL_REQ)
            return spec_error(err, &fp, "required field missing");
          continue;
        }
      if (parse_field(fv, &fp, f, obj, err) < 0)
        return -EINVAL;
    }
  return t->check ? t->check(obj, v, p, err) : 0;
}

static void free_object(const struct table *t, void *obj);

static void free_elements(const struct table *sub, char *elems, size_t n)
{
  for (size_t i = 0; elems && i < n; i++)
    free_object(sub, elems + i * sub->size);
  free(elems);
}

static void free_object(const struct table *t, void *obj)
{
  for (size_t i = 0; i < t->n; i++)
    {
      const struct field *f = &t->fields[i];
      void *dst = (char *)obj + f->off;
      switch (f->kind)
        {
        case K_STR:
        case K_GIDS: free(*(void **)dst); break;
        case K_STRV: nook_strv_free(*(char ***)dst); break;
        case K_MAP:
          for (size_t j = 0; *(struct nook_kv **)dst && j < *count_of(obj, f); j++)
            {
              free((*(struct nook_kv **)dst)[j].key);
              free((*(struct nook_kv **)dst)[j].value);
            }
          free(*(void **)dst);
          break;
        case K_STRUCT: free_object(f->sub, dst); break;
        case K_PTR:
          if (*(void **)dst)
            free_object(f->sub, *(void **)dst);
          free(*(void **)dst);
          break;
        case K_ARRAY:
        case K_OBJMAP: free_elements(f->sub, *(char **)dst, *count_of(obj, f)); break;
        default: break;
        }
    }
  if (t->keyed)
    free(*(char **)((char *)obj + t->key_off));
}

void nook_spec_free(struct nook_spec *spec)
{
  if (spec == NULL)
    return;
  free_object(&spec_tables_spec, spec);
  free(spec);
}

/* ---- parse and load -------------------------------------------------------------------- */

static void yajl_tree_freep(yajl_val *v)
{
  if (*v)
    yajl_tree_free(*v);
}

/* Parses the document data (named by root->doc in messages) into obj with table t; on failure
 * obj may be half filled (free_object() releases it). */
static int parse_document(const char *data, size_t len, const struct jpath *root,
                          const struct table *t, void *obj, struct nook_error **err)
{
  _cleanup_(yajl_tree_freep) yajl_val tree = NULL;
  int r = nook_json_parse_untrusted(data, len, SPEC_MAX_SIZE, root->doc, &tree, err);

  if (r < 0)
    return r;
  return parse_object(tree, root, t, obj, err) < 0 ? -EINVAL : 0;
}

int nook_spec_parse(const char *data, size_t len, struct nook_spec **ret, struct nook_error **err)
{
  _cleanup_spec_ struct nook_spec *spec = xcalloc(1, sizeof(*spec));
  const struct jpath root = { .doc = "config.json" };

  if (parse_document(data, len, &root, &spec_tables_spec, spec, err) < 0)
    return -EINVAL;
  *ret = TAKE_PTR(spec);
  return 0;
}

int nook_spec_parse_process(const char *data, size_t len, const char *doc,
                            struct nook_process **ret, struct nook_error **err)
{
  _cleanup_(nook_process_freep) struct nook_process *p = xcalloc(1, sizeof(*p));
  const struct jpath root = { .doc = doc };

  if (parse_document(data, len, &root, &spec_tables_process, p, err) < 0
      || nook_spec_validate_process(p, doc, err) < 0)
    return -EINVAL;
  *ret = TAKE_PTR(p);
  return 0;
}

void nook_process_free(struct nook_process *p)
{
  if (p == NULL)
    return;
  free_object(&spec_tables_process, p);
  free(p);
}

int nook_spec_load(const char *bundle, struct nook_spec **ret, char **ret_raw, size_t *ret_raw_len,
                   struct nook_error **err)
{
  size_t blen = strlen(bundle);
  _cleanup_free_ char *path =
      xasprintf("%s%sconfig.json", bundle, blen && bundle[blen - 1] == '/' ? "" : "/");
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_free_ char *raw = NULL;
  size_t len = 0;
  int r;

  r = nook_read_file_at(AT_FDCWD, path, SPEC_MAX_SIZE, &raw, &len, err);
  if (r == -EFBIG && err)
    {
      /* The same message as nook_spec_parse() gives for the same text. */
      nook_error_freep(err);
      return spec_error_errno(err, EFBIG, "larger than 16 MiB");
    }
  if (r < 0)
    return r;
  r = nook_spec_parse(raw, len, &spec, err);
  if (r < 0)
    return r;
  *ret = TAKE_PTR(spec);
  if (ret_raw)
    *ret_raw = TAKE_PTR(raw);
  if (ret_raw_len)
    *ret_raw_len = len;
  return 0;
}
