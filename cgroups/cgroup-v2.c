/* The cgroup v2 backend: one cgroup in the unified hierarchy, controllers enabled along its
 * path, linux.resources translated as runc's libcontainer/cgroups/fs2 does, devices through an
 * eBPF program (cgroup-devices.c), cgroup.freeze for pause.
 *
 * The conversions from the v1 vocabulary of the OCI spec are runc's (utils.go): shares ->
 * weight, memory+swap -> swap, blkio weight -> io weight.  The cgroup2 freezer is here too: a
 * hybrid host without a v1 freezer uses it on its cgroup2 mount.  So are the writes whose
 * files have the same names in both versions (pids, cpuset, hugetlb, rdma, net_cls/net_prio,
 * the unified map, blkio throttles), the executor that checks and performs all the writes, and
 * the stats reader: cgroup-v1.c uses them as well. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroups/cgroup-internal.h"
#include "common/util.h"

#define CG_FREEZE_TIMEOUT_MS 5000

/* ---- conversions -------------------------------------------------------------------------- */

/* log2 and 10^x without libm (nook does not link it), in long double so that the results round
 * to the doubles glibc's log2() and pow() give: checked for every shares value from 0 to 262144
 * against runc's formula evaluated with libm. */
static long double cg_ln_1_2(long double x) /* ln x for x in [1, 2) */
{
  long double t = (x - 1) / (x + 1), t2 = t * t, term = t, sum = 0;

  for (int k = 1; k < 80; k += 2)
    {
      sum += term / k;
      term *= t2;
    }
  return 2 * sum;
}

static double cg_log2(double v)
{
  static const long double ln2 = 0.693147180559945309417232121458176568L;
  long double x = v;
  int e = 0;

  while (x >= 2)
    {
      x /= 2;
      e++;
    }
  return (double)(e + cg_ln_1_2(x) / ln2);
}

static double cg_pow10(double v) /* v in [0, 4] */
{
  static const long double ln10 = 2.302585092994045684017999966479184L;
  long double r = 1, term = 1, x;
  int whole = (int)v;

  x = ((long double)v - whole) * ln10;
  for (int k = 1; k < 60; k++)
    {
      term *= x / k;
      r += term;
    }
  while (whole-- > 0)
    r *= 10;
  return (double)r;
}

uint64_t cgroup_cpu_shares_to_weight(uint64_t shares)
{
  double l, e, w;
  uint64_t iw;

  if (shares == 0)
    return 0;
  if (shares <= 2)
    return 1;
  if (shares >= 262144)
    return 10000;
  /* the quadratic in log2(shares) that maps 2 -> 1, 1024 -> 100, 262144 -> 10000 */
  l = cg_log2((double)shares);
  e = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  w = cg_pow10(e);
  iw = (uint64_t)w;
  return (double)iw < w ? iw + 1 : iw;
}

uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight)
{
  if (weight == 0)
    return 0;
  if (weight <= 10)
    return 1;
  if (weight >= 1000)
    return 10000;
  return 1 + (weight - 10) * 9999 / 990;
}

int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret, struct nook_error **err)
{
  /* an unlimited memory without a swap value means both unlimited, as on v1 */
  if (limit == -1 && swap == 0)
    {
      *ret = -1;
      return 0;
    }
  if (swap == -1 || swap == 0)
    {
      *ret = swap;
      return 0;
    }
  if (limit == 0 || limit == -1)
    return nook_error_setx(err, EINVAL,
                           "linux.resources.memory.swap: unable to set a swap "
                           "limit without a memory limit");
  if (limit < 0)
    return nook_error_setx(err, EINVAL, "linux.resources.memory.limit: invalid value %" PRId64,
                           limit);
  if (swap < limit)
    return nook_error_setx(err, EINVAL,
                           "linux.resources.memory.swap: memory+swap limit %" PRId64
                           " is below the memory limit %" PRId64,
                           swap, limit);
  *ret = swap - limit;
  return 0;
}

bool cgroup_hugepage_size_valid(const char *size)
{
  size_t n = 0;

  if (size == NULL)
    return false;
  while (size[n] >= '0' && size[n] <= '9')
    n++;
  return n > 0 && size[0] != '0'
         && (streq(size + n, "KB") || streq(size + n, "MB") || streq(size + n, "GB"));
}

/* ---- the cgroup2 freezer ------------------------------------------------------------------ */

