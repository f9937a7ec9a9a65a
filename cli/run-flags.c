/* The confinement, resource, mount and label flags of `nook run`, with podman's spelling and
 * defaults (podman run(1); containers/common pkg/parse and docker's go-units for sizes and
 * ulimits).  The parsers are pure; run_flags_parse() adds what needs the host. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli/run-flags.h"
#include "common/util.h"
#include "runtime/process.h"
#include "runtime/seccomp-profile.h"

#define MIN_MEMORY (6 << 20) /* podman's: "minimum memory limit allowed is 6MB" */
#define CPU_PERIOD 100000
#define PROFILE_MAX (4u << 20)

static const char flags_usage[] =
    "  --privileged           all capabilities, no seccomp, no masked paths, every device\n"
    "  --security-opt OPT     seccomp=unconfined|FILE (podman's or OCI format),\n"
    "                         no-new-privileges\n"
    "  --cap-add CAP          add capabilities (CAP_NET_ADMIN, net_admin, ALL)\n"
    "  --cap-drop CAP         drop capabilities (or ALL)\n"
    "  --memory SIZE          memory limit (b, k, m, g; at least 6m)\n"
    "  --memory-swap SIZE     memory+swap limit (-1: unlimited; default twice --memory)\n"
    "  --cpus N               CPUs (decimal): a quota of N x 100000 us per 100000 us\n"
    "  --cpu-shares N         relative CPU weight (2-262144)\n"
    "  --pids-limit N         most tasks (default 2048; 0 or -1: unlimited)\n"
    "  --ulimit NAME=S[:H]    an rlimit: nofile, nproc, core ... (-1: unlimited)\n"
    "  -v, --volume SRC:DST[:OPTS]  bind-mount the host path SRC (ro, rw, z, Z, nosuid,\n"
    "                         nodev, noexec, bind, rbind, [r]private, [r]shared, [r]slave)\n"
    "  --mount type=bind,src=SRC,dst=DST[,ro]  or type=tmpfs,dst=DST[,tmpfs-size=SIZE]\n"
    "  --tmpfs DST[:OPTS]     a tmpfs (options: size=, mode=, ro, exec ...)\n"
    "  --device HOST[:CTR][:rwm]  a host device node\n"
    "  --label KEY[=VALUE]    an annotation of the container\n";

void run_flags_usage(FILE *f)
{
  fputs(flags_usage, f);
}

/* ---- numbers ---------------------------------------------------------------------------- */

int run_parse_size(const char *flag, const char *s, int64_t *ret, struct nook_error **err)
{
  static const char units[] = "bkmgtp";
  unsigned __int128 whole = 0, frac = 0, scale = 1, mult = 1, v;
  const char *p = s, *u;

  if (!(*p >= '0' && *p <= '9'))
    goto bad;
  for (; *p >= '0' && *p <= '9'; p++)
    if ((whole = whole * 10 + (unsigned)(*p - '0')) > INT64_MAX)
      goto range;
  if (*p == '.')
    {
      for (p++; *p >= '0' && *p <= '9'; p++)
        if (scale < UINT64_MAX / 10)
          {
            frac = frac * 10 + (unsigned)(*p - '0');
            scale *= 10;
          }
    }
  if (*p == ' ')
    p++;
  if (*p && (u = strchr(units, (char)(*p | 0x20))) && *u != 'b')
    {
      for (const char *q = units + 1; q <= u; q++)
        mult *= 1024;
      p++;
      if ((*p | 0x20) == 'i')
        p++;
    }
  if ((*p | 0x20) == 'b')
    p++;
  if (*p)
    goto bad;
  v = whole * mult + frac * mult / scale;
  if (v > INT64_MAX)
    goto range;
  *ret = (int64_t)v;
  return 0;
bad:
  return nook_error_setx(err, EINVAL,
                         "%s `%s`: not a size (a number with an optional unit b, "
                         "k, m or g)",
                         flag, s);
range:
  return nook_error_setx(err, ERANGE, "%s `%s`: too large", flag, s);
}

