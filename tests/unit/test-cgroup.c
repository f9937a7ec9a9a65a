/* Unit tests for cgroups/: the pure parts (paths, conversions, device rules and the eBPF
 * program, run through a small interpreter) everywhere; as root, the live manager in the mode
 * this host has (v1 / hybrid here, v2 in the `make check-vm` lane).  Every live cgroup is made
 * below this process's own cgroups, named nook-test-PID..., and removed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroup-internal.h"
#include "cgroups/cgroup.h"
#include "common/util.h"
#include "tests/unit/tap.h"

#define MiB (1024 * 1024)
/* the spec model's strings are not const; these literals are never written */
#define S(lit) ((char *)(uintptr_t)(lit))

/* ---- pure --------------------------------------------------------------------------------- */

static char *compute(const char *own, bool v2, const char *id, const char *path, bool systemd)
{
  struct nook_cgroup_config cfg = { .id = id, .cgroups_path = path, .systemd = systemd };
  _cleanup_error_ struct nook_error *err = NULL;
  char *ret = NULL;

  if (cgroup_path_compute(own, v2, &cfg, &ret, &err) < 0)
    return xasprintf("error: %s", err->msg);
  return ret;
}

static void check_path(const char *own, bool v2, const char *id, const char *path, bool systemd,
                       const char *want, const char *name)
{
  _cleanup_free_ char *got = compute(own, v2, id, path, systemd);
  if (nook_has_prefix(want, "error"))
    tap_ok(nook_has_prefix(got, "error"), "%s (%s)", name, got);
  else
    tap_is_str(got, want, name);
}

static void test_paths(void)
{
  _cleanup_free_ char *c1 = cgroup_path_clean("a/../../b//c/./");
  _cleanup_free_ char *c2 = cgroup_path_clean("/../x/..");
  _cleanup_free_ char *c3 = cgroup_path_clean("./.");
  _cleanup_free_ char *s1 = NULL, *s2 = NULL;
  _cleanup_error_ struct nook_error *err = NULL;

  tap_is_str(c1, "b/c", "clean: relative .. cannot escape");
  tap_is_str(c2, "/", "clean: absolute .. stops at the root");
  tap_is_str(c3, "", "clean: . is empty");
  tap_ok(cgroup_slice_expand("a-b-c.slice", &s1, NULL) == 0
             && streq(s1, "/a.slice/a-b.slice/a-b-c.slice"),
         "slice a-b-c.slice expanded");
  tap_ok(cgroup_slice_expand("-.slice", &s2, NULL) == 0 && streq(s2, "/"), "slice -.slice is /");
  tap_ok(cgroup_slice_expand("a--b.slice", &s1, &err) < 0, "slice a--b.slice refused");
  tap_ok(cgroup_slice_expand("a.scope", &s1, NULL) < 0, "slice without .slice refused");

  check_path("/user/own", false, "c1", NULL, false, "/user/own/nook/c1", "default below own");
  check_path("/", false, "c1", NULL, false, "/nook/c1", "default below the root");
  check_path("/user/own", true, "c1", NULL, false, "/user/nook/c1", "v2 default below parent");
  check_path("/", true, "c1", NULL, false, "/nook/c1", "v2 default with own at the root");
  check_path("/user/own", false, "c1", "/abs/x", false, "/abs/x", "absolute as is");
  check_path("/user/own", false, "c1", "rel/x", false, "/user/own/rel/x", "relative below own");
  check_path("/user/own", true, "c1", "rel/x", false, "/user/rel/x", "v2 relative below parent");
  check_path("/a", false, "c1", "../../etc", false, "/a/etc", "relative cannot climb");
  check_path("/a", false, "c1", "/", false, "error", "the root is refused");
  check_path("/a", false, "c1", ".", false, "error", "own cgroup is refused");
  check_path("/a", false, "c1", "x;y", false, "error", "`;` is refused");
  check_path("/a", false, "../x", NULL, false, "error", "a bad id is refused");
  check_path("/a", false, "c1", "machine-x.slice:nook:c1", true,
             "/machine.slice/machine-x.slice/nook-c1.scope", "systemd slice:prefix:name");
  check_path("/a", false, "c1", NULL, true, "/system.slice/nook-c1.scope", "systemd default");
  check_path("/a", false, "c1", ":p:n", true, "/system.slice/p-n.scope", "systemd empty slice");
  check_path("/a", false, "c1", "-.slice:p:n", true, "/p-n.scope", "systemd root slice");
  check_path("/a", false, "c1", "a.slice:p:sub-x.slice", true, "/sub.slice/sub-x.slice",
             "systemd slice unit");
  check_path("/a", false, "c1", "a:b", true, "error", "systemd form needs three parts");
}

