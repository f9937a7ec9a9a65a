#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int nook_sync_send(int fd, int type, int value, const char *text, struct nook_error **err)
{
  char buf[sizeof(struct nook_sync_msg) + NOOK_SYNC_TEXT_MAX];
  struct nook_sync_msg m = { .type = type, .value = value };
  size_t tlen = text ? strnlen(text, NOOK_SYNC_TEXT_MAX - 1) : 0;
  ssize_t n;

  memcpy(buf, &m, sizeof(m));
  if (tlen)
    memcpy(buf + sizeof(m), text, tlen);
  do
    n = send(fd, buf, sizeof(m) + tlen, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(err, errno, "sync: send message %d", type);
  return 0;
}

int nook_sync_recv(int fd, struct nook_sync_msg *msg, char *text, size_t text_size,
                   struct nook_error **err)
{
  char buf[sizeof(struct nook_sync_msg) + NOOK_SYNC_TEXT_MAX];
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  ssize_t n = nook_unix_recvmsg(fd, &mh, 0);

  if (n < 0)
    return nook_error_set(err, errno, "sync: receive");
  if (n == 0)
    {
      nook_error_setx(err, EPIPE, "the container's init exited during setup");
      return -EPIPE;
    }
  if ((size_t)n < sizeof(*msg))
    return nook_error_setx(err, EPROTO, "sync: short message");
  memcpy(msg, buf, sizeof(*msg));
  if (text && text_size)
    {
      size_t tlen = (size_t)n - sizeof(*msg);
      if (tlen >= text_size)
        tlen = text_size - 1;
      memcpy(text, buf + sizeof(*msg), tlen);
      text[tlen] = '\0';
    }
  return 0;
}

int nook_sync_expect(int fd, int type, int *ret_value, struct nook_error **err)
{
  struct nook_sync_msg m;
  char text[NOOK_SYNC_TEXT_MAX];
  int r = nook_sync_recv(fd, &m, text, sizeof(text), err);

  if (r < 0)
    return r;
  if (m.type == NOOK_SYNC_ERROR)
    {
      nook_error_set(err, 0, "%s", text);
      if (err && *err)
        (*err)->errnum = m.value > 0 ? m.value : 0;
      return m.value > 0 ? -m.value : -1;
    }
  if (m.type != type)
    return nook_error_setx(err, EPROTO, "sync: expected message %d, got %d", type, m.type);
  if (ret_value)
    *ret_value = m.value;
  return 0;
}

int nook_sync_recv_fd(int fd, int type, int *ret_fd, struct nook_error **err)
{
  char buf[sizeof(struct nook_sync_msg) + NOOK_SYNC_TEXT_MAX + 1] = { 0 };
  _cleanup_error_ struct nook_error *local = NULL;
  _cleanup_close_ int received = -1;
  struct nook_sync_msg m;
  int r = nook_unix_recv_fd(fd, &received, buf, sizeof(buf) - 1, &local);

  memcpy(&m, buf, sizeof(m));
  if (r < 0 && m.type == NOOK_SYNC_ERROR)
    return nook_error_setx(err, m.value > 0 ? m.value : 0, "%s", buf + sizeof(m));
  if (r < 0 && local->errnum == ECONNRESET)
    return nook_error_setx(err, EPIPE, "the container's init exited during setup");
  if (r < 0)
    return nook_error_setx(err, local->errnum, "sync: %s", local->msg);
  if (m.type != type)
    return nook_error_setx(err, EPROTO, "sync: expected message %d, got %d", type, m.type);
  *ret_fd = TAKE_FD(received);
  return 0;
}

int nook_sync_forward_listener(int fd, const struct nook_spec *spec, pid_t pid,
                               const char *state_json, struct nook_error **err)
{
  _cleanup_close_ int notify_fd = -1;

  if (nook_sync_recv_fd(fd, NOOK_SYNC_SECCOMP_FD, &notify_fd, err) < 0)
    return -1;
  return nook_seccomp_send_listener(spec, pid, notify_fd, state_json, err);
}

int nook_sync_wait_exec(int fd, struct nook_error **err)
{
  struct nook_sync_msg m;
  char text[NOOK_SYNC_TEXT_MAX];
  _cleanup_error_ struct nook_error *local = NULL;
  int r = nook_sync_recv(fd, &m, text, sizeof(text), &local);

  if (r == -EPIPE)
    return 0;
  if (r == 0 && m.type == NOOK_SYNC_ERROR)
    return nook_error_setx(err, m.value > 0 ? m.value : 0, "%s", text);
  return nook_error_setx(err, EPROTO, "sync: unexpected message before execve");
}

bool nook_init_needs_hooks_sync(const struct nook_spec *spec)
{
  const struct nook_hooks *h = &spec->hooks;
  return h->n_prestart || h->n_create_runtime || h->n_create_container || h->n_start_container;
}

/* Reports err to the parent (when it still listens) and to stderr, then exits. */
static _noreturn_ void init_fail(const struct nook_init_args *a, struct nook_error *err, int status)
{
  nook_init_fail(a->sync_fd, err, status);
}

void nook_init_fail(int sync_fd, struct nook_error *err, int status)
{
  const char *msg = err && err->msg ? err->msg : "container init failed";

  if (sync_fd < 0 || nook_sync_send(sync_fd, NOOK_SYNC_ERROR, err ? err->errnum : 0, msg, NULL) < 0)
    {
      char line[NOOK_SYNC_TEXT_MAX + 16];
      int n = snprintf(line, sizeof(line), "nook: %s\n", msg);
      if (n > 0 && nook_write_all(STDERR_FILENO, line, (size_t)n) < 0)
        _exit(status);
    }
  _exit(status);
}

static int become_ns_root(struct nook_error **err)
{
  if (setresgid(0, 0, 0) < 0)
    return nook_error_set(err, errno, "setresgid(0) in the new user namespace");
  if (setresuid(0, 0, 0) < 0)
    return nook_error_set(err, errno, "setresuid(0) in the new user namespace");
  return 0;
}

/* sync step 1 */
static int request_usermap(const struct nook_init_args *a, struct nook_error **err)
{
  int r;

  /* A non-dumpable process's /proc/PID files belong to the host's root, so an unprivileged
   * parent could not write uid_map: dumpable only while the parent writes the maps (as runc's
   * nsexec), when nothing of the container runs yet. */
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  r = nook_sync_send(a->sync_fd, NOOK_SYNC_USERMAP, 0, NULL, err);
  if (r == 0)
    r = nook_sync_expect(a->sync_fd, NOOK_SYNC_USERMAP_DONE, NULL, err);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (r < 0)
    return -1;
  return become_ns_root(err);
}

/* The first stage of a two-stage init: join namespaces, create the new ones and fork the
 * real init when the pid or time namespace only applies to children.  Returns in the init. */
static int stage_one(const struct nook_init_args *a, struct nook_error **err)
{
  int flags = a->ns->new_flags;
  pid_t pid;

  if (nook_ns_join(a->ns, err) < 0)
    return -1;
  if (flags & CLONE_NEWUSER)
    {
      if (unshare(CLONE_NEWUSER) < 0)
        return nook_error_set(err, errno, "unshare user namespace");
      if (request_usermap(a, err) < 0)
        return -1;
    }
  if (unshare(flags & ~CLONE_NEWUSER) < 0)
    return nook_error_set(err, errno, "unshare namespaces");
  if ((flags & CLONE_NEWTIME) && nook_timens_write_offsets(a->spec, err) < 0)
    return -1;

  pid = fork();
  if (pid < 0)
    return nook_error_set(err, errno, "fork the container's init");
  if (pid > 0)
    {
      /* sync step 2: the parent takes over from here. */
      if (nook_sync_send(a->sync_fd, NOOK_SYNC_PID, pid, NULL, err) < 0)
        init_fail(a, *err, 1);
      _exit(0);
    }
  return 0;
}

static int set_names(const struct nook_spec *spec, struct nook_error **err)
{
  if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
    return nook_error_set(err, errno, "hostname: set `%s`", spec->hostname);
  if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
    return nook_error_set(err, errno, "domainname: set `%s`", spec->domainname);
  return 0;
}

static int apply_sysctl(const struct nook_linux *lx, struct nook_error **err)
{
  for (size_t i = 0; lx && i < lx->n_sysctl; i++)
    {
      _cleanup_free_ char *path = xasprintf("/proc/sys/%s", lx->sysctl[i].key);
      const char *v = lx->sysctl[i].value;

      if (strstr(lx->sysctl[i].key, "..") != NULL)
        return nook_error_setx(err, EINVAL, "linux.sysctl: invalid key `%s`", lx->sysctl[i].key);
      for (char *p = path + strlen("/proc/sys/"); *p; p++)
        if (*p == '.')
          *p = '/';
      if (nook_write_file(path, v, strlen(v), err) < 0)
        return nook_error_prefix(err, "linux.sysctl: `%s`", lx->sysctl[i].key);
    }
  return 0;
}

static int join_keyring(const struct nook_init_args *a, struct nook_error **err)
{
  _cleanup_free_ char *name = NULL;

  if (a->no_new_keyring)
    return 0;
  name = xasprintf("_ses.%s", a->id);
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS)
    return nook_error_set(err, errno, "join a new session keyring");
  return 0;
}