/* Waits until dir/file (cgroup.events) has "key value", polling POLLPRI (kernfs notifies a
 * change that way) at most timeout_ms. */
static int v2_wait_keyed(const char *dir, const char *file, const char *key, uint64_t value,
                         int timeout_ms, struct nook_error **err)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
  _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
  uint64_t deadline = cg_now_ms() + (uint64_t)timeout_ms;

  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", p);
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLPRI };
      uint64_t now, got = 0;

      if (cg_read_keyed(dir, file, key, &got, err) < 0)
        return -1;
      if (got == value)
        return 0;
      now = cg_now_ms();
      if (now >= deadline)
        return nook_error_setx(err, ETIMEDOUT, "`%s`: no `%s %" PRIu64 "` after %d ms", p, key,
                               value, timeout_ms);
      /* the short timeout covers a notification that came before the poll */
      if (poll(&pfd, 1, deadline - now < 20 ? (int)(deadline - now) : 20) < 0 && errno != EINTR)
        return nook_error_set(err, errno, "poll `%s`", p);
    }
}

int cg_freeze_unified(const char *dir, bool frozen, struct nook_error **err)
{
  if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
    return -1;
  if (v2_wait_keyed(dir, "cgroup.events", "frozen", frozen ? 1 : 0, CG_FREEZE_TIMEOUT_MS, err) == 0)
    return 0;
  if (frozen) /* never leave it half frozen */
    (void)cg_write(dir, "cgroup.freeze", "0", NULL);
  return nook_error_prefix(err, frozen ? "freeze" : "thaw");
}

int cg_is_frozen_unified(const char *dir, bool *ret, struct nook_error **err)
{
  uint64_t v = 0;

  if (cg_read_keyed(dir, "cgroup.events", "frozen", &v, err) < 0)
    return -1;
  *ret = v == 1;
  return 0;
}

static int v2_freeze(const struct nook_cgroup *cg, bool frozen, struct nook_error **err)
{
  return cg_freeze_unified(cg->h[0].dir, frozen, err);
}

static int v2_is_frozen(const struct nook_cgroup *cg, bool *ret, struct nook_error **err)
{
  return cg_is_frozen_unified(cg->h[0].dir, ret, err);
}

/* ---- creation ----------------------------------------------------------------------------- */

/* The controllers to enable: those the resources use, and pids, memory, cpu and io always (as
 * crun), so that stats and later updates find them. */
static char **v2_wanted(const struct nook_resources *r)
{
  char **v = NULL;

  nook_strv_push(&v, "pids");
  nook_strv_push(&v, "memory");
  nook_strv_push(&v, "cpu");
  nook_strv_push(&v, "io");
  if (r == NULL)
    return v;
  if (r->cpu.cpus || r->cpu.mems)
    nook_strv_push(&v, "cpuset");
  if (r->n_hugepage_limits)
    nook_strv_push(&v, "hugetlb");
  if (r->n_rdma)
    nook_strv_push(&v, "rdma");
  for (size_t i = 0; i < r->n_unified; i++)
    {
      const char *k = r->unified[i].key, *dot = strchr(k, '.');
      _cleanup_free_ char *c = dot ? xstrndup(k, (size_t)(dot - k)) : NULL;
      if (c && !streq(c, "cgroup") && !nook_strv_contains(v, c))
        nook_strv_push(&v, c);
    }
  return v;
}

static bool v2_word_in(const char *list, const char *word)
{
  size_t len = strlen(word);

  for (const char *p = list; (p = strstr(p, word)) != NULL; p += len)
    if ((p == list || p[-1] == ' ' || p[-1] == '\n')
        && (p[len] == '\0' || p[len] == ' ' || p[len] == '\n'))
      return true;
  return false;
}

/* Enables in dir's cgroup.subtree_control the wanted controllers it has and has not enabled.
 * Failures are left to the writes that need the controller, which name it. */
static void v2_enable_in(const char *dir, char **wanted)
{
  _cleanup_free_ char *avail = NULL, *enabled = NULL, *all = NULL;

  if (cg_read(dir, "cgroup.controllers", &avail, NULL) < 0
      || cg_read(dir, "cgroup.subtree_control", &enabled, NULL) < 0)
    return;
  all = xstrdup("");
  for (size_t i = 0; wanted[i]; i++)
    {
      char *next;
      if (!v2_word_in(avail, wanted[i]) || v2_word_in(enabled, wanted[i]))
        continue;
      next = xasprintf("%s%s+%s", all, *all ? " " : "", wanted[i]);
      free(all);
      all = next;
    }
  if (*all == '\0' || cg_write(dir, "cgroup.subtree_control", all, NULL) == 0)
    return;
  for (size_t i = 0; wanted[i]; i++) /* one by one, keeping what works */
    {
      _cleanup_free_ char *one = xasprintf("+%s", wanted[i]);
      if (v2_word_in(avail, wanted[i]) && !v2_word_in(enabled, wanted[i]))
        (void)cg_write(dir, "cgroup.subtree_control", one, NULL);
    }
}