int run_parse_cpus(const char *s, int64_t *ret_quota, struct nook_error **err)
{
  uint64_t whole = 0, frac = 0;
  unsigned digits = 0;
  const char *p = s;

  if (!((*p >= '0' && *p <= '9') || *p == '.'))
    goto bad;
  for (; *p >= '0' && *p <= '9'; p++)
    if ((whole = whole * 10 + (unsigned)(*p - '0')) > 1000000)
      return nook_error_setx(err, ERANGE, "--cpus `%s`: too large", s);
  if (*p == '.')
    {
      for (p++; *p >= '0' && *p <= '9'; p++, digits++)
        {
          if (digits < 5) /* a 100000 us period: finer is no longer a quota */
            frac = frac * 10 + (unsigned)(*p - '0');
          else if (*p != '0')
            return nook_error_setx(err, EINVAL, "--cpus `%s`: at most 5 decimals", s);
        }
    }
  if (*p || (p == s + 1 && *s == '.'))
    goto bad;
  for (; digits < 5; digits++)
    frac *= 10;
  if (whole * CPU_PERIOD + frac < CPU_PERIOD / 100)
    return nook_error_setx(err, EINVAL, "--cpus `%s`: at least 0.01", s);
  *ret_quota = (int64_t)(whole * CPU_PERIOD + frac);
  return 0;
bad:
  return nook_error_setx(err, EINVAL, "--cpus `%s`: not a number of CPUs (like 1.5)", s);
}

int run_parse_cpu_shares(const char *s, uint64_t *ret, struct nook_error **err)
{
  uint64_t v;

  if (nook_parse_u64(s, &v) < 0 || v < 2 || v > 262144)
    return nook_error_setx(err, EINVAL, "--cpu-shares `%s`: not a number from 2 to 262144", s);
  *ret = v;
  return 0;
}

int run_parse_pids_limit(const char *s, int64_t *ret, struct nook_error **err)
{
  int64_t v;

  if (nook_parse_i64(s, &v) < 0 || v < -1)
    return nook_error_setx(err, EINVAL,
                           "--pids-limit `%s`: not a count of tasks (0 or -1: "
                           "unlimited)",
                           s);
  *ret = v == 0 ? -1 : v;
  return 0;
}

/* ---- ulimit ----------------------------------------------------------------------------- */

static const struct
{
  const char *name, *type;
  int resource;
} rlimit_names[] = {
  { "as", "RLIMIT_AS", RLIMIT_AS },
  { "core", "RLIMIT_CORE", RLIMIT_CORE },
  { "cpu", "RLIMIT_CPU", RLIMIT_CPU },
  { "data", "RLIMIT_DATA", RLIMIT_DATA },
  { "fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "locks", "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "nice", "RLIMIT_NICE", RLIMIT_NICE },
  { "nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "nproc", "RLIMIT_NPROC", RLIMIT_NPROC },
  { "rss", "RLIMIT_RSS", RLIMIT_RSS },
  { "rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "stack", "RLIMIT_STACK", RLIMIT_STACK },
};

static int rlim_value(const char *s, uint64_t *ret)
{
  if (streq(s, "-1") || streq(s, "unlimited"))
    {
      *ret = UINT64_MAX; /* RLIM_INFINITY */
      return 0;
    }
  return nook_parse_u64(s, ret) < 0 || *ret == UINT64_MAX ? -1 : 0;
}

int run_parse_ulimit(const char *s, struct nook_run_rlimit *ret, struct nook_error **err)
{
  const char *eq = strchr(s, '=');
  _cleanup_free_ char *name = NULL, *soft = NULL;
  const char *colon, *type = NULL;
  uint64_t vs, vh;

  if (!eq)
    return nook_error_setx(err, EINVAL, "--ulimit `%s`: not NAME=SOFT[:HARD]", s);
  name = xstrndup(s, (size_t)(eq - s));
  for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
    if (strcasecmp(name, rlimit_names[i].name) == 0)
      type = rlimit_names[i].type;
  if (!type)
    return nook_error_setx(err, EINVAL,
                           "--ulimit `%s`: unknown limit `%s` (nofile, nproc, "
                           "core, stack, memlock ...)",
                           s, name);
  colon = strchr(eq + 1, ':');
  soft = colon ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup(eq + 1);
  if (rlim_value(soft, &vs) < 0 || (colon && rlim_value(colon + 1, &vh) < 0))
    return nook_error_setx(err, EINVAL, "--ulimit `%s`: not a number (or -1 for unlimited)", s);
  if (!colon)
    vh = vs;
  if (vs > vh)
    return nook_error_setx(err, EINVAL, "--ulimit `%s`: the soft limit is above the hard limit", s);
  *ret = (struct nook_run_rlimit){ .type = type, .soft = vs, .hard = vh };
  return 0;
}

/* ---- capabilities ----------------------------------------------------------------------- */

int run_parse_caps(const char *flag, const char *s, uint64_t *mask, bool *all,
                   struct nook_error **err)
{
  _cleanup_free_ char *copy = xstrdup(s);
  char *save = NULL;
  bool any = false;

  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save))
    {
      int c;
      any = true;
      if (strcasecmp(name, "ALL") == 0)
        {
          *all = true;
          continue;
        }
      if ((c = nook_cap_from_name(name)) < 0)
        return nook_error_setx(err, EINVAL, "%s `%s`: unknown capability `%s`", flag, s, name);
      *mask |= UINT64_C(1) << c;
    }
  if (!any)
    return nook_error_setx(err, EINVAL, "%s: no capability given", flag);
  return 0;
}