/* The state the init passes to createContainer and startContainer hooks. */
static char *init_state_json(const struct nook_init_args *a, pid_t pid, enum nook_status status)
{
  struct nook_state st = {
    .id = (char *)a->id,
    .pid = pid,
    .bundle = (char *)a->bundle,
    .rootfs = (char *)a->rootfs,
    .created = (char *)"",
    .owner = (char *)"",
    .created_done = true,
    .annotations = a->spec->annotations,
    .n_annotations = a->spec->n_annotations,
  };
  return nook_state_oci_json(&st, status, false);
}

static int setup_terminal(const struct nook_init_args *a, struct nook_error **err)
{
  const struct nook_process *p = a->spec->process;
  _cleanup_free_ char *slave = NULL;

  /* Without a pty, the stdio may be the caller's terminal: not the container's to control. */
  if (!p->terminal)
    return nook_terminal_new_session(err);
  if (a->console_fd < 0)
    return nook_error_setx(err, EINVAL, "process.terminal is true but there is no console "
                                       "socket (use --console-socket)");
  if (nook_terminal_open_send(a->console_fd, &slave, err) < 0)
    return -1;
  if (nook_rootfs_mount_console(slave, err) < 0)
    return -1;
  return nook_terminal_become_controlling(slave, p->console_size.height, p->console_size.width, err);
}

