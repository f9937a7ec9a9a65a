/* The cgroup v1 backend, for v1 and hybrid hosts: one directory per mounted hierarchy (and on a
 * hybrid host one in the cgroup2 mount too, which tracks processes and takes the unified map
 * for the files it has), linux.resources translated as runc's libcontainer/cgroups/fs does,
 * devices through devices.deny/devices.allow, freezer.state for pause.
 *
 * Finding the hierarchies (/proc/self/cgroup matched with the cgroup mounts) is here too: it is
 * a v1 matter that v2 uses for its single "0::" line. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cgroups/cgroup-internal.h"
#include "common/util.h"

#define CG_FREEZE_TIMEOUT_MS 5000

/* ---- hierarchies -------------------------------------------------------------------------- */

struct cg_mount
{
  char *root;
  char *point;
  char *fstype;
  char *opts;
};

static void v1_mounts_free(struct cg_mount *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free(m[i].root);
      free(m[i].point);
      free(m[i].fstype);
      free(m[i].opts);
    }
  free(m);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo: decoded in place. */
static void v1_unescape(char *s)
{
  char *o = s;

  for (char *p = s; *p; p++)
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0'
        && p[3] <= '7')
      {
        *o++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
        p += 3;
      }
    else
      *o++ = *p;
  *o = '\0';
}

/* The cgroup and cgroup2 mounts: root, mount point, type and super options. */
static int v1_read_mounts(struct cg_mount **ret, size_t *ret_n, struct nook_error **err)
{
  _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
  _cleanup_free_ char *line = NULL;
  struct cg_mount *v = NULL;
  size_t n = 0, cap = 0;

  if (f == NULL)
    return nook_error_set(err, errno, "open `/proc/self/mountinfo`");
  while (getline(&line, &cap, f) > 0)
    {
      _cleanup_free_ char *root = NULL, *point = NULL, *fstype = NULL, *opts = NULL;
      const char *sep = strstr(line, " - ");

      if (sep == NULL || sscanf(line, "%*s %*s %*s %ms %ms", &root, &point) != 2
          || sscanf(sep + 3, "%ms %*s %ms", &fstype, &opts) != 2)
        continue;
      if (!streq(fstype, "cgroup") && !streq(fstype, "cgroup2"))
        continue;
      v1_unescape(root);
      v1_unescape(point);
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] =
          (struct cg_mount){ TAKE_PTR(root), TAKE_PTR(point), TAKE_PTR(fstype), TAKE_PTR(opts) };
    }
  *ret = v;
  *ret_n = n;
  return 0;
}