/* "CAP_NET_ADMIN" for 12, as libcap names it. */
static char *cap_name(int c)
{
  char *lower = cap_to_name((cap_value_t)c);
  char *name = xstrdup(lower ? lower : "?");

  cap_free(lower);
  for (char *p = name; *p; p++)
    *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
  return name;
}

int run_caps_merge(uint64_t base, uint64_t all_caps, uint64_t add, bool add_all, uint64_t drop,
                   bool drop_all, uint64_t *ret, struct nook_error **err)
{
  uint64_t both = add & drop;

  if (add_all && drop_all)
    return nook_error_setx(err, EINVAL, "--cap-add ALL and --cap-drop ALL: choose one");
  if (both)
    {
      _cleanup_free_ char *name = cap_name(__builtin_ctzll(both));
      return nook_error_setx(err, EINVAL, "--cap-add and --cap-drop both name `%s`", name);
    }
  if (drop_all)
    *ret = add;
  else if (add_all)
    *ret = all_caps & ~drop;
  else
    *ret = (base | add) & ~drop;
  return 0;
}

/* ---- mounts ----------------------------------------------------------------------------- */

void run_mount_clear(struct nook_run_mount *m)
{
  free(m->destination);
  free(m->type);
  free(m->source);
  nook_strv_free(m->options);
  *m = (struct nook_run_mount){ 0 };
}

static bool in_list(const char *s, const char *const *list)
{
  for (size_t i = 0; list[i]; i++)
    if (streq(s, list[i]))
      return true;
  return false;
}

static int check_paths(const char *flag, const char *spec, const char *src, const char *dst,
                       struct nook_error **err);

static const char *const propagations[] = { "private", "rprivate", "shared", "rshared",
                                            "slave",   "rslave",   NULL };

/* The options of -v: ro|rw, z|Z (SELinux labels: nook sets none), the propagation,
 * bind|rbind, [no]suid [no]dev [no]exec.  Podman's U and O are not supported. */
static int volume_options(const char *flag, const char *spec, char *const *opts,
                          struct nook_run_mount *m, struct nook_error **err)
{
  static const char *const passed[] = { "nosuid", "suid", "nodev", "dev", "noexec", "exec", NULL };
  const char *rw = NULL, *prop = NULL, *bind = NULL;
  _cleanup_strv_ char **extra = NULL;

  for (size_t i = 0; opts && opts[i]; i++)
    {
      const char *o = opts[i];
      const char **slot = streq(o, "ro") || streq(o, "rw")        ? &rw
                          : in_list(o, propagations)              ? &prop
                          : streq(o, "bind") || streq(o, "rbind") ? &bind
                                                                  : NULL;
      if (slot && *slot)
        return nook_error_setx(err, EINVAL, "%s `%s`: `%s` and `%s` conflict", flag, spec, *slot,
                               o);
      if (slot)
        *slot = o;
      else if (in_list(o, passed))
        nook_strv_push(&extra, o);
      else if (streq(o, "U") || streq(o, "O") || streq(o, "idmap"))
        return nook_error_setx(err, ENOTSUP, "%s `%s`: option `%s` is not supported", flag, spec,
                               o);
      else if (!streq(o, "z") && !streq(o, "Z"))
        return nook_error_setx(err, EINVAL, "%s `%s`: unknown option `%s`", flag, spec, o);
    }
  nook_strv_push(&m->options, bind ? bind : "rbind");
  nook_strv_push(&m->options, prop ? prop : "rprivate");
  if (rw && streq(rw, "ro"))
    nook_strv_push(&m->options, "ro");
  for (size_t i = 0; extra && extra[i]; i++)
    nook_strv_push(&m->options, extra[i]);
  return 0;
}