static void test_encode(void)
{
  const char *keys[] = { "cpu,cpuacct", "memory", "name=systemd", "" };
  const char *paths[] = { "/nook/x", "/p/q/nook/x", "/nook/x", "/nook/x" };
  const char *same[] = { "/nook/x", "/nook/x" };
  _cleanup_free_ char *enc = cgroup_path_encode(keys, paths, 4);
  _cleanup_free_ char *enc2 = cgroup_path_encode(keys, same, 2);
  _cleanup_error_ struct nook_error *err = NULL;
  char *got[4] = { NULL, NULL, NULL, NULL };
  char *bad = NULL;
  int ok = 1;

  tap_is_str(enc, "/nook/x;memory=/p/q/nook/x", "encode: the common path and overrides");
  tap_is_str(enc2, "/nook/x", "encode: one path when all agree");
  for (int i = 0; i < 4; i++)
    {
      ok &= cgroup_path_decode(enc, keys[i], &got[i], NULL) == 0 && streq(got[i], paths[i]);
      free(got[i]);
    }
  tap_ok(ok, "decode gives every hierarchy its path");
  paths[3] = "/u/x";
  free(enc);
  enc = cgroup_path_encode(keys, paths, 4);
  tap_ok(strstr(enc, ";unified=/u/x") != NULL, "encode: the cgroup2 hierarchy is `unified`");
  ok = cgroup_path_decode("/a;name=systemd=/s/x", "name=systemd", &got[0], NULL) == 0
       && streq(got[0], "/s/x");
  free(got[0]);
  tap_ok(ok, "decode: a key with `=` (name=systemd)");
  tap_ok(cgroup_path_decode("/a;junk", "memory", &bad, &err) < 0, "decode: malformed refused");
}

static void test_conversions(void)
{
  int64_t v = 0;
  _cleanup_error_ struct nook_error *err = NULL;

  tap_is_int(cgroup_cpu_shares_to_weight(0), 0, "shares 0 is unset");
  tap_is_int(cgroup_cpu_shares_to_weight(2), 1, "shares 2 -> 1");
  tap_is_int(cgroup_cpu_shares_to_weight(1024), 100, "shares 1024 -> 100");
  tap_is_int(cgroup_cpu_shares_to_weight(512), 59, "shares 512 -> 59");
  tap_is_int(cgroup_cpu_shares_to_weight(100), 17, "shares 100 -> 17");
  tap_is_int(cgroup_cpu_shares_to_weight(262144), 10000, "shares max -> 10000");
  tap_is_int(cgroup_blkio_weight_to_io_weight(10), 1, "blkio weight 10 -> 1");
  tap_is_int(cgroup_blkio_weight_to_io_weight(500), 4950, "blkio weight 500 -> 4950");
  tap_is_int(cgroup_blkio_weight_to_io_weight(1000), 10000, "blkio weight 1000 -> 10000");
  tap_ok(cgroup_swap_to_v2(200, 100, &v, NULL) == 0 && v == 100, "swap 200 limit 100 -> 100");
  tap_ok(cgroup_swap_to_v2(0, -1, &v, NULL) == 0 && v == -1, "unlimited memory: swap max");
  tap_ok(cgroup_swap_to_v2(100, 100, &v, NULL) == 0 && v == 0, "swap == limit -> 0");
  tap_ok(cgroup_swap_to_v2(50, 100, &v, &err) < 0, "swap below limit refused");
  tap_ok(cgroup_hugepage_size_valid("2MB") && cgroup_hugepage_size_valid("1GB")
             && !cgroup_hugepage_size_valid("2M") && !cgroup_hugepage_size_valid("MB")
             && !cgroup_hugepage_size_valid("2MB/x"),
         "hugepage sizes");
}

/* The subset of eBPF the device program uses, to test its logic without a kernel. */
static int bpf_run(const struct bpf_insn *p, size_t n, char type, unsigned acc, uint32_t ma,
                   uint32_t mi)
{
  uint32_t ctx[3] = { (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR) | acc << 16, ma,
                      mi };
  uint64_t r[11] = { 0 };

  for (size_t pc = 0; pc < n;)
    {
      const struct bpf_insn *i = &p[pc++];
      uint64_t imm = (uint64_t)(int64_t)i->imm;
      switch (i->code)
        {
        case BPF_LDX | BPF_W | BPF_MEM: r[i->dst_reg] = ctx[i->off / 4]; break;
        case BPF_ALU | BPF_AND | BPF_K: r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & imm); break;
        case BPF_ALU | BPF_RSH | BPF_K: r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm; break;
        case BPF_ALU | BPF_MOV | BPF_X: r[i->dst_reg] = (uint32_t)r[i->src_reg]; break;
        case BPF_ALU64 | BPF_MOV | BPF_K: r[i->dst_reg] = imm; break;
        case BPF_JMP | BPF_JNE | BPF_K: pc += r[i->dst_reg] != imm ? (size_t)i->off : 0; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += r[i->dst_reg] == imm ? (size_t)i->off : 0; break;
        case BPF_JMP | BPF_JNE | BPF_X:
          pc += r[i->dst_reg] != r[i->src_reg] ? (size_t)i->off : 0;
          break;
        case BPF_JMP | BPF_EXIT: return (int)r[0];
        default: return -1;
        }
    }
  return -2;
}

