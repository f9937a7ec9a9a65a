/* Unit tests for runtime/process.c.  Everything that changes the process runs in a forked
 * child, which reports its checks over a pipe ("1 name" / "0 name" / "# diagnostic" lines)
 * for the parent to print as TAP. */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/process.h"
#include "tests/unit/tap.h"
#include "common/util.h"

static int check_fd = -1; /* in a child: where its results go */

static void child_line(const char *prefix, const char *text)
{
  _cleanup_free_ char *line = xasprintf("%s%s\n", prefix, text);

  for (char *s = line; s[1]; s++)
    if (*s == '\n')
      *s = ' ';
  if (nook_write_all(check_fd, line, strlen(line)) < 0)
    _exit(120);
}

static void child_ok(int cond, const char *fmt, ...) _printf_(2, 3);
static void child_ok(int cond, const char *fmt, ...)
{
  _cleanup_free_ char *name = NULL;
  va_list ap;

  va_start(ap, fmt);
  if (vasprintf(&name, fmt, ap) < 0)
    _exit(121);
  va_end(ap);
  child_line(cond ? "1 " : "0 ", name);
}

static void child_is_str(const char *got, const char *want, const char *name)
{
  int ok = got && want && strcmp(got, want) == 0;

  child_ok(ok, "%s", name);
  if (!ok)
    {
      _cleanup_free_ char *diag = xasprintf("got `%s`, want `%s`", got ? got : "(null)", want);
      child_line("#   ", diag);
    }
}

static void child_is_int(long long got, long long want, const char *name)
{
  child_ok(got == want, "%s", name);
  if (got != want)
    {
      _cleanup_free_ char *diag = xasprintf("got %lld, want %lld", got, want);
      child_line("#   ", diag);
    }
}

/* r == 0, else the error message as a diagnostic. */
static void child_call_ok(int r, struct nook_error *err, const char *name)
{
  child_is_int(r, 0, name);
  if (r < 0 && err)
    child_line("#   ", err->msg);
}

/* Runs fn in a child and turns its report into TAP lines. */
static void run_child(const char *what, void (*fn)(void))
{
  _cleanup_free_ char *out = NULL;
  _cleanup_close_ int rd = -1;
  int p[2], status = 0;
  pid_t pid;

  if (pipe2(p, O_CLOEXEC) < 0)
    abort();
  fflush(stdout);
  pid = fork();
  if (pid < 0)
    abort();
  if (pid == 0)
    {
      close(p[0]);
      check_fd = p[1];
      fn();
      _exit(0);
    }
  close(p[1]);
  rd = p[0];
  if (nook_read_fd(rd, 1 << 20, &out, NULL, NULL) < 0)
    abort();
  for (char *line = out, *nl; *line; line = nl + 1)
    {
      nl = strchr(line, '\n');
      if (nl == NULL)
        break;
      *nl = '\0';
      if (line[0] == '#')
        printf("%s\n", line);
      else
        tap_ok(line[0] == '1', "%s: %s", what, line + 2);
    }
  waitpid(pid, &status, 0);
  tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exited cleanly (status 0x%x)",
         what, (unsigned)status);
}

static char **strv(const char *first, ...)
{
  char **v = NULL;
  va_list ap;

  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *))
    nook_strv_push(&v, s);
  va_end(ap);
  return v;
}

/* The value of a "Name:\tvalue" line of /proc/self/status. */
static char *status_field(const char *field)
{
  _cleanup_free_ char *buf = NULL;
  size_t flen = strlen(field);

  if (nook_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &buf, NULL, NULL) < 0)
    return NULL;
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, field, flen) == 0 && line[flen] == ':')
      {
        char *v = line + flen + 1;
        v += strspn(v, " \t");
        return xstrndup(v, strcspn(v, "\n"));
      }
  return NULL;
}

static void child_is_status(const char *field, const char *want)
{
  _cleanup_free_ char *got = status_field(field);
  _cleanup_free_ char *name = xasprintf("%s is %s", field, want);

  child_is_str(got, want, name);
}

static char *cap_mask_str(uint64_t mask)
{
  return xasprintf("%016" PRIx64, mask);
}

static int write_file(const char *path, const char *text)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (fd < 0 || nook_write_all(fd, text, strlen(text)) < 0)
    return -1;
  return 0;
}

static bool have_root(void)
{
  return geteuid() == 0;
}

