#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/namespaces.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int nook_ns_plan_init(const struct nook_spec *spec, struct nook_ns_plan *ret, struct nook_error **err)
{
  struct nook_ns_plan plan = { 0 };
  const struct nook_linux *lx = spec->linux;

  for (int i = 0; i < NOOK_NS_COUNT; i++)
    plan.join_fds[i] = -1;
  for (size_t i = 0; lx && i < lx->n_namespaces; i++)
    {
      const struct nook_namespace *ns = &lx->namespaces[i];
      if (ns->path == NULL || *ns->path == '\0')
        {
          plan.new_flags |= nook_ns_type_clone_flag(ns->type);
          continue;
        }
      plan.join_fds[ns->type] = open(ns->path, O_RDONLY | O_CLOEXEC);
      if (plan.join_fds[ns->type] < 0)
        {
          int e = errno;
          nook_ns_plan_close(&plan);
          return nook_error_set(err, e, "linux.namespaces[%zu].path: open `%s`", i, ns->path);
        }
      plan.joins = true;
    }
  plan.two_stage = plan.joins || (plan.new_flags & CLONE_NEWTIME);
  *ret = plan;
  return 0;
}

void nook_ns_plan_close(struct nook_ns_plan *plan)
{
  for (int i = 0; i < NOOK_NS_COUNT; i++)
    if (plan->join_fds[i] >= 0)
      {
        close(plan->join_fds[i]);
        plan->join_fds[i] = -1;
      }
}

static int join_one(const struct nook_ns_plan *plan, enum nook_ns_type t, struct nook_error **err)
{
  if (plan->join_fds[t] < 0)
    return 0;
  if (setns(plan->join_fds[t], nook_ns_type_clone_flag(t)) < 0)
    return nook_error_set(err, errno, "join %s namespace", nook_ns_type_to_string(t));
  return 0;
}

int nook_ns_join(const struct nook_ns_plan *plan, struct nook_error **err)
{
  if (join_one(plan, NOOK_NS_USER, err) < 0)
    return -1;
  for (int t = 0; t < NOOK_NS_COUNT; t++)
    if (t != NOOK_NS_USER && join_one(plan, t, err) < 0)
      return -1;
  return 0;
}

static int write_map(pid_t pid, const char *file, const struct nook_id_mapping *m, size_t n,
                     struct nook_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  char path[64];
  FILE *f = open_memstream(&buf, &len);

  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
  fclose(f);
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  if (nook_write_file(path, buf, len, err) < 0)
    return nook_error_prefix(err, "write %s", file);
  return 0;
}

/* The names under /proc/PID/ns/ of each type. */
static const char *const proc_ns_names[NOOK_NS_COUNT] = {
  [NOOK_NS_PID] = "pid",   [NOOK_NS_NETWORK] = "net", [NOOK_NS_MOUNT] = "mnt",
  [NOOK_NS_IPC] = "ipc",   [NOOK_NS_UTS] = "uts",     [NOOK_NS_USER] = "user",
  [NOOK_NS_CGROUP] = "cgroup", [NOOK_NS_TIME] = "time",
};

int nook_ns_differing(pid_t pid, int *ret_flags, struct nook_error **err)
{
  int flags = 0;

  for (int t = 0; t < NOOK_NS_COUNT; t++)
    {
      char path[64], own[64];
      struct stat theirs, ours;
      snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, proc_ns_names[t]);
      snprintf(own, sizeof(own), "/proc/self/ns/%s", proc_ns_names[t]);
      if (stat(own, &ours) < 0)
        {
          if (errno == ENOENT)
            continue; /* a namespace type this kernel does not have */
          return nook_error_set(err, errno, "stat `%s`", own);
        }
      if (stat(path, &theirs) < 0)
        return nook_error_set(err, errno, "stat `%s`", path);
      if (theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino)
        flags |= nook_ns_type_clone_flag((enum nook_ns_type)t);
    }
  *ret_flags = flags;
  return 0;
}

/* Kernels before 5.8 take only namespace fds: open each /proc/PID/ns/NAME, check that pidfd
 * still names a live process (so the pid was not reused meanwhile), join the user namespace
 * first. */