#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD

static int bpf_decide(const struct nook_device_rule *rules, size_t n, char type, unsigned acc,
                      uint32_t ma, uint32_t mi)
{
  _cleanup_free_ struct bpf_insn *p = NULL;
  size_t np = 0;

  if (cgroup_devices_bpf_build(rules, n, &p, &np, NULL) < 0)
    return -3;
  return bpf_run(p, np, type, acc, ma, mi);
}

static void test_devices(void)
{
  struct nook_device_rule allowlist[] = {
    { false, 'a', -1, -1, NULL }, { true, 'c', -1, -1, S("m") }, { true, 'c', 1, 3, S("r") },
    { true, 'c', 1, 3, S("w") },  { true, 'c', 1, 5, S("rwm") }, { false, 'c', 1, 5, S("w") },
    { true, 'b', 8, -1, S("r") },
  };
  struct nook_device_rule denylist[] = { { true, 'a', -1, -1, NULL },
                                         { false, 'c', 1, 7, S("w") } };
  struct nook_device_rule bad[] = { { true, 'c', 1, 3, S("rx") } };
  _cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL;

  tap_ok(cgroup_device_rule_v1(&allowlist[0], &s1, NULL) == 0 && streq(s1, "a"), "v1 rule: a");
  tap_ok(cgroup_device_rule_v1(&allowlist[1], &s2, NULL) == 0 && streq(s2, "c *:* m"),
         "v1 rule: c *:* m");
  tap_ok(cgroup_device_rule_v1(&allowlist[6], &s3, NULL) == 0 && streq(s3, "b 8:* r"),
         "v1 rule: b 8:* r");
  tap_is_int(bpf_decide(allowlist, 7, 'c', R | W, 1, 3), 1, "bpf: merged r and w allow rw");
  tap_is_int(bpf_decide(allowlist, 7, 'c', R | W, 1, 5), 0, "bpf: w taken back from 1:5");
  tap_is_int(bpf_decide(allowlist, 7, 'c', R, 1, 5), 1, "bpf: r still allowed on 1:5");
  tap_is_int(bpf_decide(allowlist, 7, 'c', R, 1, 7), 0, "bpf: 1:7 denied by default");
  tap_is_int(bpf_decide(allowlist, 7, 'c', M, 9, 9), 1, "bpf: mknod of any char allowed");
  tap_is_int(bpf_decide(allowlist, 7, 'b', R, 8, 1), 1, "bpf: block 8:* read allowed");
  tap_is_int(bpf_decide(allowlist, 7, 'b', W, 8, 1), 0, "bpf: block 8:* write denied");
  tap_is_int(bpf_decide(denylist, 2, 'c', R, 1, 7), 1, "bpf: deny-list lets r of 1:7 through");
  tap_is_int(bpf_decide(denylist, 2, 'c', R | W, 1, 7), 0, "bpf: deny-list stops rw of 1:7");
  tap_is_int(bpf_decide(denylist, 2, 'b', W, 8, 0), 1, "bpf: deny-list allows the rest");
  tap_is_int(bpf_decide(NULL, 0, 'c', R, 1, 3), 0, "bpf: no rules deny everything");
  tap_is_int(bpf_decide(bad, 1, 'c', R, 1, 3), -3, "bpf: invalid access refused");
}

/* ---- live helpers ------------------------------------------------------------------------- */

static char *rd(const char *dir, const char *file)
{
  char *s = NULL;
  size_t n;

  if (cg_read(dir, file, &s, NULL) < 0)
    return xstrdup("(unreadable)");
  n = strlen(s);
  while (n && s[n - 1] == '\n')
    s[--n] = '\0';
  return s;
}

static void check_file(const struct nook_cgroup *cg, const char *controller, const char *file,
                       const char *want)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, controller);
  _cleanup_free_ char *got = h ? rd(h->dir, file) : xstrdup("(no hierarchy)");
  _cleanup_free_ char *name = xasprintf("%s is `%s`", file, want);

  tap_is_str(got, want, name);
}

/* A child that waits for a byte on fd, then runs job and exits 0 (or sleeps when job is NULL). */
static pid_t spawn(int *ret_go, void (*job)(void))
{
  int p[2];
  pid_t pid;

  if (pipe2(p, O_CLOEXEC) < 0)
    return -1;
  pid = fork();
  if (pid == 0)
    {
      char c;
      close(p[1]);
      if (read(p[0], &c, 1) != 1)
        _exit(99);
      if (job)
        job();
      for (;;)
        pause();
    }
  close(p[0]);
  *ret_go = p[1];
  return pid;
}

