/* Device access control for linux.resources.devices.
 *
 * v1: "a" to devices.deny, then each rule in order to devices.allow or devices.deny, as runc;
 * the kernel keeps the exception list.
 *
 * v2 has no devices files: a BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached with raw
 * bpf(2) calls as crun's ebpf.c does, decides each access.  To behave exactly as v1 would for
 * the same rules, the rules are first run through the v1 kernel's algorithm (as runc's
 * devicefilter runs them through its emulator): a default (allow or deny all, set by the last
 * "a" rule, deny to begin with) and exceptions to it, merged per type:major:minor.  The program
 * checks the exceptions and returns the opposite of the default for a match, the default
 * otherwise.  An exception to an allow-all default matches an access that shares a bit with it
 * (v1's match_exception_partial); an exception to deny-all must cover the whole access. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroups/cgroup-internal.h"
#include "common/util.h"

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

static int dev_access(const struct nook_device_rule *rule, unsigned *ret, struct nook_error **err)
{
  const char *a = rule->access ? rule->access : "rwm";
  unsigned mask = 0;

  for (const char *p = a; *p; p++)
    switch (*p)
      {
      case 'r': mask |= BPF_DEVCG_ACC_READ; break;
      case 'w': mask |= BPF_DEVCG_ACC_WRITE; break;
      case 'm': mask |= BPF_DEVCG_ACC_MKNOD; break;
      default:
        return nook_error_setx(err, EINVAL, "linux.resources.devices: invalid access `%s`", a);
      }
  if (mask == 0)
    return nook_error_setx(err, EINVAL, "linux.resources.devices: empty access");
  *ret = mask;
  return 0;
}

static int dev_check(const struct nook_device_rule *rule, unsigned *ret_access,
                     struct nook_error **err)
{
  if (rule->type != 'a' && rule->type != 'c' && rule->type != 'b')
    return nook_error_setx(err, EINVAL, "linux.resources.devices: invalid type `%c`", rule->type);
  if (rule->major > INT32_MAX || rule->minor > INT32_MAX || rule->major < -1 || rule->minor < -1)
    return nook_error_setx(err, EINVAL,
                           "linux.resources.devices: invalid device %" PRId64 ":%" PRId64,
                           rule->major, rule->minor);
  return dev_access(rule, ret_access, err);
}

/* ---- v1 ----------------------------------------------------------------------------------- */

int cgroup_device_rule_v1(const struct nook_device_rule *rule, char **ret, struct nook_error **err)
{
  char major[24] = "*", minor[24] = "*";
  unsigned access = 0;

  if (dev_check(rule, &access, err) < 0)
    return -1;
  if (rule->type == 'a')
    {
      *ret = xstrdup("a");
      return 0;
    }
  if (rule->major >= 0)
    snprintf(major, sizeof(major), "%" PRId64, rule->major);
  if (rule->minor >= 0)
    snprintf(minor, sizeof(minor), "%" PRId64, rule->minor);
  *ret = xasprintf(
      "%c %s:%s %s%s%s", rule->type, major, minor, (access & BPF_DEVCG_ACC_READ) ? "r" : "",
      (access & BPF_DEVCG_ACC_WRITE) ? "w" : "", (access & BPF_DEVCG_ACC_MKNOD) ? "m" : "");
  return 0;
}

int cgroup_devices_v1_writes(const struct nook_resources *r, struct cg_writes *w,
                             struct nook_error **err)
{
  if (r->n_devices == 0)
    return 0;
  cg_writes_add(w, "linux.resources.devices", "devices", "devices.deny", 0, "a");
  for (size_t i = 0; i < r->n_devices; i++)
    {
      _cleanup_free_ char *s = NULL;
      if (cgroup_device_rule_v1(&r->devices[i], &s, err) < 0)
        return -1;
      cg_writes_add(w, "linux.resources.devices", "devices",
                    r->devices[i].allow ? "devices.allow" : "devices.deny", 0, "%s", s);
    }
  return 0;
}

/* ---- the v1 algorithm, for v2 ------------------------------------------------------------- */

struct dev_exception
{
  char type;
  int64_t major, minor;
  unsigned access;
};

struct dev_state
{
  bool default_allow;
  struct dev_exception *v;
  size_t n;
};

/* devcgroup_update_access(): "a" resets; a rule against the default adds (or widens) an
 * exception; a rule agreeing with it narrows the matching exception. */
static void dev_state_apply(struct dev_state *st, const struct nook_device_rule *rule,
                            unsigned access)
{
  size_t i;

  if (rule->type == 'a')
    {
      st->default_allow = rule->allow;
      st->n = 0;
      return;
    }
  for (i = 0; i < st->n; i++)
    if (st->v[i].type == rule->type && st->v[i].major == rule->major
        && st->v[i].minor == rule->minor)
      break;
  if (rule->allow != st->default_allow)
    {
      if (i < st->n)
        st->v[i].access |= access;
      else
        {
          st->v = xrealloc(st->v, (st->n + 1) * sizeof(*st->v));
          st->v[st->n++] = (struct dev_exception){ rule->type, rule->major, rule->minor, access };
        }
      return;
    }
  if (i < st->n && (st->v[i].access &= ~access) == 0)
    memmove(&st->v[i], &st->v[i + 1], (--st->n - i) * sizeof(*st->v));
}

/* ---- the BPF program ---------------------------------------------------------------------- */

struct dev_prog
{
  struct bpf_insn *v;
  size_t n;
};

static void emit(struct dev_prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
                 int32_t imm)
{
  p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
  memset(&p->v[p->n], 0, sizeof(p->v[p->n]));
  p->v[p->n].code = code;
  p->v[p->n].dst_reg = dst & 0xf;
  p->v[p->n].src_reg = src & 0xf;
  p->v[p->n].off = off;
  p->v[p->n].imm = imm;
  p->n++;
}

