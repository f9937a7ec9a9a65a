/* The container process's identity and limits, applied in its init just before execve.
 *
 * The identity switch follows runc's finalizeNamespace/setupUser: bounding set first (it needs
 * CAP_SETPCAP, which the switch to a non-root uid takes away), then PR_SET_KEEPCAPS so that the
 * permitted set survives setresuid, then groups, gid, uid, and finally the exact capability
 * sets.  Every name in config.json is resolved before anything changes, so a typo leaves the
 * process as it was. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/process.h"
#include "common/util.h"

/* ---- capabilities ---------------------------------------------------------------------- */

enum cap_set_index
{
  CAPS_BOUNDING,
  CAPS_EFFECTIVE,
  CAPS_INHERITABLE,
  CAPS_PERMITTED,
  CAPS_AMBIENT,
  CAPS_COUNT,
};

static const char *const cap_set_names[CAPS_COUNT] = {
  "bounding", "effective", "inheritable", "permitted", "ambient",
};

/* Capabilities fit in 64 bits for the foreseeable future (the kernel has 41); a number that
 * does not is treated like one the kernel does not know. */
#define CAP_MASK_BITS 64
#define CAP_BIT(c) (UINT64_C(1) << (c))

/* The highest capability the running kernel knows, from /proc (as runc and crun read it),
 * or libcap's probe when /proc is not there. */
static int kernel_last_cap(void)
{
  char buf[32];
  _cleanup_close_ int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  ssize_t n;
  int v;

  if (fd >= 0 && (n = nook_read_all(fd, buf, sizeof(buf) - 1)) > 0)
    {
      buf[n] = '\0';
      if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
      if (nook_parse_int(buf, &v) == 0 && v >= 0)
        return v;
    }
  return (int)cap_max_bits() - 1;
}

static void cap_freep(char **p)
{
  if (*p)
    cap_free(*p);
}

/* Resolves a name this build's libcap knows, without asking the kernel.  Only letters and '_'
 * are accepted: libcap also takes numbers and stops at the first other character. */