static void go(int fd)
{
  if (write(fd, "x", 1) != 1)
    perror("write");
  close(fd);
}

static void job_touch_4m(void)
{
  char *m = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m != MAP_FAILED)
    memset(m, 1, 4 * MiB);
}

static void job_touch_64m(void)
{
  char *m = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    _exit(98);
  memset(m, 1, 64 * MiB);
  _exit(0);
}

/* exits 0 when /dev/null opens and /dev/full is refused with EPERM */
static void job_devices(void)
{
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int full_fd = open("/dev/full", O_RDWR | O_CLOEXEC);
  _exit(null_fd >= 0 && full_fd < 0 && errno == EPERM ? 0 : 1);
}

static int reap(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

static struct nook_cgroup *create(const char *id, const char *path, const struct nook_resources *r,
                                  struct nook_error **err)
{
  struct nook_cgroup_config cfg = { .id = id, .cgroups_path = path, .resources = r };
  struct nook_cgroup *cg = NULL;

  return nook_cgroup_create(&cfg, &cg, err) < 0 ? NULL : cg;
}

static bool dirs_gone(char **dirs)
{
  for (size_t i = 0; dirs[i]; i++)
    if (access(dirs[i], F_OK) == 0)
      {
        printf("#   left: %s\n", dirs[i]);
        return false;
      }
  return true;
}

static char **dirs_of(const struct nook_cgroup *cg)
{
  char **v = NULL;
  for (size_t i = 0; i < cg->n_h; i++)
    nook_strv_push(&v, cg->h[i].dir);
  return v;
}

static bool error_has(const struct nook_error *e, const char *what)
{
  if (e && strstr(e->msg, what))
    return true;
  printf("#   error: %s\n", e ? e->msg : "(none)");
  return false;
}

/* ---- live --------------------------------------------------------------------------------- */

static void live_files(const struct nook_cgroup *cg, bool v2)
{
  if (v2)
    {
      check_file(cg, "memory", "memory.max", "67108864");
      check_file(cg, "pids", "pids.max", "32");
      check_file(cg, "cpu", "cpu.weight", "59");
      check_file(cg, "cpu", "cpu.max", "50000 100000");
      return;
    }
  check_file(cg, "memory", "memory.limit_in_bytes", "67108864");
  check_file(cg, "pids", "pids.max", "32");
  check_file(cg, "cpu", "cpu.shares", "512");
  check_file(cg, "cpu", "cpu.cfs_quota_us", "50000");
  check_file(cg, "cpu", "cpu.cfs_period_us", "100000");
}

static void live_open(const struct nook_cgroup *cg)
{
  _cleanup_cgroup_ struct nook_cgroup *again = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  bool same;

  if (nook_cgroup_open(nook_cgroup_path(cg), &again, &err) < 0)
    {
      tap_ok(0, "open `%s`: %s", nook_cgroup_path(cg), err->msg);
      return;
    }
  same = again->n_h == cg->n_h;
  for (size_t i = 0; same && i < cg->n_h; i++)
    same = streq(again->h[i].dir, cg->h[i].dir);
  tap_ok(same, "open(path) finds the same directory in all %zu hierarchies", cg->n_h);
}

static void live_pids(const struct nook_cgroup *cg, pid_t pid)
{
  _cleanup_free_ pid_t *v = NULL;
  size_t n = 0;

  int r = nook_cgroup_pids(cg, &v, &n, NULL);

  tap_ok(r == 0 && n == 1 && v[0] == pid, "pids lists the child, alone (%zu pids)", n);
}

static void live_freeze(const struct nook_cgroup *cg, bool hybrid)
{
  _cleanup_error_ struct nook_error *err = NULL;
  bool frozen = false;
  int r = nook_cgroup_freeze(cg, true, &err);

  tap_ok(r == 0, "freeze (%s)", err ? err->msg : "ok");
  tap_ok(nook_cgroup_is_frozen(cg, &frozen, NULL) == 0 && frozen, "is_frozen after freeze");
  tap_ok(nook_cgroup_freeze(cg, false, NULL) == 0, "thaw");
  tap_ok(nook_cgroup_is_frozen(cg, &frozen, NULL) == 0 && !frozen, "not frozen after thaw");
  if (hybrid)
    {
      /* the cgroup2 freezer on the hybrid host's cgroup2 mount, which holds the child too */
      const char *u = cg_hierarchy_for(cg, NULL)->dir;
      tap_ok(cg_freeze_unified(u, true, NULL) == 0 && cg_is_frozen_unified(u, &frozen, NULL) == 0
                 && frozen,
             "cgroup2 freeze on the hybrid cgroup2 mount");
      tap_ok(cg_freeze_unified(u, false, NULL) == 0 && cg_is_frozen_unified(u, &frozen, NULL) == 0
                 && !frozen,
             "cgroup2 thaw");
    }
}

static void live_update(const struct nook_cgroup *cg, bool v2)
{
  struct nook_resources r;
  _cleanup_error_ struct nook_error *err = NULL;
  int ret;

  memset(&r, 0, sizeof(r));
  r.memory.limit = (struct nook_opt_i64){ true, 128 * MiB };
  ret = nook_cgroup_update(cg, &r, &err);
  tap_ok(ret == 0, "update memory (%s)", err ? err->msg : "ok");
  check_file(cg, "memory", v2 ? "memory.max" : "memory.limit_in_bytes", "134217728");
  check_file(cg, "pids", "pids.max", "32"); /* untouched */
  if (!v2 || cg_hierarchy_for(cg, "io") == NULL)
    return;
  memset(&r, 0, sizeof(r));
  r.block_io.weight = (struct nook_opt_u64){ true, 500 };
  tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "update blockIO.weight");
  if (cg_exists(cg->h[0].dir, "io.bfq.weight"))
    check_file(cg, "io", "io.bfq.weight", "default 500");
  else
    check_file(cg, "io", "io.weight", "default 4950");
}

