/* Internal to the config.json parser: shared by spec.c (the generic walker, parse and load),
 * spec-tables.c (the grammar as tables) and spec-validate.c (the semantic checks).  Not
 * installed, and included by no other file. */
#ifndef NOOK_SPEC_INTERNAL_H
#define NOOK_SPEC_INTERNAL_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "runtime/spec.h"

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

/* ---- JSON paths and errors (spec.c) ---------------------------------------------------- */

struct jpath
{
  const struct jpath *parent;
  const char *key; /* field name or map key; NULL for an array element */
  size_t index;
  bool map_key; /* rendered as ["key"] */
  /* Set on a root only: the name of the document (messages start with it instead of
   * "config.json"); the root itself renders as nothing. */
  const char *doc;
};

/* A short, one-line, unambiguous rendering of user input for a message; the caller frees it. */
char *spec_user_text(const char *s);

/* Sets "config.json: PATH: MESSAGE" with EINVAL (p NULL: no path; a root with .doc names
 * another document).  Returns -EINVAL. */
int spec_error(struct nook_error **err, const struct jpath *p, const char *fmt, ...) _printf_(3, 4);

/* ---- name tables (spec-tables.c) ------------------------------------------------------- */

struct choice
{
  const char *name;
  int value;
};

struct choices
{
  const struct choice *v;
  size_t n;
  const char *what; /* "unknown WHAT `x`" */
};

/* The entry of c named s, NULL when there is none. */
const struct choice *spec_tables_choice_find(const struct choices *c, const char *s);

/* ---- the grammar, as tables (spec-tables.c) -------------------------------------------- */

enum kind
{
  K_STR,      /* char *; validated against .choices when set (FL_VALUE: int value at .val_off) */
  K_STRV,     /* char **, NULL-terminated; elements validated against .choices when set */
  K_BOOL,     /* bool */
  K_OPT_BOOL, /* struct nook_opt_bool */
  K_U32,      /* uint32_t */
  K_U64,      /* uint64_t */
  K_OPT_U64,  /* struct nook_opt_u64 */
  K_INT,      /* int */
  K_I64,      /* int64_t */
  K_OPT_I64,  /* struct nook_opt_i64 */
  K_ENUM,     /* a name from .choices stored as its int value (FL_CHAR: as a char) */
  K_GIDS,     /* gid_t * with a count at .count_off */
  K_MAP,      /* object of strings: struct nook_kv * with a count */
  K_STRUCT,   /* object parsed with .sub into the struct at .off (0: into the parent itself) */
  K_PTR,      /* object parsed with .sub into a struct allocated here */
  K_ARRAY,    /* array of objects parsed with .sub, with a count */
  K_OBJMAP,   /* object of objects parsed with .sub, keys stored at .sub->key_off, with a count */
};

enum
{
  FL_REQ = 1 << 0,      /* "required field missing" when absent */
  FL_SET = 1 << 1,      /* K_STRUCT: the struct starts with `bool set`, true when present */
  FL_NONEMPTY = 1 << 2, /* K_STRV, K_ARRAY: at least one element */
  FL_CHAR = 1 << 3,     /* K_ENUM: store a char */
  FL_VALUE = 1 << 4,    /* K_STR with choices: store the value as an int at .val_off */
};

struct table;

struct field
{
  const char *name;
  enum kind kind;
  size_t off;
  unsigned flags;
  size_t count_off;
  size_t val_off;
  const struct table *sub;
  const struct choices *choices;
  uint64_t umax;    /* unsigned kinds: maximum, 0 for the type's */
  int64_t min, max; /* signed kinds: range, both 0 for the type's */
};

struct table
{
  const struct field *fields;
  size_t n;
  size_t size;
  bool keyed; /* K_OBJMAP elements: the map key goes to a char * at key_off */
  size_t key_off;
  void (*init)(void *obj);
  int (*check)(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err);
};

/* The table of the top-level object, struct nook_spec. */
extern const struct table spec_tables_spec;
/* The table of "process", struct nook_process (also a document of its own: exec --process). */
extern const struct table spec_tables_process;
/* The table of "hooks", struct nook_hooks: one K_ARRAY field per hook kind. */
extern const struct table spec_tables_hooks;

/* ---- walker helpers the tables' checks use (spec.c) ------------------------------------ */

/* The value of key in the object obj, NULL when absent or null (a repeated key: the last). */
yajl_val spec_obj_get(yajl_val obj, const char *key);

/* 0 when the object v has a non-null a or b, else an error at p.  Returns -EINVAL then. */
int spec_require_one_of(yajl_val v, const struct jpath *p, const char *a, const char *b,
                        struct nook_error **err);

/* ---- checks shared by the parser and nook_spec_validate() (spec-validate.c) ------------ */

/* No unknown and no duplicate namespace type in l (NULL: none).  Returns 0, or -EINVAL. */
int spec_validate_check_namespaces(const struct nook_linux *l, struct nook_error **err);

/* No unknown and no duplicate rlimit type in pr (NULL: none); p is the path of the process
 * object.  Returns 0, or -EINVAL. */
int spec_validate_check_rlimits(const struct nook_process *pr, const struct jpath *p,
                                struct nook_error **err);

#endif