static int cap_lookup(const char *name, cap_value_t *ret)
{
  char buf[64];
  _cleanup_(cap_freep) char *back = NULL;
  cap_value_t v;
  size_t len;

  if (name == NULL)
    return -1;
  if (strncasecmp(name, "CAP_", 4) == 0)
    name += 4;
  len = strlen(name);
  if (len == 0 || len + 5 > sizeof(buf))
    return -1;
  memcpy(buf, "cap_", 4);
  for (size_t i = 0; i < len; i++)
    {
      char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
        return -1;
      buf[4 + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
  buf[4 + len] = '\0';
  if (cap_from_name(buf, &v) < 0)
    return -1;
  /* libcap matches by prefix in some builds: insist on the exact name. */
  back = cap_to_name(v);
  if (back == NULL || strcasecmp(back, buf) != 0)
    return -1;
  *ret = v;
  return 0;
}

int nook_cap_from_name(const char *name)
{
  cap_value_t v;

  if (cap_lookup(name, &v) < 0 || v > kernel_last_cap() || v >= CAP_MASK_BITS)
    return -1;
  return (int)v;
}

/* "CAP_KILL" for messages. */
static char *cap_display_name(int cap)
{
  _cleanup_(cap_freep) char *name = cap_to_name((cap_value_t)cap);
  char *r = xasprintf("%s", name ? name : "cap_?");

  for (char *s = r; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
  return r;
}

/* Turns one list from config.json into a mask.  Names that libcap or this kernel does not know
 * are collected in *skipped (once each) and left out with a warning, as runc does: a config
 * written for a newer kernel must still run. */
static int cap_set_resolve(char *const *names, const char *field, int last_cap, uint64_t *ret,
                           char ***skipped, struct nook_error **err)
{
  uint64_t mask = 0;

  for (size_t i = 0; names && names[i]; i++)
    {
      cap_value_t v;
      if (cap_lookup(names[i], &v) < 0 || v > last_cap || v >= CAP_MASK_BITS)
        {
          if (!nook_strv_contains(*skipped, names[i]))
            nook_strv_push(skipped, names[i]);
          continue;
        }
      mask |= CAP_BIT(v);
    }
  *ret = mask;
  return 0;
}

static int caps_resolve(const struct nook_capabilities *caps, int last_cap,
                        uint64_t ret[CAPS_COUNT], struct nook_error **err)
{
  _cleanup_strv_ char **skipped = NULL;
  char *const *lists[CAPS_COUNT] = { NULL };
  uint64_t masks[CAPS_COUNT] = { 0 };

  if (caps)
    {
      lists[CAPS_BOUNDING] = caps->bounding;
      lists[CAPS_EFFECTIVE] = caps->effective;
      lists[CAPS_INHERITABLE] = caps->inheritable;
      lists[CAPS_PERMITTED] = caps->permitted;
      lists[CAPS_AMBIENT] = caps->ambient;
    }
  for (int i = 0; i < CAPS_COUNT; i++)
    if (cap_set_resolve(lists[i], cap_set_names[i], last_cap, &masks[i], &skipped, err) < 0)
      return -1;
  if (skipped)
    {
      _cleanup_free_ char *list = NULL;
      size_t len = 0;
      FILE *f = open_memstream(&list, &len);
      if (f == NULL)
        return nook_error_set(err, errno, "open_memstream");
      for (size_t i = 0; skipped[i]; i++)
        fprintf(f, "%s%s", i ? ", " : "", skipped[i]);
      fclose(f);
      nook_warn("process.capabilities: ignoring capabilities unknown to libcap or to the running "
                "kernel (cap_last_cap %d): %s",
                last_cap, list);
    }
  memcpy(ret, masks, sizeof(masks));
  return 0;
}

/* The first capability in mask that is not in allowed, as an error for field. */
static int caps_check_subset(uint64_t mask, uint64_t allowed, const char *field, const char *what,
                             struct nook_error **err)
{
  uint64_t extra = mask & ~allowed;
  _cleanup_free_ char *name = NULL;

  if (extra == 0)
    return 0;
  name = cap_display_name(__builtin_ctzll(extra));
  return nook_error_set(err, EPERM, "process.capabilities.%s: `%s` is not in %s", field, name,
                        what);
}

static int caps_drop_bounding(uint64_t keep, int last_cap, struct nook_error **err)
{
  for (int c = 0; c <= last_cap; c++)
    {
      if (c < CAP_MASK_BITS && (keep & CAP_BIT(c)))
        continue;
      if (cap_get_bound((cap_value_t)c) <= 0)
        continue; /* already dropped, or unknown to the kernel */
      if (cap_drop_bound((cap_value_t)c) < 0)
        {
          int e = errno;
          _cleanup_free_ char *name = cap_display_name(c);
          return nook_error_set(err, e, "process.capabilities.bounding: drop `%s`", name);
        }
    }
  return 0;
}

/* The current permitted set, to name the capability a capset would fail on. */
static int caps_current_permitted(int last_cap, uint64_t *ret, struct nook_error **err)
{
  cap_t cur = cap_get_proc();
  uint64_t mask = 0;

  if (cur == NULL)
    return nook_error_set(err, errno, "process.capabilities: read the current capabilities");
  for (int c = 0; c <= last_cap && c < CAP_MASK_BITS; c++)
    {
      cap_flag_value_t v = CAP_CLEAR;
      if (cap_get_flag(cur, (cap_value_t)c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
        mask |= CAP_BIT(c);
    }
  cap_free(cur);
  *ret = mask;
  return 0;
}

/* What capset would refuse, named before anything changes: the permitted set survives the
 * uid switch (PR_SET_KEEPCAPS), so the current one is what can be kept. */
static int caps_validate(const uint64_t m[CAPS_COUNT], int last_cap, struct nook_error **err)
{
  uint64_t have = 0;

  if (caps_current_permitted(last_cap, &have, err) < 0)
    return -1;
  const struct
  {
    int set;
    uint64_t allowed;
    const char *what;
  } checks[] = {
    { CAPS_PERMITTED, have, "the runtime's permitted set" },
    { CAPS_EFFECTIVE, m[CAPS_PERMITTED], "process.capabilities.permitted" },
    { CAPS_INHERITABLE, m[CAPS_BOUNDING], "process.capabilities.bounding" },
    { CAPS_INHERITABLE, have, "the runtime's permitted set" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
    {
      int set = checks[i].set;
      if (caps_check_subset(m[set], checks[i].allowed, cap_set_names[set], checks[i].what, err) < 0)
        return -1;
    }
  return 0;
}

/* Effective, permitted and inheritable exactly as listed; then the ambient ones raised. */
static int caps_apply_sets(const uint64_t m[CAPS_COUNT], int last_cap, struct nook_error **err)
{
  static const cap_flag_t flags[] = { CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE };
  static const int sets[] = { CAPS_EFFECTIVE, CAPS_PERMITTED, CAPS_INHERITABLE };
  cap_t caps;
  int r;

  caps = cap_init();
  if (caps == NULL)
    return nook_error_set(err, errno, "cap_init");
  for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
    for (int c = 0; c <= last_cap && c < CAP_MASK_BITS; c++)
      if (m[sets[i]] & CAP_BIT(c))
        {
          cap_value_t v = (cap_value_t)c;
          cap_set_flag(caps, flags[i], 1, &v, CAP_SET);
        }
  r = cap_set_proc(caps);
  cap_free(caps);
  if (r < 0)
    return nook_error_set(err, errno, "process.capabilities: set the process capabilities");

  /* As runc and crun: a kernel without ambient capabilities, or an ambient capability that is
   * not both permitted and inheritable, is not a failure.  runc's own default config asks for
   * ambient capabilities without inheritable ones, so this is a debug message, not noise on
   * every run. */
  if (cap_reset_ambient() < 0 && errno != EINVAL)
    return nook_error_set(err, errno, "process.capabilities.ambient: clear");
  for (int c = 0; c <= last_cap && c < CAP_MASK_BITS; c++)
    if ((m[CAPS_AMBIENT] & CAP_BIT(c)) && cap_set_ambient((cap_value_t)c, CAP_SET) < 0)
      {
        int e = errno;
        _cleanup_free_ char *name = cap_display_name(c);
        if (e != EINVAL && e != EPERM)
          return nook_error_set(err, e, "process.capabilities.ambient: raise `%s`", name);
        nook_debug("process.capabilities.ambient: cannot raise `%s` (it must be permitted and "
                  "inheritable): %s",
                  name, strerror(e));
      }
  return 0;
}

/* ---- user and groups ------------------------------------------------------------------- */

static int switch_user(const struct nook_user *u, bool setgroups_allowed, struct nook_error **err)
{
  if (setgroups_allowed)
    {
      if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
        return nook_error_set(err, errno, "process.user.additionalGids: setgroups");
    }
  else if (u->n_additional_gids > 0)
    nook_warn("process.user.additionalGids: ignored, setgroups is denied in this user namespace");

  if (setresgid(u->gid, u->gid, u->gid) < 0)
    return nook_error_set(err, errno, "process.user.gid: setresgid %" PRIu32, u->gid);
  if (setresuid(u->uid, u->uid, u->uid) < 0)
    return nook_error_set(err, errno, "process.user.uid: setresuid %" PRIu32, u->uid);
  return 0;
}

int nook_process_set_identity(const struct nook_process *p, bool setgroups_allowed,
                              struct nook_error **err)
{
  uint64_t masks[CAPS_COUNT];
  int last_cap = kernel_last_cap();

  if (caps_resolve(p->capabilities, last_cap, masks, err) < 0
      || caps_validate(masks, last_cap, err) < 0)
    return -1;
  if (caps_drop_bounding(masks[CAPS_BOUNDING], last_cap, err) < 0)
    return -1;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return nook_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
  if (switch_user(&p->user, setgroups_allowed, err) < 0)
    return -1;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return nook_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
  if (caps_apply_sets(masks, last_cap, err) < 0)
    return -1;
  if (p->user.umask.set)
    umask((mode_t)(p->user.umask.value & 07777));
  return 0;
}

int nook_process_apply_no_new_privs(const struct nook_process *p, struct nook_error **err)
{
  if (!p->no_new_privileges)
    return 0;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return nook_error_set(err, errno, "process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS)");
  return 0;
}

/* ---- rlimits and oom ------------------------------------------------------------------- */

static const char *rlim_str(rlim_t v, char *buf, size_t size)
{
  if (v == RLIM_INFINITY)
    return "unlimited";
  snprintf(buf, size, "%llu", (unsigned long long)v);
  return buf;
}

static int apply_rlimit(const struct nook_rlimit *r, struct nook_error **err)
{
  const char *name = r->type ? r->type : "rlimit";
  struct rlimit want = { .rlim_cur = (rlim_t)r->soft, .rlim_max = (rlim_t)r->hard };
  struct rlimit cur;
  char a[32], b[32];

  if (r->soft > r->hard)
    return nook_error_set(err, 0, "process.rlimits: %s: soft limit %s is above the hard limit %s",
                          name, rlim_str(want.rlim_cur, a, sizeof(a)),
                          rlim_str(want.rlim_max, b, sizeof(b)));
  if (getrlimit(r->resource, &cur) < 0)
    return nook_error_set(err, errno, "process.rlimits: %s: getrlimit", name);
  if (setrlimit(r->resource, &want) == 0)
    return 0;
  if (errno == EPERM && want.rlim_max > cur.rlim_max)
    return nook_error_set(
        err, EPERM, "process.rlimits: %s: cannot raise hard limit to %s above the current %s", name,
        rlim_str(want.rlim_max, a, sizeof(a)), rlim_str(cur.rlim_max, b, sizeof(b)));
  return nook_error_set(err, errno, "process.rlimits: %s: setrlimit soft %s hard %s", name,
                        rlim_str(want.rlim_cur, a, sizeof(a)),
                        rlim_str(want.rlim_max, b, sizeof(b)));
}

int nook_process_apply_rlimits(const struct nook_process *p, struct nook_error **err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    if (apply_rlimit(&p->rlimits[i], err) < 0)
      return -1;
  return 0;
}

/* True inside a user namespace other than the host's (uid_map is not the identity map of
 * every id). */
static bool in_child_userns(void)
{
  _cleanup_free_ char *map = NULL;
  unsigned long inside, outside, count;

  if (nook_read_file_at(AT_FDCWD, "/proc/self/uid_map", 4096, &map, NULL, NULL) < 0)
    return false;
  if (sscanf(map, "%lu %lu %lu", &inside, &outside, &count) != 3)
    return true;
  return !(inside == 0 && outside == 0 && count == 4294967295UL);
}

int nook_process_apply_oom_score_adj(const struct nook_process *p, struct nook_error **err)
{
  struct nook_error *e = NULL;
  char buf[32];
  int n;

  if (!p->oom_score_adj.set)
    return 0;
  n = snprintf(buf, sizeof(buf), "%" PRId64, p->oom_score_adj.value);
  if (nook_write_file("/proc/self/oom_score_adj", buf, (size_t)n, &e) == 0)
    return 0;
  /* Lowering it needs CAP_SYS_RESOURCE in the host's user namespace, which a container in a
   * user namespace (rootless) never has: runc leaves the value as it is then, and so does
   * nook.  Without a user namespace it stays an error: the config asked for it. */
  if (e && (e->errnum == EACCES || e->errnum == EPERM) && in_child_userns())
    {
      nook_warn("process.oomScoreAdj: cannot lower it to %" PRId64 " without CAP_SYS_RESOURCE "
                "(rootless?), left as it is",
                p->oom_score_adj.value);
      nook_error_free(e);
      return 0;
    }
  if (err == NULL)
    {
      nook_error_free(e);
      return -1;
    }
  *err = e;
  return nook_error_prefix(err, "process.oomScoreAdj");
}

/* ---- scheduler, I/O priority, personality ---------------------------------------------- */

/* struct sched_attr as in the kernel's uapi, under our own name: glibc >= 2.41 declares it
 * too, and <linux/sched/types.h> clashes with that. */
struct nook_sched_attr
{
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};

struct name_value
{
  const char *name;
  unsigned long value;
};

/* The kernel's SCHED_FLAG_* (<linux/sched.h> clashes with <sched.h>). */
static const struct name_value sched_flags[] = {
  { "SCHED_FLAG_RESET_ON_FORK", 0x01 },  { "SCHED_FLAG_RECLAIM", 0x02 },
  { "SCHED_FLAG_DL_OVERRUN", 0x04 },     { "SCHED_FLAG_KEEP_POLICY", 0x08 },
  { "SCHED_FLAG_KEEP_PARAMS", 0x10 },    { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
  { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

static const struct name_value personality_domains[] = {
  { "LINUX", PER_LINUX },
  { "LINUX32", PER_LINUX32 },
};

static const struct name_value personality_flags[] = {
  { "UNAME26", UNAME26 },
  { "ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE },
  { "FDPIC_FUNCPTRS", FDPIC_FUNCPTRS },
  { "MMAP_PAGE_ZERO", MMAP_PAGE_ZERO },
  { "ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT },
  { "READ_IMPLIES_EXEC", READ_IMPLIES_EXEC },
  { "ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT },
  { "SHORT_INODE", SHORT_INODE },
  { "WHOLE_SECONDS", WHOLE_SECONDS },
  { "STICKY_TIMEOUTS", STICKY_TIMEOUTS },
  { "ADDR_LIMIT_3GB", ADDR_LIMIT_3GB },
};

/* ORs the values of names (NULL-terminated, may be NULL) from table; an unknown name is an
 * error naming field. */
static int flags_from_names(char *const *names, const struct name_value *table, size_t n,
                            const char *field, unsigned long *ret, struct nook_error **err)
{
  unsigned long v = 0;

  for (size_t i = 0; names && names[i]; i++)
    {
      size_t j = 0;
      while (j < n && !streq(names[i], table[j].name))
        j++;
      if (j == n)
        return nook_error_set(err, 0, "%s: unknown value `%s`", field, names[i]);
      v |= table[j].value;
    }
  *ret = v;
  return 0;
}

static int apply_scheduler(const struct nook_scheduler *s, struct nook_error **err)
{
  struct nook_sched_attr attr = { .size = sizeof(attr) };
  unsigned long flags;

  if (!s->set)
    return 0;
  if (flags_from_names(s->flags, sched_flags, ARRAY_SIZE(sched_flags), "process.scheduler.flags",
                       &flags, err)
      < 0)
    return -1;
  attr.sched_policy = (uint32_t)s->policy_value;
  attr.sched_flags = flags;
  attr.sched_nice = s->nice.set ? (int32_t)s->nice.value : 0;
  attr.sched_priority = s->priority.set ? (uint32_t)s->priority.value : 0;
  attr.sched_runtime = s->runtime.set ? s->runtime.value : 0;
  attr.sched_deadline = s->deadline.set ? s->deadline.value : 0;
  attr.sched_period = s->period.set ? s->period.value : 0;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
    return nook_error_set(err, errno, "process.scheduler: sched_setattr `%s`",
                          s->policy ? s->policy : "?");
  return 0;
}

static int apply_io_priority(const struct nook_io_priority *io, struct nook_error **err)
{
  if (!io->set)
    return 0;
  if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(io->class, io->priority))
      < 0)
    return nook_error_set(err, errno, "process.ioPriority: ioprio_set class %d priority %d",
                          io->class, io->priority);
  return 0;
}

static int apply_personality(const struct nook_personality *pers, struct nook_error **err)
{
  char *domain[2] = { pers->domain, NULL };
  unsigned long d, flags;

  if (!pers->set)
    return 0;
  if (pers->domain == NULL)
    return nook_error_set(err, 0, "linux.personality.domain: missing");
  if (flags_from_names(domain, personality_domains, ARRAY_SIZE(personality_domains),
                       "linux.personality.domain", &d, err)
          < 0
      || flags_from_names(pers->flags, personality_flags, ARRAY_SIZE(personality_flags),
                          "linux.personality.flags", &flags, err)
             < 0)
    return -1;
  if (personality(d | flags) < 0)
    return nook_error_set(err, errno, "linux.personality: personality(0x%lx)", d | flags);
  return 0;
}

int nook_process_apply_scheduling(const struct nook_spec *spec, struct nook_error **err)
{
  if (spec->process)
    {
      if (apply_scheduler(&spec->process->scheduler, err) < 0
          || apply_io_priority(&spec->process->io_priority, err) < 0)
        return -1;
    }
  if (spec->linux && apply_personality(&spec->linux->personality, err) < 0)
    return -1;
  return 0;
}

/* ---- cpu affinity ---------------------------------------------------------------------- */

/* Far above any NR_CPUS the kernel is built with; bounds the mask we allocate. */
#define CPU_LIST_MAX 65536

/* One "N" or "N-M" at *s, advancing past it. */
static int parse_cpu_range(const char **s, unsigned *ret_lo, unsigned *ret_hi)
{
  unsigned long lo, hi;
  char *end;

  if (**s < '0' || **s > '9')
    return -EINVAL;
  lo = strtoul(*s, &end, 10);
  hi = lo;
  if (*end == '-')
    {
      if (end[1] < '0' || end[1] > '9')
        return -EINVAL;
      hi = strtoul(end + 1, &end, 10);
    }
  if (lo > hi)
    return -EINVAL;
  if (hi >= CPU_LIST_MAX)
    return -ERANGE;
  *ret_lo = (unsigned)lo;
  *ret_hi = (unsigned)hi;
  *s = end;
  return 0;
}

/* Walks the list "0-3,7"; with set != NULL marks the cpus, else only checks the syntax.
 * *ret_max is the highest cpu. */
static int walk_cpu_list(const char *s, cpu_set_t *set, size_t setsize, unsigned *ret_max)
{
  unsigned max = 0;

  for (;;)
    {
      unsigned lo, hi;
      int r = parse_cpu_range(&s, &lo, &hi);
      if (r < 0)
        return r;
      if (hi > max)
        max = hi;
      for (unsigned c = lo; set && c <= hi; c++)
        CPU_SET_S(c, setsize, set);
      if (*s == '\0')
        break;
      if (*s++ != ',')
        return -EINVAL;
    }
  *ret_max = max;
  return 0;
}

int nook_process_apply_cpu_affinity(const char *cpus, const char *field, struct nook_error **err)
{
  cpu_set_t *set;
  size_t size;
  unsigned max;
  int r;

  if (cpus == NULL)
    return 0;
  r = walk_cpu_list(cpus, NULL, 0, &max);
  if (r < 0)
    return nook_error_set(err, -r, "%s: invalid cpu list `%s`", field, cpus);
  set = CPU_ALLOC(max + 1);
  if (set == NULL)
    return nook_error_set(err, ENOMEM, "%s: allocate a cpu set", field);
  size = CPU_ALLOC_SIZE(max + 1);
  CPU_ZERO_S(size, set);
  walk_cpu_list(cpus, set, size, &max);
  r = sched_setaffinity(0, size, set);
  if (r < 0)
    r = nook_error_set(err, errno, "%s: sched_setaffinity `%s`", field, cpus);
  CPU_FREE(set);
  return r < 0 ? r : 0;
}

/* ---- labels ---------------------------------------------------------------------------- */

static bool apparmor_enabled(void)
{
  char c = 0;
  _cleanup_close_ int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

  return fd >= 0 && access("/sys/kernel/security/apparmor", F_OK) == 0 && read(fd, &c, 1) == 1
         && c == 'Y';
}

static bool selinux_enabled(void)
{
  return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

int nook_process_check_labels(const struct nook_process *p, struct nook_error **err)
{
  if (p->apparmor_profile && *p->apparmor_profile && !apparmor_enabled())
    return nook_error_setx(err, EOPNOTSUPP,
                           "process.apparmorProfile: profile `%s` requested, but AppArmor is "
                           "not enabled on this host",
                           p->apparmor_profile);
  if (p->selinux_label && *p->selinux_label && !selinux_enabled())
    return nook_error_setx(err, EOPNOTSUPP,
                           "process.selinuxLabel: label `%s` requested, but SELinux is not "
                           "enabled on this host",
                           p->selinux_label);
  return 0;
}

/* Writes an attribute of the calling thread for its next execve (/proc/thread-self/attr/...,
 * as runc: the attributes are per thread). */
static int write_exec_attr(const char *lsm_path, const char *legacy_path, const char *value,
                           const char *field, struct nook_error **err)
{
  _cleanup_close_ int fd = open(lsm_path, O_WRONLY | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT && legacy_path)
    fd = open(legacy_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "%s: open `%s`", field, lsm_path);
  if (nook_write_all(fd, value, strlen(value)) < 0)
    return nook_error_set(err, errno, "%s: apply `%s`", field, value);
  return 0;
}

int nook_process_apply_labels(const struct nook_process *p, struct nook_error **err)
{
  if (nook_process_check_labels(p, err) < 0)
    return -1;
  if (p->apparmor_profile && *p->apparmor_profile)
    {
      _cleanup_free_ char *v = xasprintf("exec %s", p->apparmor_profile);
      if (write_exec_attr("/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec",
                          v, "process.apparmorProfile", err)
          < 0)
        return -1;
    }
  if (p->selinux_label && *p->selinux_label)
    return write_exec_attr("/proc/thread-self/attr/exec", NULL, p->selinux_label,
                           "process.selinuxLabel", err);
  return 0;
}

/* ---- execve ---------------------------------------------------------------------------- */

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Resolves process.args[0] with the container's PATH, as execvp would but with the
 * process's own environment.  Returns the errno of the best failure. */
static int find_executable(const struct nook_process *p, char **ret)
{
  const char *path = DEFAULT_PATH;
  const char *name = p->args[0];
  int best = ENOENT;

  if (strchr(name, '/'))
    {
      *ret = xstrdup(name);
      return 0;
    }
  for (size_t i = 0; p->env && p->env[i]; i++)
    if (nook_has_prefix(p->env[i], "PATH="))
      path = p->env[i] + 5;
  for (const char *s = path; s; s = strchr(s, ':') ? strchr(s, ':') + 1 : NULL)
    {
      size_t len = strchrnul(s, ':') - s;
      _cleanup_free_ char *cand = xasprintf("%.*s/%s", (int)len, len ? s : ".", name);
      struct stat st;
      if (stat(cand, &st) < 0)
        continue;
      if (S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
        {
          *ret = TAKE_PTR(cand);
          return 0;
        }
      best = EACCES;
    }
  return -best;
}

int nook_process_exec(const struct nook_process *p, struct nook_error **err)
{
  _cleanup_free_ char *path = NULL;
  int r = find_executable(p, &path);

  if (r == 0)
    {
      execve(path, p->args, p->env ? p->env : (char *[]){ NULL });
      r = -errno;
    }
  if (r == -ENOENT && !strchr(p->args[0], '/'))
    nook_error_setx(err, ENOENT, "exec `%s`: executable file not found in $PATH", p->args[0]);
  else
    nook_error_set(err, -r, "exec `%s`", p->args[0]);
  return r;
}