static void drop_cap(cap_flag_t set, cap_value_t c)
{
  cap_t caps = cap_get_proc();

  if (caps == NULL || cap_set_flag(caps, set, 1, &c, CAP_CLEAR) < 0 || cap_set_proc(caps) < 0)
    child_line("# ", "could not drop a capability");
  cap_free(caps);
}

/* So that the EPERM paths are tested on a host where root has CAP_SYS_RESOURCE too. */
static void drop_effective(cap_value_t c)
{
  drop_cap(CAP_EFFECTIVE, c);
}

static void drop_permitted(cap_value_t c)
{
  drop_cap(CAP_EFFECTIVE, c);
  drop_cap(CAP_PERMITTED, c);
}

/* ---- capability names ------------------------------------------------------------------ */

static void test_cap_names(void)
{
  static const struct
  {
    const char *name;
    int want;
  } cases[] = {
    { "CAP_KILL", CAP_KILL },
    { "cap_kill", CAP_KILL },
    { "KILL", CAP_KILL },
    { "kill", CAP_KILL },
    { "Cap_Chown", CAP_CHOWN },
    { "CAP_SYS_ADMIN", CAP_SYS_ADMIN },
    { "CAP_FOO", -1 },
    { "", -1 },
    { "CAP_", -1 },
    { "5", -1 },
    { "CAP_5", -1 },
    { "CAP_KILL ", -1 },
    { "CAP_KILLX", -1 },
    { "CAP_KIL", -1 },
    { "CAP_KILL,CAP_CHOWN", -1 },
  };

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
    {
      _cleanup_free_ char *name = xasprintf("cap_from_name(\"%s\")", cases[i].name);
      tap_is_int(nook_cap_from_name(cases[i].name), cases[i].want, name);
    }
  tap_is_int(nook_cap_from_name(NULL), -1, "cap_from_name(NULL)");
#ifdef CAP_CHECKPOINT_RESTORE
  {
    cap_value_t last = cap_max_bits() - 1;
    tap_is_int(nook_cap_from_name("CAP_CHECKPOINT_RESTORE"),
               last >= CAP_CHECKPOINT_RESTORE ? CAP_CHECKPOINT_RESTORE : -1,
               "cap_from_name(CAP_CHECKPOINT_RESTORE) follows the kernel");
  }
#endif
}

/* ---- rlimits --------------------------------------------------------------------------- */

static void child_rlimits(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct rlimit cur, got;
  struct nook_rlimit lower[] = {
    { .type = (char *)"RLIMIT_NOFILE", .resource = RLIMIT_NOFILE, .soft = 100 },
    { .type = (char *)"RLIMIT_CORE", .resource = RLIMIT_CORE, .soft = 0, .hard = 0 },
  };
  struct nook_process p = { .rlimits = lower, .n_rlimits = ARRAY_SIZE(lower) };
  _cleanup_free_ char *want = NULL;
  int r;

  drop_effective(CAP_SYS_RESOURCE);
  getrlimit(RLIMIT_NOFILE, &cur);
  lower[0].hard = cur.rlim_max;
  child_call_ok(nook_process_apply_rlimits(&p, &err), err, "lower soft nofile and core");
  getrlimit(RLIMIT_NOFILE, &got);
  child_is_int((long long)got.rlim_cur, 100, "nofile soft is 100");
  child_is_int((long long)got.rlim_max, (long long)cur.rlim_max, "nofile hard unchanged");
  getrlimit(RLIMIT_CORE, &got);
  child_is_int((long long)got.rlim_max, 0, "core hard is 0");

  lower[0].hard = cur.rlim_max + 1;
  p.n_rlimits = 1;
  r = nook_process_apply_rlimits(&p, &err);
  want = xasprintf("process.rlimits: RLIMIT_NOFILE: cannot raise hard limit to %llu above the "
                   "current %llu: Operation not permitted",
                   (unsigned long long)cur.rlim_max + 1, (unsigned long long)cur.rlim_max);
  child_ok(r == -EPERM, "raising nofile hard returns -EPERM");
  child_is_str(err ? err->msg : NULL, want, "raising nofile hard: message");
  getrlimit(RLIMIT_NOFILE, &got);
  child_is_int((long long)got.rlim_cur, 100, "nofile soft still 100 after the failure");

  nook_error_freep(&err);
  lower[0].soft = 200;
  lower[0].hard = 150;
  r = nook_process_apply_rlimits(&p, &err);
  child_is_str(err ? err->msg : NULL,
               "process.rlimits: RLIMIT_NOFILE: soft limit 200 is above the hard limit 150",
               "soft above hard: message");
}

