/* Unit tests for runtime/seccomp-profile.c: the containers/docker profile format, resolved
 * for a container's capabilities, the host's architecture and kernel. */
#include "config.h"

#include <linux/capability.h>
#include <stdint.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/seccomp-profile.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "tests/unit/tap.h"

#define CAP(c) (UINT64_C(1) << (c))

static struct nook_seccomp_profile *parse(const char *json)
{
  struct nook_seccomp_profile *p = NULL;
  struct nook_error *err = NULL;

  if (nook_seccomp_profile_parse(json, strlen(json), "test.json", &p, &err) < 0)
    {
      printf("# parse: %s\n", err->msg);
      nook_error_free(err);
    }
  return p;
}

static char *gen(const struct nook_seccomp_profile *p, uint64_t caps, const char *arch,
                 const char *kernel)
{
  yajl_gen g = nook_json_gen_new(false);

  nook_seccomp_profile_gen(g, p, caps, arch, kernel);
  return nook_json_gen_finish(g, NULL);
}

/* The action of the first generated rule naming syscall, or NULL. */
static const char *rule_action(yajl_val root, const char *syscall)
{
  yajl_val calls = nook_json_get(root, "syscalls");

  for (size_t i = 0; calls && i < calls->u.array.len; i++)
    {
      yajl_val names = nook_json_get(calls->u.array.values[i], "names");
      for (size_t j = 0; names && j < names->u.array.len; j++)
        if (streq(YAJL_GET_STRING(names->u.array.values[j]), syscall))
          return nook_json_get_str(calls->u.array.values[i], "action");
    }
  return NULL;
}

static yajl_val gen_tree(const struct nook_seccomp_profile *p, uint64_t caps, const char *arch,
                         const char *kernel)
{
  _cleanup_free_ char *json = gen(p, caps, arch, kernel);
  yajl_val v = NULL;

  if (nook_json_parse(json, "generated", &v, NULL) < 0)
    return NULL;
  return v;
}

static char *archs(yajl_val root)
{
  yajl_val a = nook_json_get(root, "architectures");
  char *s = xstrdup("");

  for (size_t i = 0; a && i < a->u.array.len; i++)
    {
      char *n = xasprintf("%s%s%s", s, i ? "," : "", YAJL_GET_STRING(a->u.array.values[i]));
      free(s);
      s = n;
    }
  return s;
}

/* podman's profile as nook embeds it: what it allows depends on the capabilities. */
static void test_default(void)
{
  const struct nook_seccomp_profile *p = nook_seccomp_profile_default();
  const uint64_t podman = CAP(CAP_CHOWN) | CAP(CAP_KILL) | CAP(CAP_SETUID) | CAP(CAP_SYS_CHROOT);
  _cleanup_json_ yajl_val plain = gen_tree(p, podman, "amd64", "6.1.0");
  _cleanup_json_ yajl_val admin = gen_tree(p, podman | CAP(CAP_SYS_ADMIN), "amd64", "6.1.0");
  _cleanup_json_ yajl_val arm = gen_tree(p, podman, "arm64", "6.1.0");
  _cleanup_free_ char *a1 = NULL, *a2 = NULL;

  tap_ok(p != NULL, "the embedded default profile parses");
  tap_ok(plain && admin && arm, "and generates JSON");
  if (!plain || !admin || !arm)
    return;
  tap_is_str(nook_json_get_str(plain, "defaultAction"), "SCMP_ACT_ERRNO", "default: ERRNO");
  tap_is_str(rule_action(plain, "read"), "SCMP_ACT_ALLOW", "read is allowed");
  tap_is_str(rule_action(plain, "bpf"), "SCMP_ACT_ERRNO", "bpf: EPERM without CAP_SYS_ADMIN");
  tap_is_str(rule_action(admin, "bpf"), "SCMP_ACT_ALLOW", "bpf: allowed with CAP_SYS_ADMIN");
  tap_is_str(rule_action(plain, "chroot"), "SCMP_ACT_ALLOW", "chroot: allowed with CAP_SYS_CHROOT");
  tap_is_str(rule_action(plain, "ioperm"), "SCMP_ACT_ERRNO", "ioperm: EPERM without SYS_RAWIO");
  tap_is_str(rule_action(plain, "arch_prctl"), "SCMP_ACT_ALLOW", "arch_prctl on amd64");
  tap_ok(rule_action(arm, "arch_prctl") == NULL, "no arch_prctl rule on arm64");
  tap_is_str(rule_action(arm, "arm_fadvise64_64"), "SCMP_ACT_ALLOW", "arm's own calls on arm64");
  tap_ok(rule_action(plain, "add_key") == NULL, "add_key: the default action (ENOSYS)");
  a1 = archs(plain);
  a2 = archs(arm);
  tap_is_str(a1, "SCMP_ARCH_X86_64,SCMP_ARCH_X86,SCMP_ARCH_X32", "archMap for amd64");
  tap_is_str(a2, "SCMP_ARCH_AARCH64,SCMP_ARCH_ARM", "archMap for arm64");
}

/* What nook writes must be what the runtime takes: parsed as config.json and compiled. */
static void test_runtime_accepts(void)
{
  _cleanup_free_ char *sc = gen(nook_seccomp_profile_default(), CAP(CAP_CHOWN), NULL, NULL);
  _cleanup_free_ char *json =
      xasprintf("{\"ociVersion\":\"1.2.0\",\"linux\":{\"seccomp\":%s}}", sc);
  _cleanup_spec_ struct nook_spec *spec = NULL;
  struct nook_seccomp_filter *f = NULL;
  struct nook_error *err = NULL;
  int r = nook_spec_parse(json, strlen(json), &spec, &err);

  if (r == 0)
    r = nook_seccomp_compile(spec, NULL, &f, &err);
  tap_ok(r == 0 && f != NULL, "the runtime parses and compiles the generated default profile");
  if (err)
    printf("# %s\n", err->msg);
  nook_error_free(err);
  nook_seccomp_filter_free(f);
}

