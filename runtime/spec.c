/* config.json -> struct nook_spec.
 *
 * The grammar lives in tables (one per JSON object type) that a small generic walker uses both
 * to parse and to free, so that a field is described once.  Every error names the JSON path
 * of the offending value; the path is a chain of stack frames rendered only on failure.
 *
 * Hostile input: the raw text goes first through yajl's event parser, which checks the size,
 * the nesting depth, the number of values and embedded NUL characters before yajl_tree (whose
 * free function recurses) builds anything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/spec.h"

#define SPEC_MAX_SIZE ((size_t)16 * 1024 * 1024)
#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_VALUES 1000000
#define USER_TEXT_MAX 64

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#define NOOK_SCHED_ISO 4 /* reserved by the kernel, named by the spec */

/* ---- JSON paths and errors ------------------------------------------------------------- */

struct jpath
{
  const struct jpath *parent;
  const char *key; /* field name or map key; NULL for an array element */
  size_t index;
  bool map_key; /* rendered as ["key"] */
};

/* A short, one-line, unambiguous rendering of user input for a message. */
static char *user_text(const char *s)
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

  if (p == NULL)
    return xstrdup("");
  head = jpath_render(p->parent);
  if (p->key == NULL)
    return xasprintf("%s[%zu]", head, p->index);
  if (p->map_key)
    {
      key = user_text(p->key);
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

  if (err == NULL || *err != NULL)
    return -errnum;
  where = jpath_render(p);
  nook_error_setv(err, 0, fmt, ap);
  if (*where)
    nook_error_prefix(err, "config.json: %s", where);
  else
    nook_error_prefix(err, "config.json");
  (*err)->errnum = errnum;
  return -errnum;
}

static int spec_error(struct nook_error **err, const struct jpath *p, const char *fmt, ...)
    _printf_(3, 4);
static int spec_error(struct nook_error **err, const struct jpath *p, const char *fmt, ...)
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

/* ---- name tables ----------------------------------------------------------------------- */

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

#define CHOICES(list, what_)                                                                       \
  {                                                                                                \
    .v = (list), .n = ARRAY_SIZE(list), .what = (what_)                                            \
  }

static const struct choice ns_list[] = {
  { "pid", NOOK_NS_PID },       { "network", NOOK_NS_NETWORK }, { "mount", NOOK_NS_MOUNT },
  { "ipc", NOOK_NS_IPC },       { "uts", NOOK_NS_UTS },         { "user", NOOK_NS_USER },
  { "cgroup", NOOK_NS_CGROUP }, { "time", NOOK_NS_TIME },
};
static const struct choices ns_types = CHOICES(ns_list, "namespace type");

static const struct choice rlimit_list[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};
static const struct choices rlimits = CHOICES(rlimit_list, "rlimit");

static const struct choice sched_policy_list[] = {
  { "SCHED_OTHER", SCHED_OTHER },
  { "SCHED_FIFO", SCHED_FIFO },
  { "SCHED_RR", SCHED_RR },
  { "SCHED_BATCH", SCHED_BATCH },
  { "SCHED_ISO", NOOK_SCHED_ISO },
  { "SCHED_IDLE", SCHED_IDLE },
  { "SCHED_DEADLINE", SCHED_DEADLINE },
};
static const struct choices sched_policies = CHOICES(sched_policy_list, "scheduler policy");

static const struct choice sched_flag_list[] = {
  { "SCHED_FLAG_RESET_ON_FORK" },  { "SCHED_FLAG_RECLAIM" },     { "SCHED_FLAG_DL_OVERRUN" },
  { "SCHED_FLAG_KEEP_POLICY" },    { "SCHED_FLAG_KEEP_PARAMS" }, { "SCHED_FLAG_UTIL_CLAMP_MIN" },
  { "SCHED_FLAG_UTIL_CLAMP_MAX" },
};
static const struct choices sched_flags = CHOICES(sched_flag_list, "scheduler flag");

static const struct choice ioprio_list[] = {
  { "IOPRIO_CLASS_RT", 1 },
  { "IOPRIO_CLASS_BE", 2 },
  { "IOPRIO_CLASS_IDLE", 3 },
};
static const struct choices ioprio_classes = CHOICES(ioprio_list, "I/O priority class");

static const struct choice device_type_list[] = {
  { "c", 'c' }, { "b", 'b' }, { "u", 'u' }, { "p", 'p' }
};
static const struct choices device_types = CHOICES(device_type_list, "device type");

static const struct choice rule_type_list[] = { { "a", 'a' }, { "c", 'c' }, { "b", 'b' } };
static const struct choices rule_types = CHOICES(rule_type_list, "device type");

static const struct choice propagation_list[] = {
  { "private" },  { "shared" },  { "slave" },  { "unbindable" },
  { "rprivate" }, { "rshared" }, { "rslave" }, { "runbindable" },
};
static const struct choices propagations = CHOICES(propagation_list, "rootfs propagation");

static const struct choice personality_list[] = { { "LINUX" }, { "LINUX32" } };
static const struct choices personalities = CHOICES(personality_list, "personality domain");

static const struct choice seccomp_action_list[] = {
  { "SCMP_ACT_KILL" },  { "SCMP_ACT_KILL_PROCESS" }, { "SCMP_ACT_KILL_THREAD" },
  { "SCMP_ACT_TRAP" },  { "SCMP_ACT_ERRNO" },        { "SCMP_ACT_TRACE" },
  { "SCMP_ACT_ALLOW" }, { "SCMP_ACT_LOG" },          { "SCMP_ACT_NOTIFY" },
};
static const struct choices seccomp_actions = CHOICES(seccomp_action_list, "seccomp action");

static const struct choice seccomp_op_list[] = {
  { "SCMP_CMP_NE" }, { "SCMP_CMP_LT" }, { "SCMP_CMP_LE" },        { "SCMP_CMP_EQ" },
  { "SCMP_CMP_GE" }, { "SCMP_CMP_GT" }, { "SCMP_CMP_MASKED_EQ" },
};
static const struct choices seccomp_ops = CHOICES(seccomp_op_list, "seccomp operator");

