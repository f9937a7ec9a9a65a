/* Seccomp profiles in the containers/docker format, resolved for one container (podman's
 * pkg/seccomp setupSeccomp is the model): parsed and checked once, then written as OCI
 * linux.seccomp with the entries whose includes/excludes fit the container's capabilities,
 * the host's architecture and kernel. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/process.h"
#include "runtime/seccomp-profile.h"
#include "runtime/spec.h"

/* runtime/seccomp-default-data.S */
extern const char nook_seccomp_default_json[];
extern const uint64_t nook_seccomp_default_json_size;

#define PROFILE_MAX_SIZE (4u << 20)
#define ARGS_MAX 6

struct prof_filter
{
  bool has_caps;
  bool caps_unknown; /* names a capability this kernel does not have: never held */
  uint64_t caps;
  char **arches; /* Go's names */
  bool has_kernel;
  unsigned kmajor, kminor;
};

struct prof_arg
{
  uint32_t index;
  uint64_t value, value_two;
  char *op;
};

struct prof_syscall
{
  char **names;
  char *action;
  bool has_errno;
  uint64_t errno_ret;
  struct prof_arg *args;
  size_t n_args;
  struct prof_filter inc, exc;
};

struct prof_arch
{
  char *arch;
  char **subs;
};

struct nook_seccomp_profile
{
  char *default_action;
  bool has_default_errno;
  uint64_t default_errno;
  char **architectures;
  struct prof_arch *arch_map;
  size_t n_arch_map;
  char **flags;
  char *listener_path, *listener_metadata;
  struct prof_syscall *syscalls;
  size_t n_syscalls;
};

/* libseccomp's SCMP_ARCH_ names and the Go names that includes/excludes.arches use. */
static const struct
{
  const char *scmp, *go;
} arch_names[] = {
  { "SCMP_ARCH_X86", "x86" },
  { "SCMP_ARCH_X86_64", "amd64" },
  { "SCMP_ARCH_X32", "x32" },
  { "SCMP_ARCH_ARM", "arm" },
  { "SCMP_ARCH_AARCH64", "arm64" },
  { "SCMP_ARCH_MIPS", "mips" },
  { "SCMP_ARCH_MIPS64", "mips64" },
  { "SCMP_ARCH_MIPS64N32", "mips64n32" },
  { "SCMP_ARCH_MIPSEL", "mipsel" },
  { "SCMP_ARCH_MIPSEL64", "mipsel64" },
  { "SCMP_ARCH_MIPSEL64N32", "mipsel64n32" },
  { "SCMP_ARCH_PPC", "ppc" },
  { "SCMP_ARCH_PPC64", "ppc64" },
  { "SCMP_ARCH_PPC64LE", "ppc64le" },
  { "SCMP_ARCH_S390", "s390" },
  { "SCMP_ARCH_S390X", "s390x" },
  { "SCMP_ARCH_PARISC", "parisc" },
  { "SCMP_ARCH_PARISC64", "parisc64" },
  { "SCMP_ARCH_RISCV64", "riscv64" },
  { "SCMP_ARCH_LOONGARCH64", "loong64" },
};

/* ---- parsing --------------------------------------------------------------------------- */

struct pctx
{
  const char *doc;
  struct nook_error **err;
};

static int bad(const struct pctx *c, const char *path, const char *fmt, ...) _printf_(3, 4);
static int bad(const struct pctx *c, const char *path, const char *fmt, ...)
{
  _cleanup_free_ char *msg = NULL;
  va_list ap;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  return nook_error_setx(c->err, EINVAL, "%s: %s: %s", c->doc, path, msg);
}

static int get_str(const struct pctx *c, yajl_val obj, const char *key, const char *path,
                   char **ret)
{
  yajl_val v = nook_json_get(obj, key);

  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_STRING(v))
    return bad(c, path, "expected a string");
  *ret = xstrdup(YAJL_GET_STRING(v));
  return 0;
}

static int get_strv(const struct pctx *c, yajl_val obj, const char *key, const char *path,
                    char ***ret)
{
  yajl_val v = nook_json_get(obj, key);

  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_ARRAY(v))
    return bad(c, path, "expected an array of strings");
  for (size_t i = 0; i < v->u.array.len; i++)
    {
      yajl_val s = v->u.array.values[i];
      if (!YAJL_IS_STRING(s))
        return bad(c, path, "expected an array of strings");
      nook_strv_push(ret, YAJL_GET_STRING(s));
    }
  return 0;
}