static int join_process_fds(int pidfd, pid_t pid, int flags, struct nook_error **err)
{
  struct nook_ns_plan plan = { 0 };
  int r = 0;

  for (int t = 0; t < NOOK_NS_COUNT; t++)
    plan.join_fds[t] = -1;
  for (int t = 0; t < NOOK_NS_COUNT && r == 0; t++)
    {
      char path[64];
      if (!(flags & nook_ns_type_clone_flag((enum nook_ns_type)t)))
        continue;
      snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, proc_ns_names[t]);
      plan.join_fds[t] = open(path, O_RDONLY | O_CLOEXEC);
      if (plan.join_fds[t] < 0)
        r = nook_error_set(err, errno, "open `%s`", path);
    }
  if (r == 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
    r = nook_error_set(err, errno, "the container's init");
  if (r == 0)
    r = nook_ns_join(&plan, err);
  nook_ns_plan_close(&plan);
  return r;
}

int nook_ns_join_process(int pidfd, pid_t pid, int flags, struct nook_error **err)
{
  if (flags == 0 || setns(pidfd, flags) == 0)
    return 0;
  if (errno != EINVAL)
    return nook_error_set(err, errno, "join the namespaces of pid %d", (int)pid);
  return join_process_fds(pidfd, pid, flags, err);
}

/* The full path of a setuid helper, from $PATH (or the usual directories), or NULL. */
static char *find_helper(const char *name)
{
  const char *path = getenv("PATH");
  _cleanup_free_ char *copy =
      xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  char *save = NULL;

  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
    {
      _cleanup_free_ char *full = NULL;
      if (*dir != '/')
        continue; /* a relative $PATH entry is not a place for a setuid helper */
      full = xasprintf("%s/%s", dir, name);
      if (access(full, X_OK) == 0)
        return TAKE_PTR(full);
    }
  return NULL;
}

/* Maps that an unprivileged caller cannot write itself go through shadow's setuid helpers
 * `newuidmap PID C H S...` / `newgidmap`, which check them against /etc/subuid, /etc/subgid.
 * The helper's own message (its first line) ends up in the error. */
static int run_map_helper(const char *name, pid_t pid, const struct nook_id_mapping *m, size_t n,
                          struct nook_error **err)
{
  _cleanup_free_ char *helper = find_helper(name);
  _cleanup_free_ char **argv = NULL;
  _cleanup_close_ int rd = -1;
  char msg[512] = "";
  int pipefd[2], status;
  size_t argc = 0;
  ssize_t len;
  pid_t child;

  if (helper == NULL)
    return nook_error_setx(err, ENOENT,
                           "more than the caller's own id needs the setuid helper `%s` "
                           "(package uidmap) when not root, and it is not installed",
                           name);
  argv = xcalloc(3 * n + 3, sizeof(char *));
  argv[argc++] = xstrdup(name);
  argv[argc++] = xasprintf("%d", (int)pid);
  for (size_t i = 0; i < n; i++)
    {
      argv[argc++] = xasprintf("%u", m[i].container_id);
      argv[argc++] = xasprintf("%u", m[i].host_id);
      argv[argc++] = xasprintf("%u", m[i].size);
    }
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    status = nook_error_set(err, errno, "%s: pipe", name);
  else if ((child = fork()) < 0)
    {
      status = nook_error_set(err, errno, "%s: fork", name);
      close(pipefd[0]);
      close(pipefd[1]);
    }
  else
    {
      if (child == 0)
        {
          dup2(pipefd[1], STDERR_FILENO);
          dup2(pipefd[1], STDOUT_FILENO);
          execv(helper, argv);
          dprintf(STDERR_FILENO, "exec `%s`: %s", helper, strerror(errno));
          _exit(127);
        }
      close(pipefd[1]);
      rd = pipefd[0];
      len = nook_read_all(rd, msg, sizeof(msg) - 1);
      msg[len > 0 ? len : 0] = '\0';
      msg[strcspn(msg, "\n")] = '\0';
      while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
          {
            status = -1;
            break;
          }
      if (status != 0)
        status = nook_error_setx(err, EPERM, "`%s` failed: %s", helper,
                                 *msg ? msg : "no message (see /etc/subuid and /etc/subgid)");
    }
  for (size_t i = 0; i < argc; i++)
    free(argv[i]);
  return status;
}

/* True when the map is the caller's own id alone, which an unprivileged process may write. */
static bool own_id_only(const struct nook_id_mapping *m, size_t n, unsigned int own)
{
  return n == 1 && m[0].size == 1 && m[0].host_id == own;
}