/* The spec's list (libseccomp 2.5) plus LoongArch, which engines already emit. */
static const struct choice seccomp_arch_list[] = {
  { "SCMP_ARCH_X86" },      { "SCMP_ARCH_X86_64" },      { "SCMP_ARCH_X32" },
  { "SCMP_ARCH_ARM" },      { "SCMP_ARCH_AARCH64" },     { "SCMP_ARCH_MIPS" },
  { "SCMP_ARCH_MIPS64" },   { "SCMP_ARCH_MIPS64N32" },   { "SCMP_ARCH_MIPSEL" },
  { "SCMP_ARCH_MIPSEL64" }, { "SCMP_ARCH_MIPSEL64N32" }, { "SCMP_ARCH_PPC" },
  { "SCMP_ARCH_PPC64" },    { "SCMP_ARCH_PPC64LE" },     { "SCMP_ARCH_S390" },
  { "SCMP_ARCH_S390X" },    { "SCMP_ARCH_PARISC" },      { "SCMP_ARCH_PARISC64" },
  { "SCMP_ARCH_RISCV64" },  { "SCMP_ARCH_LOONGARCH64" },
};
static const struct choices seccomp_archs = CHOICES(seccomp_arch_list, "seccomp architecture");

static const struct choice seccomp_flag_list[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC" },
  { "SECCOMP_FILTER_FLAG_LOG" },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW" },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" },
};
static const struct choices seccomp_flags = CHOICES(seccomp_flag_list, "seccomp flag");

static const struct choice *choice_find(const struct choices *c, const char *s)
{
  for (size_t i = 0; i < c->n; i++)
    if (streq(c->v[i].name, s))
      return &c->v[i];
  return NULL;
}

/* ---- the grammar, as tables ------------------------------------------------------------ */

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

#define FIELD(type_, name_, kind_, member_, ...)                                                   \
  {                                                                                                \
    .name = (name_), .kind = (kind_), .off = offsetof(type_, member_), __VA_ARGS__                 \
  }
#define TABLE(list, type_, ...)                                                                    \
  {                                                                                                \
    .fields = (list), .n = ARRAY_SIZE(list), .size = sizeof(type_), __VA_ARGS__                    \
  }

#define INT32_RANGE .min = INT32_MIN, .max = INT32_MAX

static yajl_val obj_get(yajl_val obj, const char *key);
static int require_one_of(yajl_val v, const struct jpath *p, const char *a, const char *b,
                          struct nook_error **err);
static int check_rlimits(const struct nook_process *pr, struct nook_error **err);
static int check_namespaces(const struct nook_linux *l, struct nook_error **err);

/* process */

#define T struct nook_id_mapping
static const struct field id_mapping_fields[] = {
  FIELD(T, "containerID", K_U32, container_id, .flags = FL_REQ),
  FIELD(T, "hostID", K_U32, host_id, .flags = FL_REQ),
  FIELD(T, "size", K_U32, size, .flags = FL_REQ),
};
static const struct table id_mapping_table = TABLE(id_mapping_fields, T);
#undef T

#define T struct nook_console_size
static const struct field console_fields[] = {
  FIELD(T, "height", K_U32, height, .flags = FL_REQ),
  FIELD(T, "width", K_U32, width, .flags = FL_REQ),
};
static const struct table console_table = TABLE(console_fields, T);
#undef T

#define T struct nook_user
static const struct field user_fields[] = {
  FIELD(T, "uid", K_U32, uid, .flags = FL_REQ),
  FIELD(T, "gid", K_U32, gid, .flags = FL_REQ),
  FIELD(T, "umask", K_OPT_U64, umask, .umax = UINT32_MAX),
  FIELD(T, "additionalGids", K_GIDS, additional_gids, .count_off = offsetof(T, n_additional_gids)),
  FIELD(T, "username", K_STR, username),
};
static const struct table user_table = TABLE(user_fields, T);
#undef T

#define T struct nook_capabilities
static const struct field caps_fields[] = {
  FIELD(T, "bounding", K_STRV, bounding),       FIELD(T, "effective", K_STRV, effective),
  FIELD(T, "inheritable", K_STRV, inheritable), FIELD(T, "permitted", K_STRV, permitted),
  FIELD(T, "ambient", K_STRV, ambient),
};
static const struct table caps_table = TABLE(caps_fields, T);
#undef T

#define T struct nook_rlimit
static const struct field rlimit_fields[] = {
  FIELD(T, "type", K_STR, type, .flags = FL_REQ | FL_VALUE, .choices = &rlimits,
        .val_off = offsetof(T, resource)),
  FIELD(T, "hard", K_U64, hard, .flags = FL_REQ),
  FIELD(T, "soft", K_U64, soft, .flags = FL_REQ),
};
static const struct table rlimit_table = TABLE(rlimit_fields, T);
#undef T

#define T struct nook_scheduler
static const struct field sched_fields[] = {
  FIELD(T, "policy", K_STR, policy, .flags = FL_REQ | FL_VALUE, .choices = &sched_policies,
        .val_off = offsetof(T, policy_value)),
  FIELD(T, "nice", K_OPT_I64, nice, INT32_RANGE),
  FIELD(T, "priority", K_OPT_I64, priority, INT32_RANGE),
  FIELD(T, "flags", K_STRV, flags, .choices = &sched_flags),
  FIELD(T, "runtime", K_OPT_U64, runtime),
  FIELD(T, "deadline", K_OPT_U64, deadline),
  FIELD(T, "period", K_OPT_U64, period),
};
static const struct table sched_table = TABLE(sched_fields, T);
#undef T

#define T struct nook_io_priority
static const struct field ioprio_fields[] = {
  FIELD(T, "class", K_ENUM, class, .flags = FL_REQ, .choices = &ioprio_classes),
  FIELD(T, "priority", K_INT, priority),
};
static const struct table ioprio_table = TABLE(ioprio_fields, T);
#undef T

static int cpu_affinity_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  const struct nook_exec_cpu_affinity *a = obj;
  const char *vals[] = { a->initial, a->final };
  const char *names[] = { "initial", "final" };

  for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
    if (vals[i] && vals[i][strspn(vals[i], "0123456789, -")] != '\0')
      {
        struct jpath fp = { .parent = p, .key = names[i] };
        _cleanup_free_ char *t = user_text(vals[i]);
        return spec_error(err, &fp, "invalid cpu list `%s`", t);
      }
  return 0;
}

#define T struct nook_exec_cpu_affinity
static const struct field affinity_fields[] = {
  FIELD(T, "initial", K_STR, initial),
  FIELD(T, "final", K_STR, final),
};
static const struct table affinity_table = TABLE(affinity_fields, T, .check = cpu_affinity_check);
#undef T

static int process_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  return check_rlimits(obj, err);
}

