/* Unit tests for runtime/rootfs.c: the mount option parser everywhere, and as root the real
 * thing (mounts, devices, pivot_root, masked and read-only paths) in private mount namespaces
 * that forked children create, so that the host never sees a mount. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "common/util.h"
#include "runtime/rootfs.h"
#include "tests/unit/tap.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define S(x) ((char *)(x))

/* ---- nook_mount_flags_parse ---------------------------------------------------------------- */

static void parse(struct nook_mount_flags *f, char **opts)
{
  free(f->data);
  nook_mount_flags_parse(opts, f);
}

static void test_flags(void)
{
  struct nook_mount_flags f = { 0 };

  parse(&f, NULL);
  tap_is_int(f.flags, 0, "no options: no flags");
  tap_is_str(f.data, NULL, "no options: no data");
  tap_ok(!f.bind && !f.recursive_ro && f.propagation == 0, "no options: nothing else");

  parse(&f, (char *[]){ S("defaults"), NULL });
  tap_is_int(f.flags, 0, "defaults is no flag");
  tap_is_str(f.data, NULL, "defaults is not data");

  parse(&f, (char *[]){ S("ro"), S("nosuid"), S("nodev"), S("noexec"), NULL });
  tap_is_int(f.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "ro nosuid nodev noexec");
  tap_is_int(f.clear_flags, 0, "nothing cleared");

  parse(&f, (char *[]){ S("ro"), S("rw"), NULL });
  tap_is_int(f.flags & MS_RDONLY, 0, "rw after ro wins");
  tap_is_int(f.clear_flags, MS_RDONLY, "rw is recorded as cleared");

  parse(&f, (char *[]){ S("rw"), S("ro"), NULL });
  tap_is_int(f.flags, MS_RDONLY, "ro after rw wins");
  tap_is_int(f.clear_flags, 0, "ro takes rw back");

  parse(&f, (char *[]){ S("suid"), S("dev"), S("exec"), S("async"), S("nomand"), NULL });
  tap_is_int(f.clear_flags, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_MANDLOCK,
             "suid dev exec async nomand clear");
  tap_is_int(f.flags, 0, "... and set nothing");

  parse(&f, (char *[]){ S("sync"), S("dirsync"), S("mand"), S("remount"), NULL });
  tap_is_int(f.flags, MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_REMOUNT,
             "sync dirsync mand remount");

  parse(&f, (char *[]){ S("noatime"), S("nodiratime"), NULL });
  tap_is_int(f.flags, MS_NOATIME | MS_NODIRATIME, "noatime nodiratime");
  parse(&f, (char *[]){ S("noatime"), S("relatime"), NULL });
  tap_is_int(f.flags, MS_RELATIME, "the last atime mode wins");
  parse(&f, (char *[]){ S("strictatime"), NULL });
  tap_is_int(f.flags, MS_STRICTATIME, "strictatime");
  parse(&f, (char *[]){ S("atime"), S("diratime"), S("norelatime"), S("nostrictatime"), NULL });
  tap_is_int(f.clear_flags, MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME,
             "atime diratime norelatime nostrictatime clear");

  parse(&f, (char *[]){ S("bind"), NULL });
  tap_ok(f.bind && f.flags == MS_BIND, "bind");
  parse(&f, (char *[]){ S("rbind"), S("ro"), NULL });
  tap_ok(f.bind && f.flags == (MS_BIND | MS_REC | MS_RDONLY), "rbind,ro");

  parse(&f, (char *[]){ S("private"), NULL });
  tap_is_int(f.propagation, MS_PRIVATE, "private");
  parse(&f, (char *[]){ S("rprivate"), NULL });
  tap_is_int(f.propagation, MS_PRIVATE | MS_REC, "rprivate");
  parse(&f, (char *[]){ S("shared"), NULL });
  tap_is_int(f.propagation, MS_SHARED, "shared");
  parse(&f, (char *[]){ S("rshared"), NULL });
  tap_is_int(f.propagation, MS_SHARED | MS_REC, "rshared");
  parse(&f, (char *[]){ S("slave"), NULL });
  tap_is_int(f.propagation, MS_SLAVE, "slave");
  parse(&f, (char *[]){ S("rslave"), NULL });
  tap_is_int(f.propagation, MS_SLAVE | MS_REC, "rslave");
  parse(&f, (char *[]){ S("unbindable"), NULL });
  tap_is_int(f.propagation, MS_UNBINDABLE, "unbindable");
  parse(&f, (char *[]){ S("runbindable"), S("ro"), NULL });
  tap_is_int(f.propagation, MS_UNBINDABLE | MS_REC, "runbindable");
  tap_is_int(f.flags, MS_RDONLY, "propagation is not a mount flag");

  parse(&f, (char *[]){ S("rbind"), S("rro"), NULL });
  tap_ok(f.recursive_ro, "rro is recursive read-only");
  tap_is_int(f.flags & MS_RDONLY, 0, "rro is not MS_RDONLY");
  tap_is_str(f.data, NULL, "rro is not data");
  parse(&f, (char *[]){ S("rro"), S("rrw"), NULL });
  tap_ok(!f.recursive_ro, "rrw after rro");
  parse(&f, (char *[]){ S("rnosuid"), S("rnodev"), S("rnoexec"), S("rnoatime"), S("rstrictatime"),
                        S("rnosymfollow"), NULL });
  tap_ok(f.flags == 0 && f.data == NULL, "recursive options are neither flags nor data");

  parse(&f, (char *[]){ S("tmpcopyup"), S("idmap"), S("ridmap"), NULL });
  tap_is_str(f.data, NULL, "tmpcopyup idmap ridmap are not data");

  parse(&f, (char *[]){ S("nosuid"), S("mode=755"), S("size=65536k"), NULL });
  tap_is_int(f.flags, MS_NOSUID, "flags among data");
  tap_is_str(f.data, "mode=755,size=65536k", "data joined with commas");

  parse(&f, (char *[]){ S("newinstance"), S("ptmxmode=0666"), S("mode=0620"), S("gid=5"), NULL });
  tap_is_str(f.data, "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts options are data");

  parse(&f, (char *[]){ S("lazytime"), S("iversion"), S("silent"), S("nosymfollow"), NULL });
  tap_is_int(f.flags, MS_LAZYTIME | MS_I_VERSION | MS_SILENT | MS_NOSYMFOLLOW,
             "lazytime iversion silent nosymfollow");
  parse(&f, (char *[]){ S("upperdir=/a"), S(""), S("lowerdir=/b:/c"), NULL });
  tap_is_str(f.data, "upperdir=/a,lowerdir=/b:/c", "empty options are dropped");
  free(f.data);
}

