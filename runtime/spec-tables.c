/* The grammar of config.json, as data: the name tables (the strings an enumerated field may
 * take, with the value each stands for) and one field table per JSON object type, which says for
 * each member its JSON name, its kind, where it is stored in the nook_* struct, whether it is
 * required and its range, with the init and check functions some objects carry.  The generic
 * walker in spec.c reads these tables both to parse and to free.  The public namespace helpers
 * (nook_ns_type_*, nook_spec_namespace) live here too, next to the namespace name table. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "common/util.h"
#include "runtime/spec.h"
#include "runtime/spec-internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define NOOK_SCHED_ISO 4 /* reserved by the kernel, named by the spec */

/* ---- name tables ----------------------------------------------------------------------- */

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

const char *nook_spec_known_name(enum nook_spec_names list, size_t i)
{
  static const struct choices *const lists[] = {
    [NOOK_NAMES_SECCOMP_ACTIONS] = &seccomp_actions,
    [NOOK_NAMES_SECCOMP_OPERATORS] = &seccomp_ops,
    [NOOK_NAMES_SECCOMP_ARCHS] = &seccomp_archs,
    [NOOK_NAMES_SECCOMP_FLAGS] = &seccomp_flags,
  };
  const struct choices *c = lists[list];
  return i < c->n ? c->v[i].name : NULL;
}

const struct choice *spec_tables_choice_find(const struct choices *c, const char *s)
{
  for (size_t i = 0; i < c->n; i++)
    if (streq(c->v[i].name, s))
      return &c->v[i];
  return NULL;
}

/* ---- the grammar, as tables ------------------------------------------------------------ */

#define FIELD(type_, name_, kind_, member_, ...)                                                   \
  {                                                                                                \
    .name = (name_), .kind = (kind_), .off = offsetof(type_, member_), __VA_ARGS__                 \
  }
#define TABLE(list, type_, ...)                                                                    \
  {                                                                                                \
    .fields = (list), .n = ARRAY_SIZE(list), .size = sizeof(type_), __VA_ARGS__                    \
  }

#define INT32_RANGE .min = INT32_MIN, .max = INT32_MAX

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
        _cleanup_free_ char *t = spec_user_text(vals[i]);
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
  return spec_validate_check_rlimits(obj, p, err);
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
const struct table spec_tables_process = TABLE(process_fields, T, .check = process_check);
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
const struct table spec_tables_hooks = TABLE(hooks_fields, T);
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
    if (spec_obj_get(v, keys[i]) == NULL)
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
      _cleanup_free_ char *t = spec_user_text(r->access);
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
  return spec_require_one_of(v, p, "weight", "leafWeight", err);
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
  return spec_require_one_of(v, p, "hcaHandles", "hcaObjects", err);
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
  return spec_validate_check_namespaces(obj, err);
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
  FIELD(T, "process", K_PTR, process, .sub = &spec_tables_process),
  FIELD(T, "root", K_PTR, root, .sub = &root_table),
  FIELD(T, "hostname", K_STR, hostname),
  FIELD(T, "domainname", K_STR, domainname),
  FIELD(T, "mounts", K_ARRAY, mounts, .sub = &mount_table, .count_off = offsetof(T, n_mounts)),
  FIELD(T, "hooks", K_STRUCT, hooks, .sub = &spec_tables_hooks),
  FIELD(T, "annotations", K_MAP, annotations, .count_off = offsetof(T, n_annotations)),
  FIELD(T, "linux", K_PTR, linux, .sub = &linux_table),
};
const struct table spec_tables_spec = TABLE(spec_fields, T);
#undef T

/* FL_SET relies on this layout; enums are stored through an int. */
_Static_assert(offsetof(struct nook_console_size, set) == 0, "set first");
_Static_assert(offsetof(struct nook_scheduler, set) == 0, "set first");
_Static_assert(offsetof(struct nook_io_priority, set) == 0, "set first");
_Static_assert(offsetof(struct nook_time_offset, set) == 0, "set first");
_Static_assert(offsetof(struct nook_intel_rdt, set) == 0, "set first");
_Static_assert(offsetof(struct nook_personality, set) == 0, "set first");
_Static_assert(sizeof(enum nook_ns_type) == sizeof(int), "enum stored as int");

/* ---- namespaces ------------------------------------------------------------------------ */

int nook_ns_type_from_string(const char *s)
{
  const struct choice *c = s ? spec_tables_choice_find(&ns_types, s) : NULL;
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