/* Every level from the top down to the cgroup's parent.  For a path below BASE (relative and
 * default paths) the top is BASE, the parent of nook's own cgroup: nothing above it is touched.
 * An absolute path elsewhere starts at the hierarchy's root. */
static void v2_enable_controllers(const struct nook_cgroup *cg, const struct nook_resources *r)
{
  _cleanup_strv_ char **wanted = v2_wanted(r);
  const struct cg_hierarchy *h = &cg->h[0];
  _cleanup_free_ char *base = cgroup_path_base(h->own, true);
  _cleanup_free_ char *p = xstrdup(h->path);
  size_t blen = strlen(base), end = 0;

  if (!streq(base, "/") && strncmp(p, base, blen) == 0 && p[blen] == '/')
    end = blen;
  for (;;)
    {
      _cleanup_free_ char *dir = NULL;
      char saved = p[end];
      const char *next;

      p[end] = '\0';
      dir = cg_dir_of(h, end ? p : "/");
      p[end] = saved;
      if (dir)
        v2_enable_in(dir, wanted);
      next = strchr(p + end + 1, '/');
      if (next == NULL)
        break; /* the rest is the cgroup itself, which has no children to delegate to */
      end = (size_t)(next - p);
    }
}

static int v2_create(struct nook_cgroup *cg, const struct nook_resources *r,
                     struct nook_error **err)
{
  if (cg_mkdir(&cg->h[0], err) < 0)
    return -1;
  v2_enable_controllers(cg, r);
  return 0;
}