static void test_filters(void)
{
  _cleanup_(nook_seccomp_profile_freep) struct nook_seccomp_profile *p = parse(
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
      "\"syscalls\":["
      "{\"name\":\"mkdir\",\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
      " \"includes\":{\"minKernel\":\"5.10\"}},"
      "{\"names\":[\"rmdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"excludes\":{\"minKernel\":\"5.10\"}},"
      "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"excludes\":{\"arches\":[\"amd64\"]}},"
      "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\","
      " \"includes\":{\"caps\":[\"CAP_SYS_ADMIN\",\"CAP_NET_ADMIN\"]}},"
      "{\"names\":[\"umount2\"],\"action\":\"SCMP_ACT_ERRNO\",\"includes\":{\"caps\":[\"CAP_NOPE\"]"
      "}},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\","
      " \"args\":[{\"index\":0,\"value\":18446744073709551615,\"op\":\"SCMP_CMP_EQ\"}]}"
      "]}");
  _cleanup_json_ yajl_val old = NULL, new = NULL, both = NULL;
  _cleanup_free_ char *a = NULL, *text = NULL;

  tap_ok(p != NULL, "a profile with includes and excludes parses");
  if (!p)
    return;
  old = gen_tree(p, CAP(CAP_SYS_ADMIN), "amd64", "4.19.0-1-amd64");
  new = gen_tree(p, CAP(CAP_SYS_ADMIN), "arm64", "6.1.0");
  both = gen_tree(p, CAP(CAP_SYS_ADMIN) | CAP(CAP_NET_ADMIN), "amd64", "5.10");
  tap_ok(rule_action(old, "mkdir") == NULL && rule_action(new, "mkdir"), "includes.minKernel");
  tap_ok(rule_action(old, "rmdir") && rule_action(new, "rmdir") == NULL, "excludes.minKernel");
  tap_ok(rule_action(old, "kill") == NULL && rule_action(new, "kill"), "excludes.arches");
  tap_ok(rule_action(old, "mount") == NULL && rule_action(both, "mount"),
         "includes.caps needs every capability");
  tap_ok(rule_action(both, "umount2") == NULL, "an unknown capability is never held");
  a = archs(new);
  tap_is_str(a, "SCMP_ARCH_X86_64", "architectures are kept as written");
  text = gen(p, 0, "amd64", "6.1");
  tap_ok(strstr(text, "\"errnoRet\":13") && strstr(text, "18446744073709551615"),
         "errnoRet and 64-bit argument values are written");
}

static void check_bad(const char *json, const char *name, const char *want)
{
  struct nook_seccomp_profile *p = NULL;
  struct nook_error *err = NULL;
  int r =
      nook_seccomp_profile_parse(json, strlen(json), "--security-opt seccomp=`x.json`", &p, &err);
  bool ok = r < 0 && err && strstr(err->msg, want)
            && nook_has_prefix(err->msg, "--security-opt seccomp=`x.json`: ");

  tap_ok(ok, "%s", name);
  if (!ok)
    printf("#   got: %s\n#   want: %s\n", err ? err->msg : "(no error)", want);
  nook_error_free(err);
  nook_seccomp_profile_free(p);
}

static void test_errors(void)
{
  check_bad(
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
      "\"SCMP_ACT_ALLOW\"},{\"names\":[\"b\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"c\"],"
      "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"d\"],\"action\":\"SCMP_ACT_FOO\"}]}",
      "unknown action", "syscalls[3].action: unknown action `SCMP_ACT_FOO`");
  check_bad("{}", "no defaultAction", "defaultAction: required");
  check_bad("{\"defaultAction\":\"ALLOW\"}", "bad defaultAction", "defaultAction: unknown action");
  check_bad("[]", "not an object", "expected an object");
  check_bad("{\"defaultAction\":", "bad JSON", "invalid JSON");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
            "no names", "syscalls[0].names: required");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"name\":\"a\",\"names\":[\"b\"],"
            "\"action\":\"SCMP_ACT_ERRNO\"}]}",
            "name and names", "syscalls[0]: both `name` and `names`");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
            "arg index", "syscalls[0].args[0].index: `6` is out of range");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"EQ\"}]}]}",
            "arg op", "syscalls[0].args[0].op: unknown operator `EQ`");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"errnoRet\":70000}]}",
            "errnoRet range", "syscalls[0].errnoRet: `70000` is out of range");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"includes\":{\"arches\":[\"x86-64\"]}}]}",
            "unknown Go arch", "syscalls[0].includes.arches[0]: unknown architecture `x86-64`");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":"
            "\"SCMP_ACT_ERRNO\",\"excludes\":{\"minKernel\":\"five\"}}]}",
            "bad minKernel", "syscalls[0].excludes.minKernel: `five` is not a kernel version");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}",
            "unknown arch", "architectures[0]: unknown architecture `SCMP_ARCH_Z80`");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\"],"
            "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}",
            "architectures and archMap", "both `architectures` and `archMap`");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
            "unknown flag", "flags[0]: unknown flag");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}", "syscalls not an array",
            "syscalls: expected an array");
  check_bad("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":\"a\",\"action\":"
            "\"SCMP_ACT_ERRNO\"}]}",
            "names not an array", "syscalls[0].names: expected an array of strings");
}

int main(void)
{
  test_default();
  test_runtime_accepts();
  test_filters();
  test_errors();
  return tap_done();
}