/* Whether every controller of a /proc/self/cgroup line is in the mount's super options. */
static bool v1_mount_matches(const struct cg_mount *m, const char *controllers)
{
  _cleanup_free_ char *c = xstrdup(controllers);
  char *save = NULL;

  if (*controllers == '\0')
    return streq(m->fstype, "cgroup2");
  if (!streq(m->fstype, "cgroup"))
    return false;
  for (char *tok = strtok_r(c, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    if (!cg_list_has(m->opts, tok))
      return false;
  return true;
}

static const struct cg_mount *v1_mount_find(const struct cg_mount *m, size_t n,
                                            const char *controllers)
{
  const struct cg_mount *first = NULL;

  for (size_t i = 0; i < n; i++)
    {
      if (!v1_mount_matches(&m[i], controllers))
        continue;
      if (nook_has_prefix(m[i].point, CGROUP_ROOT))
        return &m[i];
      if (first == NULL)
        first = &m[i];
    }
  return first;
}

static void v1_hierarchy_add(struct nook_cgroup *cg, const char *controllers,
                             const struct cg_mount *m, const char *own)
{
  struct cg_hierarchy *h;

  cg->h = xrealloc(cg->h, (cg->n_h + 1) * sizeof(*cg->h));
  h = &cg->h[cg->n_h++];
  *h = (struct cg_hierarchy){ .controllers = xstrdup(controllers),
                              .mount = xstrdup(m->point),
                              .mount_root = xstrdup(m->root),
                              .own = xstrdup(own) };
}

int cg_discover(struct nook_cgroup *cg, struct nook_error **err)
{
  _cleanup_fclose_ FILE *f = NULL;
  _cleanup_free_ char *line = NULL, *unified_own = NULL;
  struct cg_mount *mounts = NULL;
  const struct cg_mount *unified = NULL;
  size_t n_mounts = 0, cap = 0;

  if (v1_read_mounts(&mounts, &n_mounts, err) < 0)
    return -1;
  f = fopen("/proc/self/cgroup", "re");
  if (f == NULL)
    {
      v1_mounts_free(mounts, n_mounts);
      return nook_error_set(err, errno, "open `/proc/self/cgroup`");
    }
  while (getline(&line, &cap, f) > 0)
    {
      char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      const struct cg_mount *m;

      if (c2 == NULL)
        continue;
      *c2 = '\0';
      c2[1 + strcspn(c2 + 1, "\n")] = '\0';
      if ((c1[1] == '\0') != (cg->mode == NOOK_CGROUP_V2) && cg->mode != NOOK_CGROUP_HYBRID)
        continue;
      m = v1_mount_find(mounts, n_mounts, c1 + 1);
      if (m == NULL)
        continue; /* listed but not mounted (net_cls on many hosts) */
      if (c1[1] == '\0')
        {
          unified = m;
          free(unified_own);
          unified_own = xstrdup(c2 + 1);
        }
      else
        v1_hierarchy_add(cg, c1 + 1, m, c2 + 1);
    }
  if (unified)
    v1_hierarchy_add(cg, "", unified, unified_own);
  v1_mounts_free(mounts, n_mounts);
  if (cg->n_h == 0)
    return nook_error_setx(err, ENOENT, "no cgroup hierarchy of this process is mounted");
  return 0;
}

/* ---- creation ----------------------------------------------------------------------------- */

static bool v1_blank(const char *s)
{
  return s[strspn(s, " \n")] == '\0';
}

/* A new cpuset cgroup starts with no cpus and mems and refuses tasks: copy them down from the
 * parent at every level below the mount whose value is empty (runc's cpusetCopyIfNeeded). */
static int v1_cpuset_copy(char *dir, void *data, struct nook_error **err)
{
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  char *slash = strrchr(dir, '/');

  for (size_t i = 0; i < ARRAY_SIZE(files); i++)
    {
      _cleanup_free_ char *mine = NULL, *parents = NULL;
      int r;

      if (cg_read(dir, files[i], &mine, err) < 0)
        return -1;
      if (!v1_blank(mine))
        continue;
      *slash = '\0';
      r = cg_read(dir, files[i], &parents, err);
      *slash = '/';
      if (r < 0 || cg_write(dir, files[i], parents, err) < 0)
        return -1;
    }
  return 0;
}

static int v1_create(struct nook_cgroup *cg, const struct nook_resources *r,
                     struct nook_error **err)
{
  for (size_t i = 0; i < cg->n_h; i++)
    {
      if (cg_mkdir(&cg->h[i], err) < 0)
        return -1;
      if (cg_list_has(cg->h[i].controllers, "cpuset")
          && cg_walk_down(&cg->h[i], v1_cpuset_copy, NULL, err) < 0)
        return -1;
    }
  return 0;
}

/* On a hybrid host the cgroup2 hierarchy (last, see struct nook_cgroup) is joined at clone
 * time through its directory fd, as on v2; the v1 hierarchies are then entered by the child. */
static int v1_load(struct nook_cgroup *cg, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg->n_h ? &cg->h[cg->n_h - 1] : NULL;

  if (cg->dirfd >= 0 || h == NULL || h->controllers[0] != '\0')
    return 0;
  cg->dirfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg->dirfd < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "open `%s`", h->dir);
  return 0;
}

/* ---- resources ---------------------------------------------------------------------------- */

static int v1_memory(const struct nook_cgroup *cg, const struct nook_resources *r,
                     struct cg_writes *w, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "memory");
  int64_t limit = r->memory.limit.set ? r->memory.limit.value : 0;
  int64_t swap = r->memory.swap.set ? r->memory.swap.value : 0;
  bool swap_first = false;

  /* unlimited memory without a swap value: swap unlimited too, when swap is accounted */
  if (limit == -1 && swap == 0 && h && cg_exists(h->dir, "memory.memsw.limit_in_bytes"))
    swap = -1;
  /* the kernel wants memory <= memory+swap at every step: raise swap first when it grows */
  if (limit != 0 && swap != 0 && h)
    {
      uint64_t cur = 0;
      if (cg_read_u64(h->dir, "memory.limit_in_bytes", &cur, err) < 0)
        return -1;
      swap_first = swap == -1 || cur < (uint64_t)swap;
    }
  if (swap_first)
    cg_writes_add(w, "linux.resources.memory.swap", "memory", "memory.memsw.limit_in_bytes", 0,
                  "%" PRId64, swap);
  if (limit != 0)
    cg_writes_add(w, "linux.resources.memory.limit", "memory", "memory.limit_in_bytes", 0,
                  "%" PRId64, limit);
  if (swap != 0 && !swap_first)
    cg_writes_add(w, "linux.resources.memory.swap", "memory", "memory.memsw.limit_in_bytes", 0,
                  "%" PRId64, swap);
  if (r->memory.reservation.set && r->memory.reservation.value != 0)
    cg_writes_add(w, "linux.resources.memory.reservation", "memory", "memory.soft_limit_in_bytes",
                  0, "%" PRId64, r->memory.reservation.value);
  if (r->memory.disable_oom_killer.set && r->memory.disable_oom_killer.value)
    cg_writes_add(w, "linux.resources.memory.disableOOMKiller", "memory", "memory.oom_control", 0,
                  "1");
  if (r->memory.swappiness.set)
    {
      if (r->memory.swappiness.value > 100)
        return nook_error_setx(
            err, EINVAL, "linux.resources.memory.swappiness: %" PRIu64 " is out of range (0-100)",
            r->memory.swappiness.value);
      cg_writes_add(w, "linux.resources.memory.swappiness", "memory", "memory.swappiness", 0,
                    "%" PRIu64, r->memory.swappiness.value);
    }
  /* kernel and kernelTCP: kernel memory accounting is gone from v1 too; ignored, as runc */
  return 0;
}

