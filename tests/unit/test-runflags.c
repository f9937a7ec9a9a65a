/* Unit tests for cli/run-flags.c: the pure parsers of `nook run`'s flags. */
#include "config.h"

#include <linux/capability.h>
#include <stdint.h>
#include <string.h>

#include "cli/run-flags.h"
#include "common/util.h"
#include "tests/unit/tap.h"

#define CAP(c) (UINT64_C(1) << (c))

/* Checks that err was set and mentions every one of the NULL-terminated words; frees it. */
static void check_error(struct nook_error **err, int r, const char *name, ...)
{
  va_list ap;
  bool ok = r < 0 && *err && (*err)->msg && !strchr((*err)->msg, '\n');
  const char *w;

  va_start(ap, name);
  while (ok && (w = va_arg(ap, const char *)))
    ok = strstr((*err)->msg, w) != NULL;
  va_end(ap);
  tap_ok(ok, "%s", name);
  if (!ok)
    printf("#   got: %s\n", *err && (*err)->msg ? (*err)->msg : "(no error)");
  nook_error_freep(err);
}

static void test_size(void)
{
  static const struct
  {
    const char *s;
    int64_t want;
  } good[] = {
    { "4096", 4096 },
    { "100b", 100 },
    { "1k", 1024 },
    { "1K", 1024 },
    { "64m", 64 << 20 },
    { "64MB", 64 << 20 },
    { "64MiB", 64 << 20 },
    { "2g", INT64_C(2) << 30 },
    { "1.5g", INT64_C(3) << 29 },
    { "1 t", INT64_C(1) << 40 },
    { "0.5k", 512 },
  };
  static const char *const bad[] = { "", "m", "12x", "-1", "1.5.2", "1kk", "k1", "0x10" };
  struct nook_error *err = NULL;
  int64_t v;

  for (size_t i = 0; i < ARRAY_SIZE(good); i++)
    {
      int r = run_parse_size("--memory", good[i].s, &v, &err);
      tap_ok(r == 0 && v == good[i].want, "size `%s` is %lld", good[i].s, (long long)good[i].want);
      if (r == 0 && v != good[i].want)
        printf("#   got %lld\n", (long long)v);
    }
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    check_error(&err, run_parse_size("--memory", bad[i], &v, &err), bad[i], "--memory",
                "not a size", NULL);
  check_error(&err, run_parse_size("--memory", "9000000p", &v, &err), "size too large", "too large",
              NULL);
}

static void test_numbers(void)
{
  struct nook_error *err = NULL;
  int64_t q = 0, p = 0;
  uint64_t s = 0;

  tap_ok(run_parse_cpus("1.5", &q, &err) == 0 && q == 150000, "--cpus 1.5: quota 150000");
  tap_ok(run_parse_cpus("2", &q, &err) == 0 && q == 200000, "--cpus 2: quota 200000");
  tap_ok(run_parse_cpus(".25", &q, &err) == 0 && q == 25000, "--cpus .25: quota 25000");
  tap_ok(run_parse_cpus("0.01", &q, &err) == 0 && q == 1000, "--cpus 0.01: quota 1000");
  tap_ok(run_parse_cpus("1.500000", &q, &err) == 0 && q == 150000, "trailing zeros are fine");
  check_error(&err, run_parse_cpus("0", &q, &err), "--cpus 0", "--cpus", "at least 0.01", NULL);
  check_error(&err, run_parse_cpus("0.001", &q, &err), "--cpus 0.001", "at least", NULL);
  check_error(&err, run_parse_cpus("0.000001", &q, &err), "--cpus 0.000001", "decimals", NULL);
  check_error(&err, run_parse_cpus("abc", &q, &err), "--cpus abc", "--cpus `abc`", NULL);
  check_error(&err, run_parse_cpus("-1", &q, &err), "--cpus -1", "--cpus `-1`", NULL);
  check_error(&err, run_parse_cpus(".", &q, &err), "--cpus .", "--cpus `.`", NULL);
  check_error(&err, run_parse_cpus("1e3", &q, &err), "--cpus 1e3", "--cpus `1e3`", NULL);

  tap_ok(run_parse_cpu_shares("512", &s, &err) == 0 && s == 512, "--cpu-shares 512");
  check_error(&err, run_parse_cpu_shares("1", &s, &err), "--cpu-shares 1", "--cpu-shares", NULL);
  check_error(&err, run_parse_cpu_shares("262145", &s, &err), "--cpu-shares 262145", "262144",
              NULL);

  tap_ok(run_parse_pids_limit("100", &p, &err) == 0 && p == 100, "--pids-limit 100");
  tap_ok(run_parse_pids_limit("0", &p, &err) == 0 && p == -1, "--pids-limit 0: unlimited");
  tap_ok(run_parse_pids_limit("-1", &p, &err) == 0 && p == -1, "--pids-limit -1: unlimited");
  check_error(&err, run_parse_pids_limit("-2", &p, &err), "--pids-limit -2", "--pids-limit", NULL);
  check_error(&err, run_parse_pids_limit("many", &p, &err), "--pids-limit many", "`many`", NULL);
}