static void live_stats(const struct nook_cgroup *cg)
{
  struct nook_cgroup_stats s;
  uint64_t deadline = cg_now_ms() + 3000;

  memset(&s, 0, sizeof(s));
  /* the child touches 4 MiB once released */
  while (nook_cgroup_stats(cg, &s, NULL) == 0 && s.memory_usage < 4 * MiB && cg_now_ms() < deadline)
    usleep(10000);
  tap_ok(s.memory_usage >= 4 * MiB, "stats: memory usage %" PRIu64, s.memory_usage);
  tap_ok(s.memory_max_usage >= s.memory_usage || s.memory_max_usage == 0,
         "stats: max usage %" PRIu64, s.memory_max_usage);
  tap_is_int(s.memory_limit, 128 * MiB, "stats: memory limit");
  tap_is_int(s.pids_current, 1, "stats: pids current");
  tap_is_int(s.pids_limit, 32, "stats: pids limit");
  tap_ok(s.cpu_usage_total > 0, "stats: cpu usage %" PRIu64 " ns", s.cpu_usage_total);
}

static void live_kill(const struct nook_cgroup *cg)
{
  int gofd = -1;
  pid_t pid = spawn(&gofd, NULL);
  int st;

  nook_cgroup_enter(cg, pid, NULL);
  go(gofd);
  tap_ok(nook_cgroup_kill(cg, SIGUSR1, NULL) == 0, "kill SIGUSR1");
  st = reap(pid);
  tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "the child got SIGUSR1");
}

/* Runs job in a child inside cg; returns its exit code (or 128 + signal). */
static int run_in(const struct nook_cgroup *cg, void (*job)(void))
{
  int gofd = -1, st;
  pid_t pid = spawn(&gofd, job);

  if (nook_cgroup_enter(cg, pid, NULL) < 0)
    kill(pid, SIGKILL);
  go(gofd);
  st = reap(pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void job_full_opens(void)
{
  _exit(open("/dev/full", O_RDWR | O_CLOEXEC) >= 0 ? 0 : 1);
}

static void live_devices(const struct nook_cgroup *cg, bool v2)
{
  struct nook_device_rule deny[] = { { false, 'a', -1, -1, NULL }, { true, 'c', 1, 3, S("rwm") } };
  struct nook_device_rule all[] = { { true, 'a', -1, -1, NULL } };
  const struct cg_hierarchy *u = cg_hierarchy_for(cg, NULL);
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_close_ int ufd = u ? open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  struct nook_resources r;
  int ret;

  memset(&r, 0, sizeof(r));
  if (ufd >= 0) /* eBPF: through update on v2, directly on the hybrid host's cgroup2 mount */
    {
      r.devices = deny;
      r.n_devices = 2;
      ret = v2 ? nook_cgroup_update(cg, &r, &err) : cgroup_devices_bpf_apply(ufd, deny, 2, &err);
      tap_ok(ret == 0, "eBPF device program attached (%s)", err ? err->msg : "ok");
      tap_is_int(run_in(cg, job_devices), 0, "eBPF: /dev/null opens, /dev/full is EPERM");
      r.devices = all;
      r.n_devices = 1;
      ret = v2 ? nook_cgroup_update(cg, &r, NULL) : cgroup_devices_bpf_apply(ufd, all, 1, NULL);
      tap_ok(ret == 0, "eBPF program replaced by allow-all");
      tap_is_int(run_in(cg, job_full_opens), 0, "eBPF: the old program is detached");
    }
  if (v2)
    return;
  r.devices = deny;
  r.n_devices = 2;
  tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "v1 devices: deny a, allow c 1:3 rwm");
  check_file(cg, "devices", "devices.list", "c 1:3 rwm");
  tap_is_int(run_in(cg, job_devices), 0, "v1 devices: /dev/null opens, /dev/full is EPERM");
}

static void expect_error(const struct nook_cgroup *cg, const struct nook_resources *r,
                         const char *what, const char *name)
{
  _cleanup_error_ struct nook_error *err = NULL;
  int ret = nook_cgroup_update(cg, r, &err);

  tap_ok(ret < 0 && error_has(err, what), "%s", name);
}

static void live_unified(const struct nook_cgroup *cg, enum nook_cgroup_mode mode)
{
  struct nook_kv kv_ok[] = { { S("cgroup.max.descendants"), S("100") } };
  struct nook_kv kv_mem[] = { { S("memory.high"), S("max") } };
  struct nook_kv kv_bad[] = { { S("nosuch.thing"), S("1") } };
  struct nook_resources r;

  memset(&r, 0, sizeof(r));
  r.unified = kv_mem;
  r.n_unified = 1;
  if (mode == NOOK_CGROUP_V1)
    expect_error(cg, &r, "linux.resources.unified: requires cgroup v2", "unified on v1 refused");
  else if (mode == NOOK_CGROUP_HYBRID)
    expect_error(cg, &r, "does not exist in the unified hierarchy",
                 "unified on hybrid: a file the cgroup2 mount lacks is refused");
  else
    {
      tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "unified memory.high on v2");
      check_file(cg, "memory", "memory.high", "max");
    }
  r.unified = kv_bad;
  if (mode != NOOK_CGROUP_V1)
    expect_error(cg, &r,
                 mode == NOOK_CGROUP_V2 ? "the nosuch controller is not available"
                                        : "does not exist",
                 "unified: an unknown controller is refused");
  r.unified = kv_ok;
  if (mode == NOOK_CGROUP_V1)
    return;
  tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "unified cgroup.max.descendants accepted");
  check_file(cg, NULL, "cgroup.max.descendants", "100");
}