static int get_u64(const struct pctx *c, yajl_val obj, const char *key, const char *path,
                   uint64_t max, bool *ret_has, uint64_t *ret)
{
  yajl_val v = nook_json_get(obj, key);

  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!nook_json_get_u64(obj, key, ret))
    return bad(c, path, "expected a non-negative integer");
  if (*ret > max)
    return bad(c, path, "`%" PRIu64 "` is out of range (at most %" PRIu64 ")", *ret, max);
  if (ret_has)
    *ret_has = true;
  return 0;
}

static bool known_name(enum nook_spec_names list, const char *s)
{
  const char *n;

  for (size_t i = 0; (n = nook_spec_known_name(list, i)); i++)
    if (streq(n, s))
      return true;
  return false;
}

static const char *go_arch_scmp(const char *go)
{
  for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
    if (streq(arch_names[i].go, go))
      return arch_names[i].scmp;
  return NULL;
}

static int check_archs(const struct pctx *c, char *const *v, const char *path)
{
  for (size_t i = 0; v && v[i]; i++)
    if (!known_name(NOOK_NAMES_SECCOMP_ARCHS, v[i]))
      {
        _cleanup_free_ char *p = xasprintf("%s[%zu]", path, i);
        return bad(c, p, "unknown architecture `%s`", v[i]);
      }
  return 0;
}

static int parse_filter(const struct pctx *c, yajl_val obj, const char *path, struct prof_filter *f)
{
  _cleanup_free_ char *pc = xasprintf("%s.caps", path), *pa = xasprintf("%s.arches", path);
  _cleanup_free_ char *pk = xasprintf("%s.minKernel", path), *kernel = NULL;
  _cleanup_strv_ char **caps = NULL;
  char end;

  if (obj == NULL || YAJL_IS_NULL(obj))
    return 0;
  if (!YAJL_IS_OBJECT(obj))
    return bad(c, path, "expected an object");
  if (get_strv(c, obj, "caps", pc, &caps) < 0 || get_strv(c, obj, "arches", pa, &f->arches) < 0
      || get_str(c, obj, "minKernel", pk, &kernel) < 0)
    return -1;
  for (size_t i = 0; caps && caps[i]; i++)
    {
      int cap = nook_cap_from_name(caps[i]);
      f->has_caps = true;
      if (cap < 0)
        f->caps_unknown = true;
      else
        f->caps |= UINT64_C(1) << cap;
    }
  for (size_t i = 0; f->arches && f->arches[i]; i++)
    if (!go_arch_scmp(f->arches[i]))
      {
        _cleanup_free_ char *p = xasprintf("%s[%zu]", pa, i);
        return bad(c, p, "unknown architecture `%s` (amd64, arm64, x86 ...)", f->arches[i]);
      }
  if (kernel
      && (sscanf(kernel, "%u.%u%c", &f->kmajor, &f->kminor, &end) != 2
          || !(kernel[0] >= '0' && kernel[0] <= '9')))
    return bad(c, pk, "`%s` is not a kernel version (MAJOR.MINOR)", kernel);
  f->has_kernel = kernel != NULL;
  return 0;
}

static int parse_arg(const struct pctx *c, yajl_val obj, const char *path, struct prof_arg *a)
{
  _cleanup_free_ char *pi = xasprintf("%s.index", path), *pv = xasprintf("%s.value", path);
  _cleanup_free_ char *pv2 = xasprintf("%s.valueTwo", path), *po = xasprintf("%s.op", path);
  uint64_t index = 0;

  if (!YAJL_IS_OBJECT(obj))
    return bad(c, path, "expected an object");
  if (get_u64(c, obj, "index", pi, ARGS_MAX - 1, NULL, &index) < 0
      || get_u64(c, obj, "value", pv, UINT64_MAX, NULL, &a->value) < 0
      || get_u64(c, obj, "valueTwo", pv2, UINT64_MAX, NULL, &a->value_two) < 0
      || get_str(c, obj, "op", po, &a->op) < 0)
    return -1;
  a->index = (uint32_t)index;
  if (a->op == NULL)
    return bad(c, po, "required");
  if (!known_name(NOOK_NAMES_SECCOMP_OPERATORS, a->op))
    return bad(c, po, "unknown operator `%s`", a->op);
  return 0;
}

