/* The OCI runtime-spec (v1.2) configuration, Linux part, as a typed model.
 *
 * nook_spec_load() parses config.json with yajl; every field the spec defines for Linux is
 * here.  Unknown fields are ignored (forward compatibility).  A wrong type, a missing required
 * field or invalid JSON is an error that names the JSON path:
 *   "config.json: process.args: expected an array of strings"
 *
 * Conventions: strings are NULL when absent; string arrays are NULL-terminated (NULL when
 * absent); arrays of structs come with a count; optional scalars are a struct nook_opt_*
 * whose .set says whether the field was present. */
#ifndef NOOK_SPEC_H
#define NOOK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* GNU C predefines `linux` as 1; the spec's field of that name needs it gone (libocispec does
 * the same). */
#undef linux

struct nook_opt_i64
{
  bool set;
  int64_t value;
};
struct nook_opt_u64
{
  bool set;
  uint64_t value;
};
struct nook_opt_bool
{
  bool set;
  bool value;
};

struct nook_kv /* string -> string map entry (annotations, sysctl, unified, env-like maps) */
{
  char *key;
  char *value;
};

struct nook_id_mapping
{
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
};

struct nook_user
{
  uint32_t uid;
  uint32_t gid;
  struct nook_opt_u64 umask; /* mode_t value */
  gid_t *additional_gids;
  size_t n_additional_gids;
  char *username; /* Windows only in the spec; parsed and ignored */
};

/* Each set is NULL when absent from config.json (which is not the same as empty []). */
struct nook_capabilities
{
  char **bounding;
  char **effective;
  char **inheritable;
  char **permitted;
  char **ambient;
};

struct nook_rlimit
{
  char *type; /* "RLIMIT_NOFILE" as written */
  int resource; /* RLIMIT_NOFILE; an unknown type is a parse error naming it */
  uint64_t hard;
  uint64_t soft;
};

struct nook_console_size
{
  bool set;
  uint32_t height;
  uint32_t width;
};

struct nook_io_priority
{
  bool set;
  int class; /* IOPRIO_CLASS_RT/BE/IDLE from "IOPRIO_CLASS_RT" ... */
  int priority;
};

struct nook_scheduler
{
  bool set;
  char *policy; /* "SCHED_OTHER" ... as written */
  int policy_value; /* SCHED_* */
  struct nook_opt_i64 nice;
  struct nook_opt_i64 priority;
  char **flags; /* "SCHED_FLAG_RESET_ON_FORK" ... */
  struct nook_opt_u64 runtime;
  struct nook_opt_u64 deadline;
  struct nook_opt_u64 period;
};

struct nook_exec_cpu_affinity
{
  char *initial; /* cpu list "0-3,7" */
  char *final;
};

struct nook_process
{
  bool terminal;
  struct nook_console_size console_size;
  struct nook_user user;
  char **args; /* required on create; at least one element */
  char *command_line;
  char **env;
  char *cwd; /* required, absolute */
  struct nook_capabilities *capabilities; /* NULL when absent */
  struct nook_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  char *apparmor_profile;
  struct nook_opt_i64 oom_score_adj;
  struct nook_scheduler scheduler;
  char *selinux_label;
  struct nook_io_priority io_priority;
  struct nook_exec_cpu_affinity exec_cpu_affinity;
};

struct nook_root
{
  char *path; /* required; relative to the bundle or absolute */
  bool readonly;
};

struct nook_mount
{
  char *destination; /* required, absolute in the container */
  char *type;
  char *source;
  char **options;
  struct nook_id_mapping *uid_mappings;
  size_t n_uid_mappings;
  struct nook_id_mapping *gid_mappings;
  size_t n_gid_mappings;
};

struct nook_hook
{
  char *path; /* required, absolute */
  char **args;
  char **env;
  struct nook_opt_i64 timeout; /* seconds, > 0 when set */
};

struct nook_hooks
{
  struct nook_hook *prestart;
  size_t n_prestart;
  struct nook_hook *create_runtime;
  size_t n_create_runtime;
  struct nook_hook *create_container;
  size_t n_create_container;
  struct nook_hook *start_container;
  size_t n_start_container;
  struct nook_hook *poststart;
  size_t n_poststart;
  struct nook_hook *poststop;
  size_t n_poststop;
};

enum nook_ns_type
{
  NOOK_NS_PID,
  NOOK_NS_NETWORK,
  NOOK_NS_MOUNT,
  NOOK_NS_IPC,
  NOOK_NS_UTS,
  NOOK_NS_USER,
  NOOK_NS_CGROUP,
  NOOK_NS_TIME,
  NOOK_NS_COUNT,
};