static void test_ulimit(void)
{
  struct nook_error *err = NULL;
  struct nook_run_rlimit rl;

  tap_ok(run_parse_ulimit("nofile=1024:2048", &rl, &err) == 0 && streq(rl.type, "RLIMIT_NOFILE")
             && rl.soft == 1024 && rl.hard == 2048,
         "nofile=1024:2048");
  tap_ok(run_parse_ulimit("NPROC=50", &rl, &err) == 0 && streq(rl.type, "RLIMIT_NPROC")
             && rl.soft == 50 && rl.hard == 50,
         "NPROC=50: the hard limit is the soft one");
  tap_ok(run_parse_ulimit("core=-1", &rl, &err) == 0 && rl.soft == UINT64_MAX
             && rl.hard == UINT64_MAX,
         "core=-1: unlimited");
  tap_ok(run_parse_ulimit("stack=8192:unlimited", &rl, &err) == 0 && rl.soft == 8192
             && rl.hard == UINT64_MAX,
         "stack=8192:unlimited");
  check_error(&err, run_parse_ulimit("nofile", &rl, &err), "no =", "NAME=SOFT", NULL);
  check_error(&err, run_parse_ulimit("files=1", &rl, &err), "unknown name", "unknown limit `files`",
              NULL);
  check_error(&err, run_parse_ulimit("nofile=2:1", &rl, &err), "soft above hard", "above", NULL);
  check_error(&err, run_parse_ulimit("nofile=x", &rl, &err), "not a number", "not a number", NULL);
  check_error(&err, run_parse_ulimit("nofile=1:", &rl, &err), "empty hard", "not a number", NULL);
}

static void test_caps(void)
{
  struct nook_error *err = NULL;
  uint64_t m = 0, out = 0;
  bool all = false;
  const uint64_t base = CAP(CAP_CHOWN) | CAP(CAP_KILL);
  const uint64_t every = CAP(CAP_CHOWN) | CAP(CAP_KILL) | CAP(CAP_NET_ADMIN) | CAP(CAP_SYS_ADMIN);

  tap_ok(run_parse_caps("--cap-add", "net_admin,CAP_SYS_ADMIN,Cap_Kill", &m, &all, &err) == 0
             && m == (CAP(CAP_NET_ADMIN) | CAP(CAP_SYS_ADMIN) | CAP(CAP_KILL)) && !all,
         "cap names with or without CAP_, any case, comma-separated");
  m = 0;
  tap_ok(run_parse_caps("--cap-drop", "all", &m, &all, &err) == 0 && all && m == 0, "ALL");
  check_error(&err, run_parse_caps("--cap-add", "CAP_NOPE", &m, &all, &err), "unknown cap",
              "--cap-add", "unknown capability `CAP_NOPE`", NULL);
  check_error(&err, run_parse_caps("--cap-add", ",", &m, &all, &err), "empty list", "no capability",
              NULL);

  tap_ok(run_caps_merge(base, every, CAP(CAP_NET_ADMIN), false, CAP(CAP_KILL), false, &out, &err)
                 == 0
             && out == (CAP(CAP_CHOWN) | CAP(CAP_NET_ADMIN)),
         "merge: base + add - drop");
  tap_ok(run_caps_merge(base, every, CAP(CAP_NET_ADMIN), false, 0, true, &out, &err) == 0
             && out == CAP(CAP_NET_ADMIN),
         "merge: drop ALL keeps only the adds");
  tap_ok(run_caps_merge(base, every, 0, true, CAP(CAP_SYS_ADMIN), false, &out, &err) == 0
             && out == (every & ~CAP(CAP_SYS_ADMIN)),
         "merge: add ALL less the drops");
  tap_ok(run_caps_merge(base, every, 0, false, 0, false, &out, &err) == 0 && out == base,
         "merge: nothing given is the base");
  check_error(&err, run_caps_merge(base, every, 0, true, 0, true, &out, &err), "ALL both ways",
              "choose one", NULL);
  check_error(&err,
              run_caps_merge(base, every, CAP(CAP_CHOWN), false, CAP(CAP_CHOWN), false, &out, &err),
              "added and dropped", "CAP_CHOWN", NULL);
}