#define T struct nook_process
static const struct field process_fields[] = {
  FIELD(T, "terminal", K_BOOL, terminal),
  FIELD(T, "consoleSize", K_STRUCT, console_size, .flags = FL_SET, .sub = &console_table),
  FIELD(T, "user", K_STRUCT, user, .sub = &user_table),
  FIELD(T, "args", K_STRV, args),
  FIELD(T, "commandLine", K_STR, command_line),
  FIELD(T, "env", K_STRV, env),
  FIELD(T, "cwd", K_STR, cwd, .flags = FL_REQ),
  FIELD(T, "capabilities", K_PTR, capabilities, .sub = &caps_table),
  FIELD(T, "rlimits", K_ARRAY, rlimits, .sub = &rlimit_table, .count_off = offsetof(T, n_rlimits)),
  FIELD(T, "noNewPrivileges", K_BOOL, no_new_privileges),
  FIELD(T, "apparmorProfile", K_STR, apparmor_profile),
  FIELD(T, "oomScoreAdj", K_OPT_I64, oom_score_adj, .min = INT_MIN, .max = INT_MAX),
  FIELD(T, "scheduler", K_STRUCT, scheduler, .flags = FL_SET, .sub = &sched_table),
  FIELD(T, "selinuxLabel", K_STR, selinux_label),
  FIELD(T, "ioPriority", K_STRUCT, io_priority, .flags = FL_SET, .sub = &ioprio_table),
  FIELD(T, "execCPUAffinity", K_STRUCT, exec_cpu_affinity, .sub = &affinity_table),
};
static const struct table process_table = TABLE(process_fields, T, .check = process_check);
#undef T

/* root, mounts, hooks */

#define T struct nook_root
static const struct field root_fields[] = {
  FIELD(T, "path", K_STR, path, .flags = FL_REQ),
  FIELD(T, "readonly", K_BOOL, readonly),
};
static const struct table root_table = TABLE(root_fields, T);
#undef T

#define T struct nook_mount
static const struct field mount_fields[] = {
  FIELD(T, "destination", K_STR, destination, .flags = FL_REQ),
  FIELD(T, "type", K_STR, type),
  FIELD(T, "source", K_STR, source),
  FIELD(T, "options", K_STRV, options),
  FIELD(T, "uidMappings", K_ARRAY, uid_mappings, .sub = &id_mapping_table,
        .count_off = offsetof(T, n_uid_mappings)),
  FIELD(T, "gidMappings", K_ARRAY, gid_mappings, .sub = &id_mapping_table,
        .count_off = offsetof(T, n_gid_mappings)),
};
static const struct table mount_table = TABLE(mount_fields, T);
#undef T

#define T struct nook_hook
static const struct field hook_fields[] = {
  FIELD(T, "path", K_STR, path, .flags = FL_REQ),
  FIELD(T, "args", K_STRV, args),
  FIELD(T, "env", K_STRV, env),
  FIELD(T, "timeout", K_OPT_I64, timeout, .min = 1, .max = INT_MAX),
};
static const struct table hook_table = TABLE(hook_fields, T);
#undef T

#define T struct nook_hooks
#define HOOKS(name_, member_)                                                                      \
  FIELD(T, name_, K_ARRAY, member_, .sub = &hook_table, .count_off = offsetof(T, n_##member_))
static const struct field hooks_fields[] = {
  HOOKS("prestart", prestart),
  HOOKS("createRuntime", create_runtime),
  HOOKS("createContainer", create_container),
  HOOKS("startContainer", start_container),
  HOOKS("poststart", poststart),
  HOOKS("poststop", poststop),
};
static const struct table hooks_table = TABLE(hooks_fields, T);
#undef HOOKS
#undef T

/* linux */

#define T struct nook_namespace
static const struct field namespace_fields[] = {
  FIELD(T, "type", K_ENUM, type, .flags = FL_REQ, .choices = &ns_types),
  FIELD(T, "path", K_STR, path),
};
static const struct table namespace_table = TABLE(namespace_fields, T);
#undef T

#define T struct nook_time_offset
static const struct field time_offset_fields[] = {
  FIELD(T, "secs", K_I64, secs),
  FIELD(T, "nanosecs", K_U32, nanosecs, .umax = 999999999),
};
static const struct table time_offset_table = TABLE(time_offset_fields, T);
#undef T

#define T struct nook_linux /* "timeOffsets" is parsed into nook_linux itself */
static const struct field time_offsets_fields[] = {
  FIELD(T, "monotonic", K_STRUCT, time_monotonic, .flags = FL_SET, .sub = &time_offset_table),
  FIELD(T, "boottime", K_STRUCT, time_boottime, .flags = FL_SET, .sub = &time_offset_table),
};
static const struct table time_offsets_table = TABLE(time_offsets_fields, T);
#undef T

/* linux.devices[]: major and minor are required unless the type is `p` (a FIFO). */
static int device_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  const struct nook_device *d = obj;
  static const char *const keys[] = { "major", "minor" };

  if (d->type == 'p')
    return 0;
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
    if (obj_get(v, keys[i]) == NULL)
      {
        struct jpath kp = { .parent = p, .key = keys[i] };
        return spec_error(err, &kp, "required field missing");
      }
  return 0;
}

#define T struct nook_device
static const struct field device_fields[] = {
  FIELD(T, "type", K_ENUM, type, .flags = FL_REQ | FL_CHAR, .choices = &device_types),
  FIELD(T, "path", K_STR, path, .flags = FL_REQ),
  FIELD(T, "major", K_I64, major),
  FIELD(T, "minor", K_I64, minor),
  FIELD(T, "fileMode", K_OPT_U64, file_mode, .umax = UINT32_MAX),
  FIELD(T, "uid", K_OPT_U64, uid, .umax = UINT32_MAX),
  FIELD(T, "gid", K_OPT_U64, gid, .umax = UINT32_MAX),
};
static const struct table device_table = TABLE(device_fields, T, .check = device_check);
#undef T

static void device_rule_init(void *obj)
{
  struct nook_device_rule *r = obj;
  r->type = 'a';
  r->major = -1;
  r->minor = -1;
}

static int device_rule_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  const struct nook_device_rule *r = obj;

  if (r->access && r->access[strspn(r->access, "rwm")] != '\0')
    {
      struct jpath ap = { .parent = p, .key = "access" };
      _cleanup_free_ char *t = user_text(r->access);
      return spec_error(err, &ap, "invalid access `%s`, expected a combination of r, w and m", t);
    }
  return 0;
}

#define T struct nook_device_rule
static const struct field device_rule_fields[] = {
  FIELD(T, "allow", K_BOOL, allow, .flags = FL_REQ),
  FIELD(T, "type", K_ENUM, type, .flags = FL_CHAR, .choices = &rule_types),
  FIELD(T, "major", K_I64, major),
  FIELD(T, "minor", K_I64, minor),
  FIELD(T, "access", K_STR, access),
};
static const struct table device_rule_table =
    TABLE(device_rule_fields, T, .init = device_rule_init, .check = device_rule_check);
