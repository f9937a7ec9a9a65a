/* linux.seccomp: libseccomp compiles the profile in the parent; the init loads the exported
 * BPF with seccomp(2), so nothing of libseccomp's compiler runs in the container.  Compiled
 * programs are cached under --root, keyed by a SHA-256 of a canonical encoding of the section. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <nettle/sha2.h>
#include <seccomp.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/seccomp.h"
#include "runtime/terminal.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The kernel refuses programs above BPF_MAXINSNS (4096) instructions of 8 bytes each. */
#define FILTER_MAX_BYTES (BPF_MAXINSNS * sizeof(struct sock_filter))
#define ARGS_MAX 6

struct nook_seccomp_filter
{
  struct sock_filter *insns;
  size_t n_insns;
  unsigned long flags; /* for seccomp(2); not part of the BPF, so recomputed from the config */
  bool from_cache;
};

/* ---- the cache key: SHA-256 (nettle) of a canonical encoding ------------------------------ */

/* Canonical encoding: every field in a fixed order, strings length-prefixed, so that two
 * sections hash alike only when they compile alike. */
static void hash_u64(struct sha256_ctx *c, uint64_t v) { sha256_update(c, sizeof(v), (const uint8_t *)&v); }

static void hash_str(struct sha256_ctx *c, const char *s)
{
  hash_u64(c, s ? strlen(s) + 1 : 0);
  if (s)
    sha256_update(c, strlen(s), (const uint8_t *)s);
}

static void hash_strv(struct sha256_ctx *c, char *const *v)
{
  hash_u64(c, nook_strv_length(v));
  for (size_t i = 0; v && v[i]; i++)
    hash_str(c, v[i]);
}

static void hash_opt(struct sha256_ctx *c, const struct nook_opt_u64 *o)
{
  hash_u64(c, o->set);
  hash_u64(c, o->set ? o->value : 0);
}

/* The section, libseccomp's version and native arch, and the kernel release (libseccomp's API
 * level, which decides what it may emit, follows the kernel). */
static void cache_key(const struct nook_seccomp *sc, char ret[65])
{
  const struct scmp_version *v = seccomp_version();
  struct sha256_ctx c;
  uint8_t digest[SHA256_DIGEST_SIZE];
  struct utsname u;

  sha256_init(&c);
  hash_str(&c, "nook-seccomp-bpf-2"); /* bumped when the generated program changes */
  hash_u64(&c, (uint64_t)v->major << 32 | v->minor << 16 | v->micro);
  hash_u64(&c, seccomp_arch_native());
  hash_str(&c, uname(&u) == 0 ? u.release : "");
  hash_str(&c, sc->default_action);
  hash_opt(&c, &sc->default_errno_ret);
  hash_strv(&c, sc->architectures);
  hash_u64(&c, sc->n_syscalls);
  for (size_t i = 0; i < sc->n_syscalls; i++)
    {
      const struct nook_seccomp_syscall *s = &sc->syscalls[i];
      hash_strv(&c, s->names);
      hash_str(&c, s->action);
      hash_opt(&c, &s->errno_ret);
      hash_u64(&c, s->n_args);
      for (size_t j = 0; j < s->n_args; j++)
        {
          hash_u64(&c, s->args[j].index);
          hash_u64(&c, s->args[j].value);
          hash_opt(&c, &s->args[j].value_two);
          hash_str(&c, s->args[j].op);
        }
    }
  sha256_digest(&c, sizeof(digest), digest);
  for (size_t i = 0; i < sizeof(digest); i++)
    snprintf(ret + 2 * i, 3, "%02x", digest[i]);
}

/* ---- the cache ----------------------------------------------------------------------------- */

/* A program is plausible when its size is whole instructions within the kernel's limit and
 * it ends in a return, as every libseccomp program does; anything else is recompiled. */
static bool program_plausible(const void *data, size_t len)
{
  struct sock_filter last;

  if (len == 0 || len % sizeof(struct sock_filter) || len > FILTER_MAX_BYTES)
    return false;
  memcpy(&last, (const char *)data + len - sizeof(last), sizeof(last));
  return BPF_CLASS(last.code) == BPF_RET;
}