struct nook_namespace
{
  enum nook_ns_type type; /* from "pid" "network" "mount" "ipc" "uts" "user" "cgroup" "time" */
  char *path; /* NULL: create a new one */
};

struct nook_time_offset
{
  bool set;
  int64_t secs;
  uint32_t nanosecs;
};

struct nook_device /* linux.devices */
{
  char type; /* 'c' 'b' 'u' 'p' */
  char *path; /* required, absolute */
  int64_t major; /* required for c, b, u */
  int64_t minor;
  struct nook_opt_u64 file_mode;
  struct nook_opt_u64 uid;
  struct nook_opt_u64 gid;
};

struct nook_device_rule /* linux.resources.devices */
{
  bool allow; /* required */
  char type; /* 'a' (default when absent), 'c', 'b' */
  int64_t major; /* -1 = wildcard (absent) */
  int64_t minor; /* -1 = wildcard (absent) */
  char *access; /* "rwm" subset; NULL = "rwm" */
};

struct nook_weight_device
{
  int64_t major;
  int64_t minor;
  struct nook_opt_u64 weight;
  struct nook_opt_u64 leaf_weight;
};

struct nook_throttle_device
{
  int64_t major;
  int64_t minor;
  uint64_t rate;
};

struct nook_hugepage_limit
{
  char *page_size; /* "2MB" */
  uint64_t limit;
};

struct nook_net_priority
{
  char *name;
  uint32_t priority;
};

struct nook_rdma_limit
{
  char *device;
  struct nook_opt_u64 hca_handles;
  struct nook_opt_u64 hca_objects;
};

struct nook_resources
{
  struct nook_device_rule *devices;
  size_t n_devices;

  struct
  {
    struct nook_opt_i64 limit;
    struct nook_opt_i64 reservation;
    struct nook_opt_i64 swap;
    struct nook_opt_i64 kernel;
    struct nook_opt_i64 kernel_tcp;
    struct nook_opt_u64 swappiness;
    struct nook_opt_bool disable_oom_killer;
    struct nook_opt_bool use_hierarchy;
    struct nook_opt_bool check_before_update;
  } memory;

  struct
  {
    struct nook_opt_u64 shares;
    struct nook_opt_i64 quota;
    struct nook_opt_u64 burst;
    struct nook_opt_u64 period;
    struct nook_opt_i64 realtime_runtime;
    struct nook_opt_u64 realtime_period;
    char *cpus;
    char *mems;
    struct nook_opt_i64 idle;
  } cpu;

  struct
  {
    struct nook_opt_i64 limit; /* required inside "pids" */
  } pids;

  struct
  {
    struct nook_opt_u64 weight;
    struct nook_opt_u64 leaf_weight;
    struct nook_weight_device *weight_device;
    size_t n_weight_device;
    struct nook_throttle_device *throttle_read_bps;
    size_t n_throttle_read_bps;
    struct nook_throttle_device *throttle_write_bps;
    size_t n_throttle_write_bps;
    struct nook_throttle_device *throttle_read_iops;
    size_t n_throttle_read_iops;
    struct nook_throttle_device *throttle_write_iops;
    size_t n_throttle_write_iops;
  } block_io;

  struct nook_hugepage_limit *hugepage_limits;
  size_t n_hugepage_limits;

  struct
  {
    struct nook_opt_u64 class_id;
    struct nook_net_priority *priorities;
    size_t n_priorities;
  } network;

  struct nook_rdma_limit *rdma;
  size_t n_rdma;

  struct nook_kv *unified;
  size_t n_unified;
};

struct nook_seccomp_arg
{
  uint32_t index;
  uint64_t value;
  struct nook_opt_u64 value_two;
  char *op; /* "SCMP_CMP_EQ" ... as written; validated by the parser */
};

struct nook_seccomp_syscall
{
  char **names; /* required, non-empty */
  char *action; /* required: "SCMP_ACT_ALLOW" ... validated by the parser */
  struct nook_opt_u64 errno_ret;
  struct nook_seccomp_arg *args;
  size_t n_args;
};

struct nook_seccomp
{
  char *default_action; /* required */
  struct nook_opt_u64 default_errno_ret;
  char **architectures; /* "SCMP_ARCH_X86_64" ... */
  char **flags; /* "SECCOMP_FILTER_FLAG_LOG" ... */
  char *listener_path;
  char *listener_metadata;
  struct nook_seccomp_syscall *syscalls;
  size_t n_syscalls;
};

