/* Unit tests for joining another process's namespaces (runtime/namespaces.c), the way exec
 * does: one setns(pidfd) and, forced with a seccomp filter that makes it fail with EINVAL as a
 * kernel before 5.8 does, the per-namespace fallback.  Needs root; each join runs in a forked
 * child that exits 0 when it sees the target's namespaces. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/namespaces.h"
#include "tests/unit/tap.h"

#define HOSTNAME "nook-ns-test"

static bool same_ns(pid_t a, const char *b, const char *name)
{
  char pa[64], pb[64];
  struct stat sa, sb;

  snprintf(pa, sizeof(pa), "/proc/%d/ns/%s", (int)a, name);
  snprintf(pb, sizeof(pb), "%s/ns/%s", b, name);
  return stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_ino == sb.st_ino
         && sa.st_dev == sb.st_dev;
}

/* A process in new uts and ipc namespaces, hostname HOSTNAME, waiting to be killed. */
static pid_t start_target(void)
{
  int p[2];
  char c;
  pid_t pid;

  if (pipe(p) < 0)
    return -1;
  pid = fork();
  if (pid == 0)
    {
      close(p[0]);
      if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) < 0 || sethostname(HOSTNAME, strlen(HOSTNAME)) < 0)
        _exit(1);
      if (write(p[1], "x", 1) != 1)
        _exit(1);
      pause();
      _exit(0);
    }
  close(p[1]);
  if (pid < 0 || read(p[0], &c, 1) != 1)
    pid = -1;
  close(p[0]);
  return pid;
}

/* In a child: join (with setns(pidfd) refused when no_pidfd) and check. */
static int join_in_child(int pidfd, pid_t target, int flags, bool no_pidfd)
{
  pid_t pid = fork();
  int ws = 0;

  if (pid == 0)
    {
      struct nook_error *err = NULL;
      char host[64] = "";
      if (no_pidfd)
        {
          scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
          if (ctx == NULL
              || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(setns), 1,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pidfd))
                     < 0
              || seccomp_load(ctx) < 0)
            _exit(3);
        }
      if (nook_ns_join_process(pidfd, target, flags, &err) < 0)
        {
          fprintf(stderr, "# %s\n", err->msg);
          _exit(2);
        }
      gethostname(host, sizeof(host) - 1);
      _exit(streq(host, HOSTNAME) && same_ns(target, "/proc/self", "uts")
                    && same_ns(target, "/proc/self", "ipc")
                ? 0
                : 1);
    }
  if (pid < 0 || waitpid(pid, &ws, 0) < 0)
    return -1;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
}

int main(void)
{
  struct nook_error *err = NULL;
  int flags = -1, pidfd;
  pid_t target;

  if (getuid() != 0)
    {
      printf("1..0 # SKIP needs root\n");
      return 0;
    }
  target = start_target();
  tap_ok(target > 0, "a target in new uts and ipc namespaces");
  if (target <= 0)
    return tap_done();
  pidfd = (int)syscall(SYS_pidfd_open, target, 0);
  tap_ok(nook_ns_differing(target, &flags, &err) == 0, "nook_ns_differing");
  tap_is_int(flags, CLONE_NEWUTS | CLONE_NEWIPC, "  exactly its uts and ipc namespaces differ");
  tap_is_int(join_in_child(pidfd, target, flags, false), 0, "setns(pidfd) joins both at once");
  tap_is_int(join_in_child(pidfd, target, flags, true), 0,
             "without pidfd setns (EINVAL): one setns per /proc/PID/ns file");
  tap_is_int(join_in_child(pidfd, target, 0, false), 1, "no flags: nothing is joined");
  kill(target, SIGKILL);
  waitpid(target, NULL, 0);
  tap_ok(nook_ns_differing(target, &flags, &err) < 0 && err, "a gone process is an error");
  nook_error_free(err);
  close(pidfd);
  return tap_done();
}
