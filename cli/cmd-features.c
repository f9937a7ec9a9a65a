/* features: the runtime-spec "features" document (features.md): what this build of nook and
 * this kernel support, so that engines can check before they ask. */
#include "config.h"

#include <seccomp.h>
#include <stdio.h>
#include <sys/capability.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"

static void names(yajl_gen g, const char *key, const char *(*get)(size_t))
{
  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; get(i); i++)
    nook_json_str(g, get(i));
  yajl_gen_array_close(g);
}

static void strings(yajl_gen g, const char *key, const char *const *v, size_t n)
{
  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    nook_json_str(g, v[i]);
  yajl_gen_array_close(g);
}

/* The names the config parser accepts for list; with supported, only those it says yes to. */
static void spec_names(yajl_gen g, const char *key, enum nook_spec_names list,
                       bool (*supported)(const char *))
{
  const char *name;

  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; (name = nook_spec_known_name(list, i)) != NULL; i++)
    if (supported == NULL || supported(name))
      nook_json_str(g, name);
  yajl_gen_array_close(g);
}

/* Every capability this kernel has (cap_max_bits), by libcap's name in runtime-spec form. */
static void capabilities(yajl_gen g)
{
  nook_json_str(g, "capabilities");
  yajl_gen_array_open(g);
  for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
    {
      _cleanup_free_ char *name = NULL;
      char *lib = cap_to_name(c);
      if (lib == NULL)
        continue;
      name = xstrdup(lib);
      cap_free(lib);
      for (char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
          *p = (char)(*p - 'a' + 'A');
      if (nook_has_prefix(name, "CAP_"))
        nook_json_str(g, name);
    }
  yajl_gen_array_close(g);
}

static void enabled(yajl_gen g, const char *key, bool on)
{
  nook_json_str(g, key);
  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "enabled", on);
  yajl_gen_map_close(g);
}

static void linux_features(yajl_gen g)
{
  static const char *const namespaces[] = { "cgroup", "ipc", "mount", "network",
                                            "pid",    "time", "user", "uts" };

  nook_json_str(g, "linux");
  yajl_gen_map_open(g);
  strings(g, "namespaces", namespaces, ARRAY_SIZE(namespaces));
  capabilities(g);
  nook_json_str(g, "cgroup");
  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "v1", true);
  nook_json_kv_bool(g, "v2", true);
  /* --systemd-cgroup is mapped onto cgroupfs; nook does not talk to systemd. */
  nook_json_kv_bool(g, "systemd", false);
  nook_json_kv_bool(g, "systemdUser", false);
  nook_json_kv_bool(g, "rdma", true);
  yajl_gen_map_close(g);
  nook_json_str(g, "seccomp");
  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "enabled", true);
  spec_names(g, "actions", NOOK_NAMES_SECCOMP_ACTIONS, NULL);
  spec_names(g, "operators", NOOK_NAMES_SECCOMP_OPERATORS, NULL);
  spec_names(g, "archs", NOOK_NAMES_SECCOMP_ARCHS, NULL);
  spec_names(g, "knownFlags", NOOK_NAMES_SECCOMP_FLAGS, NULL);
  spec_names(g, "supportedFlags", NOOK_NAMES_SECCOMP_FLAGS, nook_seccomp_flag_supported);
  yajl_gen_map_close(g);
  enabled(g, "apparmor", false);
  enabled(g, "selinux", false);
  enabled(g, "intelRdt", false);
  nook_json_str(g, "mountExtensions");
  yajl_gen_map_open(g);
  enabled(g, "idmap", nook_rootfs_idmap_supported());
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
}

int cmd_features(const struct oci_globals *g_opts, int argc, char **argv)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  static const char *const hooks[] = { "prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop" };
  const struct scmp_version *v = seccomp_version();
  _cleanup_free_ char *libseccomp = NULL;
  _cleanup_free_ char *text = NULL;
  yajl_gen g;
  int c;

  (void)g_opts;
  while ((c = cli_getopt(argc, argv, opts, "features")) != -1)
    {
      if (c != 'h')
        return OCI_EXIT_ERROR;
      printf("usage: nook oci features\n\nPrints what this runtime supports, as the "
             "runtime-spec features JSON.\n");
      return 0;
    }
  if (cli_want_args(argc, argv, 0, "features", "nothing") != 0)
    return OCI_EXIT_ERROR;
  g = nook_json_gen_new(true);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "ociVersionMin", "1.0.0");
  nook_json_kv_str(g, "ociVersionMax", "1.2.0");
  strings(g, "hooks", hooks, ARRAY_SIZE(hooks));
  names(g, "mountOptions", nook_mount_option_name);
  linux_features(g);
  nook_json_str(g, "annotations");
  yajl_gen_map_open(g);
  libseccomp = v ? xasprintf("%u.%u.%u", v->major, v->minor, v->micro) : xstrdup("");
  nook_json_kv_str(g, "io.github.seccomp.libseccomp.version", libseccomp);
  nook_json_kv_str(g, "dev.nook.version", PACKAGE_VERSION);
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
  text = nook_json_gen_finish(g, NULL);
  printf("%s\n", text);
  return 0;
}