static int v2_load(struct nook_cgroup *cg, struct nook_error **err)
{
  if (cg->dirfd >= 0)
    return 0;
  cg->dirfd = open(cg->h[0].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  /* a cgroup already gone is not an error here: destroy accepts it */
  if (cg->dirfd < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "open `%s`", cg->h[0].dir);
  return 0;
}

/* ---- resources ---------------------------------------------------------------------------- */

static void v2_add_max(struct cg_writes *w, const char *field, const char *controller,
                       const char *file, unsigned flags, int64_t v)
{
  if (v < 0)
    cg_writes_add(w, field, controller, file, flags, "max");
  else
    cg_writes_add(w, field, controller, file, flags, "%" PRId64, v);
}

static int v2_memory(const struct nook_resources *r, struct cg_writes *w, struct nook_error **err)
{
  int64_t limit = r->memory.limit.set ? r->memory.limit.value : 0;
  int64_t swap_in = r->memory.swap.set ? r->memory.swap.value : 0, swap = 0;

  if (cgroup_swap_to_v2(swap_in, limit, &swap, err) < 0)
    return -1;
  /* memory == swap disables swap: "0"; a swap file the kernel lacks is fine for max or 0 */
  if (swap != 0 || swap_in > 0)
    v2_add_max(w, "linux.resources.memory.swap", "memory", "memory.swap.max",
               swap <= 0 ? CG_W_SKIP_MISSING : 0, swap);
  if (limit != 0)
    v2_add_max(w, "linux.resources.memory.limit", "memory", "memory.max", 0, limit);
  if (r->memory.reservation.set && r->memory.reservation.value != 0)
    v2_add_max(w, "linux.resources.memory.reservation", "memory", "memory.low", 0,
               r->memory.reservation.value);
  /* swappiness, disableOOMKiller, kernel and kernelTCP have no v2 file: ignored, as runc */
  return 0;
}

static int v2_cpu(const struct nook_resources *r, struct cg_writes *w, struct nook_error **err)
{
  int64_t quota = r->cpu.quota.set ? r->cpu.quota.value : 0;
  uint64_t period = r->cpu.period.set ? r->cpu.period.value : 0;
  uint64_t weight = r->cpu.shares.set ? cgroup_cpu_shares_to_weight(r->cpu.shares.value) : 0;

  if ((r->cpu.realtime_runtime.set && r->cpu.realtime_runtime.value != 0)
      || (r->cpu.realtime_period.set && r->cpu.realtime_period.value != 0))
    return nook_error_setx(err, EOPNOTSUPP,
                           "linux.resources.cpu.realtimeRuntime: not supported on cgroup v2");
  if (r->cpu.idle.set)
    cg_writes_add(w, "linux.resources.cpu.idle", "cpu", "cpu.idle", 0, "%" PRId64,
                  r->cpu.idle.value);
  if (weight)
    cg_writes_add(w, "linux.resources.cpu.shares", "cpu", "cpu.weight", 0, "%" PRIu64, weight);
  if (r->cpu.burst.set)
    cg_writes_add(w, "linux.resources.cpu.burst", "cpu", "cpu.max.burst", CG_W_RETRY_EINVAL,
                  "%" PRIu64, r->cpu.burst.value);
  if (quota != 0 || period != 0)
    {
      _cleanup_free_ char *q = quota > 0 ? xasprintf("%" PRId64, quota) : xstrdup("max");
      cg_writes_add(w, "linux.resources.cpu.quota", "cpu", "cpu.max", 0, "%s %" PRIu64, q,
                    period ? period : 100000);
    }
  return 0;
}

/* Device weights need BFQ's io.bfq.weight; without it io.weight takes them converted. */
static void v2_io(const struct nook_cgroup *cg, const struct nook_resources *r, struct cg_writes *w)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "io");
  bool bfq = h && cg_exists(h->dir, "io.bfq.weight");
  const char *wfile = bfq ? "io.bfq.weight" : "io.weight";
  const char *field = "linux.resources.blockIO.weightDevice";

  if (r->block_io.weight.set && r->block_io.weight.value)
    cg_writes_add(w, "linux.resources.blockIO.weight", "io", wfile, 0, "%" PRIu64,
                  bfq ? r->block_io.weight.value
                      : cgroup_blkio_weight_to_io_weight(r->block_io.weight.value));
  for (size_t i = 0; i < r->block_io.n_weight_device; i++)
    {
      const struct nook_weight_device *d = &r->block_io.weight_device[i];
      if (d->weight.set && d->weight.value)
        cg_writes_add(w, field, "io", wfile, 0, "%" PRId64 ":%" PRId64 " %" PRIu64, d->major,
                      d->minor,
                      bfq ? d->weight.value : cgroup_blkio_weight_to_io_weight(d->weight.value));
    }
  cg_writes_throttles(r, true, w);
}

static int v2_update(const struct nook_cgroup *cg, const struct nook_resources *r,
                     struct nook_error **err)
{
  _cleanup_(cg_writes_free) struct cg_writes w = { NULL, 0 };

  v2_enable_controllers(cg, r); /* an update may use a controller create did not need */
  if (cg_check_memory_usage(cg_hierarchy_for(cg, "memory"), "memory.current", r, err) < 0)
    return -1;
  if (v2_memory(r, &w, err) < 0 || v2_cpu(r, &w, err) < 0)
    return -1;
  v2_io(cg, r, &w);
  if (cg_writes_common(r, "max", &w, err) < 0 || cg_writes_unified(cg, r, &w, err) < 0)
    return -1;
  if (cg_writes_run(cg, &w, err) < 0)
    return -1;
  if (r->n_devices == 0)
    return 0;
  if (cg->dirfd < 0)
    return nook_error_setx(err, ENOENT, "cgroup `%s` is gone", cg->h[0].dir);
  if (cgroup_devices_bpf_apply(cg->dirfd, r->devices, r->n_devices, err) < 0)
    return nook_error_prefix(err, "linux.resources.devices");
  return 0;
}

/* ---- stats and events --------------------------------------------------------------------- */