static int cache_read(const char *dir, const char *hex, struct nook_seccomp_filter *f)
{
  _cleanup_free_ char *path = xasprintf("%s/%s.bpf", dir, hex);
  _cleanup_free_ char *data = NULL;
  _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  size_t len = 0;

  if (fd < 0 || nook_read_fd(fd, FILTER_MAX_BYTES + 1, &data, &len, NULL) < 0)
    return -1;
  if (!program_plausible(data, len))
    {
      nook_debug("seccomp cache: ignoring corrupt `%s`", path);
      return -1;
    }
  f->insns = (struct sock_filter *)TAKE_PTR(data);
  f->n_insns = len / sizeof(struct sock_filter);
  f->from_cache = true;
  return 0;
}

/* Best effort: a cache that cannot be written only costs the next run a compile. */
static void cache_write(const char *dir, const char *hex, const struct nook_seccomp_filter *f)
{
  _cleanup_free_ char *name = xasprintf("%s.bpf", hex);
  _cleanup_close_ int dfd = -1;
  struct nook_error *e = NULL;

  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    {
      nook_debug("seccomp cache: mkdir `%s`: %s", dir, strerror(errno));
      return;
    }
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0
      || nook_write_file_atomic_at(dfd, name, f->insns, f->n_insns * sizeof(*f->insns), 0600, &e) < 0)
    {
      nook_debug("seccomp cache: write `%s/%s`: %s", dir, name, e ? e->msg : strerror(errno));
      nook_error_free(e);
    }
}

/* ---- compiling ----------------------------------------------------------------------------- */