static int parse_action(const struct pctx *c, yajl_val obj, const char *key, const char *pa,
                        char **ret)
{
  if (get_str(c, obj, key, pa, ret) < 0)
    return -1;
  if (*ret == NULL)
    return bad(c, pa, "required");
  if (!known_name(NOOK_NAMES_SECCOMP_ACTIONS, *ret))
    return bad(c, pa, "unknown action `%s`", *ret);
  return 0;
}

static int parse_syscall(const struct pctx *c, yajl_val obj, size_t i, struct prof_syscall *s)
{
  _cleanup_free_ char *path = xasprintf("syscalls[%zu]", i);
  _cleanup_free_ char *pn = xasprintf("%s.names", path), *pn1 = xasprintf("%s.name", path);
  _cleanup_free_ char *pe = xasprintf("%s.errnoRet", path), *pargs = xasprintf("%s.args", path);
  _cleanup_free_ char *pa = xasprintf("%s.action", path);
  _cleanup_free_ char *pinc = xasprintf("%s.includes", path),
                      *pexc = xasprintf("%s.excludes", path);
  _cleanup_free_ char *name = NULL;
  yajl_val args;

  if (!YAJL_IS_OBJECT(obj))
    return bad(c, path, "expected an object");
  if (get_strv(c, obj, "names", pn, &s->names) < 0 || get_str(c, obj, "name", pn1, &name) < 0)
    return -1;
  if (name && s->names)
    return bad(c, path, "both `name` and `names`: use one");
  if (name)
    nook_strv_push(&s->names, name);
  if (s->names == NULL)
    return bad(c, pn, "required (a non-empty array)");
  if (parse_action(c, obj, "action", pa, &s->action) < 0
      || get_u64(c, obj, "errnoRet", pe, 0xffff, &s->has_errno, &s->errno_ret) < 0
      || parse_filter(c, nook_json_get(obj, "includes"), pinc, &s->inc) < 0
      || parse_filter(c, nook_json_get(obj, "excludes"), pexc, &s->exc) < 0)
    return -1;
  args = nook_json_get(obj, "args");
  if (args == NULL || YAJL_IS_NULL(args))
    return 0;
  if (!YAJL_IS_ARRAY(args))
    return bad(c, pargs, "expected an array");
  s->args = xcalloc(args->u.array.len + 1, sizeof(*s->args));
  for (size_t j = 0; j < args->u.array.len; j++)
    {
      _cleanup_free_ char *pj = xasprintf("%s[%zu]", pargs, j);
      s->n_args = j + 1;
      if (parse_arg(c, args->u.array.values[j], pj, &s->args[j]) < 0)
        return -1;
    }
  return 0;
}

static int parse_arch_map(const struct pctx *c, yajl_val v, struct nook_seccomp_profile *p)
{
  if (v == NULL || YAJL_IS_NULL(v))
    return 0;
  if (!YAJL_IS_ARRAY(v))
    return bad(c, "archMap", "expected an array");
  p->arch_map = xcalloc(v->u.array.len + 1, sizeof(*p->arch_map));
  for (size_t i = 0; i < v->u.array.len; i++)
    {
      yajl_val e = v->u.array.values[i];
      struct prof_arch *a = &p->arch_map[i];
      _cleanup_free_ char *path = xasprintf("archMap[%zu]", i);
      _cleanup_free_ char *pa = xasprintf("%s.architecture", path);
      _cleanup_free_ char *ps = xasprintf("%s.subArchitectures", path);

      p->n_arch_map = i + 1;
      if (!YAJL_IS_OBJECT(e))
        return bad(c, path, "expected an object");
      if (get_str(c, e, "architecture", pa, &a->arch) < 0
          || get_strv(c, e, "subArchitectures", ps, &a->subs) < 0)
        return -1;
      if (a->arch == NULL)
        return bad(c, pa, "required");
      if (!known_name(NOOK_NAMES_SECCOMP_ARCHS, a->arch))
        return bad(c, pa, "unknown architecture `%s`", a->arch);
      if (check_archs(c, a->subs, ps) < 0)
        return -1;
    }
  return 0;
}