/* ---- identity -------------------------------------------------------------------------- */

static void child_identity(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **bounding = strv("CAP_KILL", "CAP_CHOWN", NULL);
  _cleanup_strv_ char **kill_only = strv("CAP_KILL", NULL);
  _cleanup_free_ char *bnd = cap_mask_str((1ULL << CAP_KILL) | (1ULL << CAP_CHOWN));
  _cleanup_free_ char *eff = cap_mask_str(1ULL << CAP_KILL);
  gid_t gids[] = { 10, 20 }, got_gids[8];
  struct nook_capabilities caps = { .bounding = bounding,
                                    .effective = kill_only,
                                    .permitted = kill_only };
  struct nook_process p = {
    .user = { .uid = 1000,
              .gid = 1000,
              .umask = { true, 027 },
              .additional_gids = gids,
              .n_additional_gids = ARRAY_SIZE(gids) },
    .capabilities = &caps,
  };
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  int n;

  child_call_ok(nook_process_set_identity(&p, true, &err), err, "set_identity");
  getresuid(&ru, &eu, &su);
  getresgid(&rg, &eg, &sg);
  child_ok(ru == 1000 && eu == 1000 && su == 1000, "uids are 1000 (%u %u %u)", ru, eu, su);
  child_ok(rg == 1000 && eg == 1000 && sg == 1000, "gids are 1000 (%u %u %u)", rg, eg, sg);
  n = getgroups(ARRAY_SIZE(got_gids), got_gids);
  child_ok(n == 2 && got_gids[0] == 10 && got_gids[1] == 20, "groups are 10 20 (%d)", n);
  child_is_status("CapBnd", bnd);
  child_is_status("CapEff", eff);
  child_is_status("CapPrm", eff);
  child_is_status("CapInh", "0000000000000000");
  child_is_status("CapAmb", "0000000000000000");
  child_is_int(umask(0), 027, "umask is 027");
}

static void child_ambient(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **nbs = strv("CAP_NET_BIND_SERVICE", NULL);
  _cleanup_free_ char *mask = cap_mask_str(1ULL << CAP_NET_BIND_SERVICE);
  struct nook_capabilities caps = { nbs, nbs, nbs, nbs, nbs };
  struct nook_process p = { .user = { .uid = 1000, .gid = 1000 }, .capabilities = &caps };

  child_call_ok(nook_process_set_identity(&p, true, &err), err, "set_identity");
  child_is_status("CapAmb", mask);
  child_is_status("CapInh", mask);
  child_is_status("CapEff", mask);
}

static void child_no_caps(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct nook_process p = { .user = { .uid = 0, .gid = 0 } };

  child_call_ok(nook_process_set_identity(&p, true, &err), err, "set_identity");
  child_ok(getuid() == 0, "still uid 0");
  child_is_status("CapBnd", "0000000000000000");
  child_is_status("CapEff", "0000000000000000");
  child_is_status("CapPrm", "0000000000000000");
}

static void child_bad_caps(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **bad = strv("CAP_KILL", "CAP_FOO", NULL);
  _cleanup_strv_ char **good = strv("CAP_KILL", NULL);
  _cleanup_strv_ char **nice = strv("CAP_SYS_NICE", NULL);
  _cleanup_free_ char *bnd_before = status_field("CapBnd");
  struct nook_capabilities caps = { .bounding = good, .effective = bad };
  struct nook_process p = { .user = { .uid = 1000, .gid = 1000 }, .capabilities = &caps };

  caps = (struct nook_capabilities){ .bounding = good, .inheritable = nice };
  child_ok(nook_process_set_identity(&p, true, &err) < 0, "inheritable outside bounding fails");
  child_is_str(err ? err->msg : NULL,
               "process.capabilities.inheritable: `CAP_SYS_NICE` is not in "
               "process.capabilities.bounding: Operation not permitted",
               "message names the capability");
  child_ok(getuid() == 0, "nothing changed: still uid 0");

  /* A capability the runtime itself lacks. */
  nook_error_freep(&err);
  drop_permitted(CAP_SYS_NICE);
  caps = (struct nook_capabilities){ .bounding = nice, .permitted = nice };
  child_ok(nook_process_set_identity(&p, true, &err) < 0, "permitted beyond the runtime's fails");
  child_is_str(err ? err->msg : NULL,
               "process.capabilities.permitted: `CAP_SYS_NICE` is not in the runtime's "
               "permitted set: Operation not permitted",
               "message names the capability");
  child_is_status("CapBnd", bnd_before);

  /* Unknown names are skipped with a warning, as runc does; the known ones still apply. */
  nook_error_freep(&err);
  caps = (struct nook_capabilities){ .bounding = good, .effective = bad, .permitted = good };
  child_call_ok(nook_process_set_identity(&p, true, &err), err, "unknown name is skipped");
  child_is_status("CapEff", "0000000000000020");
}

