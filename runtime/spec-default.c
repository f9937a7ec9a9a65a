/* The config.json that `nook oci spec` writes: the one `runc spec` (1.1) writes, field for
 * field, with nook's ociVersion and hostname.  The rootless variant follows
 * `runc spec --rootless`: a user namespace mapping the caller to root, no network namespace,
 * /sys bind-mounted read-only, no devpts gid and no device cgroup rules. */
#include "config.h"

#include <string.h>
#include <yajl/yajl_gen.h>

#include "common/util.h"
#include "runtime/spec.h"

struct default_mount
{
  const char *destination;
  const char *type;
  const char *source;
  const char *const *options; /* NULL-terminated, NULL for none */
};

static const char *const dev_options[] = { "nosuid", "strictatime", "mode=755", "size=65536k",
                                           NULL };
static const char *const devpts_options[] = { "nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                              "mode=0620", "gid=5",  NULL };
static const char *const shm_options[] = { "nosuid",    "noexec",      "nodev",
                                           "mode=1777", "size=65536k", NULL };
static const char *const mqueue_options[] = { "nosuid", "noexec", "nodev", NULL };
static const char *const sys_options[] = { "nosuid", "noexec", "nodev", "ro", NULL };
static const char *const sys_rootless_options[] = {
  "rbind", "nosuid", "noexec", "nodev", "ro", NULL
};
static const char *const cgroup_options[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };

/* The rootless variant swaps /sys for sys_rootless_mount and drops "gid=5" from devpts
 * (mounts_gen()). */
static const struct default_mount default_mounts[] = {
  { "/proc", "proc", "proc", NULL },
  { "/dev", "tmpfs", "tmpfs", dev_options },
  { "/dev/pts", "devpts", "devpts", devpts_options },
  { "/dev/shm", "tmpfs", "shm", shm_options },
  { "/dev/mqueue", "mqueue", "mqueue", mqueue_options },
  { "/sys", "sysfs", "sysfs", sys_options },
  { "/sys/fs/cgroup", "cgroup", "cgroup", cgroup_options },
};
static const struct default_mount sys_rootless_mount = { "/sys", "none", "/sys",
                                                         sys_rootless_options };

static const char *const default_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                            NULL };
static const char *const cap_sets[] = { "bounding", "effective", "permitted", "ambient", NULL };
static const char *const default_env[] = {
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL
};
static const char *const default_args[] = { "sh", NULL };