static void emit_return(struct dev_prog *p, bool allow)
{
  emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, allow ? 1 : 0);
  emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* One exception: every test jumps past the block when it fails. */
static void emit_exception(struct dev_prog *p, const struct dev_exception *ex, bool default_allow)
{
  size_t start = p->n;

  emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
       ex->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  if (ex->access != ACC_ALL)
    {
      /* R1 = access & ex->access; deny-all: must be the whole access; allow-all: any bit */
      emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
      emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)ex->access);
      if (default_allow)
        emit(p, BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0);
      else
        emit(p, BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
    }
  if (ex->major >= 0)
    emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)ex->major);
  if (ex->minor >= 0)
    emit(p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)ex->minor);
  emit_return(p, !default_allow);
  for (size_t i = start; i < p->n; i++)
    if (BPF_CLASS(p->v[i].code) == BPF_JMP && BPF_OP(p->v[i].code) != BPF_EXIT)
      p->v[i].off = (int16_t)(p->n - (i + 1));
}

int cgroup_devices_bpf_build(const struct nook_device_rule *rules, size_t n, struct bpf_insn **ret,
                             size_t *ret_n, struct nook_error **err)
{
  struct dev_state st = { false, NULL, 0 };
  struct dev_prog p = { NULL, 0 };

  for (size_t i = 0; i < n; i++)
    {
      unsigned access = 0;
      if (dev_check(&rules[i], &access, err) < 0)
        {
          free(st.v);
          return -1;
        }
      dev_state_apply(&st, &rules[i], access);
    }
  /* struct bpf_cgroup_dev_ctx: u32 access_type (type | access << 16), u32 major, u32 minor */
  emit(&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
  emit(&p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  emit(&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);
  emit(&p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  emit(&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
  emit(&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
  for (size_t i = 0; i < st.n; i++)
    emit_exception(&p, &st.v[i], st.default_allow);
  emit_return(&p, st.default_allow);
  free(st.v);
  *ret = p.v;
  *ret_n = p.n;
  return 0;
}

/* ---- loading and attaching ---------------------------------------------------------------- */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
  return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* Before Linux 5.11 programs were charged to RLIMIT_MEMLOCK. */
static void bump_memlock(void)
{
  struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

  if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0 || getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
    return;
  rl.rlim_cur = rl.rlim_max;
  (void)setrlimit(RLIMIT_MEMLOCK, &rl);
}

static int dev_prog_load(const struct bpf_insn *insns, size_t n, int *ret_fd,
                         struct nook_error **err)
{
  static const char license[] = "GPL";
  _cleanup_free_ char *log = NULL;
  union bpf_attr attr;
  int fd;

  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)n;
  attr.license = (uint64_t)(uintptr_t)license;
  fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0 && errno == EPERM)
    {
      bump_memlock();
      fd = sys_bpf(BPF_PROG_LOAD, &attr);
    }
  if (fd < 0 && errno == EINVAL)
    {
      /* again with the verifier's log, to say why */
      log = xcalloc(1, 65536);
      attr.log_level = 1;
      attr.log_buf = (uint64_t)(uintptr_t)log;
      attr.log_size = 65536;
      fd = sys_bpf(BPF_PROG_LOAD, &attr);
    }
  if (fd < 0)
    return nook_error_set(err, errno, "load the device eBPF program%s%s", log && *log ? ": " : "",
                          log ? log : "");
  *ret_fd = fd;
  return 0;
}

static int dev_prog_query(int dirfd, uint32_t **ret, size_t *ret_n, struct nook_error **err)
{
  for (uint32_t cap = 64; cap <= 4096; cap *= 2)
    {
      _cleanup_free_ uint32_t *ids = xcalloc(cap, sizeof(uint32_t));
      union bpf_attr attr;

      memset(&attr, 0, sizeof(attr));
      attr.query.target_fd = (uint32_t)dirfd;
      attr.query.attach_type = BPF_CGROUP_DEVICE;
      attr.query.prog_cnt = cap;
      attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
      if (sys_bpf(BPF_PROG_QUERY, &attr) == 0)
        {
          *ret = TAKE_PTR(ids);
          *ret_n = attr.query.prog_cnt;
          return 0;
        }
      if (errno != ENOSPC)
        return nook_error_set(err, errno, "query the cgroup's device eBPF programs");
    }
  return nook_error_set(err, ENOSPC, "query the cgroup's device eBPF programs");
}

static int dev_prog_detach(int dirfd, uint32_t id, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  union bpf_attr attr;

  memset(&attr, 0, sizeof(attr));
  attr.prog_id = id;
  fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0)
    return errno == ENOENT ? 0 : nook_error_set(err, errno, "open eBPF program %u", id);
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "detach eBPF program %u", id);
  return 0;
}

int cgroup_devices_bpf_apply(int dirfd, const struct nook_device_rule *rules, size_t n,
                             struct nook_error **err)
{
  _cleanup_free_ struct bpf_insn *insns = NULL;
  _cleanup_free_ uint32_t *old = NULL;
  _cleanup_close_ int fd = -1;
  size_t n_insns = 0, n_old = 0;
  union bpf_attr attr;

  if (cgroup_devices_bpf_build(rules, n, &insns, &n_insns, err) < 0
      || dev_prog_load(insns, n_insns, &fd, err) < 0
      || dev_prog_query(dirfd, &old, &n_old, err) < 0)
    return -1;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
    return nook_error_set(err, errno, "attach the device eBPF program");
  /* the new program is in place before the old ones go: no moment without a filter */
  for (size_t i = 0; i < n_old; i++)
    if (dev_prog_detach(dirfd, old[i], err) < 0)
      return -1;
  return 0;
}