static int parse_top(const struct pctx *c, yajl_val root, struct nook_seccomp_profile *p)
{
  yajl_val calls;

  if (!YAJL_IS_OBJECT(root))
    return bad(c, "(top)", "expected an object");
  if (parse_action(c, root, "defaultAction", "defaultAction", &p->default_action) < 0
      || get_u64(c, root, "defaultErrnoRet", "defaultErrnoRet", 0xffff, &p->has_default_errno,
                 &p->default_errno)
             < 0
      || get_strv(c, root, "architectures", "architectures", &p->architectures) < 0
      || check_archs(c, p->architectures, "architectures") < 0
      || parse_arch_map(c, nook_json_get(root, "archMap"), p) < 0
      || get_strv(c, root, "flags", "flags", &p->flags) < 0
      || get_str(c, root, "listenerPath", "listenerPath", &p->listener_path) < 0
      || get_str(c, root, "listenerMetadata", "listenerMetadata", &p->listener_metadata) < 0)
    return -1;
  if (p->architectures && p->n_arch_map)
    return bad(c, "archMap", "both `architectures` and `archMap`: use one");
  for (size_t i = 0; p->flags && p->flags[i]; i++)
    if (!known_name(NOOK_NAMES_SECCOMP_FLAGS, p->flags[i]))
      {
        _cleanup_free_ char *path = xasprintf("flags[%zu]", i);
        return bad(c, path, "unknown flag `%s`", p->flags[i]);
      }
  calls = nook_json_get(root, "syscalls");
  if (calls == NULL || YAJL_IS_NULL(calls))
    return 0;
  if (!YAJL_IS_ARRAY(calls))
    return bad(c, "syscalls", "expected an array");
  p->syscalls = xcalloc(calls->u.array.len + 1, sizeof(*p->syscalls));
  for (size_t i = 0; i < calls->u.array.len; i++)
    {
      p->n_syscalls = i + 1;
      if (parse_syscall(c, calls->u.array.values[i], i, &p->syscalls[i]) < 0)
        return -1;
    }
  return 0;
}

int nook_seccomp_profile_parse(const char *data, size_t len, const char *doc,
                               struct nook_seccomp_profile **ret, struct nook_error **err)
{
  _cleanup_(nook_seccomp_profile_freep) struct nook_seccomp_profile *p = xcalloc(1, sizeof(*p));
  _cleanup_json_ yajl_val root = NULL;
  struct pctx c = { doc, err };

  if (nook_json_parse_untrusted(data, len, PROFILE_MAX_SIZE, doc, &root, err) < 0
      || parse_top(&c, root, p) < 0)
    return -1;
  *ret = TAKE_PTR(p);
  return 0;
}

const struct nook_seccomp_profile *nook_seccomp_profile_default(void)
{
  static struct nook_seccomp_profile *profile;
  struct nook_error *err = NULL;

  if (profile == NULL
      && nook_seccomp_profile_parse(nook_seccomp_default_json,
                                    (size_t)nook_seccomp_default_json_size,
                                    "the default seccomp profile", &profile, &err)
             < 0)
    {
      /* built-in data that the unit tests parse: a failure here is a broken build */
      fprintf(stderr, "nook: %s\n", err->msg);
      abort();
    }
  return profile;
}

/* ---- resolving --------------------------------------------------------------------------- */

struct host
{
  const char *arch; /* Go's name */
  unsigned kmajor, kminor;
};

static const char *native_arch(void)
{
  uint32_t native = seccomp_arch_native();

  for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
    {
      _cleanup_free_ char *lower = xstrdup(arch_names[i].scmp + strlen("SCMP_ARCH_"));
      for (char *q = lower; *q; q++)
        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
      if (seccomp_arch_resolve_name(lower) == native)
        return arch_names[i].go;
    }
  return "";
}

static bool kernel_at_least(const struct host *h, const struct prof_filter *f)
{
  return h->kmajor > f->kmajor || (h->kmajor == f->kmajor && h->kminor >= f->kminor);
}