static const char *const masked_paths[] = {
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
  NULL,
};
static const char *const readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static void gen_str(yajl_gen g, const char *s)
{
  yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_key_str(yajl_gen g, const char *key, const char *value)
{
  gen_str(g, key);
  gen_str(g, value);
}

static void gen_key_int(yajl_gen g, const char *key, long long value)
{
  gen_str(g, key);
  yajl_gen_integer(g, value);
}

static void gen_key_bool(yajl_gen g, const char *key, bool value)
{
  gen_str(g, key);
  yajl_gen_bool(g, value);
}

/* "key": [ "a", "b" ], stopping at NULL or after max items. */
static void gen_key_strv(yajl_gen g, const char *key, const char *const *v, size_t max)
{
  gen_str(g, key);
  yajl_gen_array_open(g);
  for (size_t i = 0; v[i] && i < max; i++)
    gen_str(g, v[i]);
  yajl_gen_array_close(g);
}

static void process_gen(yajl_gen g)
{
  gen_str(g, "process");
  yajl_gen_map_open(g);
  gen_key_bool(g, "terminal", true);
  gen_str(g, "user");
  yajl_gen_map_open(g);
  gen_key_int(g, "uid", 0);
  gen_key_int(g, "gid", 0);
  yajl_gen_map_close(g);
  gen_key_strv(g, "args", default_args, SIZE_MAX);
  gen_key_strv(g, "env", default_env, SIZE_MAX);
  gen_key_str(g, "cwd", "/");
  gen_str(g, "capabilities");
  yajl_gen_map_open(g);
  for (size_t i = 0; cap_sets[i]; i++)
    gen_key_strv(g, cap_sets[i], default_caps, SIZE_MAX);
  yajl_gen_map_close(g);
  gen_str(g, "rlimits");
  yajl_gen_array_open(g);
  yajl_gen_map_open(g);
  gen_key_str(g, "type", "RLIMIT_NOFILE");
  gen_key_int(g, "hard", 1024);
  gen_key_int(g, "soft", 1024);
  yajl_gen_map_close(g);
  yajl_gen_array_close(g);
  gen_key_bool(g, "noNewPrivileges", true);
  yajl_gen_map_close(g);
}

static void mounts_gen(yajl_gen g, bool rootless)
{
  gen_str(g, "mounts");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++)
    {
      const struct default_mount *m = &default_mounts[i];
      size_t max = SIZE_MAX;
      if (rootless && streq(m->destination, "/sys"))
        m = &sys_rootless_mount;
      if (rootless && streq(m->destination, "/dev/pts"))
        max = ARRAY_SIZE(devpts_options) - 2; /* without "gid=5": no group 5 in the userns */
      yajl_gen_map_open(g);
      gen_key_str(g, "destination", m->destination);
      gen_key_str(g, "type", m->type);
      gen_key_str(g, "source", m->source);
      if (m->options)
        gen_key_strv(g, "options", m->options, max);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
}

static void id_mapping_gen(yajl_gen g, const char *key, unsigned long host_id)
{
  gen_str(g, key);
  yajl_gen_array_open(g);
  yajl_gen_map_open(g);
  gen_key_int(g, "containerID", 0);
  gen_key_int(g, "hostID", (long long)host_id);
  gen_key_int(g, "size", 1);
  yajl_gen_map_close(g);
  yajl_gen_array_close(g);
}

static void linux_gen(yajl_gen g, bool rootless, uid_t uid, gid_t gid)
{
  static const char *const ns[] = { "pid", "network", "ipc", "uts", "mount", NULL };
  static const char *const ns_rootless[] = { "pid", "ipc", "uts", "mount", "user", NULL };
  const char *const *list = rootless ? ns_rootless : ns;

  gen_str(g, "linux");
  yajl_gen_map_open(g);
  if (rootless)
    {
      id_mapping_gen(g, "uidMappings", uid);
      id_mapping_gen(g, "gidMappings", gid);
    }
  else
    {
      gen_str(g, "resources");
      yajl_gen_map_open(g);
      gen_str(g, "devices");
      yajl_gen_array_open(g);
      yajl_gen_map_open(g);
      gen_key_bool(g, "allow", false);
      gen_key_str(g, "access", "rwm");
      yajl_gen_map_close(g);
      yajl_gen_array_close(g);
      yajl_gen_map_close(g);
    }
  gen_str(g, "namespaces");
  yajl_gen_array_open(g);
  for (size_t i = 0; list[i]; i++)
    {
      yajl_gen_map_open(g);
      gen_key_str(g, "type", list[i]);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  gen_key_strv(g, "maskedPaths", masked_paths, SIZE_MAX);
  gen_key_strv(g, "readonlyPaths", readonly_paths, SIZE_MAX);
  yajl_gen_map_close(g);
}

/* yajl allocating through x*alloc(): out of memory aborts, so the generator cannot fail. */
static void *gen_malloc(void *ctx, size_t n)
{
  return xmalloc(n);
}
static void *gen_realloc(void *ctx, void *p, size_t n)
{
  return xrealloc(p, n);
}
static void gen_free(void *ctx, void *p)
{
  free(p);
}
static const yajl_alloc_funcs gen_alloc = { gen_malloc, gen_realloc, gen_free, NULL };

char *nook_spec_default_json(bool rootless, uid_t uid, gid_t gid)
{
  yajl_gen g = yajl_gen_alloc(&gen_alloc);
  const unsigned char *buf = NULL;
  size_t len = 0;
  char *out;
  yajl_gen_config(g, yajl_gen_beautify, 1);
  yajl_gen_config(g, yajl_gen_indent_string, "  ");
  yajl_gen_map_open(g);
  gen_key_str(g, "ociVersion", "1.2.0");
  process_gen(g);
  gen_str(g, "root");
  yajl_gen_map_open(g);
  gen_key_str(g, "path", "rootfs");
  gen_key_bool(g, "readonly", true);
  yajl_gen_map_close(g);
  gen_key_str(g, "hostname", "nook");
  mounts_gen(g, rootless);
  linux_gen(g, rootless, uid, gid);
  yajl_gen_map_close(g);
  /* In beautify mode yajl ends the document with a newline. */
  yajl_gen_get_buf(g, &buf, &len);
  out = xstrndup((const char *)buf, len);
  yajl_gen_free(g);
  return out;
}