/* Whether the host has the controller: v1 mounted, v2 in the root's cgroup.controllers (nook
 * enables it along the path when a resource needs it). */
static bool has_controller(const struct nook_cgroup *cg, const char *name)
{
  _cleanup_free_ char *list = NULL;

  if (cg->mode != NOOK_CGROUP_V2)
    return cg_hierarchy_for(cg, name) != NULL;
  list = rd(cg->h[0].mount, "cgroup.controllers");
  for (char *p = list; *p; p++)
    *p = *p == ' ' ? ',' : *p;
  return cg_list_has(list, name);
}

static void live_absent(const struct nook_cgroup *cg)
{
  struct nook_rdma_limit rdma[] = { { S("mlx4_0"), { true, 2 }, { false, 0 } } };
  struct nook_hugepage_limit huge[] = { { S("2MB"), 4 * 2 * MiB } };
  struct nook_resources r;

  memset(&r, 0, sizeof(r));
  r.rdma = rdma;
  r.n_rdma = 1;
  if (!has_controller(cg, "rdma"))
    expect_error(cg, &r, "linux.resources.rdma: the rdma controller is not available",
                 "rdma without the rdma controller: error names field and controller");
  else /* no such device in a test machine */
    expect_error(cg, &r, "linux.resources.rdma: ", "rdma of a missing device: error names it");
  memset(&r, 0, sizeof(r));
  r.network.class_id = (struct nook_opt_u64){ true, 0x100001 };
  if (!has_controller(cg, "net_cls"))
    expect_error(cg, &r, "linux.resources.network.classID: the net_cls controller",
                 "classID without net_cls: error names it");
  else
    tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "net_cls.classid set");
  memset(&r, 0, sizeof(r));
  r.hugepage_limits = huge;
  r.n_hugepage_limits = 1;
  if (!has_controller(cg, "hugetlb"))
    expect_error(cg, &r, "the hugetlb controller is not available", "hugetlb absent: error");
  else
    {
      tap_ok(nook_cgroup_update(cg, &r, NULL) == 0, "hugetlb 2MB limit");
      check_file(cg, "hugetlb",
                 cg->mode == NOOK_CGROUP_V2 ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes",
                 "8388608");
    }
}

/* A cgroup that exists with processes is refused, and left alone. */
static void live_busy(const struct nook_cgroup *cg, const char *id)
{
  _cleanup_free_ char *rel = xasprintf("nook/%s", id);
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_cgroup_ struct nook_cgroup *other = create(id, rel, NULL, &err);
  _cleanup_strv_ char **dirs = dirs_of(cg);
  bool all = true;

  tap_ok(other == NULL && error_has(err, "already has processes"),
         "create on a cgroup with processes is refused");
  for (size_t i = 0; dirs[i]; i++)
    all &= access(dirs[i], F_OK) == 0;
  tap_ok(all, "... and the existing cgroup is left alone");
}

