/* The cgroup manager: one interface over cgroup v2 (cgroupfs) and cgroup v1 / hybrid hosts
 * (v1 controllers, with a cgroup2 mount used only for process tracking), after crun's
 * libcrun_cgroup_manager.
 *
 * nook never touches the host's other cgroups: a relative cgroupsPath, and the default path,
 * are placed below the cgroup that nook itself runs in ("<own>/nook/<id>" by default).  On v1
 * the "own" cgroup is read per hierarchy from /proc/self/cgroup. */
#ifndef NOOK_CGROUP_H
#define NOOK_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "runtime/spec.h"

enum nook_cgroup_mode
{
  NOOK_CGROUP_V1,     /* v1 controllers only */
  NOOK_CGROUP_HYBRID, /* v1 controllers + /sys/fs/cgroup/unified (cgroup2, few controllers) */
  NOOK_CGROUP_V2,     /* unified hierarchy at /sys/fs/cgroup */
};

/* Detects the mode once (statfs of /sys/fs/cgroup and /sys/fs/cgroup/unified); cached. */
enum nook_cgroup_mode nook_cgroup_mode(void);
const char *nook_cgroup_mode_name(enum nook_cgroup_mode m);

struct nook_cgroup; /* opaque */

struct nook_cgroup_config
{
  const char *id;                          /* container id, for the default path */
  const char *cgroups_path;                /* linux.cgroupsPath, or NULL */
  bool systemd;                            /* --systemd-cgroup: "slice:prefix:name" form */
  const struct nook_resources *resources;  /* linux.resources, or NULL */
};

/* Computes the path (absolute cgroupsPath as is; relative or absent below nook's own cgroup;
 * with systemd, "machine.slice:nook:ID" becomes "machine.slice/nook-ID.scope"), creates the
 * cgroup in every hierarchy (v2: enabling the needed controllers in cgroup.subtree_control of
 * each ancestor below nook's own cgroup's parent), and applies resources.  A limit whose
 * controller is absent on this host is an error naming the controller and the field
 * ("linux.resources.memory.limit: the memory controller is not available"); unset fields never
 * fail.  On error nothing is left created. */
int nook_cgroup_create(const struct nook_cgroup_config *cfg, struct nook_cgroup **ret,
                       struct nook_error **err);

/* Reopens an existing cgroup from the path that nook_cgroup_path() returned at creation
 * (stored in the container's state). */
int nook_cgroup_open(const char *path, struct nook_cgroup **ret, struct nook_error **err);

/* The path relative to the hierarchy root(s), e.g. "/process_api/x/nook/ID". */
const char *nook_cgroup_path(const struct nook_cgroup *cg);

/* An O_DIRECTORY fd of the cgroup in the cgroup2 hierarchy (v2, or the cgroup2 mount of a
 * hybrid host) for clone3(CLONE_INTO_CGROUP), or -1 on a v1 host. */
int nook_cgroup_dirfd(const struct nook_cgroup *cg);

/* Moves pid into the cgroup in every hierarchy (cgroup.procs). */
int nook_cgroup_enter(const struct nook_cgroup *cg, pid_t pid, struct nook_error **err);

/* Moves the calling process, which must be single-threaded, into the cgroup in every
 * hierarchy; with cloned_into it was born in the cgroup2 one (CLONE_INTO_CGROUP), which is
 * then skipped.  Much cheaper than nook_cgroup_enter on v1 hierarchies: a task moving itself
 * does not take the kernel's global threadgroup lock.  Needs write access to the cgroup's
 * files, so not from inside a new user namespace. */
int nook_cgroup_enter_self(const struct nook_cgroup *cg, bool cloned_into, struct nook_error **err);

/* Whether a process cloned with clone3(CLONE_INTO_CGROUP) (cloned_into) or without it is in
 * every hierarchy of the cgroup already: only on a v2 host. */
bool nook_cgroup_clone_joins(const struct nook_cgroup *cg, bool cloned_into);

/* Every pid in the cgroup (and below it), from cgroup.procs. */
int nook_cgroup_pids(const struct nook_cgroup *cg, pid_t **ret, size_t *ret_n, struct nook_error **err);

/* Sends sig to every process (v2 with SIGKILL: cgroup.kill when the kernel has it). */
int nook_cgroup_kill(const struct nook_cgroup *cg, int sig, struct nook_error **err);

/* Freeze or thaw (v2 cgroup.freeze, waiting for cgroup.events "frozen"; v1 freezer.state),
 * and whether it is frozen now. */
int nook_cgroup_freeze(const struct nook_cgroup *cg, bool frozen, struct nook_error **err);
int nook_cgroup_is_frozen(const struct nook_cgroup *cg, bool *ret, struct nook_error **err);

/* Applies (a new) linux.resources to the live cgroup; only the fields set are written. */
int nook_cgroup_update(const struct nook_cgroup *cg, const struct nook_resources *r,
                       struct nook_error **err);

/* Statistics, in runc's `events --stats` terms. */
struct nook_cgroup_stats
{
  uint64_t cpu_usage_total;  /* ns */
  uint64_t cpu_usage_user;   /* ns */
  uint64_t cpu_usage_kernel; /* ns */
  uint64_t cpu_throttled_periods;
  uint64_t cpu_throttled_time; /* ns */
  uint64_t cpu_periods;
  uint64_t memory_usage;
  uint64_t memory_max_usage;
  uint64_t memory_limit;
  uint64_t memory_failcnt;
  uint64_t memory_cache;
  uint64_t swap_usage;
  uint64_t swap_limit;
  uint64_t oom_kill;     /* memory.events oom_kill (v2), memory.oom_control oom_kill (v1) */
  uint64_t pids_current;
  uint64_t pids_limit;   /* 0 = max */
  uint64_t io_read_bytes;
  uint64_t io_write_bytes;
  uint64_t hugetlb_usage; /* summed over page sizes */
};
int nook_cgroup_stats(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
                      struct nook_error **err);

/* An fd that becomes readable when the OOM killer acts in the cgroup: v2 an inotify fd on
 * memory.events (then compare oom_kill counts via nook_cgroup_stats), v1 an eventfd registered
 * through cgroup.event_control on memory.oom_control. */
int nook_cgroup_oom_fd(const struct nook_cgroup *cg, int *ret_fd, struct nook_error **err);

/* The file whose "oom_kill N" line counts the OOM kills in the cgroup: memory.events of the v2
 * cgroup, memory.oom_control of the v1 memory hierarchy (what the supervisor compares before
 * and after a run).  EOPNOTSUPP without a memory controller. */
int nook_cgroup_oom_file(const struct nook_cgroup *cg, char **ret, struct nook_error **err);

/* Kills what is left (SIGKILL), waits for the cgroup to empty (bounded) and removes it (and,
 * for the default path, the "nook" parent if it is now empty).  Missing is not an error. */
int nook_cgroup_destroy(struct nook_cgroup *cg, struct nook_error **err);

void nook_cgroup_free(struct nook_cgroup *cg);
static inline void nook_cgroup_freep(struct nook_cgroup **c) { nook_cgroup_free(*c); }
#define _cleanup_cgroup_ _cleanup_(nook_cgroup_freep)

#endif