static void v1_cpu(const struct nook_resources *r, struct cg_writes *w)
{
  const char *f = "linux.resources.cpu";

  /* the kernel clamps shares silently: read back, as runc */
  if (r->cpu.shares.set && r->cpu.shares.value)
    cg_writes_add(w, "linux.resources.cpu.shares", "cpu", "cpu.shares", CG_W_VERIFY, "%" PRIu64,
                  r->cpu.shares.value);
  /* period and burst may be refused until the quota is written: retried after it */
  if (r->cpu.period.set && r->cpu.period.value)
    cg_writes_add(w, f, "cpu", "cpu.cfs_period_us", CG_W_RETRY_EINVAL, "%" PRIu64,
                  r->cpu.period.value);
  if (r->cpu.burst.set)
    cg_writes_add(w, f, "cpu", "cpu.cfs_burst_us", CG_W_RETRY_EINVAL | CG_W_SKIP_MISSING,
                  "%" PRIu64, r->cpu.burst.value);
  if (r->cpu.quota.set && r->cpu.quota.value)
    cg_writes_add(w, f, "cpu", "cpu.cfs_quota_us", 0, "%" PRId64, r->cpu.quota.value);
  if (r->cpu.idle.set)
    cg_writes_add(w, f, "cpu", "cpu.idle", 0, "%" PRId64, r->cpu.idle.value);
  if (r->cpu.realtime_period.set && r->cpu.realtime_period.value)
    cg_writes_add(w, "linux.resources.cpu.realtimePeriod", "cpu", "cpu.rt_period_us",
                  CG_W_RETRY_EINVAL, "%" PRIu64, r->cpu.realtime_period.value);
  if (r->cpu.realtime_runtime.set && r->cpu.realtime_runtime.value)
    cg_writes_add(w, "linux.resources.cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", 0,
                  "%" PRId64, r->cpu.realtime_runtime.value);
}