/* podman's order: excludes (arches, caps, minKernel), then includes. */
static bool syscall_applies(const struct prof_syscall *s, uint64_t caps, const struct host *h)
{
  if (nook_strv_contains(s->exc.arches, h->arch) || (s->exc.caps & caps)
      || (s->exc.has_kernel && kernel_at_least(h, &s->exc)))
    return false;
  if (s->inc.arches && !nook_strv_contains(s->inc.arches, h->arch))
    return false;
  if (s->inc.has_caps && (s->inc.caps_unknown || (s->inc.caps & ~caps)))
    return false;
  return !s->inc.has_kernel || kernel_at_least(h, &s->inc);
}

static void gen_archs(yajl_gen g, const struct nook_seccomp_profile *p, const struct host *h)
{
  const char *scmp = go_arch_scmp(h->arch);

  if (p->architectures)
    {
      nook_json_kv_strv(g, "architectures", p->architectures);
      return;
    }
  for (size_t i = 0; scmp && i < p->n_arch_map; i++)
    if (streq(p->arch_map[i].arch, scmp))
      {
        nook_json_str(g, "architectures");
        yajl_gen_array_open(g);
        nook_json_str(g, scmp);
        for (size_t j = 0; p->arch_map[i].subs && p->arch_map[i].subs[j]; j++)
          nook_json_str(g, p->arch_map[i].subs[j]);
        yajl_gen_array_close(g);
        return;
      }
}

static void gen_syscall(yajl_gen g, const struct prof_syscall *s)
{
  yajl_gen_map_open(g);
  nook_json_kv_strv(g, "names", s->names);
  nook_json_kv_str(g, "action", s->action);
  if (s->has_errno)
    nook_json_kv_u64(g, "errnoRet", s->errno_ret);
  if (s->n_args)
    {
      nook_json_str(g, "args");
      yajl_gen_array_open(g);
      for (size_t j = 0; j < s->n_args; j++)
        {
          yajl_gen_map_open(g);
          nook_json_kv_u64(g, "index", s->args[j].index);
          nook_json_kv_u64(g, "value", s->args[j].value);
          nook_json_kv_u64(g, "valueTwo", s->args[j].value_two);
          nook_json_kv_str(g, "op", s->args[j].op);
          yajl_gen_map_close(g);
        }
      yajl_gen_array_close(g);
    }
  yajl_gen_map_close(g);
}

void nook_seccomp_profile_gen(yajl_gen g, const struct nook_seccomp_profile *p, uint64_t caps,
                              const char *arch, const char *kernel)
{
  struct host h = { arch ? arch : native_arch(), 0, 0 };
  struct utsname u;

  if (kernel == NULL)
    kernel = uname(&u) == 0 ? u.release : "";
  if (sscanf(kernel, "%u.%u", &h.kmajor, &h.kminor) != 2)
    h.kmajor = h.kminor = 0;
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "defaultAction", p->default_action);
  if (p->has_default_errno)
    nook_json_kv_u64(g, "defaultErrnoRet", p->default_errno);
  gen_archs(g, p, &h);
  if (p->flags)
    nook_json_kv_strv(g, "flags", p->flags);
  if (p->listener_path)
    nook_json_kv_str(g, "listenerPath", p->listener_path);
  if (p->listener_metadata)
    nook_json_kv_str(g, "listenerMetadata", p->listener_metadata);
  nook_json_str(g, "syscalls");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < p->n_syscalls; i++)
    if (syscall_applies(&p->syscalls[i], caps, &h))
      gen_syscall(g, &p->syscalls[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
}

/* ---- freeing ------------------------------------------------------------------------------ */

void nook_seccomp_profile_free(struct nook_seccomp_profile *p)
{
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_syscalls; i++)
    {
      struct prof_syscall *s = &p->syscalls[i];
      nook_strv_free(s->names);
      free(s->action);
      for (size_t j = 0; j < s->n_args; j++)
        free(s->args[j].op);
      free(s->args);
      nook_strv_free(s->inc.arches);
      nook_strv_free(s->exc.arches);
    }
  for (size_t i = 0; i < p->n_arch_map; i++)
    {
      free(p->arch_map[i].arch);
      nook_strv_free(p->arch_map[i].subs);
    }
  free(p->syscalls);
  free(p->arch_map);
  free(p->default_action);
  nook_strv_free(p->architectures);
  nook_strv_free(p->flags);
  free(p->listener_path);
  free(p->listener_metadata);
  free(p);
}