#define F(field) offsetof(struct nook_cgroup_stats, field)
static const struct cg_stat_field v2_stat_fields[] = {
  { "cpu", "cpu.stat", "usage_usec", F(cpu_usage_total), 1000, 0 },
  { "cpu", "cpu.stat", "user_usec", F(cpu_usage_user), 1000, 0 },
  { "cpu", "cpu.stat", "system_usec", F(cpu_usage_kernel), 1000, 0 },
  { "cpu", "cpu.stat", "nr_periods", F(cpu_periods), 1, 0 },
  { "cpu", "cpu.stat", "nr_throttled", F(cpu_throttled_periods), 1, 0 },
  { "cpu", "cpu.stat", "throttled_usec", F(cpu_throttled_time), 1000, 0 },
  { "memory", "memory.current", NULL, F(memory_usage), 1, 0 },
  { "memory", "memory.peak", NULL, F(memory_max_usage), 1, 0 },
  { "memory", "memory.max", NULL, F(memory_limit), 1, 0 },
  { "memory", "memory.events", "max", F(memory_failcnt), 1, 0 },
  { "memory", "memory.stat", "file", F(memory_cache), 1, 0 },
  { "memory", "memory.swap.current", NULL, F(swap_usage), 1, 0 },
  { "memory", "memory.swap.max", NULL, F(swap_limit), 1, 0 },
  { "memory", "memory.events", "oom_kill", F(oom_kill), 1, 0 },
  { "pids", "pids.current", NULL, F(pids_current), 1, 0 },
  { "pids", "pids.max", NULL, F(pids_limit), 1, CG_S_MAX_IS_ZERO },
};
#undef F

static int v2_io_stat(const char *dir, struct nook_cgroup_stats *ret, struct nook_error **err)
{
  _cleanup_free_ char *s = NULL;

  if (!cg_exists(dir, "io.stat"))
    return 0;
  if (cg_read(dir, "io.stat", &s, err) < 0)
    return -1;
  /* "8:0 rbytes=1 wbytes=2 rios=3 ..." per device */
  for (char *p = s; (p = strpbrk(p, "rw")) != NULL; p++)
    {
      uint64_t *dst = nook_has_prefix(p, "rbytes=")   ? &ret->io_read_bytes
                      : nook_has_prefix(p, "wbytes=") ? &ret->io_write_bytes
                                                      : NULL;
      if (dst && (p == s || p[-1] == ' '))
        *dst += strtoull(p + 7, NULL, 10);
    }
  return 0;
}

static int v2_stats(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
                    struct nook_error **err)
{
  const char *dir = cg->h[0].dir;

  if (cg_stats_read(cg, v2_stat_fields, ARRAY_SIZE(v2_stat_fields), ret, err) < 0
      || v2_io_stat(dir, ret, err) < 0)
    return -1;
  if (cg_hierarchy_for(cg, "hugetlb")
      && cg_sum_files(dir, "hugetlb.", ".current", &ret->hugetlb_usage, err) < 0)
    return -1;
  /* v1 reports memory+swap as swap; so does runc on v2, and so does nook */
  if (cg_exists(dir, "memory.swap.current"))
    {
      ret->swap_usage += ret->memory_usage;
      if (ret->swap_limit != UINT64_MAX && ret->memory_limit != UINT64_MAX)
        ret->swap_limit += ret->memory_limit;
      else
        ret->swap_limit = UINT64_MAX;
    }
  return 0;
}

static int v2_oom_fd(const struct nook_cgroup *cg, int *ret_fd, struct nook_error **err)
{
  _cleanup_free_ char *p = xasprintf("%s/memory.events", cg->h[0].dir);
  _cleanup_close_ int fd = -1;

  if (cg_hierarchy_for(cg, "memory") == NULL)
    return nook_error_setx(err, EOPNOTSUPP, "oom events: the memory controller is not available");
  fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0)
    return nook_error_set(err, errno, "inotify_init1");
  if (inotify_add_watch(fd, p, IN_MODIFY) < 0)
    return nook_error_set(err, errno, "inotify_add_watch `%s`", p);
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* ---- shared with the v1 backend ---------------------------------------------------------- */

void cg_writes_add(struct cg_writes *w, const char *field, const char *controller, const char *file,
                   unsigned flags, const char *fmt, ...)
{
  va_list ap;
  char *value = NULL;

  va_start(ap, fmt);
  if (vasprintf(&value, fmt, ap) < 0)
    abort();
  va_end(ap);
  w->v = xrealloc(w->v, (w->n + 1) * sizeof(*w->v));
  w->v[w->n++] = (struct cg_write){ field, controller, xstrdup(file), value, flags };
}

void cg_writes_free(struct cg_writes *w)
{
  for (size_t i = 0; i < w->n; i++)
    {
      free(w->v[i].file);
      free(w->v[i].value);
    }
  free(w->v);
  w->v = NULL;
  w->n = 0;
}

static int cg_verify(const struct cg_hierarchy *h, const struct cg_write *wr,
                     struct nook_error **err)
{
  uint64_t got = 0, want = 0;