/* Splits a comma-separated list (empty items dropped). */
static char **split_commas(const char *s)
{
  _cleanup_free_ char *copy = xstrdup(s ? s : "");
  char **v = NULL, *save = NULL;

  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    nook_strv_push(&v, t);
  return v;
}

/* A bind mount of a parsed spec. */
static int bind_mount(const char *flag, const char *spec, const char *src, const char *dst,
                      char *const *opts, struct nook_run_mount *ret, struct nook_error **err)
{
  struct nook_run_mount m = { 0 };

  if (check_paths(flag, spec, src ? src : "", dst, err) < 0
      || volume_options(flag, spec, opts, &m, err) < 0)
    {
      run_mount_clear(&m);
      return -1;
    }
  m.destination = xstrdup(dst);
  m.type = xstrdup("bind");
  m.source = xstrdup(src);
  *ret = m;
  return 0;
}

static int check_paths(const char *flag, const char *spec, const char *src, const char *dst,
                       struct nook_error **err)
{
  if (src && !*src)
    return nook_error_setx(err, EINVAL, "%s `%s`: no source", flag, spec);
  if (src && *src != '/')
    return nook_error_setx(err, ENOTSUP,
                           "%s `%s`: named volumes are not supported yet, the "
                           "source must be an absolute host path",
                           flag, spec);
  if (!dst || *dst != '/')
    return nook_error_setx(err, EINVAL, "%s `%s`: the destination `%s` is not an absolute path",
                           flag, spec, dst ? dst : "");
  if (dst[strspn(dst, "/")] == '\0')
    return nook_error_setx(err, EINVAL, "%s `%s`: cannot mount over the root", flag, spec);
  return 0;
}

int run_parse_volume(const char *s, struct nook_run_mount *ret, struct nook_error **err)
{
  _cleanup_free_ char *copy = xstrdup(s);
  _cleanup_strv_ char **opts = NULL;
  char *dst = strchr(copy, ':'), *o;

  if (!dst)
    return nook_error_setx(err, ENOTSUP,
                           "-v `%s`: anonymous volumes are not supported yet, "
                           "give HOST-PATH:%s",
                           s, s);
  *dst++ = '\0';
  if ((o = strchr(dst, ':')))
    *o++ = '\0';
  opts = split_commas(o);
  return bind_mount("-v", s, copy, dst, opts, ret, err);
}

/* tmpfs options: the mount flags, and size= mode= uid= gid= nr_inodes= nr_blocks= checked. */
static int tmpfs_option(const char *flag, const char *spec, const char *o, struct nook_error **err)
{
  static const char *const known[] = {
    "ro",         "rw",       "nosuid",     "suid",        "nodev",         "dev",       "noexec",
    "exec",       "sync",     "async",      "dirsync",     "atime",         "noatime",   "diratime",
    "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "tmpcopyup", NULL,
  };
  const char *eq = strchr(o, '=');
  _cleanup_free_ char *key = eq ? xstrndup(o, (size_t)(eq - o)) : NULL;
  int64_t size;
  uint64_t n;

  if (!eq && in_list(o, known))
    return 0;
  if (streq(key, "size")
      && (run_parse_size(flag, eq + 1, &size, NULL) == 0
          || (eq[1] && strspn(eq + 1, "0123456789") == strlen(eq + 1) - 1
              && eq[strlen(eq) - 1] == '%')))
    return 0;
  if (streq(key, "mode") && eq[1] && strspn(eq + 1, "01234567") == strlen(eq + 1)
      && strlen(eq + 1) <= 4)
    return 0;
  if ((streq(key, "uid") || streq(key, "gid") || streq(key, "nr_inodes") || streq(key, "nr_blocks"))
      && nook_parse_u64(eq + 1, &n) == 0)
    return 0;
  if (key
      && (streq(key, "size") || streq(key, "mode") || streq(key, "uid") || streq(key, "gid")
          || streq(key, "nr_inodes") || streq(key, "nr_blocks")))
    return nook_error_setx(err, EINVAL, "%s `%s`: bad value in `%s`", flag, spec, o);
  return nook_error_setx(err, EINVAL, "%s `%s`: unknown option `%s`", flag, spec, o);
}

static int tmpfs_mount(const char *flag, const char *spec, const char *dst, char **opts,
                       struct nook_run_mount *ret, struct nook_error **err)
{
  struct nook_run_mount m = { 0 };

