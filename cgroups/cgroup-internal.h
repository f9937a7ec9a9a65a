/* Internals of the cgroup manager, shared by cgroup.c (mode, paths, files, the common
 * operations), the two backends behind struct cgroup_ops (cgroup-v1.c for v1 and hybrid hosts,
 * which also finds the hierarchies; cgroup-v2.c, which also holds the resource-write plumbing
 * and the stats reader both backends use) and cgroup-devices.c.  The pure functions are here
 * so that the unit test can reach them.
 *
 * Paths.  A cgroup path is relative to a hierarchy's root ("/a/b").  nook_cgroup_path() returns
 * one string that names the container's cgroup in every hierarchy: the path most hierarchies
 * share, then ";KEY=PATH" for each hierarchy whose path differs (KEY is the hierarchy's
 * controller list as /proc/self/cgroup spells it, "unified" for the cgroup2 mount of a hybrid
 * host), e.g. "/nook/ID;memory=/process_api/x/nook/ID" when nook's own memory cgroup is not the
 * root.  That is what the container's state stores and nook_cgroup_open() reads back. */
#ifndef NOOK_CGROUP_INTERNAL_H
#define NOOK_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroups/cgroup.h"
#include "common/error.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_UNIFIED_KEY "unified"

/* One mounted hierarchy and the container's cgroup in it. */
struct cg_hierarchy
{
  char *controllers; /* "memory", "cpu,cpuacct", "name=systemd"; "" for the cgroup2 hierarchy */
  char *mount;       /* where it is mounted: "/sys/fs/cgroup/memory" */
  char *mount_root;  /* the hierarchy path mounted there ("/" unless in a cgroup namespace) */
  char *own;         /* nook's own cgroup in it, from /proc/self/cgroup */
  char *path;        /* the container's cgroup: "/process_api/x/nook/ID" */
  char *dir;         /* its directory: mount + path below mount_root */
  size_t n_created;  /* how many trailing components of dir nook created (undone on failure) */
};

struct cgroup_ops;

struct nook_cgroup
{
  enum nook_cgroup_mode mode;
  const struct cgroup_ops *ops;
  struct cg_hierarchy *h; /* v2: one, the cgroup2 hierarchy; v1: one per hierarchy, then the
                             cgroup2 one last on a hybrid host */
  size_t n_h;
  char *path; /* the encoded form above */
  int dirfd;  /* v2: an O_DIRECTORY fd of the cgroup, else -1 */
};

/* The backend: crun's libcrun_cgroup_manager, reduced to what differs between v1 and v2. */
struct cgroup_ops
{
  /* Creates the directories (cg->h[i].dir, recording n_created) and prepares them: v1 copies
   * cpuset.cpus/mems down, v2 enables controllers.  r may be NULL. */
  int (*create)(struct nook_cgroup *cg, const struct nook_resources *r, struct nook_error **err);
  /* Called after create and by nook_cgroup_open: fills what the backend caches. */
  int (*load)(struct nook_cgroup *cg, struct nook_error **err);
  int (*update)(const struct nook_cgroup *cg, const struct nook_resources *r,
                struct nook_error **err);
  int (*freeze)(const struct nook_cgroup *cg, bool frozen, struct nook_error **err);
  int (*is_frozen)(const struct nook_cgroup *cg, bool *ret, struct nook_error **err);
  int (*stats)(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
               struct nook_error **err);
  int (*oom_fd)(const struct nook_cgroup *cg, int *ret_fd, struct nook_error **err);
};

extern const struct cgroup_ops cgroup_ops_v1;
extern const struct cgroup_ops cgroup_ops_v2;

/* ---- paths (pure) ------------------------------------------------------------------------- */

/* Cleans a cgroupsPath as runc's CleanPath: "." and ".." resolved lexically without escaping
 * the start ("../../a" is "a"), duplicate and trailing slashes dropped; absolute stays
 * absolute.  A relative path that cleans to nothing gives "". */
char *cgroup_path_clean(const char *path);

/* systemd's slice expansion: "a-b.slice" -> "/a.slice/a-b.slice", "-.slice" -> "/". */
int cgroup_slice_expand(const char *slice, char **ret, struct nook_error **err);

/* --systemd-cgroup: "slice:prefix:name" -> "/SLICE.../prefix-name.scope" (or the expanded slice
 * when name ends in ".slice"), as systemd would place the unit; NULL spec means
 * "system.slice:nook:ID".  Always absolute: systemd units live below the hierarchy root. */
int cgroup_systemd_path(const char *spec, const char *id, char **ret, struct nook_error **err);