static char *joined(char *const *v)
{
  char *s = xstrdup("");
  for (size_t i = 0; v && v[i]; i++)
    {
      char *n = xasprintf("%s%s%s", s, i ? "," : "", v[i]);
      free(s);
      s = n;
    }
  return s;
}

/* Parses with fn and checks the mount's fields. */
static void check_mount(int (*fn)(const char *, struct nook_run_mount *, struct nook_error **),
                        const char *spec, const char *type, const char *src, const char *dst,
                        const char *opts)
{
  struct nook_run_mount m = { 0 };
  struct nook_error *err = NULL;
  int r = fn(spec, &m, &err);
  _cleanup_free_ char *o = r == 0 ? joined(m.options) : NULL;
  bool ok = r == 0 && streq(m.type, type) && (src ? streq(m.source, src) : true)
            && streq(m.destination, dst) && streq(o, opts);

  tap_ok(ok, "mount `%s`", spec);
  if (!ok)
    printf("#   got: %s %s %s [%s] %s\n", m.type, m.source, m.destination, o, err ? err->msg : "");
  nook_error_free(err);
  run_mount_clear(&m);
}

static void test_mounts(void)
{
  struct nook_error *err = NULL;
  struct nook_run_mount m = { 0 };

  check_mount(run_parse_volume, "/srv/a:/data", "bind", "/srv/a", "/data", "rbind,rprivate");
  check_mount(run_parse_volume, "/srv/a:/data:ro,z", "bind", "/srv/a", "/data",
              "rbind,rprivate,ro");
  check_mount(run_parse_volume, "/srv/a:/data:rw,rshared,bind,noexec", "bind", "/srv/a", "/data",
              "bind,rshared,noexec");
  check_mount(run_parse_mount, "type=bind,src=/srv/a,dst=/data,ro", "bind", "/srv/a", "/data",
              "rbind,rprivate,ro");
  check_mount(run_parse_mount,
              "type=bind,source=/a,target=/b,readonly=false,bind-propagation=slave", "bind", "/a",
              "/b", "rbind,slave");
  check_mount(run_parse_mount, "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=700", "tmpfs",
              "tmpfs", "/t", "nosuid,nodev,noexec,size=1m,mode=700");
  check_mount(run_parse_tmpfs, "/scratch", "tmpfs", "tmpfs", "/scratch", "nosuid,nodev,noexec");
  check_mount(run_parse_tmpfs, "/scratch:size=64m,exec,mode=1777", "tmpfs", "tmpfs", "/scratch",
              "nosuid,nodev,noexec,size=64m,exec,mode=1777");
  check_mount(run_parse_tmpfs, "/s:size=50%", "tmpfs", "tmpfs", "/s",
              "nosuid,nodev,noexec,size=50%");

  check_error(&err, run_parse_volume("data:/data", &m, &err), "named volume", "-v `data:/data`",
              "named volumes are not supported yet", NULL);
  check_error(&err, run_parse_volume("/data", &m, &err), "anonymous volume", "anonymous", NULL);
  check_error(&err, run_parse_volume("/a:data", &m, &err), "relative destination", "absolute",
              NULL);
  check_error(&err, run_parse_volume("/a:/", &m, &err), "over the root", "cannot mount over", NULL);
  check_error(&err, run_parse_volume(":/data", &m, &err), "empty source", "no source", NULL);
  check_error(&err, run_parse_volume("/a:/b:ro,rw", &m, &err), "ro and rw", "conflict", NULL);
  check_error(&err, run_parse_volume("/a:/b:bogus", &m, &err), "unknown option",
              "unknown option `bogus`", NULL);
  check_error(&err, run_parse_volume("/a:/b:U", &m, &err), "U", "not supported", NULL);
  check_error(&err, run_parse_mount("type=volume,src=v,dst=/b", &m, &err), "type volume",
              "type `volume` is not supported", NULL);
  check_error(&err, run_parse_mount("src=/a,dst=/b", &m, &err), "no type", "type= is required",
              NULL);
  check_error(&err, run_parse_mount("type=bind,dst=/b", &m, &err), "no source", "source=", NULL);
  check_error(&err, run_parse_mount("type=bind,src=/a,dst=/b,color=red", &m, &err), "unknown key",
              "`color=red`", NULL);
  check_error(&err, run_parse_mount("type=tmpfs,src=/a,dst=/b", &m, &err), "tmpfs with source",
              "takes no `source`", NULL);
  check_error(&err, run_parse_mount("type=bind,src=/a,dst=/b,tmpfs-size=1m", &m, &err),
              "bind with tmpfs-size", "takes no `tmpfs-size`", NULL);
  check_error(&err, run_parse_tmpfs("tmp", &m, &err), "relative tmpfs", "absolute", NULL);
  check_error(&err, run_parse_tmpfs("/t:size=lots", &m, &err), "bad size", "`size=lots`", NULL);
  check_error(&err, run_parse_tmpfs("/t:mode=999", &m, &err), "bad mode", "`mode=999`", NULL);
  check_error(&err, run_parse_tmpfs("/t:bogus", &m, &err), "unknown tmpfs option",
              "unknown option `bogus`", NULL);
}

