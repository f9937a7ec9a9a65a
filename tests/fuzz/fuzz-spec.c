/* Fuzz target for config.json (runtime/spec*.c): each input is a bundle's config.json, parsed by
 * nook_spec_parse() and, when it parses, checked by nook_spec_validate(); the same text is
 * parsed as an `exec --process` document too.  What is computed from a parsed config without
 * touching the system comes next: the mount options (nook_mount_flags_parse) and the cgroup
 * path of linux.cgroupsPath (cgroup_path_compute, plain and --systemd-cgroup).
 *
 * Checked: no memory error, no leak, no undefined behaviour; every failure is one printable
 * line that starts with the document's name ("config.json: process.args: ..."); a relative
 * cgroupsPath stays below nook's own cgroup and no computed cgroup path holds a `..`. */
#include "config.h"

#include <string.h>

#include "cgroups/cgroup.h"
#include "cgroups/cgroup-internal.h"
#include "common/util.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "tests/fuzz/fuzz.h"

#define OWN_CGROUP "/system.slice/nook-fuzz.service"

static void check_cgroup_path(const struct nook_spec *spec, bool systemd, bool v2_parent)
{
  struct nook_cgroup_config cfg = { .id = "fuzz", .systemd = systemd };
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *path = NULL, *base = cgroup_path_base(OWN_CGROUP, v2_parent);
  int r;

  cfg.cgroups_path = spec->linux ? spec->linux->cgroups_path : NULL;
  r = cgroup_path_compute(OWN_CGROUP, v2_parent, &cfg, &path, &err);
  fuzz_check_error(r, err, NULL);
  if (r < 0)
    return;
  fuzz_check(path[0] == '/', "a cgroup path that is not absolute", path);
  fuzz_check(!strstr(path, "/../") && !nook_has_prefix(path, "../")
                 && !(strlen(path) >= 3 && streq(path + strlen(path) - 3, "/..")),
             "a cgroup path with `..`", path);
  if (!systemd && cfg.cgroups_path && cfg.cgroups_path[0] != '/')
    fuzz_check(nook_has_prefix(path, base) && path[strlen(base)] == '/',
               "a relative cgroupsPath outside nook's cgroup", path);
}

static void check_process(const char *data, size_t size)
{
  struct nook_process *p = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int r;

  r = nook_spec_parse_process(data, size, "process.json", &p, &err);
  fuzz_check_error(r, err, "process.json");
  if (r >= 0)
    {
      r = nook_spec_validate_process(p, "process.json", &err);
      fuzz_check_error(r, err, "process.json");
    }
  nook_process_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int r;

  check_process((const char *)data, size);
  r = nook_spec_parse((const char *)data, size, &spec, &err);
  fuzz_check_error(r, err, "config.json");
  if (r < 0)
    return 0;
  r = nook_spec_validate(spec, &err);
  fuzz_check_error(r, err, "config.json");
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      struct nook_mount_flags f = { 0 };
      nook_mount_flags_parse(spec->mounts[i].options, &f);
      free(f.data);
    }
  check_cgroup_path(spec, false, false);
  check_cgroup_path(spec, false, true);
  check_cgroup_path(spec, true, true);
  return 0;
}
