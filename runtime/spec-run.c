/* config.json for a container of `nook run`: the image's process, podman's defaults.
 *
 * The capability set, masked and read-only paths, the pids limit and the seccomp profile are
 * podman 4's defaults (containers/common pkg/config and pkg/seccomp); the container gets its
 * own pid, ipc, uts, mount, cgroup and network namespaces, and no_new_privs is off as in
 * podman.  The flags of `nook run` (cli/run-flags.c) change them through nook_run_config. */
#include "config.h"

#include <string.h>
#include <sys/capability.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/process.h"
#include "runtime/seccomp-profile.h"
#include "runtime/spec.h"

#define RUN_PIDS_LIMIT 2048    /* podman's containers.conf pids_limit */
#define RUN_CPU_PERIOD 100000 /* microseconds, as podman's --cpus */
#define CAP_BITS 64

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
  const char *const options[8]; /* NULL-terminated */
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

uint64_t nook_spec_run_default_caps(void)
{
  uint64_t mask = 0;

  for (size_t i = 0; run_caps[i]; i++)
    {
      int c = nook_cap_from_name(run_caps[i]);
      if (c >= 0 && c < CAP_BITS)
        mask |= UINT64_C(1) << c;
    }
  return mask;
}

uint64_t nook_spec_run_all_caps(void)
{
  cap_t cur = cap_get_proc();
  uint64_t mask = 0;

  if (cur == NULL)
    return 0;
  /* the kernel sets no permitted bit past its last capability */
  for (int c = 0; c < CAP_BITS; c++)
    {
      cap_flag_value_t v = CAP_CLEAR;
      if (cap_get_flag(cur, (cap_value_t)c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
        mask |= UINT64_C(1) << c;
    }
  cap_free(cur);
  return mask;
}

static uint64_t run_caps_mask(const struct nook_run_config *rc)
{
  return rc->caps_set ? rc->caps : nook_spec_run_default_caps();
}

/* The capabilities of mask as "CAP_CHOWN" ... in numeric order; those libcap has no name for
 * are left out (the runtime would refuse them). */
static void caps_gen(yajl_gen g, const char *key, uint64_t mask)
{
  nook_json_str(g, key);
  yajl_gen_array_open(g);
  for (int c = 0; c < CAP_BITS; c++)
    {
      char *lower;
      _cleanup_free_ char *name = NULL;
      if (!(mask & (UINT64_C(1) << c)) || !(lower = cap_to_name((cap_value_t)c)))
        continue;
      if (nook_has_prefix(lower, "cap_"))
        {
          name = xstrdup(lower);
          for (char *p = name; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
          nook_json_str(g, name);
        }
      cap_free(lower);
    }
  yajl_gen_array_close(g);
}

static void rlimits_gen(yajl_gen g, const struct nook_run_config *rc)
{
  if (rc->n_rlimits == 0)
    return;
  nook_json_str(g, "rlimits");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < rc->n_rlimits; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "type", rc->rlimits[i].type);
      nook_json_kv_u64(g, "hard", rc->rlimits[i].hard);
      nook_json_kv_u64(g, "soft", rc->rlimits[i].soft);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
}

static void process_gen(yajl_gen g, const struct nook_run_config *rc)
{
  static const char *const sets[] = { "bounding", "effective", "permitted" };
  uint64_t caps = run_caps_mask(rc);

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
    caps_gen(g, sets[i], rc->uid == 0 || i == 0 ? caps : 0);
  yajl_gen_map_close(g);
  rlimits_gen(g, rc);
  nook_json_kv_bool(g, "noNewPrivileges", rc->no_new_privileges);
  yajl_gen_map_close(g);
}

/* One mount; privileged drops "ro" (podman's --privileged mounts /sys and the cgroups
 * read-write). */
static void mount_gen(yajl_gen g, const char *destination, const char *type, const char *source,
                      const char *const *options, bool drop_ro)
{
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "destination", destination);
  nook_json_kv_str(g, "type", type);
  nook_json_kv_str(g, "source", source);
  nook_json_str(g, "options");
  yajl_gen_array_open(g);
  for (size_t i = 0; options && options[i]; i++)
    if (!drop_ro || !streq(options[i], "ro"))
      nook_json_str(g, options[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
}

static void run_mount_gen(yajl_gen g, const struct run_mount *m, bool drop_ro)
{
  mount_gen(g, m->destination, m->type, m->source, m->options, drop_ro);
}

/* Whether a mount of the flags has this destination: what the image or nook would mount
 * there gives way to it. */
static bool user_mounts(const struct nook_run_config *rc, const char *destination)
{
  for (size_t i = 0; i < rc->n_mounts; i++)
    if (streq(rc->mounts[i].destination, destination))
      return true;
  return false;
}

static void mounts_gen(yajl_gen g, const struct nook_run_config *rc)
{
  static const char *const volume_options[] = { "rbind", "nosuid", "nodev", NULL };
  static const char *const file_options[] = { "bind", "nosuid", "nodev", "noexec", NULL };

  nook_json_str(g, "mounts");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < ARRAY_SIZE(run_mounts); i++)
    run_mount_gen(g, &run_mounts[i], rc->privileged);
  for (size_t i = 0; rc->readonly && i < ARRAY_SIZE(run_mounts_readonly); i++)
    if (!user_mounts(rc, run_mounts_readonly[i].destination))
      run_mount_gen(g, &run_mounts_readonly[i], false);
  for (size_t i = 0; rc->bind_sources && rc->bind_sources[i]; i++)
    if (!user_mounts(rc, rc->bind_destinations[i]))
      mount_gen(g, rc->bind_destinations[i], "bind", rc->bind_sources[i], volume_options, false);
  for (size_t i = 0; i < rc->n_mounts; i++)
    mount_gen(g, rc->mounts[i].destination, rc->mounts[i].type,
              rc->mounts[i].source ? rc->mounts[i].source : rc->mounts[i].type,
              (const char *const *)rc->mounts[i].options, false);
  for (size_t i = 0; rc->file_sources && rc->file_sources[i]; i++)
    if (!user_mounts(rc, rc->file_destinations[i]))
      mount_gen(g, rc->file_destinations[i], "bind", rc->file_sources[i], file_options, false);
  yajl_gen_array_close(g);
}

static void device_rule_gen(yajl_gen g, bool allow, char type, int64_t major, int64_t minor,
                            const char *access)
{
  char t[2] = { type, '\0' };

  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "allow", allow);
  if (type)
    {
      nook_json_kv_str(g, "type", t);
      nook_json_kv_int(g, "major", major);
      nook_json_kv_int(g, "minor", minor);
    }
  nook_json_kv_str(g, "access", access);
  yajl_gen_map_close(g);
}

/* linux.devices for --device; their nodes get the host's mode and owner. */
static void devices_gen(yajl_gen g, const struct nook_run_config *rc)
{
  if (rc->n_devices == 0)
    return;
  nook_json_str(g, "devices");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < rc->n_devices; i++)
    {
      const struct nook_run_device *d = &rc->devices[i];
      char t[2] = { d->type, '\0' };
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "path", d->path);
      nook_json_kv_str(g, "type", t);
      nook_json_kv_int(g, "major", d->major);
      nook_json_kv_int(g, "minor", d->minor);
      nook_json_kv_int(g, "fileMode", d->file_mode);
      nook_json_kv_int(g, "uid", d->uid);
      nook_json_kv_int(g, "gid", d->gid);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
}