static int change_dir(const char *cwd, bool *retry, struct nook_error **err)
{
  if (chdir(cwd) == 0)
    {
      *retry = false;
      return 0;
    }
  /* The container's user may reach a directory that nook's user cannot: try again after the
   * identity switch, as runc does. */
  if (errno == EACCES || errno == EPERM)
    {
      *retry = true;
      return 0;
    }
  return nook_error_set(err, errno, "process.cwd: chdir to `%s`", cwd);
}

/* exec.fifo was opened O_RDWR by `create`: the init is then a writer too, so poll() never
 * reports a hang-up and blocks until `start` writes its byte. */
static int wait_exec_fifo(int fd, struct nook_error **err)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char c;

  for (;;)
    {
      ssize_t n;
      if (poll(&pfd, 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return nook_error_set(err, errno, "wait on exec.fifo");
        }
      n = read(fd, &c, 1);
      if (n == 1)
        return 0;
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return nook_error_set(err, errno, "read exec.fifo");
    }
}

/* Loads linux.seccomp.  With a NOTIFY rule the kernel hands back a listener fd, which cannot
 * reach listenerPath from inside the new root: sync step 4a gives it to the parent. */
static int load_seccomp(const struct nook_init_args *a, struct nook_error **err)
{
  struct nook_sync_msg m = { .type = NOOK_SYNC_SECCOMP_FD };
  _cleanup_close_ int notify_fd = -1;

  if (a->seccomp == NULL)
    return 0;
  if (nook_seccomp_load(a->seccomp, &notify_fd, err) < 0)
    return -1;
  if (notify_fd >= 0 && nook_unix_send_fd(a->sync_fd, notify_fd, &m, sizeof(m), err) < 0)
    return nook_error_prefix(err, "sync: send the seccomp listener");
  return 0;
}