/* A failed create leaves nothing: the same id then creates every directory anew. */
static void live_rollback(void)
{
  _cleanup_free_ char *id = xasprintf("nook-test-%d-rb", (int)getpid());
  struct nook_hugepage_limit huge[] = { { S("3MB"), 1 } };
  struct nook_resources r;
  _cleanup_error_ struct nook_error *err = NULL;
  struct nook_cgroup *cg;
  bool fresh = true;

  memset(&r, 0, sizeof(r));
  r.hugepage_limits = huge;
  r.n_hugepage_limits = 1;
  cg = create(id, NULL, &r, &err);
  tap_ok(cg == NULL && error_has(err, "linux.resources.hugepageLimits"),
         "create with an impossible limit fails");
  nook_cgroup_free(cg);
  cg = create(id, NULL, NULL, NULL);
  for (size_t i = 0; cg && i < cg->n_h; i++)
    fresh &= cg->h[i].n_created >= 1;
  tap_ok(cg && fresh, "... and left no directory behind");
  if (cg)
    nook_cgroup_destroy(cg, NULL);
  nook_cgroup_free(cg);
}

static void live_oom(void)
{
  _cleanup_free_ char *id = xasprintf("nook-test-%d-oom", (int)getpid());
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **dirs = NULL;
  _cleanup_close_ int ofd = -1;
  struct nook_cgroup_stats s;
  struct nook_resources r;
  struct nook_cgroup *cg;
  struct pollfd pfd;
  int ret;

  memset(&r, 0, sizeof(r));
  r.memory.limit = (struct nook_opt_i64){ true, 16 * MiB };
  r.memory.swap = (struct nook_opt_i64){ true, 16 * MiB }; /* no swap to escape to */
  cg = create(id, NULL, &r, &err);
  tap_ok(cg != NULL, "create a 16 MiB cgroup (%s)", err ? err->msg : "ok");
  if (cg == NULL)
    return;
  dirs = dirs_of(cg);
  ret = nook_cgroup_oom_fd(cg, &ofd, &err);
  tap_ok(ret == 0, "oom fd (%s)", err ? err->msg : "ok");
  tap_is_int(run_in(cg, job_touch_64m), 128 + SIGKILL, "64 MiB in 16 MiB: killed");
  pfd = (struct pollfd){ .fd = ofd, .events = POLLIN };
  tap_ok(ofd >= 0 && poll(&pfd, 1, 5000) == 1, "the oom fd is readable");
  memset(&s, 0, sizeof(s));
  ret = nook_cgroup_stats(cg, &s, NULL);
  tap_ok(ret == 0 && s.oom_kill >= 1, "stats: oom_kill %" PRIu64, s.oom_kill);
  {
    _cleanup_free_ char *file = NULL, *text = NULL;
    const char *line;
    ret = nook_cgroup_oom_file(cg, &file, NULL);
    if (ret == 0)
      nook_read_file_at(AT_FDCWD, file, 4096, &text, NULL, NULL);
    line = text ? strstr(text, "oom_kill ") : NULL;
    tap_ok(line && (line == text || line[-1] == '\n') && strtoull(line + 9, NULL, 10) >= 1,
           "the oom file `%s` counts it", file ? file : "");
  }
  tap_ok(nook_cgroup_destroy(cg, NULL) == 0 && dirs_gone(dirs), "oom cgroup destroyed");
  nook_cgroup_free(cg);
}

/* The child's side of nook_cgroup_enter_self: joins, tells the parent how that went (one byte,
 * 'y' or 'n'), then waits to be killed. */
static _Noreturn void enter_self_child(const struct nook_cgroup *cg, bool into, int fd)
{
  char c = nook_cgroup_enter_self(cg, into, NULL) == 0 ? 'y' : 'n';

  if (write(fd, &c, 1) != 1)
    _exit(98);
  for (;;)
    pause();
}

/* Whether pid is in the cgroup in every hierarchy. */
static bool in_every_hierarchy(const struct nook_cgroup *cg, pid_t pid)
{
  _cleanup_free_ char *want = xasprintf("\n%d\n", (int)pid);

  for (size_t i = 0; i < cg->n_h; i++)
    {
      _cleanup_free_ char *procs = NULL;
      _cleanup_free_ char *lines = NULL;

      if (cg_read(cg->h[i].dir, "cgroup.procs", &procs, NULL) < 0)
        return false;
      lines = xasprintf("\n%s\n", procs);
      if (strstr(lines, want) == NULL)
        return false;
    }
  return true;
}

static void live_enter_self_check(const struct nook_cgroup *cg, pid_t pid, int fd, const char *what)
{
  char c = 0;

  tap_ok(read(fd, &c, 1) == 1 && c == 'y', "%s: the child joined itself", what);
  tap_ok(in_every_hierarchy(cg, pid), "%s: in all %zu hierarchies", what, cg->n_h);
  live_pids(cg, pid);
  kill(pid, SIGKILL);
  reap(pid);
  close(fd);
}