  if (check_paths(flag, spec, NULL, dst, err) < 0)
    return -1;
  for (size_t i = 0; opts && opts[i]; i++)
    if (tmpfs_option(flag, spec, opts[i], err) < 0)
      return -1;
  /* podman's defaults; the user's options come after and win */
  nook_strv_push(&m.options, "nosuid");
  nook_strv_push(&m.options, "nodev");
  nook_strv_push(&m.options, "noexec");
  for (size_t i = 0; opts && opts[i]; i++)
    nook_strv_push(&m.options, opts[i]);
  m.destination = xstrdup(dst);
  m.type = xstrdup("tmpfs");
  m.source = xstrdup("tmpfs");
  *ret = m;
  return 0;
}

int run_parse_tmpfs(const char *s, struct nook_run_mount *ret, struct nook_error **err)
{
  _cleanup_free_ char *copy = xstrdup(s);
  _cleanup_strv_ char **opts = NULL;
  char *o = strchr(copy, ':'), *save = NULL;

  if (o)
    *o++ = '\0';
  for (char *t = o ? strtok_r(o, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
    nook_strv_push(&opts, t);
  return tmpfs_mount("--tmpfs", s, copy, opts, ret, err);
}

struct mount_spec
{
  const char *type, *src, *dst;
  char **opts;                      /* of a bind mount: ro, propagation, bind */
  char **tmpfs_opts;                /* size=, mode=, ro */
  const char *bind_key, *tmpfs_key; /* a key only one type takes, for the message */
};

static void mount_spec_done(struct mount_spec *ms)
{
  nook_strv_free(ms->opts);
  nook_strv_free(ms->tmpfs_opts);
}

static int bool_value(const char *v, bool *ret)
{
  if (!v || streq(v, "true") || streq(v, "1"))
    *ret = true;
  else if (streq(v, "false") || streq(v, "0"))
    *ret = false;
  else
    return -1;
  return 0;
}

/* One KEY[=VALUE] of --mount. */
static int mount_key(const char *s, char *kv, struct mount_spec *ms, struct nook_error **err)
{
  char *v = strchr(kv, '=');
  _cleanup_free_ char *o = NULL;
  bool b;

  if (v)
    *v++ = '\0';
  if (streq(kv, "type") && v)
    ms->type = v;
  else if ((streq(kv, "source") || streq(kv, "src")) && v)
    ms->src = v;
  else if ((streq(kv, "destination") || streq(kv, "dst") || streq(kv, "target")) && v)
    ms->dst = v;
  else if ((streq(kv, "ro") || streq(kv, "readonly")) && bool_value(v, &b) == 0)
    {
      if (b)
        {
          nook_strv_push(&ms->opts, "ro");
          nook_strv_push(&ms->tmpfs_opts, "ro");
        }
    }
  else if (streq(kv, "bind-propagation") && v && in_list(v, propagations))
    {
      nook_strv_push(&ms->opts, v);
      ms->bind_key = "bind-propagation";
    }
  else if (streq(kv, "bind-nonrecursive") && bool_value(v, &b) == 0)
    {
      nook_strv_push(&ms->opts, b ? "bind" : "rbind");
      ms->bind_key = "bind-nonrecursive";
    }
  else if ((streq(kv, "tmpfs-size") || streq(kv, "tmpfs-mode")) && v)
    {
      o = xasprintf("%s=%s", kv + strlen("tmpfs-"), v);
      nook_strv_push(&ms->tmpfs_opts, o);
      ms->tmpfs_key = streq(kv, "tmpfs-size") ? "tmpfs-size" : "tmpfs-mode";
    }
  else
    return nook_error_setx(err, EINVAL, "--mount `%s`: unknown or bad `%s%s%s`", s, kv,
                           v ? "=" : "", v ? v : "");
  return 0;
}

int run_parse_mount(const char *s, struct nook_run_mount *ret, struct nook_error **err)
{
  _cleanup_free_ char *copy = xstrdup(s);
  _cleanup_(mount_spec_done) struct mount_spec ms = { 0 };
  char *save = NULL;

  for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
    if (mount_key(s, kv, &ms, err) < 0)
      return -1;
  if (!ms.type)
    return nook_error_setx(err, EINVAL, "--mount `%s`: type= is required (bind or tmpfs)", s);
  if (streq(ms.type, "tmpfs"))
    {
      if (ms.src || ms.bind_key)
        return nook_error_setx(err, EINVAL, "--mount `%s`: a tmpfs takes no `%s`", s,
                               ms.src ? "source" : ms.bind_key);
      return tmpfs_mount("--mount", s, ms.dst, ms.tmpfs_opts, ret, err);
    }
  if (!streq(ms.type, "bind"))
    return nook_error_setx(err, ENOTSUP,
                           "--mount `%s`: type `%s` is not supported (bind or "
                           "tmpfs)",
                           s, ms.type);
  if (ms.tmpfs_key)
    return nook_error_setx(err, EINVAL, "--mount `%s`: a bind mount takes no `%s`", s,
                           ms.tmpfs_key);
  if (!ms.src)
    return nook_error_setx(err, EINVAL, "--mount `%s`: source= is required", s);
  return bind_mount("--mount", s, ms.src, ms.dst, ms.opts, ret, err);
}

/* ---- devices and labels ----------------------------------------------------------------- */

static bool device_mode(const char *s)
{
  return *s && strspn(s, "rwm") == strlen(s);
}

int run_parse_device(const char *s, char **ret_host, char **ret_path, char **ret_access,
                     struct nook_error **err)
{
  _cleanup_free_ char *copy = xstrdup(s);
  char *parts[4] = { NULL };
  size_t n = 0;
  const char *path, *access = "rwm";

  for (char *p = copy; p && n < ARRAY_SIZE(parts); n++)
    {
      parts[n] = p;
      if ((p = strchr(p, ':')))
        *p++ = '\0';
    }
  if (n > 3 || (n == 3 && !device_mode(parts[2])))
    return nook_error_setx(err, EINVAL,
                           "--device `%s`: not HOST[:CONTAINER][:PERMISSIONS] "
                           "(permissions: r, w, m)",
                           s);
  path = parts[0];
  if (n == 2 && device_mode(parts[1]))
    access = parts[1];
  else if (n >= 2)
    path = parts[1];
  if (n == 3)
    access = parts[2];
  if (parts[0][0] != '/' || path[0] != '/')
    return nook_error_setx(err, EINVAL, "--device `%s`: the device paths must be absolute", s);
  *ret_host = xstrdup(parts[0]);
  *ret_path = xstrdup(path);
  *ret_access = xstrdup(access);
  return 0;
}

int run_parse_label(const char *s, char **ret, struct nook_error **err)
{
  if (!*s || *s == '=')
    return nook_error_setx(err, EINVAL, "--label `%s`: not KEY[=VALUE]", s);
  *ret = strchr(s, '=') ? xstrdup(s) : xasprintf("%s=", s);
  return 0;
}

/* ---- the flags together ----------------------------------------------------------------- */

static int security_opt(struct run_flags *f, const char *arg, struct nook_error **err)
{
  size_t klen = strcspn(arg, "=:");
  const char *v = arg[klen] ? arg + klen + 1 : NULL;
  _cleanup_free_ char *key = xstrndup(arg, klen), *doc = NULL, *data = NULL;
  size_t len = 0;
  bool b;

  if (streq(key, "no-new-privileges") && bool_value(v, &b) == 0)
    {
      f->no_new_privileges = b;
      return 0;
    }
  if (!streq(key, "seccomp") || !v || !*v)
    return nook_error_setx(err, EINVAL,
                           "--security-opt `%s`: unknown option (seccomp=unconfined, "
                           "seccomp=FILE, no-new-privileges)",
                           arg);
  nook_seccomp_profile_free(TAKE_PTR(f->seccomp));
  f->seccomp_unconfined = streq(v, "unconfined");
  if (f->seccomp_unconfined)
    return 0;
  doc = xasprintf("--security-opt seccomp=`%s`", v);
  if (nook_read_file_at(AT_FDCWD, v, PROFILE_MAX, &data, &len, err) < 0)
    return nook_error_prefix(err, "%s", doc);
  return nook_seccomp_profile_parse(data, len, doc, &f->seccomp, err);
}

static bool has_cap(cap_value_t c)
{
  cap_t cur = cap_get_proc();
  cap_flag_value_t v = CAP_CLEAR;

  if (cur)
    cap_get_flag(cur, c, CAP_EFFECTIVE, &v);
  cap_free(cur);
  return v == CAP_SET;
}

/* A hard limit above nook's own needs CAP_SYS_RESOURCE: said here, naming the flag, rather
 * than by the container's init. */
static int ulimit_add(struct run_flags *f, const char *arg, struct nook_error **err)
{
  struct nook_run_rlimit rl;
  struct rlimit cur;
  size_t i;

  if (run_parse_ulimit(arg, &rl, err) < 0)
    return -1;
  for (i = 0; i < ARRAY_SIZE(rlimit_names); i++)
    if (streq(rlimit_names[i].type, rl.type))
      break;
  if (getrlimit(rlimit_names[i].resource, &cur) == 0 && rl.hard > (uint64_t)cur.rlim_max
      && !has_cap(CAP_SYS_RESOURCE))
    return nook_error_setx(err, EPERM,
                           "--ulimit `%s`: the hard limit cannot be raised above "
                           "nook's own (%" PRIu64 ") without CAP_SYS_RESOURCE",
                           arg, (uint64_t)cur.rlim_max);
  for (i = 0; i < f->n_rlimits && !streq(f->rlimits[i].type, rl.type); i++)
    ;
  if (i == f->n_rlimits)
    f->rlimits = xrealloc(f->rlimits, ++f->n_rlimits * sizeof(*f->rlimits));
  f->rlimits[i] = rl; /* a later --ulimit of the same name wins */
  return 0;
}

static int mount_add(struct run_flags *f, int opt, const char *arg, struct nook_error **err)
{
  const char *flag = opt == RUN_OPT_MOUNT ? "--mount" : opt == RUN_OPT_TMPFS ? "--tmpfs" : "-v";
  struct nook_run_mount m = { 0 };
  struct stat st;
  int r;

  r = opt == RUN_OPT_MOUNT   ? run_parse_mount(arg, &m, err)
      : opt == RUN_OPT_TMPFS ? run_parse_tmpfs(arg, &m, err)
                             : run_parse_volume(arg, &m, err);
  if (r < 0)
    return r;
  if (streq(m.type, "bind") && stat(m.source, &st) < 0)
    r = nook_error_set(err, errno, "%s `%s`: the source `%s`", flag, arg, m.source);
  for (size_t i = 0; r == 0 && i < f->n_mounts; i++)
    if (streq(f->mounts[i].destination, m.destination))
      r = nook_error_setx(err, EINVAL, "%s `%s`: `%s` is already a mount destination", flag, arg,
                          m.destination);
  if (r < 0)
    {
      run_mount_clear(&m);
      return r;
    }
  f->mounts = xrealloc(f->mounts, (f->n_mounts + 1) * sizeof(*f->mounts));
  f->mounts[f->n_mounts++] = m;
  return 0;
}

static int device_add(struct run_flags *f, const char *arg, struct nook_error **err)
{
  _cleanup_free_ char *host = NULL, *path = NULL, *access = NULL;
  struct stat st;

  if (run_parse_device(arg, &host, &path, &access, err) < 0)
    return -1;
  if (stat(host, &st) < 0)
    return nook_error_set(err, errno, "--device `%s`", arg);
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return nook_error_setx(err, EINVAL, "--device `%s`: `%s` is not a device node", arg, host);
  for (size_t i = 0; i < f->n_devices; i++)
    if (streq(f->devices[i].path, path))
      return nook_error_setx(err, EINVAL, "--device `%s`: `%s` is given twice", arg, path);
  f->devices = xrealloc(f->devices, (f->n_devices + 1) * sizeof(*f->devices));
  f->devices[f->n_devices++] = (struct nook_run_device){
    .path = TAKE_PTR(path),
    .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
    .major = major(st.st_rdev),
    .minor = minor(st.st_rdev),
    .file_mode = st.st_mode & 07777,
    .uid = st.st_uid,
    .gid = st.st_gid,
    .access = TAKE_PTR(access),
  };
  return 0;
}

static int memory_flag(struct run_flags *f, int opt, const char *arg, struct nook_error **err)
{
  if (opt == RUN_OPT_MEMORY)
    {
      if (run_parse_size("--memory", arg, &f->memory, err) < 0)
        return -1;
      if (f->memory < MIN_MEMORY)
        return nook_error_setx(err, EINVAL, "--memory `%s`: below the minimum of 6m", arg);
      return 0;
    }
  if (streq(arg, "-1"))
    {
      f->memory_swap = -1;
      return 0;
    }
  if (run_parse_size("--memory-swap", arg, &f->memory_swap, err) < 0)
    return -1;
  if (f->memory_swap == 0)
    return nook_error_setx(err, EINVAL, "--memory-swap `%s`: not a limit (-1: unlimited)", arg);
  return 0;
}

int run_flags_parse(struct run_flags *f, int opt, const char *arg, struct nook_error **err)
{
  _cleanup_free_ char *label = NULL;

  switch (opt)
    {
    case RUN_OPT_PRIVILEGED: f->privileged = true; return 0;
    case RUN_OPT_SECURITY_OPT: return security_opt(f, arg, err);
    case RUN_OPT_CAP_ADD:
      return run_parse_caps("--cap-add", arg, &f->cap_add, &f->cap_add_all, err);
    case RUN_OPT_CAP_DROP:
      return run_parse_caps("--cap-drop", arg, &f->cap_drop, &f->cap_drop_all, err);
    case RUN_OPT_MEMORY:
    case RUN_OPT_MEMORY_SWAP: return memory_flag(f, opt, arg, err);
    case RUN_OPT_CPUS: return run_parse_cpus(arg, &f->cpu_quota, err);
    case RUN_OPT_CPU_SHARES: return run_parse_cpu_shares(arg, &f->cpu_shares, err);
    case RUN_OPT_PIDS_LIMIT: return run_parse_pids_limit(arg, &f->pids_limit, err);
    case RUN_OPT_ULIMIT: return ulimit_add(f, arg, err);
    case 'v':
    case RUN_OPT_VOLUME:
    case RUN_OPT_MOUNT:
    case RUN_OPT_TMPFS: return mount_add(f, opt, arg, err);
    case RUN_OPT_DEVICE: return device_add(f, arg, err);
    case RUN_OPT_LABEL:
      if (run_parse_label(arg, &label, err) < 0)
        return -1;
      nook_strv_push(&f->labels, label);
      return 0;
    default: return nook_error_setx(err, EINVAL, "run_flags_parse: unknown option %d", opt);
    }
}

/* Whether the kernel accounts swap, so that podman's default of twice --memory can be set. */
static bool swap_accounted(void)
{
  return access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0
         || access("/sys/fs/cgroup/init.scope/memory.swap.max", F_OK) == 0
         || access("/sys/fs/cgroup/system.slice/memory.swap.max", F_OK) == 0;
}

int run_flags_check(struct run_flags *f, struct nook_error **err)
{
  uint64_t all = nook_spec_run_all_caps();

  if (f->memory_swap && !f->memory)
    return nook_error_setx(err, EINVAL, "--memory-swap needs --memory");
  if (f->memory_swap > 0 && f->memory_swap < f->memory)
    return nook_error_setx(err, EINVAL,
                           "--memory-swap %" PRId64 " is below --memory %" PRId64
                           ": it is the limit of memory and swap together",
                           f->memory_swap, f->memory);
  if (f->memory && !f->memory_swap && swap_accounted())
    f->memory_swap = f->memory <= INT64_MAX / 2 ? 2 * f->memory : -1;
  /* --privileged is unconfined unless a profile was given */
  if (f->privileged && !f->seccomp)
    f->seccomp_unconfined = true;
  return run_caps_merge(f->privileged ? all : nook_spec_run_default_caps(), all, f->cap_add,
                        f->cap_add_all, f->cap_drop, f->cap_drop_all, &f->caps, err);
}

void run_flags_apply(const struct run_flags *f, struct nook_run_config *rc)
{
  rc->caps_set = true;
  rc->caps = f->caps;
  rc->privileged = f->privileged;
  rc->no_new_privileges = f->no_new_privileges;
  rc->seccomp_unconfined = f->seccomp_unconfined;
  rc->seccomp = f->seccomp;
  rc->memory = f->memory;
  rc->memory_swap = f->memory_swap;
  rc->cpu_quota = f->cpu_quota;
  rc->cpu_shares = f->cpu_shares;
  rc->pids_limit = f->pids_limit;
  rc->rlimits = f->rlimits;
  rc->n_rlimits = f->n_rlimits;
  rc->mounts = f->mounts;
  rc->n_mounts = f->n_mounts;
  rc->devices = f->devices;
  rc->n_devices = f->n_devices;
  rc->labels = f->labels;
}

void run_flags_free(struct run_flags *f)
{
  nook_seccomp_profile_free(f->seccomp);
  free(f->rlimits);
  for (size_t i = 0; i < f->n_mounts; i++)
    run_mount_clear(&f->mounts[i]);
  free(f->mounts);
  for (size_t i = 0; i < f->n_devices; i++)
    {
      free(f->devices[i].path);
      free(f->devices[i].access);
    }
  free(f->devices);
  nook_strv_free(f->labels);
  *f = (struct run_flags){ 0 };
}
