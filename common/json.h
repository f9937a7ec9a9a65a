/* Thin helpers over yajl for the JSON nook writes (state, list, hooks' stdin) and the small
 * JSON it reads back (its own state files).  config.json has its own parser (runtime/spec.c). */
#ifndef NOOK_JSON_H
#define NOOK_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/error.h"

yajl_gen nook_json_gen_new(bool pretty);
/* Returns the generated text (NUL-terminated, caller frees) and frees the generator. */
char *nook_json_gen_finish(yajl_gen g, size_t *ret_len);

void nook_json_str(yajl_gen g, const char *s); /* NULL is written as "" */
void nook_json_kv_str(yajl_gen g, const char *key, const char *value);
void nook_json_kv_int(yajl_gen g, const char *key, long long value);
void nook_json_kv_u64(yajl_gen g, const char *key, uint64_t value); /* all 64 bits */
void nook_json_kv_bool(yajl_gen g, const char *key, bool value);
/* "key": [strings of the NULL-terminated v] ([] for NULL). */
void nook_json_kv_strv(yajl_gen g, const char *key, char *const *v);

/* Parses NUL-terminated text (nook's own files) with the checks of nook_json_parse_untrusted()
 * but no size limit; the error names what (e.g. the file). */
int nook_json_parse(const char *text, const char *what, yajl_val *ret, struct nook_error **err);

/* Parses JSON from outside (config.json, image manifests): at most MAX_SIZE bytes (EFBIG),
 * 64 levels of nesting, 1,000,000 values and no NUL in a string are checked by an event
 * parser before yajl_tree builds anything.  Errors read "WHAT: invalid JSON: ... (line L,
 * column C)", "WHAT: nesting deeper than 64 levels", EINVAL. */
int nook_json_parse_untrusted(const char *data, size_t len, size_t max_size, const char *what,
                              yajl_val *ret, struct nook_error **err);

/* Member lookups on an object node: NULL / false when absent or of another type. */
const char *nook_json_get_str(yajl_val obj, const char *key);
bool nook_json_get_i64(yajl_val obj, const char *key, int64_t *ret);
bool nook_json_get_u64(yajl_val obj, const char *key, uint64_t *ret);
bool nook_json_get_bool(yajl_val obj, const char *key, bool *ret);
yajl_val nook_json_get(yajl_val obj, const char *key);

static inline void nook_json_freep(yajl_val *v)
{
  if (*v)
    yajl_tree_free(*v);
}
#define _cleanup_json_ _cleanup_(nook_json_freep)

#endif