/* The container's cgroup in one hierarchy, given nook's own cgroup there (own).
 *   absolute cgroupsPath        as is (cleaned)
 *   relative cgroupsPath        BASE/path
 *   absent                      BASE/nook/ID
 *   systemd                     cgroup_systemd_path()
 * BASE is own, except on the unified hierarchy of a v2 host (v2_parent) where it is the parent
 * of own unless own is the root: own holds nook itself, and a cgroup with processes cannot
 * delegate controllers to children ("no internal processes"), so runc's fs2 does the same.
 * The root itself, and a path that leaves BASE empty ("."), are refused. */
int cgroup_path_compute(const char *own, bool v2_parent, const struct nook_cgroup_config *cfg,
                        char **ret, struct nook_error **err);

/* The BASE above. */
char *cgroup_path_base(const char *own, bool v2_parent);

/* Encodes the hierarchies' paths as described at the top; keys[i] names paths[i]. */
char *cgroup_path_encode(const char *const *keys, const char *const *paths, size_t n);
/* The path for the hierarchy KEY in an encoded string, or an error for a malformed one. */
int cgroup_path_decode(const char *encoded, const char *key, char **ret, struct nook_error **err);

/* ---- conversions (pure, cgroup-v2.c), as runc's libcontainer/cgroups utils --------------- */

/* cpu.shares [2, 262144] -> cpu.weight [1, 10000] on the quadratic-in-log curve runc and crun
 * use since 2025 (1024 -> 100); 0 stays 0 (unset). */
uint64_t cgroup_cpu_shares_to_weight(uint64_t shares);
/* blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 stays 0. */
uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight);
/* memory.swap (memory+swap, the v1 meaning) -> memory.swap.max; -1 = max, 0 = unset. */
int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret, struct nook_error **err);
/* "2MB", "1GB", "64KB": digits then KB, MB or GB. */
bool cgroup_hugepage_size_valid(const char *size);

/* ---- files ------------------------------------------------------------------------------- */

/* Hands an error collected locally (to look at its code first) to the caller's err, or frees it
 * when err is NULL or already set; returns its code. */
int cg_error_take(struct nook_error **err, struct nook_error *e);
int cg_write(const char *dir, const char *file, const char *value, struct nook_error **err);
int cg_read(const char *dir, const char *file, char **ret, struct nook_error **err);
bool cg_exists(const char *dir, const char *file);
/* A file holding one number, or "max" (UINT64_MAX). */
int cg_read_u64(const char *dir, const char *file, uint64_t *ret, struct nook_error **err);
/* The value of KEY in a flat-keyed file ("key value" lines: cpu.stat, memory.stat ...);
 * 0 when the key is absent. */
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret,
                  struct nook_error **err);
uint64_t cg_now_ms(void);

/* ---- hierarchies ------------------------------------------------------------------------- */

/* Fills cg->h from /proc/self/cgroup and /proc/self/mountinfo (cgroup-v1.c): the hierarchies
 * this process is in that are mounted and belong to cg->mode; v2 the "0::" one only, v1 the
 * others, hybrid both with the cgroup2 one last.  Sets own, controllers, mount, mount_root. */
int cg_discover(struct nook_cgroup *cg, struct nook_error **err);
/* The directory of path in hierarchy h, or NULL when path is not below the mount's root. */
char *cg_dir_of(const struct cg_hierarchy *h, const char *path);
/* Whether a comma-separated list has item. */
bool cg_list_has(const char *list, const char *item);

/* The hierarchy that has controller (v1) or, for NULL, the cgroup2 one; NULL when absent.  On
 * v2 it is the cgroup2 hierarchy when the controller is in the cgroup's cgroup.controllers. */
const struct cg_hierarchy *cg_hierarchy_for(const struct nook_cgroup *cg, const char *controller);
/* Calls fn(dir) for each level from the first below h's mount down to h->dir (dir is a buffer
 * fn may change and restore); stops at the first error. */
typedef int (*cg_walk_fn)(char *dir, void *data, struct nook_error **err);
int cg_walk_down(const struct cg_hierarchy *h, cg_walk_fn fn, void *data, struct nook_error **err);
/* mkdir -p of h->dir below its mount, counting what it created in h->n_created. */
int cg_mkdir(struct cg_hierarchy *h, struct nook_error **err);

/* ---- resource writes (cgroup-v2.c) -------------------------------------------------------- */

enum
{
  CG_W_SKIP_MISSING = 1 << 0, /* a file the kernel may not have: skipped when absent */
  CG_W_RETRY_EINVAL = 1 << 1, /* EINVAL may depend on a later write: retried after the rest */
  CG_W_VERIFY = 1 << 2,       /* read back: the kernel clamps (cpu.shares) */
};