static void child_setgroups_denied(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  gid_t gids[] = { 10 }, before[64], after[64];
  struct nook_process p = {
    .user = { .uid = 0, .gid = 0, .additional_gids = gids, .n_additional_gids = 1 },
  };
  int nb = getgroups(ARRAY_SIZE(before), before), na;

  child_call_ok(nook_process_set_identity(&p, false, &err), err, "set_identity");
  na = getgroups(ARRAY_SIZE(after), after);
  child_ok(na == nb && memcmp(before, after, (size_t)na * sizeof(gid_t)) == 0,
           "groups unchanged with setgroups_allowed=false");
}

/* The kernel's cap_last_cap faked lower than a capability libcap knows: the capability is
 * skipped with a warning, not an error. */
static void child_kernel_unknown_cap(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **list = strv("CAP_KILL", "CAP_SETPCAP", NULL); /* 5 and 8 */
  _cleanup_free_ char *fake = xasprintf("/tmp/nook-test-process.%d", (int)getpid());
  _cleanup_free_ char *warning = NULL;
  _cleanup_free_ char *eff = cap_mask_str(1ULL << CAP_KILL);
  _cleanup_close_ int warn_r = -1;
  struct nook_capabilities caps = { .bounding = list, .effective = list, .permitted = list };
  struct nook_process p = { .capabilities = &caps };
  int w[2], saved_stderr, r;

  /* cap_last_cap faked to 7: CAP_SETPCAP (8) is then unknown to "the kernel". */
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
      || write_file(fake, "7\n") < 0
      || mount(fake, "/proc/sys/kernel/cap_last_cap", NULL, MS_BIND, NULL) < 0)
    {
      unlink(fake);
      child_ok(1, "cannot fake cap_last_cap here # SKIP");
      return;
    }
  unlink(fake);
  child_is_int(nook_cap_from_name("CAP_SETPCAP"), -1, "cap_from_name above cap_last_cap is -1");

  if (pipe2(w, O_CLOEXEC) < 0)
    _exit(122);
  warn_r = w[0];
  saved_stderr = dup(STDERR_FILENO);
  dup2(w[1], STDERR_FILENO);
  close(w[1]);
  r = nook_process_set_identity(&p, true, &err);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  child_call_ok(r, err, "set_identity skips the capability");
  child_is_status("CapEff", eff);
  nook_read_fd(warn_r, 1 << 16, &warning, NULL, NULL);
  child_ok(warning
               && strstr(warning, "warning: process.capabilities: ignoring capabilities "
                                  "unknown to libcap or to the running "
                                  "kernel (cap_last_cap 7): "
                                  "CAP_SETPCAP"),
           "warning names the capability");
  if (warning)
    {
      warning[strcspn(warning, "\n")] = '\0';
      child_line("# ", warning);
    }
}

/* ---- no_new_privs, oom_score_adj, scheduling, affinity --------------------------------- */

static void child_no_new_privs(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct nook_process p = { .no_new_privileges = false };

  child_is_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, "initially off");
  child_call_ok(nook_process_apply_no_new_privs(&p, &err), err, "noNewPrivileges false");
  child_is_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, "still off");
  p.no_new_privileges = true;
  child_call_ok(nook_process_apply_no_new_privs(&p, &err), err, "noNewPrivileges true");
  child_is_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, "now on");
}

static void child_oom(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *got = NULL;
  struct nook_process p = { .oom_score_adj = { true, 500 } };

  child_call_ok(nook_process_apply_oom_score_adj(&p, &err), err, "raise to 500");
  nook_read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", 64, &got, NULL, NULL);
  child_is_str(got, "500\n", "oom_score_adj is 500");
  drop_effective(CAP_SYS_RESOURCE);
  p.oom_score_adj.value = -1000;
  child_ok(nook_process_apply_oom_score_adj(&p, &err) < 0, "lowering without CAP_SYS_RESOURCE");
  child_ok(err
               && nook_has_prefix(err->msg, "process.oomScoreAdj: write "
                                            "`/proc/self/oom_score_adj`: "),
           "error names the field: %s", err ? err->msg : "(none)");
}