static void v1_blkio(const struct nook_cgroup *cg, const struct nook_resources *r,
                     struct cg_writes *w)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "blkio");
  bool bfq = h && cg_exists(h->dir, "blkio.bfq.weight");
  const char *field = "linux.resources.blockIO.weightDevice";

  if (r->block_io.weight.set && r->block_io.weight.value)
    cg_writes_add(w, "linux.resources.blockIO.weight", "blkio",
                  bfq ? "blkio.bfq.weight" : "blkio.weight", 0, "%" PRIu64,
                  r->block_io.weight.value);
  if (r->block_io.leaf_weight.set && r->block_io.leaf_weight.value)
    cg_writes_add(w, "linux.resources.blockIO.leafWeight", "blkio", "blkio.leaf_weight", 0,
                  "%" PRIu64, r->block_io.leaf_weight.value);
  for (size_t i = 0; i < r->block_io.n_weight_device; i++)
    {
      const struct nook_weight_device *d = &r->block_io.weight_device[i];
      if (d->weight.set && d->weight.value)
        cg_writes_add(w, field, "blkio", bfq ? "blkio.bfq.weight_device" : "blkio.weight_device", 0,
                      "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, d->weight.value);
      if (d->leaf_weight.set && d->leaf_weight.value)
        cg_writes_add(w, field, "blkio", "blkio.leaf_weight_device", 0,
                      "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, d->leaf_weight.value);
    }
  cg_writes_throttles(r, false, w);
}

static int v1_update(const struct nook_cgroup *cg, const struct nook_resources *r,
                     struct nook_error **err)
{
  _cleanup_(cg_writes_free) struct cg_writes w = { NULL, 0 };

  if (cg_check_memory_usage(cg_hierarchy_for(cg, "memory"), "memory.usage_in_bytes", r, err) < 0
      || v1_memory(cg, r, &w, err) < 0)
    return -1;
  v1_cpu(r, &w);
  v1_blkio(cg, r, &w);
  if (cg_writes_common(r, "limit_in_bytes", &w, err) < 0 || cgroup_devices_v1_writes(r, &w, err) < 0
      || cg_writes_unified(cg, r, &w, err) < 0)
    return -1;
  return cg_writes_run(cg, &w, err);
}

/* ---- freezer ------------------------------------------------------------------------------ */

static int v1_state(const char *dir, char **ret, struct nook_error **err)
{
  char *s = NULL;

  if (cg_read(dir, "freezer.state", &s, err) < 0)
    return -1;
  s[strcspn(s, "\n")] = '\0';
  *ret = s;
  return 0;
}

/* Writes FROZEN until the state reads FROZEN: a v1 freeze can stay FREEZING while tasks fork,
 * and writing again (with an occasional thaw, as runc does) gets it through. */
static int v1_freeze_dir(const char *dir, struct nook_error **err)
{
  uint64_t deadline = cg_now_ms() + CG_FREEZE_TIMEOUT_MS;

  for (unsigned i = 0;; i++)
    {
      _cleanup_free_ char *state = NULL;

      if (i % 50 == 49)
        {
          (void)cg_write(dir, "freezer.state", "THAWED", NULL);
          usleep(10000);
        }
      if (cg_write(dir, "freezer.state", "FROZEN", err) < 0 || v1_state(dir, &state, err) < 0)
        break;
      if (streq(state, "FROZEN"))
        return 0;
      if (!streq(state, "FREEZING"))
        {
          nook_error_setx(err, EIO, "`%s/freezer.state`: unexpected `%s`", dir, state);
          break;
        }
      if (cg_now_ms() >= deadline)
        {
          nook_error_setx(err, ETIMEDOUT, "`%s`: still freezing after %d ms", dir,
                          CG_FREEZE_TIMEOUT_MS);
          break;
        }
      usleep(i < 10 ? 100 : 1000);
    }
  (void)cg_write(dir, "freezer.state", "THAWED", NULL); /* never leave it half frozen */
  return nook_error_prefix(err, "freeze");
}

/* The v1 freezer's directory in *ret_v1, or on a hybrid host without it the cgroup2 directory
 * (which has cgroup.freeze) in *ret_v2. */
static int v1_freezer(const struct nook_cgroup *cg, const char **ret_v1, const char **ret_v2,
                      struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "freezer");
  const struct cg_hierarchy *u = cg_hierarchy_for(cg, NULL);

  *ret_v1 = h ? h->dir : NULL;
  *ret_v2 = !h && u && cg_exists(u->dir, "cgroup.freeze") ? u->dir : NULL;
  if (*ret_v1 == NULL && *ret_v2 == NULL)
    return nook_error_setx(err, EOPNOTSUPP, "the freezer controller is not available");
  return 0;
}

static int v1_freeze(const struct nook_cgroup *cg, bool frozen, struct nook_error **err)
{
  const char *v1 = NULL, *v2 = NULL;

  if (v1_freezer(cg, &v1, &v2, err) < 0)
    return -1;
  if (v2)
    return cg_freeze_unified(v2, frozen, err);
  return frozen ? v1_freeze_dir(v1, err) : cg_write(v1, "freezer.state", "THAWED", err);
}

static int v1_is_frozen(const struct nook_cgroup *cg, bool *ret, struct nook_error **err)
{
  const char *v1 = NULL, *v2 = NULL;
  _cleanup_free_ char *state = NULL;

  if (v1_freezer(cg, &v1, &v2, err) < 0)
    return -1;
  if (v2)
    return cg_is_frozen_unified(v2, ret, err);
  if (v1_state(v1, &state, err) < 0)
    return -1;
  *ret = streq(state, "FROZEN");
  return 0;
}

/* ---- stats and events --------------------------------------------------------------------- */