static void resources_gen(yajl_gen g, const struct nook_run_config *rc)
{
  nook_json_str(g, "resources");
  yajl_gen_map_open(g);
  nook_json_str(g, "devices");
  yajl_gen_array_open(g);
  device_rule_gen(g, rc->privileged, 0, 0, 0, "rwm");
  for (size_t i = 0; !rc->privileged && i < rc->n_devices; i++)
    device_rule_gen(g, true, rc->devices[i].type, rc->devices[i].major, rc->devices[i].minor,
                    rc->devices[i].access);
  yajl_gen_array_close(g);
  if (rc->memory || rc->memory_swap)
    {
      nook_json_str(g, "memory");
      yajl_gen_map_open(g);
      if (rc->memory)
        nook_json_kv_int(g, "limit", rc->memory);
      if (rc->memory_swap)
        nook_json_kv_int(g, "swap", rc->memory_swap);
      yajl_gen_map_close(g);
    }
  if (rc->cpu_quota || rc->cpu_shares)
    {
      nook_json_str(g, "cpu");
      yajl_gen_map_open(g);
      if (rc->cpu_shares)
        nook_json_kv_u64(g, "shares", rc->cpu_shares);
      if (rc->cpu_quota)
        {
          nook_json_kv_int(g, "quota", rc->cpu_quota);
          nook_json_kv_u64(g, "period", RUN_CPU_PERIOD);
        }
      yajl_gen_map_close(g);
    }
  nook_json_str(g, "pids");
  yajl_gen_map_open(g);
  nook_json_kv_int(g, "limit", rc->pids_limit ? rc->pids_limit : RUN_PIDS_LIMIT);
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
}