struct nook_personality
{
  bool set;
  char *domain; /* "LINUX" | "LINUX32" */
  char **flags;
};

struct nook_intel_rdt
{
  bool set;
  char *clos_id;
  char *l3_cache_schema;
  char *mem_bw_schema;
  struct nook_opt_bool enable_cmt;
  struct nook_opt_bool enable_mbm;
};

struct nook_linux
{
  struct nook_namespace *namespaces;
  size_t n_namespaces;
  struct nook_id_mapping *uid_mappings;
  size_t n_uid_mappings;
  struct nook_id_mapping *gid_mappings;
  size_t n_gid_mappings;
  struct nook_time_offset time_monotonic; /* timeOffsets.monotonic */
  struct nook_time_offset time_boottime;  /* timeOffsets.boottime */
  struct nook_device *devices;
  size_t n_devices;
  char *cgroups_path;
  struct nook_resources *resources; /* NULL when absent */
  struct nook_intel_rdt intel_rdt;
  struct nook_kv *sysctl;
  size_t n_sysctl;
  struct nook_seccomp *seccomp; /* NULL when absent */
  char *rootfs_propagation; /* "private" "shared" "slave" "unbindable" (+ "r" forms) */
  char **masked_paths;
  char **readonly_paths;
  char *mount_label;
  struct nook_personality personality;
};

struct nook_spec
{
  char *oci_version; /* required */
  struct nook_process *process; /* NULL when absent (allowed for create only in theory) */
  struct nook_root *root; /* NULL when absent */
  char *hostname;
  char *domainname;
  struct nook_mount *mounts;
  size_t n_mounts;
  struct nook_hooks hooks;
  struct nook_kv *annotations;
  size_t n_annotations;
  struct nook_linux *linux; /* NULL when absent */
};

/* Parses config.json text (not necessarily NUL-terminated; len bytes).  On error returns < 0
 * and sets *err to "config.json: PATH: what is wrong" (errnum EINVAL).  Input above 16 MiB or
 * nested deeper than 64 levels is refused. */
int nook_spec_parse(const char *data, size_t len, struct nook_spec **ret, struct nook_error **err);

/* Reads BUNDLE/config.json and parses it.  *ret_raw (optional) receives the raw text, so that
 * the runtime can store it without reading the file twice. */
int nook_spec_load(const char *bundle, struct nook_spec **ret, char **ret_raw, size_t *ret_raw_len,
                   struct nook_error **err);

/* Checks what create needs beyond the grammar: process present with args and an absolute
 * cwd, root.path present, namespaces not repeated, mount destinations absolute...
 * Errors name the JSON path like the parser. */
int nook_spec_validate(const struct nook_spec *spec, struct nook_error **err);

/* A runtime-spec process object as a document of its own (`exec --process FILE`): the grammar
 * of config.json's "process" and the checks nook_spec_validate() makes of it (args, absolute
 * cwd, env entries, rlimits, scheduler).  Errors read "DOC: PATH: what is wrong". */
int nook_spec_parse_process(const char *data, size_t len, const char *doc,
                            struct nook_process **ret, struct nook_error **err);
/* The checks of process that nook_spec_validate() makes; doc NULL: config.json's "process"
 * (messages "config.json: process.cwd: ..."), else messages "DOC: cwd: ...". */
int nook_spec_validate_process(const struct nook_process *p, const char *doc,
                               struct nook_error **err);
void nook_process_free(struct nook_process *p);
static inline void nook_process_freep(struct nook_process **p) { nook_process_free(*p); }

void nook_spec_free(struct nook_spec *spec);
static inline void nook_spec_freep(struct nook_spec **s) { nook_spec_free(*s); }
#define _cleanup_spec_ _cleanup_(nook_spec_freep)

/* "pid" -> NOOK_NS_PID ...; -1 when unknown.  And back. */
int nook_ns_type_from_string(const char *s);
const char *nook_ns_type_to_string(enum nook_ns_type t);
/* CLONE_NEWPID ... for a type. */
int nook_ns_type_clone_flag(enum nook_ns_type t);
/* The entry of that type, or NULL. */
const struct nook_namespace *nook_spec_namespace(const struct nook_spec *spec, enum nook_ns_type t);

/* The names the parser accepts for a list of the spec, for `nook oci features`: the i-th
 * name, or NULL past the end. */