/* From pivot_root to the last step before execve. */
static int prepare_process(const struct nook_init_args *a, const struct nook_rootfs_ctx *rctx,
                           struct nook_error **err)
{
  const struct nook_spec *spec = a->spec;
  const struct nook_process *p = spec->process;

  if (nook_rootfs_pivot(rctx, err) < 0)
    return -1;
  /* A cwd missing from the image is created, as crun does; if that fails, chdir says why. */
  nook_rootfs_mkdir_cwd(p->cwd);
  if (setup_terminal(a, err) < 0 || apply_sysctl(spec->linux, err) < 0)
    return -1;
  if (nook_rootfs_finalize(rctx, err) < 0)
    return -1;
  return nook_init_finish_process(a, err);
}

/* False in a user namespace whose /proc/self/setgroups is "deny" (a rootless map of the
 * caller's own gid): setgroups(2) would fail with EPERM, so additionalGids are skipped. */
static bool setgroups_allowed(void)
{
  _cleanup_close_ int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  char buf[8] = "";

  if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
    return true;
  return strncmp(buf, "deny", 4) != 0;
}

int nook_init_finish_process(const struct nook_init_args *a, struct nook_error **err)
{
  const struct nook_spec *spec = a->spec;
  const struct nook_process *p = spec->process;
  const int keep[] = { a->sync_fd, a->fifo_fd, nook_log_fd() };
  bool retry_cwd = false;

  if (join_keyring(a, err) < 0)
    return -1;
  if (nook_process_apply_oom_score_adj(p, err) < 0 || nook_process_apply_scheduling(spec, err) < 0
      || nook_process_apply_rlimits(p, err) < 0)
    return -1;
  if (p->exec_cpu_affinity.initial
      && nook_process_apply_cpu_affinity(p->exec_cpu_affinity.initial,
                                         "process.execCPUAffinity.initial", err) < 0)
    return -1;
  /* Closed, not only close-on-exec: until execve, a directory fd of nook's would lead out of
   * the root through /proc/self/fd/N for the chdir or the lookup of args[0] (CVE-2024-21626). */
  if (nook_fds_close_from(3 + a->preserve_fds, keep, ARRAY_SIZE(keep), err) < 0
      || nook_fds_cloexec_from(3 + a->preserve_fds, err) < 0)
    return -1;
  if (change_dir(p->cwd, &retry_cwd, err) < 0
      || (!retry_cwd && nook_rootfs_check_cwd(p->cwd, err) < 0)
      || nook_process_apply_labels(p, err) < 0)
    return -1;
  /* Without no_new_privs the kernel takes a filter only from a holder of CAP_SYS_ADMIN, so it
   * is loaded before the identity switch drops it, as runc and crun do.  The profile must then
   * allow what the init still does: capset, prctl, setgroups, setresgid/setresuid, chdir and
   * getcwd (when the chdir had to wait for the identity switch), and below the sync send
   * (sendmsg), poll/read on exec.fifo, the startContainer hooks' fork/exec/wait4, and execve.
   * With no_new_privs it is loaded last, and only that tail must be allowed. */
  if (!p->no_new_privileges && load_seccomp(a, err) < 0)
    return -1;
  if (nook_process_set_identity(p, setgroups_allowed(), err) < 0)
    return -1;
  if (retry_cwd && chdir(p->cwd) < 0)
    return nook_error_set(err, errno, "process.cwd: chdir to `%s`", p->cwd);
  if (retry_cwd && nook_rootfs_check_cwd(p->cwd, err) < 0)
    return -1;
  if (nook_process_apply_no_new_privs(p, err) < 0)
    return -1;
  return p->no_new_privileges ? load_seccomp(a, err) : 0;
}

void nook_init_exec_process(const struct nook_init_args *a)
{
  const struct nook_process *p = a->spec->process;
  struct nook_error *err = NULL;
  int r;

  if (p->exec_cpu_affinity.final
      && nook_process_apply_cpu_affinity(p->exec_cpu_affinity.final,
                                         "process.execCPUAffinity.final", &err) < 0)
    init_fail(a, err, 1);
  r = nook_process_exec(p, &err);
  init_fail(a, err, r == -ENOENT ? 127 : 126);
}