static void linux_gen(yajl_gen g, const struct nook_run_config *rc)
{
  static const char *const ns[] = { "pid", "ipc", "uts", "mount", "cgroup", "network" };
  size_t n = ARRAY_SIZE(ns) - (rc->host_network ? 1 : 0);

  nook_json_str(g, "linux");
  yajl_gen_map_open(g);
  if (rc->cgroups_path)
    nook_json_kv_str(g, "cgroupsPath", rc->cgroups_path);
  resources_gen(g, rc);
  devices_gen(g, rc);
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
  if (!rc->privileged)
    {
      kv_strv(g, "maskedPaths", run_masked);
      kv_strv(g, "readonlyPaths", run_readonly);
    }
  if (!rc->seccomp_unconfined)
    {
      nook_json_str(g, "seccomp");
      nook_seccomp_profile_gen(g, rc->seccomp ? rc->seccomp : nook_seccomp_profile_default(),
                               run_caps_mask(rc), NULL, NULL);
    }
  yajl_gen_map_close(g);
}

/* KEY=VALUE as an annotation; nothing for an entry without '='. */
static void annotation_gen(yajl_gen g, const char *kv)
{
  const char *eq = strchr(kv, '=');
  _cleanup_free_ char *key = NULL;

  if (!eq)
    return;
  key = xstrndup(kv, (size_t)(eq - kv));
  nook_json_kv_str(g, key, eq + 1);
}

static bool labels_have(const struct nook_run_config *rc, const char *kv)
{
  size_t klen = strcspn(kv, "=");

  for (size_t i = 0; rc->labels && rc->labels[i]; i++)
    if (strncmp(rc->labels[i], kv, klen) == 0 && rc->labels[i][klen] == '=')
      return true;
  return false;
}

static void annotations_gen(yajl_gen g, const struct nook_run_config *rc)
{
  if (!rc->annotations && !rc->stop_signal && !rc->labels)
    return;
  nook_json_str(g, "annotations");
  yajl_gen_map_open(g);
  if (rc->stop_signal)
    nook_json_kv_str(g, "org.opencontainers.image.stopSignal", rc->stop_signal);
  for (size_t i = 0; rc->annotations && rc->annotations[i]; i++)
    if (!labels_have(rc, rc->annotations[i]))
      annotation_gen(g, rc->annotations[i]);
  for (size_t i = 0; rc->labels && rc->labels[i]; i++)
    annotation_gen(g, rc->labels[i]);
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
  annotations_gen(g, rc);
  linux_gen(g, rc);
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, NULL);
}