/* ---- children in private mount namespaces ------------------------------------------------- */

static int report_fd = -1;

/* In a child: one result line for the parent ("1 name" or "0 name"). */
static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int cond, const char *fmt, ...)
{
  char name[512];
  _cleanup_free_ char *line = NULL;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(name, sizeof(name), fmt, ap);
  va_end(ap);
  line = xasprintf("%d %s\n", cond ? 1 : 0, name);
  if (nook_write_all(report_fd, line, strlen(line)) < 0)
    _exit(3);
}

static void check_ok(int r, struct nook_error **err, const char *what)
{
  check(r == 0, "%s", what);
  if (r < 0 && *err)
    {
      _cleanup_free_ char *d = xasprintf("# %s\n", (*err)->msg);
      if (nook_write_all(report_fd, d, strlen(d)) < 0)
        _exit(3);
    }
  nook_error_freep(err);
}

/* A new mount namespace where "/" is private: checked to really be new before anything is
 * mounted, so that a failure can never touch the host. */
static int enter_private_ns(void)
{
  struct stat before, after;

  if (stat("/proc/self/ns/mnt", &before) < 0 || unshare(CLONE_NEWNS) < 0
      || stat("/proc/self/ns/mnt", &after) < 0 || before.st_ino == after.st_ino)
    return -1;
  return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* Runs fn in a forked child in its own mount namespace, turns its lines into TAP. */
static void run_child(const char *name, void (*fn)(void *), void *arg)
{
  int p[2], status = 0;
  pid_t pid;
  FILE *in;
  char line[1024];

  fflush(stdout);
  if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
    {
      tap_ok(0, "%s: fork", name);
      return;
    }
  if (pid == 0)
    {
      close(p[0]);
      report_fd = p[1];
      if (enter_private_ns() < 0)
        {
          check(0, "%s: private mount namespace", name);
          _exit(1);
        }
      fn(arg);
      _exit(0);
    }
  close(p[1]);
  in = fdopen(p[0], "r");
  while (in && fgets(line, sizeof(line), in))
    {
      line[strcspn(line, "\n")] = '\0';
      if (line[0] == '#')
        printf("%s\n", line);
      else
        tap_ok(line[0] == '1', "%s: %s", name, line + 2);
    }
  if (in)
    fclose(in);
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exited cleanly", name);
}

/* In a child: runs fn in a grandchild with a nested mount namespace (for pivot_root, which
 * would otherwise move the child's root too). */
static void run_grandchild(const char *name, void (*fn)(void *), void *arg)
{
  int status = 0;
  pid_t pid = fork();

  if (pid == 0)
    {
      if (enter_private_ns() < 0)
        _exit(1);
      fn(arg);
      _exit(0);
    }
  check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "%s exited cleanly", name);
}