enum nook_spec_names
{
  NOOK_NAMES_SECCOMP_ACTIONS,
  NOOK_NAMES_SECCOMP_OPERATORS,
  NOOK_NAMES_SECCOMP_ARCHS,
  NOOK_NAMES_SECCOMP_FLAGS,
};
const char *nook_spec_known_name(enum nook_spec_names list, size_t i);

/* The default config.json that `nook oci spec` writes, as runc's (rootless: user namespace
 * with the caller's uid/gid mapped to 0, no network namespace, bind-mounted /sys...). */
char *nook_spec_default_json(bool rootless, uid_t uid, gid_t gid);

/* A mount of `nook run`'s -v, --mount and --tmpfs (after the image's volumes). */
struct nook_run_mount
{
  char *destination; /* absolute */
  char *type;        /* "bind" or "tmpfs" */
  char *source;      /* a host path for "bind" */
  char **options;
};

/* A host device node of --device: made in the container and allowed by its device cgroup. */
struct nook_run_device
{
  char *path; /* in the container */
  char type;  /* 'c' or 'b' */
  int64_t major, minor;
  uint32_t file_mode; /* permission bits of the host's node */
  uint32_t uid, gid;
  char *access; /* for the cgroup: a subset of "rwm" */
};

/* --ulimit: process.rlimits. */
struct nook_run_rlimit
{
  const char *type; /* "RLIMIT_NOFILE" (static) */
  uint64_t soft, hard;
};

struct nook_seccomp_profile; /* runtime/seccomp-profile.h */

/* What `nook run` decides for a container made from an image; nook_spec_run_json() turns it
 * into the config.json of its bundle, with podman's defaults for everything not here (a
 * zeroed field means that default). */
struct nook_run_config
{
  const char *root_path; /* the image's mounted root filesystem */
  bool readonly;
  char *const *args;     /* NULL-terminated, non-empty */
  char *const *env;      /* NULL-terminated KEY=VALUE, duplicates resolved by the caller */
  const char *cwd;       /* absolute */
  uid_t uid;
  gid_t gid;
  const gid_t *gids;
  size_t ngids;
  bool terminal;
  const char *hostname;
  const char *cgroups_path; /* NULL: the runtime's default */
  bool host_network;        /* no network namespace (else a new one with lo only) */
  const char *netns_path;   /* join this network namespace (a bind-mounted nsfs file) */
  const char *stop_signal;  /* the image's StopSignal, recorded as an annotation */
  char *const *annotations; /* KEY=VALUE */
  char *const *bind_sources;      /* bind mounts: host directories, NULL-terminated, and */
  char *const *bind_destinations; /* where they go, the same count */
  char *const *file_sources;      /* files bind-mounted over the image's (/etc/hosts...), */
  char *const *file_destinations; /* the same count; after the volumes */
  /* Confinement.  caps_set: the capability set is caps (bit N: capability N), else podman's
   * default (nook_spec_run_default_caps); root gets it in every set, another uid in bounding
   * only.  privileged: no masked or read-only paths, /sys and the cgroups read-write, every
   * device allowed in the device cgroup (the nodes are not added). */
  bool caps_set;
  uint64_t caps;
  bool privileged;
  bool no_new_privileges;
  bool seccomp_unconfined;                    /* no linux.seccomp at all */
  const struct nook_seccomp_profile *seccomp; /* NULL: podman's (nook's embedded default) */
  /* linux.resources, 0 for none; pids_limit 0 is podman's default 2048, -1 unlimited. */
  int64_t memory;      /* bytes */
  int64_t memory_swap; /* memory+swap in bytes, -1 unlimited */
  int64_t cpu_quota;   /* microseconds per period of 100000 */
  uint64_t cpu_shares;
  int64_t pids_limit;
  const struct nook_run_rlimit *rlimits;
  size_t n_rlimits;
  const struct nook_run_mount *mounts; /* after the volumes; a file bind or a volume on the */
  size_t n_mounts;                     /* same destination gives way to it */
  const struct nook_run_device *devices;
  size_t n_devices;
  char *const *labels; /* --label KEY=VALUE: annotations, over the image's */
};
char *nook_spec_run_json(const struct nook_run_config *rc);

/* podman's default capability set and every capability nook itself holds (its permitted
 * set, what --privileged and --cap-add ALL give), as masks (bit N: capability N). */
uint64_t nook_spec_run_default_caps(void);
uint64_t nook_spec_run_all_caps(void);

#endif