struct cg_write
{
  const char *field;      /* JSON path for messages: "linux.resources.memory.limit" */
  const char *controller; /* "memory"...; NULL = the cgroup2 hierarchy itself */
  char *file;
  char *value;
  unsigned flags;
};

struct cg_writes
{
  struct cg_write *v;
  size_t n;
};

void cg_writes_add(struct cg_writes *w, const char *field, const char *controller, const char *file,
                   unsigned flags, const char *fmt, ...) _printf_(6, 7);
/* Checks that every controller is there (so that nothing is written when one is missing:
 * "FIELD: the CONTROLLER controller is not available"), then writes in order. */
int cg_writes_run(const struct nook_cgroup *cg, const struct cg_writes *w, struct nook_error **err);
void cg_writes_free(struct cg_writes *w);

/* The writes named alike in both versions (cgroup-v2.c): pids, cpuset, hugetlb (files
 * hugetlb.SIZE.SUFFIX: "limit_in_bytes" on v1, "max" on v2), rdma, net_cls and net_prio. */
int cg_writes_common(const struct nook_resources *r, const char *hugetlb_suffix,
                     struct cg_writes *w, struct nook_error **err);
/* blockIO.throttle*Device: v1 one blkio.throttle.* file each, v2 io.max "MAJ:MIN rbps=N". */
void cg_writes_throttles(const struct nook_resources *r, bool v2, struct cg_writes *w);
/* linux.resources.unified: each key a file of the cgroup2 directory, one write per line; on
 * v1 "requires cgroup v2", on a hybrid host only the files its cgroup2 mount has. */
int cg_writes_unified(const struct nook_cgroup *cg, const struct nook_resources *r,
                      struct cg_writes *w, struct nook_error **err);
/* memory.checkBeforeUpdate: refuses a limit at or below the current usage (in usage_file). */
int cg_check_memory_usage(const struct cg_hierarchy *h, const char *usage_file,
                          const struct nook_resources *r, struct nook_error **err);

/* ---- stats (cgroup-v2.c) ----------------------------------------------------------------- */

enum
{
  CG_S_MAX_IS_ZERO = 1 << 0, /* "max" reads as 0 (pids_limit) */
  CG_S_TICKS = 1 << 1,       /* USER_HZ ticks, to ns */
};

/* One counter: a whole file (key NULL) or a key of a flat-keyed file, times scale. */
struct cg_stat_field
{
  const char *controller;
  const char *file;
  const char *key;
  size_t offset; /* in struct nook_cgroup_stats */
  uint64_t scale;
  unsigned flags;
};

/* Fills the fields whose controller and file exist; the others stay as they are. */
int cg_stats_read(const struct nook_cgroup *cg, const struct cg_stat_field *f, size_t n,
                  struct nook_cgroup_stats *ret, struct nook_error **err);
/* The sum of the numbers in dir's files PREFIX*SUFFIX (hugetlb.*.current), without ".rsvd.". */
int cg_sum_files(const char *dir, const char *prefix, const char *suffix, uint64_t *ret,
                 struct nook_error **err);

/* ---- the cgroup2 freezer (cgroup-v2.c), also for hybrid hosts without a v1 freezer -------- */

/* cgroup.freeze, then waits (bounded) for "frozen 0|1" in cgroup.events; a freeze that does not
 * complete is undone. */
int cg_freeze_unified(const char *dir, bool frozen, struct nook_error **err);
int cg_is_frozen_unified(const char *dir, bool *ret, struct nook_error **err);

/* ---- devices (cgroup-devices.c) ----------------------------------------------------------- */

/* "c 1:3 rwm" for devices.allow / devices.deny; "a" for type 'a'. */
int cgroup_device_rule_v1(const struct nook_device_rule *rule, char **ret, struct nook_error **err);
/* v1: "a" to devices.deny, then each rule in order to devices.allow or devices.deny. */
int cgroup_devices_v1_writes(const struct nook_resources *r, struct cg_writes *w,
                             struct nook_error **err);

struct bpf_insn;
/* The BPF_PROG_TYPE_CGROUP_DEVICE program for the rules: the last matching rule decides (as
 * successive writes do on v1), nothing matching is denied.  *ret_n instructions. */
int cgroup_devices_bpf_build(const struct nook_device_rule *rules, size_t n, struct bpf_insn **ret,
                             size_t *ret_n, struct nook_error **err);
/* Loads that program and attaches it to the cgroup dirfd with BPF_F_ALLOW_MULTI, then detaches
 * the programs that were there before (an update replaces them). */
int cgroup_devices_bpf_apply(int dirfd, const struct nook_device_rule *rules, size_t n,
                             struct nook_error **err);

#endif