static void child_scheduling(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_strv_ char **pflags = strv("ADDR_NO_RANDOMIZE", NULL);
  _cleanup_strv_ char **bad = strv("SCHED_FLAG_FOO", NULL);
  struct nook_process proc = {
    .scheduler = { .set = true,
                   .policy = (char *)"SCHED_OTHER",
                   .policy_value = SCHED_OTHER,
                   .nice = { true, 7 } },
    .io_priority = { .set = true, .class = IOPRIO_CLASS_BE, .priority = 5 },
  };
  struct nook_linux lin = {
    .personality = { .set = true, .domain = (char *)"LINUX32", .flags = pflags },
  };
  struct nook_spec spec = { .process = &proc, .linux = &lin };

  child_call_ok(nook_process_apply_scheduling(&spec, &err), err, "apply");
  child_is_int(getpriority(PRIO_PROCESS, 0), 7, "nice is 7");
  child_is_int(syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0),
               IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 5), "ioprio is best-effort 5");
  child_is_int(personality(0xffffffff), PER_LINUX32 | ADDR_NO_RANDOMIZE, "personality");

  proc.scheduler.flags = bad;
  child_ok(nook_process_apply_scheduling(&spec, &err) < 0, "unknown scheduler flag fails");
  child_is_str(err ? err->msg : NULL, "process.scheduler.flags: unknown value `SCHED_FLAG_FOO`",
               "message");
  nook_error_freep(&err);
  proc.scheduler.flags = NULL;
  lin.personality.domain = (char *)"LINUX64";
  child_ok(nook_process_apply_scheduling(&spec, &err) < 0, "unknown personality fails");
  child_is_str(err ? err->msg : NULL, "linux.personality.domain: unknown value `LINUX64`",
               "message");
}

static void child_affinity(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  cpu_set_t before, after;

  sched_getaffinity(0, sizeof(before), &before);
  if (!CPU_ISSET(0, &before))
    {
      child_ok(1, "cpu 0 not available # SKIP");
      return;
    }
  child_call_ok(nook_process_apply_cpu_affinity("0", "process.execCPUAffinity.initial", &err), err,
                "pin to cpu 0");
  sched_getaffinity(0, sizeof(after), &after);
  child_ok(CPU_COUNT(&after) == 1 && CPU_ISSET(0, &after), "only cpu 0");
  if (CPU_ISSET(1, &before))
    {
      child_call_ok(nook_process_apply_cpu_affinity("0-1", "f", &err), err, "cpus 0-1");
      sched_getaffinity(0, sizeof(after), &after);
      child_ok(CPU_COUNT(&after) == 2, "two cpus");
    }
}

static void test_affinity_syntax(void)
{
  static const char *const bad[] = { "", "a", "1-", "-1", "3-1", "1,,2", "1,", ",1", "0 ", "0x1" };

  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    {
      _cleanup_error_ struct nook_error *err = NULL;
      _cleanup_free_ char *want = xasprintf(
          "process.execCPUAffinity.final: invalid cpu list `%s`: Invalid argument", bad[i]);
      _cleanup_free_ char *name = xasprintf("cpu list `%s` is refused", bad[i]);
      nook_process_apply_cpu_affinity(bad[i], "process.execCPUAffinity.final", &err);
      tap_is_str(err ? err->msg : NULL, want, name);
    }
  {
    _cleanup_error_ struct nook_error *err = NULL;
    tap_ok(nook_process_apply_cpu_affinity("0-99999999", "f", &err) == -ERANGE,
           "a huge cpu number is -ERANGE");
    tap_is_int(nook_process_apply_cpu_affinity(NULL, "f", NULL), 0, "NULL cpu list is a no-op");
  }
}

int main(void)
{
  test_cap_names();
  test_affinity_syntax();
  run_child("rlimits", child_rlimits);
  run_child("no_new_privs", child_no_new_privs);
  run_child("oom_score_adj", child_oom);
  run_child("affinity", child_affinity);
  if (!have_root())
    {
      tap_ok(1, "identity, scheduling # SKIP needs root");
      return tap_done();
    }
  run_child("scheduling", child_scheduling);
  run_child("identity", child_identity);
  run_child("ambient", child_ambient);
  run_child("no capabilities", child_no_caps);
  run_child("bad capabilities", child_bad_caps);
  run_child("setgroups denied", child_setgroups_denied);
  run_child("kernel-unknown capability", child_kernel_unknown_cap);
  return tap_done();
}