static _noreturn_ void do_exec(const struct nook_init_args *a, pid_t host_pid)
{
  struct nook_error *err = NULL;

  if (a->spec->hooks.n_start_container)
    {
      _cleanup_free_ char *state = init_state_json(a, host_pid, NOOK_STATUS_CREATED);
      if (nook_hooks_run(a->spec->hooks.start_container, a->spec->hooks.n_start_container,
                         "startContainer", state, &err) < 0)
        init_fail(a, err, 1);
    }
  nook_init_exec_process(a);
}

void nook_init_main(const struct nook_init_args *a)
{
  const struct nook_spec *spec = a->spec;
  struct nook_error *err = NULL;
  struct nook_rootfs_ctx rctx = {
    .spec = spec,
    .rootfs = a->rootfs,
    .bundle = a->bundle,
    .no_pivot = a->no_pivot,
    .in_userns = (a->ns->new_flags & CLONE_NEWUSER) || a->ns->join_fds[NOOK_NS_USER] >= 0,
    .idmap_fds = a->idmap_fds,
  };
  int host_pid = 0;

  nook_signals_reset();
  /* Nothing in the container may ptrace or open /proc/PID/exe of the runtime before execve
   * (which resets it). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  umask(0022);

  if (a->cgroup_self && nook_cgroup_enter_self(a->cgroup_self, a->cgroup_into, &err) < 0)
    init_fail(a, err, 1);
  /* sync step 0 */
  if (a->cgroup_sync && nook_sync_expect(a->sync_fd, NOOK_SYNC_CGROUP_DONE, NULL, &err) < 0)
    _exit(1);
  if (a->late_flags && unshare(a->late_flags) < 0)
    {
      nook_error_set(&err, errno, "unshare cgroup namespace");
      init_fail(a, err, 1);
    }
  if (a->ns->two_stage)
    {
      if (stage_one(a, &err) < 0)
        init_fail(a, err, 1);
    }
  else if ((a->ns->new_flags & CLONE_NEWUSER) && request_usermap(a, &err) < 0)
    init_fail(a, err, 1);

  if ((a->ns->new_flags & CLONE_NEWNET) && nook_netns_loopback_up(&err) < 0)
    init_fail(a, err, 1);
  if (set_names(spec, &err) < 0 || nook_rootfs_prepare(&rctx, &err) < 0)
    init_fail(a, err, 1);

  if (nook_init_needs_hooks_sync(spec))
    {
      /* sync step 3 */
      if (nook_sync_send(a->sync_fd, NOOK_SYNC_HOOKS, 0, NULL, &err) < 0
          || nook_sync_expect(a->sync_fd, NOOK_SYNC_HOOKS_DONE, &host_pid, &err) < 0)
        init_fail(a, err, 1);
      if (spec->hooks.n_create_container)
        {
          _cleanup_free_ char *state = init_state_json(a, host_pid, NOOK_STATUS_CREATING);
          if (nook_hooks_run(spec->hooks.create_container, spec->hooks.n_create_container,
                             "createContainer", state, &err) < 0)
            init_fail(a, err, 1);
        }
    }

  if (prepare_process(a, &rctx, &err) < 0)
    init_fail(a, err, 1);

  /* sync step 4 */
  if (nook_sync_send(a->sync_fd, NOOK_SYNC_READY, 0, NULL, &err) < 0)
    _exit(1);
  if (a->fifo_fd >= 0)
    {
      /* create: the parent is gone once READY is read; `start` writes exec.fifo. */
      close(a->sync_fd);
      ((struct nook_init_args *)a)->sync_fd = -1;
      if (wait_exec_fifo(a->fifo_fd, &err) < 0)
        init_fail(a, err, 1);
    }
  else if (nook_sync_expect(a->sync_fd, NOOK_SYNC_START, NULL, &err) < 0) /* sync step 5 */
    _exit(1);
  do_exec(a, host_pid);
}