/* ---- the fixture --------------------------------------------------------------------------- */

struct fixture
{
  char base[64];  /* /tmp/nook-rootfs-XXXXXX: the bundle */
  char *rootfs;   /* base/rootfs */
  char *name;     /* nook-rootfs-XXXXXX, for destinations that must not land in /tmp */
  bool cgroup_v1; /* a hybrid or v1 host */
  bool mqueue;
};

static int write_at(const char *path, const char *text)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  return fd < 0 || nook_write_all(fd, text, strlen(text)) < 0 ? -1 : 0;
}

static int fixture_make(struct fixture *f)
{
  static const char *const dirs[] = { "rootfs",     "rootfs/tmp",      "rootfs/relt",
                                      "rootfs/opt", "rootfs/opt/keep", "src-dir" };
  static const char *const links[][2] = {
    { "/", "rootfs/evil" },         { "../../../../tmp", "rootfs/evil2" },
    { "../../relt", "rootfs/rel" }, { "/nonexistent", "rootfs/dangle" },
    { "loop", "rootfs/loop" },      { "keep/file", "rootfs/opt/link" },
  };
  _cleanup_free_ char *fs = NULL;
  struct statfs sfs;

  snprintf(f->base, sizeof(f->base), "/tmp/nook-rootfs-XXXXXX");
  if (mkdtemp(f->base) == NULL)
    return -1;
  f->rootfs = xasprintf("%s/rootfs", f->base);
  f->name = f->base + strlen("/tmp/");
  for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
    {
      _cleanup_free_ char *p = xasprintf("%s/%s", f->base, dirs[i]);
      if (mkdir(p, 0755) < 0)
        return -1;
    }
  for (size_t i = 0; i < ARRAY_SIZE(links); i++)
    {
      _cleanup_free_ char *p = xasprintf("%s/%s", f->base, links[i][1]);
      if (symlink(links[i][0], p) < 0)
        return -1;
    }
  f->cgroup_v1 = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC;
  f->mqueue = nook_read_file_at(AT_FDCWD, "/proc/filesystems", 1 << 20, &fs, NULL, NULL) == 0
              && strstr(fs, "\tmqueue\n");
  {
    _cleanup_free_ char *a = xasprintf("%s/src-dir/marker", f->base);
    _cleanup_free_ char *b = xasprintf("%s/src-file", f->base);
    _cleanup_free_ char *c = xasprintf("%s/opt/keep/file", f->rootfs);
    return write_at(a, "hello") < 0 || write_at(b, "host-name") < 0 || write_at(c, "copied") < 0
               ? -1
               : 0;
  }
}

/* ---- a config built by hand ---------------------------------------------------------------- */

struct test_spec
{
  struct nook_spec spec;
  struct nook_linux lnx;
  struct nook_root root;
  struct nook_mount mounts[16];
  struct nook_device devices[4];
  char dests[4][128];
  char src_file[128];
};

static void add_mount(struct test_spec *t, const char *dest, const char *type, const char *src,
                      char **opts)
{
  struct nook_mount *m = &t->mounts[t->spec.n_mounts++];
  m->destination = S(dest);
  m->type = S(type);
  m->source = S(src);
  m->options = opts;
}

static void spec_init(struct test_spec *t, const struct fixture *f)
{
  memset(t, 0, sizeof(*t));
  t->spec.mounts = t->mounts;
  t->spec.linux = &t->lnx;
  t->spec.root = &t->root;
  t->lnx.devices = t->devices;
  snprintf(t->dests[0], sizeof(t->dests[0]), "/evil2/%s-y", f->name);
  snprintf(t->src_file, sizeof(t->src_file), "%s/src-file", f->base);
}

static char *opts_tmpfs[] = { S("nosuid"), S("size=1m"), NULL };
static char *opts_dev[] = { S("nosuid"), S("strictatime"), S("mode=755"), S("size=65536k"), NULL };
static char *opts_pts[] = { S("nosuid"), S("noexec"), NULL };
static char *opts_nne[] = { S("nosuid"), S("noexec"), S("nodev"), NULL };
static char *opts_sys[] = { S("nosuid"), S("noexec"), S("nodev"), S("ro"), NULL };
static char *opts_cg[] = { S("nosuid"), S("noexec"), S("nodev"), S("relatime"), S("ro"), NULL };
static char *opts_data[] = { S("rbind"), S("ro"), S("nosuid"), NULL };
static char *opts_bind[] = { S("bind"), NULL };
static char *opts_copyup[] = { S("tmpcopyup"), S("mode=755"), NULL };
static char *opts_rro[] = { S("rbind"), S("rro"), S("private"), NULL };