#define F(field) offsetof(struct nook_cgroup_stats, field)
static const struct cg_stat_field v1_stat_fields[] = {
  { "cpuacct", "cpuacct.usage", NULL, F(cpu_usage_total), 1, 0 },
  { "cpuacct", "cpuacct.stat", "user", F(cpu_usage_user), 1, CG_S_TICKS },
  { "cpuacct", "cpuacct.stat", "system", F(cpu_usage_kernel), 1, CG_S_TICKS },
  { "cpu", "cpu.stat", "nr_periods", F(cpu_periods), 1, 0 },
  { "cpu", "cpu.stat", "nr_throttled", F(cpu_throttled_periods), 1, 0 },
  { "cpu", "cpu.stat", "throttled_time", F(cpu_throttled_time), 1, 0 },
  { "memory", "memory.usage_in_bytes", NULL, F(memory_usage), 1, 0 },
  { "memory", "memory.max_usage_in_bytes", NULL, F(memory_max_usage), 1, 0 },
  { "memory", "memory.limit_in_bytes", NULL, F(memory_limit), 1, 0 },
  { "memory", "memory.failcnt", NULL, F(memory_failcnt), 1, 0 },
  { "memory", "memory.stat", "cache", F(memory_cache), 1, 0 },
  { "memory", "memory.memsw.usage_in_bytes", NULL, F(swap_usage), 1, 0 },
  { "memory", "memory.memsw.limit_in_bytes", NULL, F(swap_limit), 1, 0 },
  { "memory", "memory.oom_control", "oom_kill", F(oom_kill), 1, 0 },
  { "pids", "pids.current", NULL, F(pids_current), 1, 0 },
  { "pids", "pids.max", NULL, F(pids_limit), 1, CG_S_MAX_IS_ZERO },
};
#undef F

/* blkio.throttle.io_service_bytes: "8:0 Read 123" lines, and "Total". */
static int v1_blkio_stat(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
                         struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "blkio");
  const char *file = "blkio.throttle.io_service_bytes_recursive";
  _cleanup_free_ char *s = NULL;

  if (h == NULL)
    return 0;
  if (!cg_exists(h->dir, file))
    file = "blkio.throttle.io_service_bytes";
  if (cg_read(h->dir, file, &s, err) < 0)
    return -1;
  for (char *line = s; *line;)
    {
      char *eol = strchrnul(line, '\n'), *sp;
      bool last = *eol == '\0';

      *eol = '\0';
      sp = strchr(line, ' ');
      if (sp && nook_has_prefix(sp + 1, "Read "))
        ret->io_read_bytes += strtoull(sp + 6, NULL, 10);
      else if (sp && nook_has_prefix(sp + 1, "Write "))
        ret->io_write_bytes += strtoull(sp + 7, NULL, 10);
      if (last)
        break;
      line = eol + 1;
    }
  return 0;
}

static int v1_stats(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
                    struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "hugetlb");

  if (cg_stats_read(cg, v1_stat_fields, ARRAY_SIZE(v1_stat_fields), ret, err) < 0
      || v1_blkio_stat(cg, ret, err) < 0)
    return -1;
  if (h && cg_sum_files(h->dir, "hugetlb.", ".usage_in_bytes", &ret->hugetlb_usage, err) < 0)
    return -1;
  return 0;
}

/* An eventfd registered through cgroup.event_control for memory.oom_control: the kernel signals
 * it on each OOM in the cgroup (and once when the cgroup is removed). */
static int v1_oom_fd(const struct nook_cgroup *cg, int *ret_fd, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "memory");
  _cleanup_free_ char *p = NULL, *line = NULL;
  _cleanup_close_ int efd = -1, ofd = -1;

  if (h == NULL)
    return nook_error_setx(err, EOPNOTSUPP, "oom events: the memory controller is not available");
  p = xasprintf("%s/memory.oom_control", h->dir);
  efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0)
    return nook_error_set(err, errno, "eventfd");
  ofd = open(p, O_RDONLY | O_CLOEXEC);
  if (ofd < 0)
    return nook_error_set(err, errno, "open `%s`", p);
  line = xasprintf("%d %d", efd, ofd);
  /* the registration holds its own references: memory.oom_control's fd can go */
  if (cg_write(h->dir, "cgroup.event_control", line, err) < 0)
    return -1;
  *ret_fd = TAKE_FD(efd);
  return 0;
}

const struct cgroup_ops cgroup_ops_v1 = {
  .create = v1_create,
  .load = v1_load,
  .update = v1_update,
  .freeze = v1_freeze,
  .is_frozen = v1_is_frozen,
  .stats = v1_stats,
  .oom_fd = v1_oom_fd,
};