#undef T

#define T struct nook_resources
static const struct field memory_fields[] = {
  FIELD(T, "limit", K_OPT_I64, memory.limit),
  FIELD(T, "reservation", K_OPT_I64, memory.reservation),
  FIELD(T, "swap", K_OPT_I64, memory.swap),
  FIELD(T, "kernel", K_OPT_I64, memory.kernel),
  FIELD(T, "kernelTCP", K_OPT_I64, memory.kernel_tcp),
  FIELD(T, "swappiness", K_OPT_U64, memory.swappiness),
  FIELD(T, "disableOOMKiller", K_OPT_BOOL, memory.disable_oom_killer),
  FIELD(T, "useHierarchy", K_OPT_BOOL, memory.use_hierarchy),
  FIELD(T, "checkBeforeUpdate", K_OPT_BOOL, memory.check_before_update),
};
static const struct table memory_table = TABLE(memory_fields, T);

static const struct field cpu_fields[] = {
  FIELD(T, "shares", K_OPT_U64, cpu.shares),
  FIELD(T, "quota", K_OPT_I64, cpu.quota),
  FIELD(T, "burst", K_OPT_U64, cpu.burst),
  FIELD(T, "period", K_OPT_U64, cpu.period),
  FIELD(T, "realtimeRuntime", K_OPT_I64, cpu.realtime_runtime),
  FIELD(T, "realtimePeriod", K_OPT_U64, cpu.realtime_period),
  FIELD(T, "cpus", K_STR, cpu.cpus),
  FIELD(T, "mems", K_STR, cpu.mems),
  FIELD(T, "idle", K_OPT_I64, cpu.idle),
};
static const struct table cpu_table = TABLE(cpu_fields, T);

static const struct field pids_fields[] = {
  FIELD(T, "limit", K_OPT_I64, pids.limit, .flags = FL_REQ),
};
static const struct table pids_table = TABLE(pids_fields, T);
#undef T

static int weight_device_check(void *obj, yajl_val v, const struct jpath *p,
                               struct nook_error **err)
{
  return require_one_of(v, p, "weight", "leafWeight", err);
}

#define T struct nook_weight_device
static const struct field weight_device_fields[] = {
  FIELD(T, "major", K_I64, major, .flags = FL_REQ),
  FIELD(T, "minor", K_I64, minor, .flags = FL_REQ),
  FIELD(T, "weight", K_OPT_U64, weight, .umax = UINT16_MAX),
  FIELD(T, "leafWeight", K_OPT_U64, leaf_weight, .umax = UINT16_MAX),
};
static const struct table weight_device_table =
    TABLE(weight_device_fields, T, .check = weight_device_check);
#undef T

#define T struct nook_throttle_device
static const struct field throttle_fields[] = {
  FIELD(T, "major", K_I64, major, .flags = FL_REQ),
  FIELD(T, "minor", K_I64, minor, .flags = FL_REQ),
  FIELD(T, "rate", K_U64, rate, .flags = FL_REQ),
};
static const struct table throttle_table = TABLE(throttle_fields, T);
#undef T