int nook_userns_write_maps(pid_t pid, const struct nook_spec *spec, struct nook_error **err)
{
  const struct nook_linux *lx = spec->linux;
  bool root = geteuid() == 0;
  char path[64];

  if (lx == NULL)
    return 0;
  if (lx->n_uid_mappings)
    {
      if (root || own_id_only(lx->uid_mappings, lx->n_uid_mappings, geteuid()))
        {
          if (write_map(pid, "uid_map", lx->uid_mappings, lx->n_uid_mappings, err) < 0)
            return nook_error_prefix(err, "linux.uidMappings");
        }
      else if (run_map_helper("newuidmap", pid, lx->uid_mappings, lx->n_uid_mappings, err) < 0)
        return nook_error_prefix(err, "linux.uidMappings");
    }
  if (lx->n_gid_mappings)
    {
      if (root)
        {
          if (write_map(pid, "gid_map", lx->gid_mappings, lx->n_gid_mappings, err) < 0)
            return nook_error_prefix(err, "linux.gidMappings");
        }
      else if (own_id_only(lx->gid_mappings, lx->n_gid_mappings, getegid()))
        {
          /* The kernel takes an unprivileged gid_map only once setgroups(2) is denied in the
           * namespace (else dropping a group could grant access); the init skips setgroups. */
          snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
          if (nook_write_file(path, "deny", 4, err) < 0
              || write_map(pid, "gid_map", lx->gid_mappings, lx->n_gid_mappings, err) < 0)
            return nook_error_prefix(err, "linux.gidMappings");
        }
      else if (run_map_helper("newgidmap", pid, lx->gid_mappings, lx->n_gid_mappings, err) < 0)
        return nook_error_prefix(err, "linux.gidMappings");
    }
  return 0;
}

/* The helper's side: waits for the parent to close the pipe, then exits. */
static _noreturn_ void userns_helper(int fd)
{
  char c;

  while (read(fd, &c, 1) < 0 && errno == EINTR)
    ;
  _exit(0);
}

int nook_userns_open_mapped(const struct nook_id_mapping *uid, size_t n_uid,
                            const struct nook_id_mapping *gid, size_t n_gid, int *ret_fd,
                            struct nook_error **err)
{
  _cleanup_close_ int rd = -1, wr = -1, fd = -1;
  char path[64];
  int p[2], r = 0;
  pid_t pid;

  if (pipe2(p, O_CLOEXEC) < 0)
    return nook_error_set(err, errno, "user namespace for an idmapped mount: pipe");
  rd = p[0];
  wr = p[1];
  pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    return nook_error_set(err, errno, "user namespace for an idmapped mount: clone");
  if (pid == 0)
    {
      close(wr);
      userns_helper(rd);
    }
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
  if (write_map(pid, "uid_map", uid, n_uid, err) < 0
      || write_map(pid, "gid_map", gid, n_gid, err) < 0)
    r = nook_error_prefix(err, "user namespace for an idmapped mount");
  else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    r = nook_error_set(err, errno, "user namespace for an idmapped mount: open `%s`", path);
  close(TAKE_FD(wr)); /* the helper exits; its namespace lives on through fd */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (r == 0)
    *ret_fd = TAKE_FD(fd);
  return r;
}

int nook_timens_write_offsets(const struct nook_spec *spec, struct nook_error **err)
{
  const struct nook_linux *lx = spec->linux;
  char buf[128];
  int n = 0;

  if (lx == NULL)
    return 0;
  if (lx->time_monotonic.set)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "monotonic %lld %u\n",
                  (long long)lx->time_monotonic.secs, lx->time_monotonic.nanosecs);
  if (lx->time_boottime.set)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "boottime %lld %u\n",
                  (long long)lx->time_boottime.secs, lx->time_boottime.nanosecs);
  if (n == 0)
    return 0;
  /* The kernel takes one offset per write. */
  for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
    if (nook_write_file("/proc/self/timens_offsets", line, (size_t)(nl - line + 1), err) < 0)
      return nook_error_prefix(err, "linux.timeOffsets");
  return 0;
}

int nook_netns_loopback_up(struct nook_error **err)
{
  _cleanup_close_ int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = { 0 };

  if (sk < 0)
    return nook_error_set(err, errno, "bring `lo` up: socket");
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
    return nook_error_set(err, errno, "bring `lo` up: get flags");
  if (ifr.ifr_flags & IFF_UP)
    return 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
    return nook_error_set(err, errno, "bring `lo` up");
  return 0;
}