/* A forked child moves itself into every hierarchy (tasks "0" on v1). */
static void live_enter_self(const struct nook_cgroup *cg)
{
  int p[2];
  pid_t pid;

  if (pipe2(p, O_CLOEXEC) < 0)
    return;
  pid = fork();
  if (pid == 0)
    enter_self_child(cg, false, p[1]);
  close(p[1]);
  live_enter_self_check(cg, pid, p[0], "enter_self");
}

#ifdef CLONE_INTO_CGROUP
/* Born in the cgroup2 hierarchy's cgroup; on a hybrid host it joins the v1 ones itself. */
static void live_clone_into(const struct nook_cgroup *cg)
{
  struct clone_args args;
  int p[2];
  pid_t pid;

  if (pipe2(p, O_CLOEXEC) < 0)
    return;
  memset(&args, 0, sizeof(args));
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = (uint64_t)nook_cgroup_dirfd(cg);
  pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0)
    {
      if (nook_cgroup_clone_joins(cg, true))
        {
          if (write(p[1], "y", 1) != 1)
            _exit(98);
          for (;;)
            pause();
        }
      enter_self_child(cg, true, p[1]);
    }
  close(p[1]);
  if (pid < 0)
    {
      tap_ok(errno == ENOSYS, "# skip clone3: %s", strerror(errno));
      close(p[0]);
      return;
    }
  live_enter_self_check(cg, pid, p[0], "clone3 into");
}
#else
static void live_clone_into(const struct nook_cgroup *cg)
{
  tap_ok(1, "# skip no CLONE_INTO_CGROUP in the kernel headers");
}
#endif

static void test_live(void)
{
  enum nook_cgroup_mode mode = nook_cgroup_mode();
  bool v2 = mode == NOOK_CGROUP_V2;
  _cleanup_free_ char *id = xasprintf("nook-test-%d", (int)getpid());
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  _cleanup_strv_ char **dirs = NULL;
  struct nook_resources r;
  int gofd = -1, st, ret;
  pid_t pid;

  memset(&r, 0, sizeof(r));
  r.memory.limit = (struct nook_opt_i64){ true, 64 * MiB };
  r.pids.limit = (struct nook_opt_i64){ true, 32 };
  r.cpu.shares = (struct nook_opt_u64){ true, 512 };
  r.cpu.quota = (struct nook_opt_i64){ true, 50000 };
  r.cpu.period = (struct nook_opt_u64){ true, 100000 };
  cg = create(id, NULL, &r, &err);
  if (cg == NULL && err && (err->errnum == EACCES || err->errnum == EROFS || err->errnum == EPERM))
    {
      tap_ok(1, "# skip cgroups are not writable here: %s", err->msg);
      return;
    }
  tap_ok(cg != NULL, "create `%s` on %s (%s)", id, nook_cgroup_mode_name(mode),
         err ? err->msg : "ok");
  if (cg == NULL)
    return;
  dirs = dirs_of(cg);
  tap_ok(strstr(nook_cgroup_path(cg), "/nook/nook-test-") != NULL, "path `%s`",
         nook_cgroup_path(cg));
  live_files(cg, v2);
  tap_ok(mode != NOOK_CGROUP_V1 ? nook_cgroup_dirfd(cg) >= 0 : nook_cgroup_dirfd(cg) == -1,
         "dirfd wherever there is a cgroup2 hierarchy");
  live_open(cg);
  live_enter_self(cg);
  if (mode != NOOK_CGROUP_V1)
    live_clone_into(cg);
  live_kill(cg);
  pid = spawn(&gofd, job_touch_4m);
  ret = nook_cgroup_enter(cg, pid, &err);
  tap_ok(ret == 0, "enter the child (%s)", err ? err->msg : "ok");
  go(gofd);
  live_pids(cg, pid);
  live_freeze(cg, mode == NOOK_CGROUP_HYBRID);
  live_update(cg, v2);
  live_stats(cg);
  live_busy(cg, id);
  live_devices(cg, v2);
  live_unified(cg, mode);
  live_absent(cg);
  ret = nook_cgroup_destroy(cg, &err);
  tap_ok(ret == 0, "destroy with the child alive (%s)", err ? err->msg : "ok");
  st = reap(pid);
  tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "destroy killed the child");
  tap_ok(dirs_gone(dirs), "no directory left in any of the %zu hierarchies",
         nook_strv_length(dirs));
  nook_error_free(err);
  err = NULL;
  ret = nook_cgroup_destroy(cg, &err);
  tap_ok(ret == 0, "destroy again: missing is fine (%s)", err ? err->msg : "ok");
  live_rollback();
  live_oom();
}

int main(void)
{
  test_paths();
  test_encode();
  test_conversions();
  test_devices();
  printf("# cgroup mode: %s\n", nook_cgroup_mode_name(nook_cgroup_mode()));
  if (geteuid() != 0)
    tap_ok(1, "# skip live cgroup tests need root");
  else
    test_live();
  return tap_done();
}