  if (cg_read_u64(h->dir, wr->file, &got, err) < 0)
    return nook_error_prefix(err, "%s", wr->field);
  if (nook_parse_u64(wr->value, &want) == 0 && got != want)
    return nook_error_setx(err, ERANGE, "%s: `%s` is out of range (the kernel set %" PRIu64 ")",
                           wr->field, wr->value, got);
  return 0;
}

/* The hierarchy a write goes to, or NULL with "FIELD: the X controller is not available". */
static const struct cg_hierarchy *cg_write_where(const struct nook_cgroup *cg,
                                                 const struct cg_write *wr, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, wr->controller);

  if (h == NULL)
    nook_error_setx(err, EOPNOTSUPP, "%s: the %s controller is not available", wr->field,
                    wr->controller ? wr->controller : "unified hierarchy");
  return h;
}

/* One write; with deferred != NULL an EINVAL of a CG_W_RETRY_EINVAL write sets it instead. */
static int cg_write_one(const struct nook_cgroup *cg, const struct cg_write *wr, bool *deferred,
                        struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_write_where(cg, wr, err);
  struct nook_error *e = NULL;
  int r;

  if (h == NULL)
    return -1;
  if ((wr->flags & CG_W_SKIP_MISSING) && !cg_exists(h->dir, wr->file))
    return 0;
  r = cg_write(h->dir, wr->file, wr->value, &e);
  if (r == -EINVAL && deferred && (wr->flags & CG_W_RETRY_EINVAL))
    {
      nook_error_free(e);
      *deferred = true;
      return 0;
    }
  if (r == -ENOENT && !cg_exists(h->dir, wr->file))
    {
      nook_error_free(e);
      return nook_error_setx(err, EOPNOTSUPP, "%s: `%s` is not supported by this kernel", wr->field,
                             wr->file);
    }
  if (r < 0)
    {
      cg_error_take(err, e);
      return nook_error_prefix(err, "%s", wr->field);
    }
  return (wr->flags & CG_W_VERIFY) ? cg_verify(h, wr, err) : 0;
}

int cg_writes_run(const struct nook_cgroup *cg, const struct cg_writes *w, struct nook_error **err)
{
  _cleanup_free_ bool *deferred = xcalloc(w->n ? w->n : 1, sizeof(bool));

  for (size_t i = 0; i < w->n; i++)
    if (cg_write_where(cg, &w->v[i], err) == NULL)
      return -EOPNOTSUPP;
  for (size_t i = 0; i < w->n; i++)
    if (cg_write_one(cg, &w->v[i], &deferred[i], err) < 0)
      return -1;
  for (size_t i = 0; i < w->n; i++)
    if (deferred[i] && cg_write_one(cg, &w->v[i], NULL, err) < 0)
      return -1;
  return 0;
}

int cg_writes_common(const struct nook_resources *r, const char *hugetlb_suffix,
                     struct cg_writes *w, struct nook_error **err)
{
  if (r->pids.limit.set)
    {
      int64_t l = r->pids.limit.value;
      /* 0 becomes 1 as in runc (systemd cannot express 0 tasks); negative is "max" */
      if (l > 0)
        cg_writes_add(w, "linux.resources.pids.limit", "pids", "pids.max", 0, "%" PRId64, l);
      else
        cg_writes_add(w, "linux.resources.pids.limit", "pids", "pids.max", 0, "%s",
                      l == 0 ? "1" : "max");
    }
  if (r->cpu.cpus)
    cg_writes_add(w, "linux.resources.cpu.cpus", "cpuset", "cpuset.cpus", 0, "%s", r->cpu.cpus);
  if (r->cpu.mems)
    cg_writes_add(w, "linux.resources.cpu.mems", "cpuset", "cpuset.mems", 0, "%s", r->cpu.mems);
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    {
      const struct nook_hugepage_limit *hl = &r->hugepage_limits[i];
      _cleanup_free_ char *file = NULL, *rsvd = NULL;

      if (!cgroup_hugepage_size_valid(hl->page_size))
        return nook_error_setx(err, EINVAL,
                               "linux.resources.hugepageLimits: `%s` is not a page size",
                               hl->page_size ? hl->page_size : "");
      file = xasprintf("hugetlb.%s.%s", hl->page_size, hugetlb_suffix);
      cg_writes_add(w, "linux.resources.hugepageLimits", "hugetlb", file, 0, "%" PRIu64, hl->limit);
      /* the reservation limit (Linux 5.7) follows, where the kernel has it, as runc */
      rsvd = xasprintf("hugetlb.%s.rsvd.%s", hl->page_size, hugetlb_suffix);
      cg_writes_add(w, "linux.resources.hugepageLimits", "hugetlb", rsvd, CG_W_SKIP_MISSING,
                    "%" PRIu64, hl->limit);
    }
  for (size_t i = 0; i < r->n_rdma; i++)
    {
      const struct nook_rdma_limit *l = &r->rdma[i];
      _cleanup_free_ char *h = NULL, *o = NULL;

      if (l->device == NULL || *l->device == '\0' || strpbrk(l->device, " \n"))
        return nook_error_setx(err, EINVAL, "linux.resources.rdma: invalid device `%s`",
                               l->device ? l->device : "");
      h = l->hca_handles.set ? xasprintf(" hca_handle=%" PRIu64, l->hca_handles.value) : NULL;
      o = l->hca_objects.set ? xasprintf(" hca_object=%" PRIu64, l->hca_objects.value) : NULL;
      cg_writes_add(w, "linux.resources.rdma", "rdma", "rdma.max", 0, "%s%s%s", l->device,
                    h ? h : "", o ? o : "");
    }
  if (r->network.class_id.set)
    cg_writes_add(w, "linux.resources.network.classID", "net_cls", "net_cls.classid", 0, "%" PRIu64,
                  r->network.class_id.value);
  for (size_t i = 0; i < r->network.n_priorities; i++)
    cg_writes_add(w, "linux.resources.network.priorities", "net_prio", "net_prio.ifpriomap", 0,
                  "%s %u", r->network.priorities[i].name, r->network.priorities[i].priority);
  return 0;
}