static void check_device(const char *spec, const char *host, const char *path, const char *access)
{
  _cleanup_free_ char *h = NULL, *p = NULL, *a = NULL;
  struct nook_error *err = NULL;
  bool ok = run_parse_device(spec, &h, &p, &a, &err) == 0 && streq(h, host) && streq(p, path)
            && streq(a, access);

  tap_ok(ok, "device `%s`", spec);
  nook_error_free(err);
}

static void test_devices_labels(void)
{
  struct nook_error *err = NULL;
  _cleanup_free_ char *h = NULL, *p = NULL, *a = NULL, *l = NULL, *l2 = NULL;

  check_device("/dev/fuse", "/dev/fuse", "/dev/fuse", "rwm");
  check_device("/dev/null:/dev/n2", "/dev/null", "/dev/n2", "rwm");
  check_device("/dev/null:r", "/dev/null", "/dev/null", "r");
  check_device("/dev/null:/dev/n2:rw", "/dev/null", "/dev/n2", "rw");
  check_error(&err, run_parse_device("/dev/null:/dev/n2:rwx", &h, &p, &a, &err), "bad mode",
              "--device", NULL);
  check_error(&err, run_parse_device("/dev/null:n2", &h, &p, &a, &err), "relative path", "absolute",
              NULL);
  check_error(&err, run_parse_device("/a:/b:r:w", &h, &p, &a, &err), "four parts", "HOST", NULL);

  tap_ok(run_parse_label("k=v=w", &l, &err) == 0 && streq(l, "k=v=w"), "--label k=v=w");
  tap_ok(run_parse_label("flag", &l2, &err) == 0 && streq(l2, "flag="), "--label flag: empty");
  check_error(&err, run_parse_label("=v", &l, &err), "--label =v", "--label", NULL);
}

int main(void)
{
  test_size();
  test_numbers();
  test_ulimit();
  test_caps();
  test_mounts();
  test_devices_labels();
  return tap_done();
}