static int action_value(const char *name, const struct nook_opt_u64 *errno_ret, const char *where,
                        uint32_t *ret, struct nook_error **err)
{
  static const struct
  {
    const char *name;
    uint32_t value;
  } actions[] = {
    { "SCMP_ACT_KILL", SCMP_ACT_KILL },   { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
    { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
    { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },   { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
    { "SCMP_ACT_LOG", SCMP_ACT_LOG },     { "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY },
  };
  uint64_t e = errno_ret->set ? errno_ret->value : EPERM;

  if (streq(name, "SCMP_ACT_ERRNO") || streq(name, "SCMP_ACT_TRACE"))
    {
      if (e > 0xffff)
        return nook_error_setx(err, EINVAL, "config.json: %s: errnoRet `%" PRIu64 "` is out of range",
                               where, e);
      *ret = streq(name, "SCMP_ACT_ERRNO") ? SCMP_ACT_ERRNO((uint32_t)e) : SCMP_ACT_TRACE((uint32_t)e);
      return 0;
    }
  for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
    if (streq(name, actions[i].name))
      {
        *ret = actions[i].value;
        return 0;
      }
  return nook_error_setx(err, EINVAL, "config.json: %s: unknown action `%s`", where, name);
}

static int compare_op(const char *op, enum scmp_compare *ret)
{
  static const char *const names[] = {
    [SCMP_CMP_NE] = "SCMP_CMP_NE", [SCMP_CMP_LT] = "SCMP_CMP_LT", [SCMP_CMP_LE] = "SCMP_CMP_LE",
    [SCMP_CMP_EQ] = "SCMP_CMP_EQ", [SCMP_CMP_GE] = "SCMP_CMP_GE", [SCMP_CMP_GT] = "SCMP_CMP_GT",
    [SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
  };
  for (size_t i = 0; i < ARRAY_SIZE(names); i++)
    if (names[i] && streq(op, names[i]))
      {
        *ret = (enum scmp_compare)i;
        return 0;
      }
  return -1;
}

/* The conditions of one syscalls[] entry.  Several args on one index cannot be ANDed by
 * libseccomp; like runc, each then becomes a rule of its own (an OR).  Returns whether so. */
static int build_conds(const struct nook_seccomp_syscall *s, size_t i, struct scmp_arg_cmp *conds,
                       bool *ret_split, struct nook_error **err)
{
  unsigned count[ARGS_MAX] = { 0 };

  *ret_split = false;
  for (size_t j = 0; j < s->n_args; j++)
    {
      const struct nook_seccomp_arg *a = &s->args[j];
      enum scmp_compare op;

      if (a->index >= ARGS_MAX)
        return nook_error_setx(err, EINVAL,
                               "config.json: linux.seccomp.syscalls[%zu].args[%zu].index: "
                               "`%u` is not below %d", i, j, a->index, ARGS_MAX);
      if (compare_op(a->op, &op) < 0)
        return nook_error_setx(err, EINVAL,
                               "config.json: linux.seccomp.syscalls[%zu].args[%zu].op: "
                               "unknown operator `%s`", i, j, a->op);
      conds[j] = (struct scmp_arg_cmp){ .arg = a->index, .op = op, .datum_a = a->value,
                                        .datum_b = a->value_two.set ? a->value_two.value : 0 };
      if (++count[a->index] > 1)
        *ret_split = true;
    }
  return 0;
}

static int add_syscall(scmp_filter_ctx ctx, const struct nook_seccomp *sc, size_t i,
                       uint32_t default_action, struct nook_error **err)
{
  const struct nook_seccomp_syscall *s = &sc->syscalls[i];
  _cleanup_free_ char *where = xasprintf("linux.seccomp.syscalls[%zu]", i);
  _cleanup_free_ struct scmp_arg_cmp *conds = xcalloc(s->n_args + 1, sizeof(*conds));
  uint32_t action;
  bool split;

  if (action_value(s->action, &s->errno_ret, where, &action, err) < 0
      || build_conds(s, i, conds, &split, err) < 0)
    return -1;
  /* libseccomp refuses a rule that does what the default does; runc drops it too. */
  if (action == default_action)
    return 0;
  for (size_t k = 0; s->names && s->names[k]; k++)
    {
      int nr = seccomp_syscall_resolve_name(s->names[k]);
      int r = 0;

      if (nr == __NR_SCMP_ERROR)
        {
          nook_debug("seccomp: skipping unknown syscall `%s`", s->names[k]);
          continue;
        }
      if (!split)
        r = seccomp_rule_add_array(ctx, action, nr, (unsigned)s->n_args, conds);
      for (size_t j = 0; split && r == 0 && j < s->n_args; j++)
        r = seccomp_rule_add_array(ctx, action, nr, 1, &conds[j]);
      if (r < 0)
        return nook_error_set(err, -r, "config.json: %s: add a rule for `%s`", where, s->names[k]);
    }
  return 0;
}

static int add_archs(scmp_filter_ctx ctx, const struct nook_seccomp *sc, struct nook_error **err)
{
  for (size_t i = 0; sc->architectures && sc->architectures[i]; i++)
    {
      const char *name = sc->architectures[i];
      _cleanup_free_ char *lower = xstrdup(nook_has_prefix(name, "SCMP_ARCH_") ? name + 10 : name);
      uint32_t arch;
      int r;

      for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
      arch = seccomp_arch_resolve_name(lower);
      if (arch == 0)
        return nook_error_setx(err, EINVAL,
                               "config.json: linux.seccomp.architectures[%zu]: `%s` is not "
                               "supported by libseccomp %u.%u", i, name,
                               seccomp_version()->major, seccomp_version()->minor);
      r = seccomp_arch_add(ctx, arch);
      if (r < 0 && r != -EEXIST)
        return nook_error_set(err, -r, "config.json: linux.seccomp.architectures[%zu]: add `%s`",
                              i, name);
    }
  return 0;
}

static int export_program(scmp_filter_ctx ctx, struct nook_seccomp_filter *f, struct nook_error **err)
{
  _cleanup_close_ int fd = memfd_create("nook-seccomp", MFD_CLOEXEC);
  _cleanup_free_ char *data = NULL;
  size_t len = 0;
  int r;

  if (fd < 0)
    return nook_error_set(err, errno, "linux.seccomp: memfd_create");
  r = seccomp_export_bpf(ctx, fd);
  if (r < 0)
    return nook_error_set(err, -r, "linux.seccomp: export the filter");
  if (lseek(fd, 0, SEEK_SET) < 0 || nook_read_fd(fd, FILTER_MAX_BYTES + 1, &data, &len, err) < 0)
    return nook_error_set(err, errno, "linux.seccomp: read the exported filter");
  if (!program_plausible(data, len))
    return nook_error_setx(err, E2BIG, "linux.seccomp: the filter has %zu instructions, more "
                                      "than the kernel's %d", len / 8, BPF_MAXINSNS);
  f->insns = (struct sock_filter *)TAKE_PTR(data);
  f->n_insns = len / sizeof(struct sock_filter);
  return 0;
}

/* runc's patchbpf, for the native arch: a syscall newer than every one the profile names was
 * unknown to its author, so it fails with ENOSYS (on which libcs fall back to an older call,
 * as for clone3) rather than with the default action.  x32 numbers are left to the program. */
static int prepend_enosys_stub(const struct nook_seccomp *sc, uint32_t def,
                               struct nook_seccomp_filter *f, struct nook_error **err)
{
  struct sock_filter *insns;
  int max = -1;

  if (def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG)
    return 0;
  for (size_t i = 0; i < sc->n_syscalls; i++)
    for (size_t k = 0; sc->syscalls[i].names && sc->syscalls[i].names[k]; k++)
      {
        int nr = seccomp_syscall_resolve_name(sc->syscalls[i].names[k]);
        if (nr > max)
          max = nr;
      }
  if (max < 0)
    return 0;
  struct sock_filter stub[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000 /* __X32_SYSCALL_BIT */, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
  };
  if (f->n_insns + ARRAY_SIZE(stub) > BPF_MAXINSNS)
    return nook_error_setx(err, E2BIG, "linux.seccomp: the filter has more than the kernel's %d "
                                      "instructions", BPF_MAXINSNS);
  insns = xmalloc((f->n_insns + ARRAY_SIZE(stub)) * sizeof(*insns));
  memcpy(insns, stub, sizeof(stub));
  memcpy(insns + ARRAY_SIZE(stub), f->insns, f->n_insns * sizeof(*insns));
  free(f->insns);
  f->insns = insns;
  f->n_insns += ARRAY_SIZE(stub);
  return 0;
}

static int compile_program(const struct nook_seccomp *sc, struct nook_seccomp_filter *f,
                           struct nook_error **err)
{
  scmp_filter_ctx ctx = NULL;
  uint32_t def;
  int r = -1;

  if (action_value(sc->default_action, &sc->default_errno_ret, "linux.seccomp.defaultAction", &def,
                   err) < 0)
    return -1;
  ctx = seccomp_init(def);
  if (ctx == NULL)
    return nook_error_setx(err, EINVAL, "linux.seccomp: seccomp_init failed");
  if (add_archs(ctx, sc, err) < 0)
    goto out;
  for (size_t i = 0; i < sc->n_syscalls; i++)
    if (add_syscall(ctx, sc, i, def, err) < 0)
      goto out;
  r = export_program(ctx, f, err);
  if (r == 0)
    r = prepend_enosys_stub(sc, def, f, err);
out:
  seccomp_release(ctx);
  return r;
}

/* The kernel knows a filter flag when seccomp(2) gets past the flags to the NULL program. */
static bool kernel_has_flag(unsigned long flag)
{
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

/* A linux.seccomp.flags name as seccomp(2) flag bits; 0 for TSYNC (the init has one thread)
 * and -1 for an unknown name. */
static long flag_bits(const char *name)
{
  static const struct
  {
    const char *name;
    unsigned long bits;
  } flags[] = {
    { "SECCOMP_FILTER_FLAG_TSYNC", 0 },
    { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
    { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
    { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
  };
  for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
    if (streq(name, flags[i].name))
      return (long)flags[i].bits;
  return -1;
}

bool nook_seccomp_flag_supported(const char *name)
{
  long bits = flag_bits(name);

  if (bits <= 0)
    return bits == 0;
  if (bits == (long)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    bits |= (long)SECCOMP_FILTER_FLAG_NEW_LISTENER; /* the kernel wants it with a listener */
  return kernel_has_flag((unsigned long)bits);
}

static int load_flags(const struct nook_seccomp *sc, unsigned long *ret, struct nook_error **err)
{
  unsigned long flags = 0;
  ssize_t notify = -1;

  for (size_t i = 0; i < sc->n_syscalls && notify < 0; i++)
    if (streq(sc->syscalls[i].action, "SCMP_ACT_NOTIFY"))
      notify = (ssize_t)i;
  if (notify >= 0 && sc->listener_path == NULL)
    return nook_error_setx(err, EINVAL, "config.json: linux.seccomp.listenerPath: required by "
                                       "SCMP_ACT_NOTIFY in linux.seccomp.syscalls[%zd]", notify);
  if (notify >= 0)
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  for (size_t i = 0; sc->flags && sc->flags[i]; i++)
    {
      const char *name = sc->flags[i];
      long bits = flag_bits(name);
      unsigned long flag;

      if (bits < 0)
        return nook_error_setx(err, EINVAL, "config.json: linux.seccomp.flags[%zu]: unknown flag `%s`",
                               i, name);
      flag = (unsigned long)bits;
      if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && notify < 0)
        flag = 0; /* the kernel refuses it without a listener */
      if (flag && !kernel_has_flag(flag | (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)))
        return nook_error_setx(err, EINVAL, "config.json: linux.seccomp.flags[%zu]: `%s` is not "
                                           "supported by this kernel", i, name);
      flags |= flag;
    }
  *ret = flags;
  return 0;
}

int nook_seccomp_compile(const struct nook_spec *spec, const char *cache_dir,
                         struct nook_seccomp_filter **ret, struct nook_error **err)
{
  const struct nook_seccomp *sc = spec->linux ? spec->linux->seccomp : NULL;
  _cleanup_(nook_seccomp_filter_freep) struct nook_seccomp_filter *f = NULL;
  char hex[65];

  if (sc == NULL)
    {
      *ret = NULL;
      return 0;
    }
  f = xcalloc(1, sizeof(*f));
  if (load_flags(sc, &f->flags, err) < 0)
    return -1;
  cache_key(sc, hex);
  if (cache_dir == NULL || cache_read(cache_dir, hex, f) < 0)
    {
      if (compile_program(sc, f, err) < 0)
        return -1;
      if (cache_dir)
        cache_write(cache_dir, hex, f);
    }
  *ret = TAKE_PTR(f);
  return 0;
}

bool nook_seccomp_filter_from_cache(const struct nook_seccomp_filter *f) { return f && f->from_cache; }

bool nook_seccomp_filter_has_listener(const struct nook_seccomp_filter *f)
{
  return f && (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

void nook_seccomp_filter_free(struct nook_seccomp_filter *f)
{
  if (f == NULL)
    return;
  free(f->insns);
  free(f);
}

/* ---- loading (in the init) ----------------------------------------------------------------- */

int nook_seccomp_load(const struct nook_seccomp_filter *f, int *ret_notify_fd, struct nook_error **err)
{
  struct sock_fprog prog = { .len = (unsigned short)f->n_insns, .filter = f->insns };
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);

  if (r < 0 && errno == ENOSYS && f->flags == 0)
    r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  if (r < 0)
    return nook_error_set(err, errno, "linux.seccomp: load the filter");
  *ret_notify_fd = (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? (int)r : -1;
  return 0;
}

/* ---- the listener -------------------------------------------------------------------------- */

/* runtime-spec "Container Process State": what the agent at listenerPath reads. */
static char *process_state_json(const struct nook_seccomp *sc, pid_t pid, const char *state_json)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *meta = NULL;

  nook_json_str(g, sc->listener_metadata ? sc->listener_metadata : "");
  meta = nook_json_gen_finish(g, NULL);
  return xasprintf("{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
                   "\"metadata\":%s,\"state\":%s}",
                   (int)pid, meta, state_json);
}

int nook_seccomp_send_listener(const struct nook_spec *spec, pid_t pid, int notify_fd,
                               const char *state_json, struct nook_error **err)
{
  const struct nook_seccomp *sc = spec->linux->seccomp;
  _cleanup_free_ char *msg = process_state_json(sc, pid, state_json);
  _cleanup_close_ int fd = nook_unix_connect(sc->listener_path, "seccomp agent", err);

  if (fd < 0)
    return nook_error_prefix(err, "linux.seccomp.listenerPath");
  if (nook_unix_send_fd(fd, notify_fd, msg, strlen(msg), err) < 0)
    return nook_error_prefix(err, "linux.seccomp.listenerPath: send to `%s`", sc->listener_path);
  return 0;
}