void cg_writes_throttles(const struct nook_resources *r, bool v2, struct cg_writes *w)
{
  static const struct
  {
    size_t off_v, off_n;
    const char *field, *v1_file, *v2_key;
  } t[] = {
#define T(f, json, file, key)                                                                      \
  { offsetof(struct nook_resources, block_io.f), offsetof(struct nook_resources, block_io.n_##f),  \
    "linux.resources.blockIO." json, file, key }
    T(throttle_read_bps, "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"),
    T(throttle_write_bps, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"),
    T(throttle_read_iops, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"),
    T(throttle_write_iops, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"),
#undef T
  };

  for (size_t k = 0; k < ARRAY_SIZE(t); k++)
    {
      const struct nook_throttle_device *v;
      size_t n;

      memcpy(&v, (const char *)r + t[k].off_v, sizeof(v));
      memcpy(&n, (const char *)r + t[k].off_n, sizeof(n));
      for (size_t i = 0; i < n; i++)
        {
          if (!v2)
            cg_writes_add(w, t[k].field, "blkio", t[k].v1_file, 0,
                          "%" PRId64 ":%" PRId64 " %" PRIu64, v[i].major, v[i].minor, v[i].rate);
          else if (v[i].rate == 0) /* 0 removes the limit, as on v1 */
            cg_writes_add(w, t[k].field, "io", "io.max", 0, "%" PRId64 ":%" PRId64 " %s=max",
                          v[i].major, v[i].minor, t[k].v2_key);
          else
            cg_writes_add(w, t[k].field, "io", "io.max", 0, "%" PRId64 ":%" PRId64 " %s=%" PRIu64,
                          v[i].major, v[i].minor, t[k].v2_key, v[i].rate);
        }
    }
}

static int cg_unified_key_check(const struct nook_cgroup *cg, const struct cg_hierarchy *h,
                                const char *key, struct nook_error **err)
{
  const char *dot = strchr(key, '.');
  _cleanup_free_ char *controller = NULL;

  if (*key == '\0' || strchr(key, '/') || streq(key, ".") || streq(key, ".."))
    return nook_error_setx(err, EINVAL, "linux.resources.unified: `%s` must be a file name", key);
  if (dot == NULL || dot == key)
    return nook_error_setx(err, EINVAL,
                           "linux.resources.unified: `%s` must be CONTROLLER.PARAMETER", key);
  controller = xstrndup(key, (size_t)(dot - key));
  if (cg->mode == NOOK_CGROUP_V2 && !streq(controller, "cgroup")
      && cg_hierarchy_for(cg, controller) == NULL)
    return nook_error_setx(err, EOPNOTSUPP,
                           "linux.resources.unified: `%s`: the %s controller is not available", key,
                           controller);
  if (!cg_exists(h->dir, key))
    return nook_error_setx(
        err, EOPNOTSUPP, "linux.resources.unified: `%s` does not exist%s", key,
        cg->mode == NOOK_CGROUP_V2 ? "" : " in the unified hierarchy of this hybrid host");
  return 0;
}

int cg_writes_unified(const struct nook_cgroup *cg, const struct nook_resources *r,
                      struct cg_writes *w, struct nook_error **err)
{
  const struct cg_hierarchy *h;

  if (r->n_unified == 0)
    return 0;
  h = cg_hierarchy_for(cg, NULL);
  if (h == NULL)
    return nook_error_setx(err, EOPNOTSUPP, "linux.resources.unified: requires cgroup v2");
  for (size_t i = 0; i < r->n_unified; i++)
    {
      const char *key = r->unified[i].key, *v = r->unified[i].value ? r->unified[i].value : "";

      if (cg_unified_key_check(cg, h, key, err) < 0)
        return -1;
      /* one write per line, as runc's WriteFileByLine (io.max takes a device per write) */
      do
        {
          size_t len = strcspn(v, "\n");
          if (len || *v == '\0')
            cg_writes_add(w, "linux.resources.unified", NULL, key, 0, "%.*s", (int)len, v);
          v += len;
          v += *v == '\n';
        }
      while (*v);
    }
  return 0;
}

int cg_check_memory_usage(const struct cg_hierarchy *h, const char *usage_file,
                          const struct nook_resources *r, struct nook_error **err)
{
  uint64_t usage = 0;

  if (!r->memory.check_before_update.set || !r->memory.check_before_update.value || h == NULL)
    return 0;
  if (!r->memory.limit.set || r->memory.limit.value <= 0)
    return 0;
  /* best effort, as runc: an unreadable usage does not block the update */
  if (cg_read_u64(h->dir, usage_file, &usage, NULL) < 0)
    return 0;
  if (usage >= (uint64_t)r->memory.limit.value)
    return nook_error_setx(err, EBUSY,
                           "linux.resources.memory.limit: rejecting memory limit %" PRId64
                           " below usage %" PRIu64,
                           r->memory.limit.value, usage);
  return 0;
}

/* ---- stats -------------------------------------------------------------------------------- */

int cg_stats_read(const struct nook_cgroup *cg, const struct cg_stat_field *f, size_t n,
                  struct nook_cgroup_stats *ret, struct nook_error **err)
{
  long tck = sysconf(_SC_CLK_TCK);

  for (size_t i = 0; i < n; i++)
    {
      const struct cg_hierarchy *h = cg_hierarchy_for(cg, f[i].controller);
      uint64_t v = 0;
      int r;

      if (h == NULL || !cg_exists(h->dir, f[i].file))
        continue;
      r = f[i].key ? cg_read_keyed(h->dir, f[i].file, f[i].key, &v, err)
                   : cg_read_u64(h->dir, f[i].file, &v, err);
      if (r < 0)
        return -1;
      if ((f[i].flags & CG_S_MAX_IS_ZERO) && v == UINT64_MAX)
        v = 0;
      if ((f[i].flags & CG_S_TICKS) && tck > 0)
        v *= 1000000000ULL / (uint64_t)tck;
      else if (f[i].scale > 1 && v != UINT64_MAX)
        v *= f[i].scale;
      memcpy((char *)ret + f[i].offset, &v, sizeof(v));
    }
  return 0;
}

int cg_sum_files(const char *dir, const char *prefix, const char *suffix, uint64_t *ret,
                 struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = opendir(dir);
  size_t slen = strlen(suffix);
  struct dirent *de;
  uint64_t sum = 0;

  if (d == NULL)
    return nook_error_set(err, errno, "open `%s`", dir);
  while ((de = readdir(d)) != NULL)
    {
      size_t len = strlen(de->d_name);
      uint64_t v = 0;

      if (!nook_has_prefix(de->d_name, prefix) || len < slen
          || !streq(de->d_name + len - slen, suffix) || strstr(de->d_name, ".rsvd."))
        continue;
      if (cg_read_u64(dir, de->d_name, &v, err) < 0)
        return -1;
      sum += v;
    }
  *ret = sum;
  return 0;
}

const struct cgroup_ops cgroup_ops_v2 = {
  .create = v2_create,
  .load = v2_load,
  .update = v2_update,
  .freeze = v2_freeze,
  .is_frozen = v2_is_frozen,
  .stats = v2_stats,
  .oom_fd = v2_oom_fd,
};
