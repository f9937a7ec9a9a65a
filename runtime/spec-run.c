/* config.json for a container of `nook run`: the image's process, podman's defaults.
 *
 * The capability set, masked and read-only paths are podman 4's defaults (containers/common
 * pkg/config); the container gets its own pid, ipc, uts, mount, cgroup and network
 * namespaces, and no_new_privs is off as in podman. */
#include "config.h"

#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/spec.h"

static const char *const run_caps[] = {
  "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",     "CAP_KILL",
  "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
  "CAP_SYS_CHROOT", NULL,
};

static const char *const run_masked[] = {
  "/proc/acpi",        "/proc/kcore",       "/proc/keys",      "/proc/latency_stats",
  "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware",     "/sys/fs/selinux",   "/sys/dev/block",  "/sys/devices/virtual/powercap",
  NULL,
};

static const char *const run_readonly[] = {
  "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

struct run_mount
{
  const char *destination, *type, *source;
  const char *const options[8];
};

static const struct run_mount run_mounts[] = {
  { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
  { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
  { "/dev/pts", "devpts", "devpts",
    { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
  { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
  { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
  { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
  { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro" } },
};

/* With a read-only root, as podman's --read-only-tmpfs (its default). */
static const struct run_mount run_mounts_readonly[] = {
  { "/run", "tmpfs", "tmpfs", { "nosuid", "nodev", "mode=755" } },
  { "/tmp", "tmpfs", "tmpfs", { "nosuid", "nodev", "mode=1777" } },
  { "/var/tmp", "tmpfs", "tmpfs", { "nosuid", "nodev", "mode=1777" } },
};

static void kv_strv(yajl_gen g, const char *key, const char *const *v)
{
  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; v && v[i]; i++)
    nook_json_str(g, v[i]);
  yajl_gen_array_close(g);
}

static void process_gen(yajl_gen g, const struct nook_run_config *rc)
{
  static const char *const sets[] = { "bounding", "effective", "permitted" };

  nook_json_str(g, "process");
  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "terminal", rc->terminal);
  nook_json_str(g, "user");
  yajl_gen_map_open(g);
  nook_json_kv_int(g, "uid", rc->uid);
  nook_json_kv_int(g, "gid", rc->gid);
  if (rc->ngids)
    {
      nook_json_str(g, "additionalGids");
      yajl_gen_array_open(g);
      for (size_t i = 0; i < rc->ngids; i++)
        yajl_gen_integer(g, rc->gids[i]);
      yajl_gen_array_close(g);
    }
  yajl_gen_map_close(g);
  kv_strv(g, "args", (const char *const *)rc->args);
  kv_strv(g, "env", (const char *const *)rc->env);
  nook_json_kv_str(g, "cwd", rc->cwd);
  nook_json_str(g, "capabilities");
  yajl_gen_map_open(g);
  /* Root gets the set in effective and permitted; any other uid starts without effective
   * capabilities, as podman does (they come back only through file capabilities). */
  for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
    kv_strv(g, sets[i], rc->uid == 0 || i == 0 ? run_caps : NULL);
  yajl_gen_map_close(g);
  nook_json_kv_bool(g, "noNewPrivileges", false);
  yajl_gen_map_close(g);
}

static void mount_gen(yajl_gen g, const struct run_mount *m)
{
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "destination", m->destination);
  nook_json_kv_str(g, "type", m->type);
  nook_json_kv_str(g, "source", m->source);
  kv_strv(g, "options", m->options);
  yajl_gen_map_close(g);
}

static void mounts_gen(yajl_gen g, const struct nook_run_config *rc)
{
  nook_json_str(g, "mounts");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < ARRAY_SIZE(run_mounts); i++)
    mount_gen(g, &run_mounts[i]);
  for (size_t i = 0; rc->readonly && i < ARRAY_SIZE(run_mounts_readonly); i++)
    mount_gen(g, &run_mounts_readonly[i]);
  for (size_t i = 0; rc->bind_sources && rc->bind_sources[i]; i++)
    {
      const struct run_mount m = { rc->bind_destinations[i], "bind", rc->bind_sources[i],
                                   { "rbind", "nosuid", "nodev" } };
      mount_gen(g, &m);
    }
  for (size_t i = 0; rc->file_sources && rc->file_sources[i]; i++)
    {
      const struct run_mount m = { rc->file_destinations[i], "bind", rc->file_sources[i],
                                   { "bind", "nosuid", "nodev", "noexec" } };
      mount_gen(g, &m);
    }
  yajl_gen_array_close(g);
}

static void linux_gen(yajl_gen g, const struct nook_run_config *rc)
{
  static const char *const ns[] = { "pid", "ipc", "uts", "mount", "cgroup", "network" };
  size_t n = ARRAY_SIZE(ns) - (rc->host_network ? 1 : 0);

  nook_json_str(g, "linux");
  yajl_gen_map_open(g);
  if (rc->cgroups_path)
    nook_json_kv_str(g, "cgroupsPath", rc->cgroups_path);
  nook_json_str(g, "resources");
  yajl_gen_map_open(g);
  nook_json_str(g, "devices");
  yajl_gen_array_open(g);
  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "allow", false);
  nook_json_kv_str(g, "access", "rwm");
  yajl_gen_map_close(g);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
  nook_json_str(g, "namespaces");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "type", ns[i]);
      if (streq(ns[i], "network") && rc->netns_path)
        nook_json_kv_str(g, "path", rc->netns_path);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  kv_strv(g, "maskedPaths", run_masked);
  kv_strv(g, "readonlyPaths", run_readonly);
  yajl_gen_map_close(g);
}

char *nook_spec_run_json(const struct nook_run_config *rc)
{
  yajl_gen g = nook_json_gen_new(true);

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "ociVersion", "1.2.0");
  process_gen(g, rc);
  nook_json_str(g, "root");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "path", rc->root_path);
  nook_json_kv_bool(g, "readonly", rc->readonly);
  yajl_gen_map_close(g);
  if (rc->hostname)
    nook_json_kv_str(g, "hostname", rc->hostname);
  mounts_gen(g, rc);
  if (rc->annotations || rc->stop_signal)
    {
      nook_json_str(g, "annotations");
      yajl_gen_map_open(g);
      if (rc->stop_signal)
        nook_json_kv_str(g, "org.opencontainers.image.stopSignal", rc->stop_signal);
      for (size_t i = 0; rc->annotations && rc->annotations[i]; i++)
        {
          const char *eq = strchr(rc->annotations[i], '=');
          _cleanup_free_ char *key = NULL;
          if (!eq)
            continue;
          key = xstrndup(rc->annotations[i], (size_t)(eq - rc->annotations[i]));
          nook_json_kv_str(g, key, eq + 1);
        }
      yajl_gen_map_close(g);
    }
  linux_gen(g, rc);
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, NULL);
}