#define T struct nook_resources
#define THROTTLE(name_, member_)                                                                   \
  FIELD(T, name_, K_ARRAY, block_io.member_, .sub = &throttle_table,                               \
        .count_off = offsetof(T, block_io.n_##member_))
static const struct field block_io_fields[] = {
  FIELD(T, "weight", K_OPT_U64, block_io.weight, .umax = UINT16_MAX),
  FIELD(T, "leafWeight", K_OPT_U64, block_io.leaf_weight, .umax = UINT16_MAX),
  FIELD(T, "weightDevice", K_ARRAY, block_io.weight_device, .sub = &weight_device_table,
        .count_off = offsetof(T, block_io.n_weight_device)),
  THROTTLE("throttleReadBpsDevice", throttle_read_bps),
  THROTTLE("throttleWriteBpsDevice", throttle_write_bps),
  THROTTLE("throttleReadIOPSDevice", throttle_read_iops),
  THROTTLE("throttleWriteIOPSDevice", throttle_write_iops),
};
static const struct table block_io_table = TABLE(block_io_fields, T);
#undef THROTTLE
#undef T

#define T struct nook_hugepage_limit
static const struct field hugepage_fields[] = {
  FIELD(T, "pageSize", K_STR, page_size, .flags = FL_REQ),
  FIELD(T, "limit", K_U64, limit, .flags = FL_REQ),
};
static const struct table hugepage_table = TABLE(hugepage_fields, T);
#undef T

#define T struct nook_net_priority
static const struct field net_priority_fields[] = {
  FIELD(T, "name", K_STR, name, .flags = FL_REQ),
  FIELD(T, "priority", K_U32, priority, .flags = FL_REQ),
};
static const struct table net_priority_table = TABLE(net_priority_fields, T);
#undef T

static int rdma_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  return require_one_of(v, p, "hcaHandles", "hcaObjects", err);
}

#define T struct nook_rdma_limit
static const struct field rdma_fields[] = {
  FIELD(T, "hcaHandles", K_OPT_U64, hca_handles, .umax = UINT32_MAX),
  FIELD(T, "hcaObjects", K_OPT_U64, hca_objects, .umax = UINT32_MAX),
};
static const struct table rdma_table =
    TABLE(rdma_fields, T, .keyed = true, .key_off = offsetof(T, device), .check = rdma_check);
#undef T

#define T struct nook_resources
static const struct field network_fields[] = {
  FIELD(T, "classID", K_OPT_U64, network.class_id, .umax = UINT32_MAX),
  FIELD(T, "priorities", K_ARRAY, network.priorities, .sub = &net_priority_table,
        .count_off = offsetof(T, network.n_priorities)),
};
static const struct table network_table = TABLE(network_fields, T);

/* The cgroup controllers' objects are anonymous structs inside nook_resources: their tables
 * address them from the nook_resources base, so the K_STRUCT fields sit at offset 0. */
static const struct field resources_fields[] = {
  FIELD(T, "devices", K_ARRAY, devices, .sub = &device_rule_table,
        .count_off = offsetof(T, n_devices)),
  { .name = "memory", .kind = K_STRUCT, .sub = &memory_table },
  { .name = "cpu", .kind = K_STRUCT, .sub = &cpu_table },
  { .name = "pids", .kind = K_STRUCT, .sub = &pids_table },
  { .name = "blockIO", .kind = K_STRUCT, .sub = &block_io_table },
  FIELD(T, "hugepageLimits", K_ARRAY, hugepage_limits, .sub = &hugepage_table,
        .count_off = offsetof(T, n_hugepage_limits)),
  { .name = "network", .kind = K_STRUCT, .sub = &network_table },
  FIELD(T, "rdma", K_OBJMAP, rdma, .sub = &rdma_table, .count_off = offsetof(T, n_rdma)),
  FIELD(T, "unified", K_MAP, unified, .count_off = offsetof(T, n_unified)),
};
static const struct table resources_table = TABLE(resources_fields, T);
#undef T

#define T struct nook_intel_rdt
static const struct field intel_rdt_fields[] = {
  FIELD(T, "closID", K_STR, clos_id),
  FIELD(T, "l3CacheSchema", K_STR, l3_cache_schema),
  FIELD(T, "memBwSchema", K_STR, mem_bw_schema),
  FIELD(T, "enableCMT", K_OPT_BOOL, enable_cmt),
  FIELD(T, "enableMBM", K_OPT_BOOL, enable_mbm),
};
static const struct table intel_rdt_table = TABLE(intel_rdt_fields, T);
#undef T

#define T struct nook_seccomp_arg
static const struct field seccomp_arg_fields[] = {
  FIELD(T, "index", K_U32, index, .flags = FL_REQ),
  FIELD(T, "value", K_U64, value, .flags = FL_REQ),
  FIELD(T, "valueTwo", K_OPT_U64, value_two),
  FIELD(T, "op", K_STR, op, .flags = FL_REQ, .choices = &seccomp_ops),
};
static const struct table seccomp_arg_table = TABLE(seccomp_arg_fields, T);
#undef T

#define T struct nook_seccomp_syscall
static const struct field syscall_fields[] = {
  FIELD(T, "names", K_STRV, names, .flags = FL_REQ | FL_NONEMPTY),
  FIELD(T, "action", K_STR, action, .flags = FL_REQ, .choices = &seccomp_actions),
  FIELD(T, "errnoRet", K_OPT_U64, errno_ret, .umax = UINT32_MAX),
  FIELD(T, "args", K_ARRAY, args, .sub = &seccomp_arg_table, .count_off = offsetof(T, n_args)),
};
static const struct table syscall_table = TABLE(syscall_fields, T);
#undef T

#define T struct nook_seccomp
static const struct field seccomp_fields[] = {
  FIELD(T, "defaultAction", K_STR, default_action, .flags = FL_REQ, .choices = &seccomp_actions),
  FIELD(T, "defaultErrnoRet", K_OPT_U64, default_errno_ret, .umax = UINT32_MAX),
  FIELD(T, "architectures", K_STRV, architectures, .choices = &seccomp_archs),
  FIELD(T, "flags", K_STRV, flags, .choices = &seccomp_flags),
  FIELD(T, "listenerPath", K_STR, listener_path),
  FIELD(T, "listenerMetadata", K_STR, listener_metadata),
  FIELD(T, "syscalls", K_ARRAY, syscalls, .sub = &syscall_table,
        .count_off = offsetof(T, n_syscalls)),
};
static const struct table seccomp_table = TABLE(seccomp_fields, T);
#undef T

#define T struct nook_personality
static const struct field personality_fields[] = {
  FIELD(T, "domain", K_STR, domain, .flags = FL_REQ, .choices = &personalities),
  FIELD(T, "flags", K_STRV, flags),
};
static const struct table personality_table = TABLE(personality_fields, T);
#undef T

static int linux_check(void *obj, yajl_val v, const struct jpath *p, struct nook_error **err)
{
  return check_namespaces(obj, err);
}

#define T struct nook_linux
static const struct field linux_fields[] = {
  FIELD(T, "namespaces", K_ARRAY, namespaces, .sub = &namespace_table,
        .count_off = offsetof(T, n_namespaces)),
  FIELD(T, "uidMappings", K_ARRAY, uid_mappings, .sub = &id_mapping_table,
        .count_off = offsetof(T, n_uid_mappings)),
  FIELD(T, "gidMappings", K_ARRAY, gid_mappings, .sub = &id_mapping_table,
        .count_off = offsetof(T, n_gid_mappings)),
  { .name = "timeOffsets", .kind = K_STRUCT, .sub = &time_offsets_table },
  FIELD(T, "devices", K_ARRAY, devices, .sub = &device_table, .count_off = offsetof(T, n_devices)),
  FIELD(T, "cgroupsPath", K_STR, cgroups_path),
  FIELD(T, "resources", K_PTR, resources, .sub = &resources_table),
  FIELD(T, "intelRdt", K_STRUCT, intel_rdt, .flags = FL_SET, .sub = &intel_rdt_table),
  FIELD(T, "sysctl", K_MAP, sysctl, .count_off = offsetof(T, n_sysctl)),
  FIELD(T, "seccomp", K_PTR, seccomp, .sub = &seccomp_table),
  FIELD(T, "rootfsPropagation", K_STR, rootfs_propagation, .choices = &propagations),
  FIELD(T, "maskedPaths", K_STRV, masked_paths),
  FIELD(T, "readonlyPaths", K_STRV, readonly_paths),
  FIELD(T, "mountLabel", K_STR, mount_label),
  FIELD(T, "personality", K_STRUCT, personality, .flags = FL_SET, .sub = &personality_table),
};
static const struct table linux_table = TABLE(linux_fields, T, .check = linux_check);
#undef T

#define T struct nook_spec
static const struct field spec_fields[] = {
  FIELD(T, "ociVersion", K_STR, oci_version, .flags = FL_REQ),
  FIELD(T, "process", K_PTR, process, .sub = &process_table),
  FIELD(T, "root", K_PTR, root, .sub = &root_table),
  FIELD(T, "hostname", K_STR, hostname),
  FIELD(T, "domainname", K_STR, domainname),
  FIELD(T, "mounts", K_ARRAY, mounts, .sub = &mount_table, .count_off = offsetof(T, n_mounts)),
  FIELD(T, "hooks", K_STRUCT, hooks, .sub = &hooks_table),
  FIELD(T, "annotations", K_MAP, annotations, .count_off = offsetof(T, n_annotations)),
  FIELD(T, "linux", K_PTR, linux, .sub = &linux_table),
};
static const struct table spec_table = TABLE(spec_fields, T);
#undef T

/* FL_SET relies on this layout; enums are stored through an int. */
_Static_assert(offsetof(struct nook_console_size, set) == 0, "set first");
_Static_assert(offsetof(struct nook_scheduler, set) == 0, "set first");
_Static_assert(offsetof(struct nook_io_priority, set) == 0, "set first");
_Static_assert(offsetof(struct nook_time_offset, set) == 0, "set first");
_Static_assert(offsetof(struct nook_intel_rdt, set) == 0, "set first");
_Static_assert(offsetof(struct nook_personality, set) == 0, "set first");
_Static_assert(sizeof(enum nook_ns_type) == sizeof(int), "enum stored as int");

/* ---- the walker: values ---------------------------------------------------------------- */

/* The value of key in an object, NULL when absent or null.  A repeated key: the last wins,
 * as with Go's encoding/json (runc). */
static yajl_val obj_get(yajl_val obj, const char *key)
{
  yajl_val r = NULL;

  for (size_t i = 0; i < obj->u.object.len; i++)
    if (streq(obj->u.object.keys[i], key))
      r = obj->u.object.values[i];
  return YAJL_IS_NULL(r) ? NULL : r;
}

static int require_one_of(yajl_val v, const struct jpath *p, const char *a, const char *b,
                          struct nook_error **err)
{
  if (obj_get(v, a) || obj_get(v, b))
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
  found = choice_find(c, s);
  if (found)
    {
      *ret = found->value;
      return 0;
    }
  t = user_text(s);
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
  t = user_text(r);
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
  t = user_text(v->u.number.r);
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
  t = user_text(v->u.number.r);
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
      yajl_val fv = obj_get(v, f->name);

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
  free_object(&spec_table, spec);
  free(spec);
}

/* ---- checks shared by the parser and nook_spec_validate() ------------------------------ */

static int check_namespaces(const struct nook_linux *l, struct nook_error **err)
{
  bool seen[NOOK_NS_COUNT] = { false };

  for (size_t i = 0; l && i < l->n_namespaces; i++)
    {
      enum nook_ns_type t = l->namespaces[i].type;
      if ((unsigned)t >= NOOK_NS_COUNT)
        return spec_error(err, NULL, "linux.namespaces[%zu].type: unknown namespace type", i);
      if (seen[t])
        return spec_error(err, NULL, "linux.namespaces[%zu]: duplicate namespace `%s`", i,
                          nook_ns_type_to_string(t));
      seen[t] = true;
    }
  return 0;
}

static int check_rlimits(const struct nook_process *pr, struct nook_error **err)
{
  bool seen[64] = { false };

  for (size_t i = 0; pr && i < pr->n_rlimits; i++)
    {
      int res = pr->rlimits[i].resource;
      _cleanup_free_ char *t = user_text(pr->rlimits[i].type ? pr->rlimits[i].type : "");
      if (res < 0 || (size_t)res >= ARRAY_SIZE(seen))
        return spec_error(err, NULL, "process.rlimits[%zu].type: unknown rlimit `%s`", i, t);
      if (seen[res])
        return spec_error(err, NULL, "process.rlimits[%zu]: duplicate rlimit `%s`", i, t);
      seen[res] = true;
    }
  return 0;
}

/* ---- parse and load -------------------------------------------------------------------- */

/* A first pass with yajl's event parser: strict JSON (no comments), at most SPEC_MAX_DEPTH
 * levels and SPEC_MAX_VALUES values, no NUL inside strings or keys.  Nothing is built, so
 * nothing recurses. */
struct prescan
{
  unsigned depth;
  size_t values;
  const char *fail;
};

static int ps_count(struct prescan *ps)
{
  if (++ps->values > SPEC_MAX_VALUES)
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
  if (++ps->depth > SPEC_MAX_DEPTH)
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
static int syntax_error(const char *msg, const char *data, size_t offset, struct nook_error **err)
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
  return spec_error(err, NULL, "invalid JSON: %s (line %zu, column %zu)", m, line, col);
}

static int prescan(const char *data, size_t len, struct nook_error **err)
{
  struct prescan ps = { 0 };
  yajl_handle h = yajl_alloc(&prescan_callbacks, NULL, &ps);
  yajl_status st;
  size_t offset = len;
  int r = 0;

  if (h == NULL)
    return nook_error_set(err, ENOMEM, "config.json: allocate a JSON parser");
  st = yajl_parse(h, (const unsigned char *)data, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(h);
  else
    offset = yajl_get_bytes_consumed(h);
  if (st == yajl_status_client_canceled)
    r = spec_error(err, NULL, "%s", ps.fail);
  else if (st != yajl_status_ok)
    {
      unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
      r = syntax_error((const char *)msg, data, offset > len ? len : offset, err);
      yajl_free_error(h, msg);
    }
  yajl_free(h);
  return r;
}

static void yajl_tree_freep(yajl_val *v)
{
  if (*v)
    yajl_tree_free(*v);
}

int nook_spec_parse(const char *data, size_t len, struct nook_spec **ret, struct nook_error **err)
{
  _cleanup_(yajl_tree_freep) yajl_val tree = NULL;
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_free_ char *text = NULL;
  char errbuf[256] = "";

  if (len > SPEC_MAX_SIZE)
    return spec_error_errno(err, EFBIG, "larger than 16 MiB");
  if (prescan(data, len, err) < 0)
    return -EINVAL;
  /* yajl_tree_parse() wants a NUL-terminated string; the prescan excluded NUL bytes. */
  text = xmalloc(len + 1);
  if (len)
    memcpy(text, data, len);
  text[len] = '\0';
  tree = yajl_tree_parse(text, errbuf, sizeof(errbuf));
  if (tree == NULL)
    return syntax_error(errbuf, text, len, err);
  spec = xcalloc(1, sizeof(*spec));
  if (parse_object(tree, NULL, &spec_table, spec, err) < 0)
    return -EINVAL;
  *ret = TAKE_PTR(spec);
  return 0;
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

/* ---- namespaces ------------------------------------------------------------------------ */

int nook_ns_type_from_string(const char *s)
{
  const struct choice *c = s ? choice_find(&ns_types, s) : NULL;
  return c ? c->value : -1;
}

const char *nook_ns_type_to_string(enum nook_ns_type t)
{
  for (size_t i = 0; i < ARRAY_SIZE(ns_list); i++)
    if (ns_list[i].value == (int)t)
      return ns_list[i].name;
  return NULL;
}

int nook_ns_type_clone_flag(enum nook_ns_type t)
{
  switch (t)
    {
    case NOOK_NS_PID: return CLONE_NEWPID;
    case NOOK_NS_NETWORK: return CLONE_NEWNET;
    case NOOK_NS_MOUNT: return CLONE_NEWNS;
    case NOOK_NS_IPC: return CLONE_NEWIPC;
    case NOOK_NS_UTS: return CLONE_NEWUTS;
    case NOOK_NS_USER: return CLONE_NEWUSER;
    case NOOK_NS_CGROUP: return CLONE_NEWCGROUP;
    case NOOK_NS_TIME: return CLONE_NEWTIME;
    case NOOK_NS_COUNT: break;
    }
  return 0;
}

const struct nook_namespace *nook_spec_namespace(const struct nook_spec *spec, enum nook_ns_type t)
{
  for (size_t i = 0; spec && spec->linux && i < spec->linux->n_namespaces; i++)
    if (spec->linux->namespaces[i].type == t)
      return &spec->linux->namespaces[i];
  return NULL;
}

/* ---- validation ------------------------------------------------------------------------ */

static bool has_ns(const struct nook_spec *spec, enum nook_ns_type t)
{
  return nook_spec_namespace(spec, t) != NULL;
}

static bool is_absolute(const char *path)
{
  return path && path[0] == '/';
}

static int error_not_absolute(const char *what, const char *path, struct nook_error **err)
{
  _cleanup_free_ char *t = user_text(path ? path : "");
  return spec_error(err, NULL, "%s: must be an absolute path, got `%s`", what, t);
}

static int validate_env(char **env, struct nook_error **err)
{
  for (size_t i = 0; env && env[i]; i++)
    if (env[i][0] == '=' || strchr(env[i], '=') == NULL)
      {
        _cleanup_free_ char *t = user_text(env[i]);
        return spec_error(err, NULL, "process.env[%zu]: expected `NAME=value`, got `%s`", i, t);
      }
  return 0;
}

/* The rules of sched_setattr(2), as runc checks them. */
static int validate_scheduling(const struct nook_process *p, struct nook_error **err)
{
  const struct nook_scheduler *s = &p->scheduler;
  int pol = s->policy_value;

  if (s->set && s->nice.set && (s->nice.value < -20 || s->nice.value > 19))
    return spec_error(err, NULL, "process.scheduler.nice: must be between -20 and 19");
  if (s->set && s->priority.set && s->priority.value != 0 && pol != SCHED_FIFO && pol != SCHED_RR)
    return spec_error(err, NULL,
                      "process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR");
  if (s->set && pol != SCHED_DEADLINE
      && ((s->runtime.set && s->runtime.value) || (s->deadline.set && s->deadline.value)
          || (s->period.set && s->period.value)))
    return spec_error(err, NULL,
                      "process.scheduler: runtime, deadline and period are only "
                      "valid with SCHED_DEADLINE");
  if (p->io_priority.set && (p->io_priority.priority < 0 || p->io_priority.priority > 7))
    return spec_error(err, NULL, "process.ioPriority.priority: must be between 0 and 7");
  return 0;
}

static int validate_process(const struct nook_process *p, struct nook_error **err)
{
  if (p == NULL)
    return spec_error(err, NULL, "process: required field missing");
  if (p->args == NULL || p->args[0] == NULL)
    return spec_error(err, NULL, "process.args: must contain at least one element");
  if (!is_absolute(p->cwd))
    return error_not_absolute("process.cwd", p->cwd, err);
  if (validate_env(p->env, err) < 0 || check_rlimits(p, err) < 0)
    return -EINVAL;
  for (size_t i = 0; i < p->n_rlimits; i++)
    if (p->rlimits[i].soft > p->rlimits[i].hard)
      return spec_error(err, NULL, "process.rlimits[%zu]: soft limit above the hard limit", i);
  return validate_scheduling(p, err);
}

static int validate_root(const struct nook_spec *spec, struct nook_error **err)
{
  if (spec->root == NULL)
    return spec_error(err, NULL, "root: required field missing");
  if (spec->root->path == NULL || spec->root->path[0] == '\0')
    return spec_error(err, NULL, "root.path: must not be empty");
  return 0;
}

static bool is_bind(char **options)
{
  return nook_strv_contains(options, "bind") || nook_strv_contains(options, "rbind");
}

static int validate_mounts(const struct nook_spec *spec, struct nook_error **err)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct nook_mount *m = &spec->mounts[i];
      if (m->destination == NULL || m->destination[0] == '\0')
        return spec_error(err, NULL, "mounts[%zu].destination: must not be empty", i);
      /* Accepted like runc does, which resolves it against the container's `/`. */
      if (!is_absolute(m->destination))
        {
          _cleanup_free_ char *t = user_text(m->destination);
          nook_warn("config.json: mounts[%zu].destination: relative path `%s` is deprecated, "
                    "taken as relative to `/`",
                    i, t);
        }
      if (m->n_uid_mappings == 0 && m->n_gid_mappings == 0)
        continue;
      if (m->n_uid_mappings == 0 || m->n_gid_mappings == 0)
        return spec_error(err, NULL, "mounts[%zu]: uidMappings and gidMappings go together", i);
      if (!is_bind(m->options))
        return spec_error(err, NULL, "mounts[%zu]: uidMappings and gidMappings need a bind mount",
                          i);
      if (!is_absolute(m->source))
        {
          _cleanup_free_ char *w = xasprintf("mounts[%zu].source", i);
          return error_not_absolute(w, m->source, err);
        }
    }
  return 0;
}

static int validate_hooks(const struct nook_spec *spec, struct nook_error **err)
{
  for (size_t k = 0; k < hooks_table.n; k++)
    {
      const struct field *f = &hooks_table.fields[k];
      const struct nook_hook *h = *(struct nook_hook *const *)((const char *)&spec->hooks + f->off);
      size_t n = *(const size_t *)((const char *)&spec->hooks + f->count_off);
      for (size_t i = 0; h && i < n; i++)
        if (!is_absolute(h[i].path))
          {
            _cleanup_free_ char *w = xasprintf("hooks.%s[%zu].path", f->name, i);
            return error_not_absolute(w, h[i].path, err);
          }
    }
  return 0;
}

static int validate_paths(const char *what, char **paths, struct nook_error **err)
{
  for (size_t i = 0; paths && paths[i]; i++)
    if (!is_absolute(paths[i]))
      {
        _cleanup_free_ char *w = xasprintf("%s[%zu]", what, i);
        return error_not_absolute(w, paths[i], err);
      }
  return 0;
}

/* Namespaces and what depends on them (runc's uts, security and namespaces checks). */
static int validate_namespaces(const struct nook_spec *spec, struct nook_error **err)
{
  const struct nook_linux *l = spec->linux;
  const struct nook_namespace *user = nook_spec_namespace(spec, NOOK_NS_USER);
  const struct nook_namespace *time = nook_spec_namespace(spec, NOOK_NS_TIME);

  if (check_namespaces(l, err) < 0)
    return -EINVAL;
  for (size_t i = 0; l && i < l->n_namespaces; i++)
    if (l->namespaces[i].path && !is_absolute(l->namespaces[i].path))
      {
        _cleanup_free_ char *w = xasprintf("linux.namespaces[%zu].path", i);
        return error_not_absolute(w, l->namespaces[i].path, err);
      }
  if (spec->hostname && *spec->hostname && !has_ns(spec, NOOK_NS_UTS))
    return spec_error(err, NULL, "hostname: unable to set the hostname without a uts namespace");
  if (spec->domainname && *spec->domainname && !has_ns(spec, NOOK_NS_UTS))
    return spec_error(err, NULL,
                      "domainname: unable to set the domainname without a uts namespace");
  if (l == NULL)
    return 0;
  if ((nook_strv_length(l->masked_paths) || nook_strv_length(l->readonly_paths))
      && !has_ns(spec, NOOK_NS_MOUNT))
    return spec_error(err, NULL, "linux.%s: unable to restrict paths without a mount namespace",
                      nook_strv_length(l->masked_paths) ? "maskedPaths" : "readonlyPaths");
  if (user == NULL && (l->n_uid_mappings || l->n_gid_mappings))
    return spec_error(err, NULL, "linux.%s: mappings specified without a user namespace",
                      l->n_uid_mappings ? "uidMappings" : "gidMappings");
  if (user && user->path == NULL && (l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
    return spec_error(err, NULL, "linux.%s: required to create a user namespace",
                      l->n_uid_mappings == 0 ? "uidMappings" : "gidMappings");
  if ((l->time_monotonic.set || l->time_boottime.set) && (time == NULL || time->path))
    return spec_error(err, NULL, "linux.timeOffsets: only valid when creating a time namespace");
  return 0;
}

/* A sysctl key with `/` separators in the dotted form ("net/ipv4/conf/eth0.1/x" becomes
 * "net.ipv4.conf.eth0/1.x"), as sysctl(8) reads it. */
static char *sysctl_dotted(const char *key)
{
  char *k = xstrdup(key);
  size_t first = strcspn(k, "./");

  if (k[first] != '/')
    return k;
  for (char *c = k; *c; c++)
    *c = *c == '/' ? '.' : *c == '.' ? '/' : *c;
  return k;
}

/* runc's rule: a sysctl is allowed only if the namespace it belongs to is not the host's. */
static int validate_sysctl(const struct nook_spec *spec, struct nook_error **err)
{
  static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                          "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                          "kernel.shmmni", "kernel.shm_rmid_forced" };
  const struct nook_linux *l = spec->linux;

  for (size_t i = 0; l && i < l->n_sysctl; i++)
    {
      _cleanup_free_ char *k = sysctl_dotted(l->sysctl[i].key);
      _cleanup_free_ char *t = user_text(l->sysctl[i].key);
      bool ipc = nook_has_prefix(k, "fs.mqueue.");
      const char *why = NULL;

      for (size_t j = 0; j < ARRAY_SIZE(ipc_keys); j++)
        ipc = ipc || streq(k, ipc_keys[j]);
      if (ipc)
        why = has_ns(spec, NOOK_NS_IPC) ? NULL : "not allowed without an ipc namespace";
      else if (nook_has_prefix(k, "net."))
        why = has_ns(spec, NOOK_NS_NETWORK) ? NULL : "not allowed without a network namespace";
      else if (has_ns(spec, NOOK_NS_UTS) && streq(k, "kernel.domainname"))
        why = NULL;
      else if (has_ns(spec, NOOK_NS_UTS) && streq(k, "kernel.hostname"))
        why = "not allowed, it conflicts with the `hostname` field";
      else
        why = "not in a separate kernel namespace";
      if (why)
        return spec_error(err, NULL, "linux.sysctl[\"%s\"]: %s", t, why);
    }
  return 0;
}

static bool action_takes_errno(const char *action)
{
  return streq(action, "SCMP_ACT_ERRNO") || streq(action, "SCMP_ACT_TRACE");
}

static int validate_seccomp(const struct nook_seccomp *s, struct nook_error **err)
{
  if (s == NULL)
    return 0;
  if (streq(s->default_action, "SCMP_ACT_NOTIFY"))
    return spec_error(err, NULL,
                      "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  if (s->default_errno_ret.set && !action_takes_errno(s->default_action))
    return spec_error(err, NULL,
                      "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO "
                      "or SCMP_ACT_TRACE");
  if (s->listener_metadata && s->listener_path == NULL)
    return spec_error(err, NULL, "linux.seccomp.listenerMetadata: requires listenerPath");
  for (size_t i = 0; i < s->n_syscalls; i++)
    if (s->syscalls[i].errno_ret.set && !action_takes_errno(s->syscalls[i].action))
      return spec_error(err, NULL,
                        "linux.seccomp.syscalls[%zu].errnoRet: only valid with "
                        "SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                        i);
  return 0;
}

static int validate_linux(const struct nook_linux *l, struct nook_error **err)
{
  if (l == NULL)
    return 0;
  for (size_t i = 0; i < l->n_devices; i++)
    if (!is_absolute(l->devices[i].path))
      {
        _cleanup_free_ char *w = xasprintf("linux.devices[%zu].path", i);
        return error_not_absolute(w, l->devices[i].path, err);
      }
  if (validate_paths("linux.maskedPaths", l->masked_paths, err) < 0
      || validate_paths("linux.readonlyPaths", l->readonly_paths, err) < 0)
    return -EINVAL;
  if (l->intel_rdt.set && l->intel_rdt.clos_id
      && (streq(l->intel_rdt.clos_id, ".") || streq(l->intel_rdt.clos_id, "..")
          || strchr(l->intel_rdt.clos_id, '/')))
    {
      _cleanup_free_ char *t = user_text(l->intel_rdt.clos_id);
      return spec_error(err, NULL, "linux.intelRdt.closID: invalid `%s`", t);
    }
  return validate_seccomp(l->seccomp, err);
}

int nook_spec_validate(const struct nook_spec *spec, struct nook_error **err)
{
  if (validate_process(spec->process, err) < 0 || validate_root(spec, err) < 0
      || validate_mounts(spec, err) < 0 || validate_hooks(spec, err) < 0
      || validate_namespaces(spec, err) < 0 || validate_sysctl(spec, err) < 0
      || validate_linux(spec->linux, err) < 0)
    return -EINVAL;
  return 0;
}
