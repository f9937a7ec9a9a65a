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

int nook_userns_write_maps(pid_t pid, const struct nook_spec *spec, struct nook_error **err)
{
  const struct nook_linux *lx = spec->linux;

  if (lx == NULL)
    return 0;
  if (lx->n_uid_mappings && write_map(pid, "uid_map", lx->uid_mappings, lx->n_uid_mappings, err) < 0)
    return nook_error_prefix(err, "linux.uidMappings");
  if (lx->n_gid_mappings && write_map(pid, "gid_map", lx->gid_mappings, lx->n_gid_mappings, err) < 0)
    return nook_error_prefix(err, "linux.gidMappings");
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