static void spec_full(struct test_spec *t, const struct fixture *f)
{
  static char *masked[] = { S("/proc/kcore"),  S("/data"),          S("/etc/hostname"),
                            S("/nonexistent"), S("/evil/opt/keep"), NULL };
  static char *readonly[] = { S("/proc/sys"), S("/x"), S("/missing/deeper"), NULL };

  spec_init(t, f);
  add_mount(t, "/evil/x", "tmpfs", "tmpfs", opts_tmpfs);
  add_mount(t, t->dests[0], "tmpfs", "tmpfs", opts_tmpfs);
  add_mount(t, "/proc", "proc", "proc", opts_nne);
  add_mount(t, "/dev", "tmpfs", "tmpfs", opts_dev);
  add_mount(t, "/dev/pts", "devpts", "devpts", opts_pts);
  add_mount(t, "/dev/shm", "tmpfs", "shm", opts_nne);
  if (f->mqueue)
    add_mount(t, "/dev/mqueue", "mqueue", "mqueue", opts_nne);
  add_mount(t, "/sys", "sysfs", "sysfs", opts_sys);
  add_mount(t, "/sys/fs/cgroup", "cgroup", "cgroup", opts_cg);
  add_mount(t, "/data", "bind", "src-dir", opts_data);
  add_mount(t, "/etc/hostname", NULL, t->src_file, opts_bind);
  add_mount(t, "/opt", "tmpfs", "tmpfs", opts_copyup);
  add_mount(t, "/rel/q", "tmpfs", "tmpfs", NULL);
  add_mount(t, "/rro", "bind", "src-dir", opts_rro);
  t->devices[0] = (struct nook_device){ .type = 'c',
                                        .path = S("/dev/custom-null"),
                                        .major = 1,
                                        .minor = 3,
                                        .file_mode = { true, 0600 },
                                        .uid = { true, 1000 },
                                        .gid = { true, 1000 } };
  t->devices[1] = (struct nook_device){ .type = 'p', .path = S("/dev/sub/fifo") };
  t->lnx.n_devices = 2;
  t->lnx.masked_paths = masked;
  t->lnx.readonly_paths = readonly;
  t->root.readonly = true;
}

/* ---- checks -------------------------------------------------------------------------------- */

static const char *in_root(const struct fixture *f, const char *rel)
{
  static char bufs[8][PATH_MAX];
  static unsigned n;
  char *b = bufs[n++ % 8];
  snprintf(b, PATH_MAX, "%s/%s", f ? f->rootfs : "", rel);
  return b;
}

static bool is_fs(const char *path, long magic)
{
  struct statfs s;
  return statfs(path, &s) == 0 && s.f_type == magic;
}

static bool is_ro(const char *path)
{
  struct statvfs v;
  return statvfs(path, &v) == 0 && (v.f_flag & ST_RDONLY);
}

static bool has_text(const char *path, const char *want)
{
  _cleanup_free_ char *got = NULL;
  return nook_read_file_at(AT_FDCWD, path, 1 << 20, &got, NULL, NULL) == 0 && streq(got, want);
}

static bool is_link_to(const char *path, const char *want)
{
  char buf[PATH_MAX];
  ssize_t n = readlink(path, buf, sizeof(buf) - 1);
  if (n < 0)
    return false;
  buf[n] = '\0';
  return streq(buf, want);
}

static bool is_dev(const char *path, mode_t type, unsigned ma, unsigned mi, mode_t mode)
{
  struct stat st;
  return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type && st.st_rdev == makedev(ma, mi)
         && (st.st_mode & 07777) == mode;
}

static bool pid_in(const char *path, pid_t pid)
{
  _cleanup_free_ char *procs = NULL;
  char want[32];
  snprintf(want, sizeof(want), "%d", (int)pid);
  if (nook_read_file_at(AT_FDCWD, path, 1 << 24, &procs, NULL, NULL) < 0)
    return false;
  for (char *save = NULL, *l = strtok_r(procs, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (streq(l, want))
      return true;
  return false;
}

static void check_escapes(const struct fixture *f)
{
  _cleanup_free_ char *host_y = xasprintf("/tmp/%s-y", f->name);
  _cleanup_free_ char *in_y = xasprintf("tmp/%s-y", f->name);

  check(is_fs(in_root(f, "x"), TMPFS_MAGIC), "/evil/x (evil -> /) lands at rootfs/x");
  check(access("/x", F_OK) < 0 && errno == ENOENT, "nothing at the host's /x");
  check(is_fs(in_root(f, in_y), TMPFS_MAGIC),
        "/evil2/y (evil2 -> ../../../../tmp) lands in rootfs/tmp");
  check(access(host_y, F_OK) < 0 && errno == ENOENT, "nothing in the host's /tmp");
  check(is_fs(in_root(f, "relt/q"), TMPFS_MAGIC),
        "/rel/q (rel -> ../../relt) lands in rootfs/relt");
}

static void check_mounts(const struct fixture *f)
{
  _cleanup_free_ char *probe = xasprintf("%s/src-dir/probe", f->base);
  struct statvfs v;

  check_escapes(f);
  check(is_fs(in_root(f, "proc"), PROC_SUPER_MAGIC), "proc on /proc");
  check(is_fs(in_root(f, "dev"), TMPFS_MAGIC), "tmpfs on /dev");
  check(is_fs(in_root(f, "dev/pts"), DEVPTS_SUPER_MAGIC), "devpts on /dev/pts");
  check(is_dev(in_root(f, "dev/pts/ptmx"), S_IFCHR, 5, 2, 0666), "devpts got ptmxmode=0666");
  check(!f->mqueue || is_fs(in_root(f, "dev/mqueue"), MQUEUE_MAGIC), "mqueue on /dev/mqueue");
  check(is_fs(in_root(f, "sys"), SYSFS_MAGIC) && is_ro(in_root(f, "sys")), "sysfs read-only");
  check(statvfs(in_root(f, "sys"), &v) == 0
            && (v.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC))
                   == (ST_NOSUID | ST_NODEV | ST_NOEXEC),
        "sysfs nosuid nodev noexec");
  check(has_text(in_root(f, "data/marker"), "hello"), "relative bind source is the bundle's");
  check(is_ro(in_root(f, "data")), "bind ro is applied by the remount");
  check(statvfs(in_root(f, "data"), &v) == 0 && (v.f_flag & ST_NOSUID), "bind nosuid too");
  check(write_at(probe, "") == 0 && unlink(probe) == 0, "the bind source stays writable");
  check(has_text(in_root(f, "etc/hostname"), "host-name"), "file bind creates /etc and the file");
  check(is_fs(in_root(f, "opt"), TMPFS_MAGIC), "tmpfs on /opt");
  check(has_text(in_root(f, "opt/keep/file"), "copied"), "tmpcopyup copied files");
  check(is_link_to(in_root(f, "opt/link"), "keep/file"), "tmpcopyup copied symlinks");
  check(is_ro(in_root(f, "rro")), "rro makes the bind read-only");
  check(!is_ro(in_root(f, "x")), "other tmpfs stay writable");
}

static void check_cgroup(const struct fixture *f)
{
  if (!f->cgroup_v1)
    {
      check(is_fs(in_root(f, "sys/fs/cgroup"), CGROUP2_SUPER_MAGIC), "cgroup2 on a unified host");
      return;
    }
  check(is_fs(in_root(f, "sys/fs/cgroup"), TMPFS_MAGIC), "cgroup v1: a tmpfs");
  check(is_ro(in_root(f, "sys/fs/cgroup")), "cgroup v1: the tmpfs is read-only");
  check(is_fs(in_root(f, "sys/fs/cgroup/memory"), CGROUP_SUPER_MAGIC),
        "cgroup v1: memory hierarchy");
  check(is_ro(in_root(f, "sys/fs/cgroup/memory")), "cgroup v1: memory read-only");
  check(pid_in(in_root(f, "sys/fs/cgroup/memory/cgroup.procs"), getpid()),
        "cgroup v1: memory is our own cgroup");
  check(access(in_root(f, "sys/fs/cgroup/unified"), F_OK) < 0
            || is_fs(in_root(f, "sys/fs/cgroup/unified"), CGROUP2_SUPER_MAGIC),
        "cgroup v1: the hybrid unified hierarchy");
}

static void check_devices(const struct fixture *f)
{
  static const struct
  {
    const char *name;
    unsigned ma, mi;
  } devs[] = { { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
               { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
  struct stat st;

  for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
    {
      _cleanup_free_ char *rel = xasprintf("dev/%s", devs[i].name);
      check(is_dev(in_root(f, rel), S_IFCHR, devs[i].ma, devs[i].mi, 0666), "/dev/%s 0666",
            devs[i].name);
    }
  check(is_dev(in_root(f, "dev/custom-null"), S_IFCHR, 1, 3, 0600), "linux.devices: mode");
  check(lstat(in_root(f, "dev/custom-null"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
        "linux.devices: uid and gid");
  check(lstat(in_root(f, "dev/sub/fifo"), &st) == 0 && S_ISFIFO(st.st_mode)
            && (st.st_mode & 0777) == 0666,
        "linux.devices: a fifo in a new directory");
  check(is_link_to(in_root(f, "dev/ptmx"), "pts/ptmx"), "/dev/ptmx -> pts/ptmx");
  check(is_link_to(in_root(f, "dev/fd"), "/proc/self/fd"), "/dev/fd");
  check(is_link_to(in_root(f, "dev/stderr"), "/proc/self/fd/2"), "/dev/stderr");
  check((access("/proc/kcore", F_OK) == 0) == (lstat(in_root(f, "dev/core"), &st) == 0),
        "/dev/core only with /proc/kcore");
  check(is_fs(in_root(f, "dev/shm"), TMPFS_MAGIC), "/dev/shm kept its mount");
}

/* ---- scenarios ----------------------------------------------------------------------------- */

struct scenario
{
  const struct fixture *f;
  struct test_spec *t;
  struct nook_rootfs_ctx ctx;
};

static void after_pivot(void *arg)
{
  struct scenario *s = arg;
  struct nook_error *err = NULL;
  char pts[64];
  struct stat a, b;
  int m;

  check_ok(nook_rootfs_pivot(&s->ctx, &err), &err, "pivot_root");
  check(has_text("/data/marker", "hello") && access(s->f->base, F_OK) < 0, "/ is the rootfs now");
  m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  check(m >= 0 && unlockpt(m) == 0 && ptsname_r(m, pts, sizeof(pts)) == 0, "open a pty");
  check_ok(nook_rootfs_mount_console(pts, &err), &err, "mount_console");
  check(stat("/dev/console", &a) == 0 && stat(pts, &b) == 0 && a.st_rdev == b.st_rdev,
        "/dev/console is the pty");
  check_ok(nook_rootfs_finalize(&s->ctx, &err), &err, "finalize");
  check(is_fs("/data", TMPFS_MAGIC) && is_ro("/data") && access("/data/marker", F_OK) < 0,
        "masked directory: an empty read-only tmpfs");
  check(is_dev("/etc/hostname", S_IFCHR, 1, 3, 0666) && has_text("/etc/hostname", ""),
        "masked file: /dev/null");
  check(is_fs("/opt/keep", TMPFS_MAGIC) && access("/opt/keep/file", F_OK) < 0,
        "masked path through a symlink resolved in the root");
  check(open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS,
        "readonlyPaths: /proc/sys");
  check(mkdir("/x/d", 0755) < 0 && errno == EROFS, "readonlyPaths: a tmpfs");
  check(mkdir("/newdir", 0755) < 0 && errno == EROFS, "root.readonly");
  check(mkdir("/opt/d", 0755) == 0, "mounts below a read-only root stay writable");
  if (m >= 0)
    close(m);
}

static void after_move(void *arg)
{
  struct scenario *s = arg;
  struct nook_error *err = NULL;

  s->ctx.no_pivot = true;
  check_ok(nook_rootfs_pivot(&s->ctx, &err), &err, "no_pivot: MS_MOVE and chroot");
  check(has_text("/data/marker", "hello") && access(s->f->base, F_OK) < 0,
        "no_pivot: / is the rootfs now");
}

static void check_error(struct scenario *s, const char *dest, const char *type, const char *src,
                        const char *want, const char *name)
{
  struct test_spec t;
  struct nook_error *err = NULL;
  struct nook_rootfs_ctx ctx = s->ctx;
  int r;

  spec_init(&t, s->f);
  add_mount(&t, dest, type, src, NULL);
  t.spec.linux = NULL;
  ctx.spec = &t.spec;
  r = nook_rootfs_prepare(&ctx, &err);
  check(r < 0 && err && nook_has_prefix(err->msg, want), "%s", name);
  if (err && !nook_has_prefix(err->msg, want))
    {
      _cleanup_free_ char *d = xasprintf("#   got: %s\n#   want: %s...\n", err->msg, want);
      if (nook_write_all(report_fd, d, strlen(d)) < 0)
        _exit(3);
    }
  nook_error_freep(&err);
}

/* A mount on /dangle/x, where /dangle is a symlink to /nonexistent that the root lacks: the
 * link's target is made inside the root and mounted on (runc and crun do the same for an
 * image's /etc/resolv.conf -> ../run/...), and nothing is made on the host. */
static void check_through_dangling(struct scenario *s, const char *name)
{
  struct test_spec t;
  struct nook_error *err = NULL;
  struct nook_rootfs_ctx ctx = s->ctx;

  spec_init(&t, s->f);
  add_mount(&t, "/dangle/x", "tmpfs", "tmpfs", NULL);
  t.spec.linux = NULL;
  ctx.spec = &t.spec;
  check_ok(nook_rootfs_prepare(&ctx, &err), &err, name);
  check(is_fs(in_root(s->f, "nonexistent/x"), TMPFS_MAGIC) && access("/nonexistent", F_OK) < 0,
        "%s: the target is made inside the root, not on the host", name);
}

static void scenario_full(void *arg)
{
  struct scenario *s = arg;
  struct nook_error *err = NULL;

  spec_full(s->t, s->f);
  check_ok(nook_rootfs_prepare(&s->ctx, &err), &err, "prepare");
  check_mounts(s->f);
  check_cgroup(s->f);
  check_devices(s->f);
  run_grandchild("pivot + console + finalize", after_pivot, s);
  run_grandchild("no_pivot", after_move, s);
  check_error(s, "/bad", "nookfs-nope", NULL, "mount `nookfs-nope` on `/bad`: No such device",
              "error: unknown filesystem type");
  check_error(s, "/m", "bind", "missing-src", "mount `missing-src` on `/m`: stat `",
              "error: missing bind source");
  check_through_dangling(s, "through a dangling symlink");
  check_error(s, "/loop/x", "tmpfs", "tmpfs",
              "mount `tmpfs` on `/loop/x`: open `/loop/x`: Too many", "error: symlink loop");
}

/* openat2 made to fail with ENOSYS, as on kernels before 5.6: the walk must resolve the same. */
static int block_openat2(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
  const unsigned arch = AUDIT_ARCH_X86_64;
#else
  const unsigned arch = AUDIT_ARCH_AARCH64;
#endif
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#else
  return errno = ENOSYS, -1;
#endif
}

static void scenario_fallback(void *arg)
{
  struct scenario *s = arg;
  struct nook_error *err = NULL;
  struct test_spec *t = s->t;

  if (block_openat2() < 0)
    {
      check(1, "# SKIP no seccomp filter for this architecture");
      return;
    }
  check(syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0) < 0 && errno == ENOSYS, "openat2 is ENOSYS");
  spec_init(t, s->f);
  add_mount(t, "/evil/x", "tmpfs", "tmpfs", opts_tmpfs);
  add_mount(t, t->dests[0], "tmpfs", "tmpfs", opts_tmpfs);
  add_mount(t, "/rel/./q/", "tmpfs", "tmpfs", NULL);
  add_mount(t, "/dev", "tmpfs", "tmpfs", opts_dev);
  add_mount(t, "/evil2/../evil/data", "bind", "src-dir", opts_data);
  check_ok(nook_rootfs_prepare(&s->ctx, &err), &err, "prepare without openat2");
  check_escapes(s->f);
  check(has_text(in_root(s->f, "data/marker"), "hello") && is_ro(in_root(s->f, "data")),
        "a bind through symlinks and ..");
  check(is_dev(in_root(s->f, "dev/null"), S_IFCHR, 1, 3, 0666), "devices without openat2");
  check_error(s, "/loop/x", "tmpfs", "tmpfs",
              "mount `tmpfs` on `/loop/x`: open `/loop/x`: Too many",
              "error without openat2: symlink loop");
  check_through_dangling(s, "without openat2: through a dangling symlink");
}

/* In a user namespace (identity-mapped, as root of it): mknod is refused, sysfs too without a
 * network namespace, and the flags of mounts inherited from the parent namespace are locked. */
static void in_userns(struct scenario *s)
{
  static char *opts_ro[] = { S("bind"), S("ro"), NULL };
  static char *ro_paths[] = { S("/locked"), NULL };
  struct test_spec *t = s->t;
  struct nook_error *err = NULL;
  struct statvfs v;

  spec_init(t, s->f);
  add_mount(t, "/evil/x", "tmpfs", "tmpfs", opts_tmpfs);
  add_mount(t, "/dev", "tmpfs", "tmpfs", opts_dev);
  add_mount(t, "/dev/pts", "devpts", "devpts", opts_pts);
  add_mount(t, "/sys", "sysfs", "sysfs", opts_sys);
  add_mount(t, "/locked", "bind", "locked", opts_ro);
  t->lnx.readonly_paths = ro_paths;
  t->root.readonly = true;
  s->ctx.in_userns = true;
  check(mount("sysfs", in_root(s->f, "relt"), "sysfs", 0, NULL) < 0 && errno == EPERM,
        "userns: the kernel refuses sysfs here (so the fallback is what is tested)");
  check_ok(nook_rootfs_prepare(&s->ctx, &err), &err, "prepare in a user namespace");
  check(is_fs(in_root(s->f, "x"), TMPFS_MAGIC) && access("/x", F_OK) < 0, "userns: /evil/x");
  check(is_fs(in_root(s->f, "sys"), SYSFS_MAGIC) && is_ro(in_root(s->f, "sys")),
        "userns: sysfs falls back to a read-only bind of /sys");
  check(is_fs(in_root(s->f, "dev/pts"), DEVPTS_SUPER_MAGIC), "userns: devpts without gid=5");
  check(statvfs(in_root(s->f, "locked"), &v) == 0 && (v.f_flag & ST_RDONLY)
            && (v.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME))
                   == (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME),
        "userns: ro bind keeps the locked nosuid,nodev,noexec,noatime");
  check(is_dev(in_root(s->f, "dev/null"), S_IFCHR, 1, 3, 0666), "userns: /dev/null bind-mounted");
  check(is_dev(in_root(s->f, "dev/tty"), S_IFCHR, 5, 0, 0666), "userns: /dev/tty bind-mounted");
  check_ok(nook_rootfs_pivot(&s->ctx, &err), &err, "userns: pivot_root");
  check_ok(nook_rootfs_finalize(&s->ctx, &err), &err, "userns: finalize");
  check(mkdir("/newdir", 0755) < 0 && errno == EROFS, "userns: root.readonly");
  check(has_text("/locked/marker", "locked"), "userns: the locked mount is there");
}

static void scenario_userns(void *arg)
{
  struct scenario *s = arg;
  _cleanup_free_ char *locked = xasprintf("%s/locked", s->f->base);
  _cleanup_free_ char *marker = xasprintf("%s/marker", locked);
  static const char map[] = "0 0 4294967295\n";
  int ready[2], go[2], status = 0;
  char c = 0;
  pid_t pid;

  check((mkdir(locked, 0755) == 0 || errno == EEXIST)
            && mount("tmpfs", locked, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME,
                     "size=1m")
                   == 0
            && write_at(marker, "locked") == 0,
        "a nosuid,nodev,noexec,noatime mount to inherit");
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || (pid = fork()) < 0)
    return check(0, "fork");
  if (pid == 0)
    {
      if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || write(ready[1], "r", 1) != 1
          || read(go[0], &c, 1) != 1)
        _exit(1);
      in_userns(s);
      _exit(0);
    }
  if (read(ready[0], &c, 1) == 1)
    {
      _cleanup_free_ char *u = xasprintf("/proc/%d/uid_map", (int)pid);
      _cleanup_free_ char *g = xasprintf("/proc/%d/gid_map", (int)pid);
      check(nook_write_file(u, map, strlen(map), NULL) == 0
                && nook_write_file(g, map, strlen(map), NULL) == 0,
            "identity uid and gid maps");
    }
  check(write(go[1], "g", 1) == 1 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
            && WEXITSTATUS(status) == 0,
        "user namespace child exited cleanly");
}

/* Whether this process may create mount namespaces at all (root in a container may not). */
static bool can_unshare(void)
{
  int status = 0;
  pid_t pid = fork();
  if (pid == 0)
    _exit(unshare(CLONE_NEWNS) == 0 ? 0 : 1);
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
         && WEXITSTATUS(status) == 0;
}

/* Root in a user namespace (unshare -r, a rootless container) cannot mount proc or mknod. */
static bool in_initial_userns(void)
{
  _cleanup_free_ char *map = NULL;
  unsigned long long inside, outside, count;

  return nook_read_file_at(AT_FDCWD, "/proc/self/uid_map", 4096, &map, NULL, NULL) == 0
         && sscanf(map, "%llu %llu %llu", &inside, &outside, &count) == 3 && inside == 0
         && outside == 0 && count == 4294967295ULL;
}

static bool host_mounts_mention(const char *path)
{
  _cleanup_free_ char *mi = NULL;
  if (nook_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 24, &mi, NULL, NULL) < 0)
    return true;
  return strstr(mi, path) != NULL;
}

static void test_real(void)
{
  struct fixture f = { 0 };
  struct test_spec t;
  struct scenario s = { .f = &f, .t = &t };
  struct nook_error *err = NULL;

  if (geteuid() != 0)
    {
      printf("ok %d # SKIP not root\n", ++tap_n);
      return;
    }
  if (!in_initial_userns() || !can_unshare())
    {
      printf("ok %d # SKIP not root of the initial user namespace\n", ++tap_n);
      return;
    }
  tap_ok(fixture_make(&f) == 0, "fixture in %s", f.base);
  s.ctx = (struct nook_rootfs_ctx){ .spec = &t.spec, .rootfs = f.rootfs, .bundle = f.base };
  run_child("rootfs", scenario_full, &s);
  run_child("no openat2", scenario_fallback, &s);
  run_child("user namespace", scenario_userns, &s);
  tap_ok(!host_mounts_mention(f.base), "no mount left on the host");
  tap_ok(nook_rm_rf_at(AT_FDCWD, f.base, &err) == 0, "temporary tree removed");
  if (err)
    printf("# %s\n", err->msg);
  nook_error_freep(&err);
  tap_ok(access("/x", F_OK) < 0, "no /x on the host");
  free(f.rootfs);
}

int main(void)
{
  test_flags();
  test_real();
  return tap_done();
}
