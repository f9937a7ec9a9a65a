/* exec: the parent's half, and the two children it takes to put a process in a container.
 *
 * nook clones a first stage (into the container's cgroup: clone3 CLONE_INTO_CGROUP into the
 * cgroup2 hierarchy; the stage joins the v1 hierarchies itself, nook_cgroup_enter_self, as
 * the first thing it does).  The stage joins the init's namespaces
 * through its pidfd and forks the process with CLONE_PARENT, so that the process is in the
 * container's pid namespace and is nook's own child (nook waits for it and reads its exit
 * status directly, no subreaper).  The steps, labelled on both sides:
 *
 *   2  stage -> nook     PID          the process's pid; then the stage exits
 *   5  nook -> process   START        nook knows the pid; the process may go on
 *   4a process -> nook   SECCOMP_FD   (an SCMP_ACT_NOTIFY rule) the listener fd
 *   -  ERROR from either at any step; EOF after START: execve succeeded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/exec.h"
#include "runtime/init.h"
#include "runtime/lifecycle.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/terminal.h"

#define PROCESS_FILE_MAX (16 * 1024 * 1024)

/* The five capability sets, in struct nook_capabilities order. */
#define N_CAP_SETS 5

struct exec
{
  const struct nook_exec_opts *o;
  int dirfd;                /* ROOT/ID, locked until the stage is cloned */
  struct nook_state *st;
  struct nook_spec *spec;   /* the stored config.json */
  struct nook_process *file; /* --process */
  struct nook_process proc; /* what runs: shallow, into spec, file and the arrays below */
  struct nook_spec xspec;   /* *spec with .process = &proc (shallow) */
  char **env;               /* proc.env with --env (shallow strings) */
  gid_t *gids;              /* proc.user.additionalGids with --additional-gids */
  struct nook_capabilities caps; /* proc.capabilities with --cap (shallow strings) */
  struct nook_seccomp_filter *seccomp;
  struct nook_cgroup *cg;   /* NULL: the container has none */
  bool cgroup_into;         /* the stage was born in the cgroup2 hierarchy's cgroup */
  int init_pidfd;
  int ns_flags;             /* the init's namespaces that are not nook's */
  int sync_fd;              /* nook's end */
  int console_fd;           /* the children's: --console-socket, or the relay's other end */
  int relay_fd;             /* foreground with a terminal: receives the pty master */
  pid_t stage;
  pid_t pid;                /* the process, in nook's pid namespace */
  int pidfd;
};

static void exec_release(struct exec *x)
{
  char **lists[N_CAP_SETS] = { x->caps.bounding, x->caps.effective, x->caps.inheritable,
                               x->caps.permitted, x->caps.ambient };
  int *fds[] = { &x->dirfd, &x->init_pidfd, &x->sync_fd, &x->console_fd, &x->relay_fd, &x->pidfd };

  for (int i = 0; i < N_CAP_SETS; i++)
    free(lists[i]);
  free(x->env);
  free(x->gids);
  nook_process_free(x->file);
  nook_spec_free(x->spec);
  nook_state_free(x->st);
  nook_seccomp_filter_free(x->seccomp);
  nook_cgroup_free(x->cg);
  for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
    if (*fds[i] >= 0)
      close(*fds[i]);
}

/* ---- the process to run ------------------------------------------------------------------ */

/* What a --process file leaves out comes from the container, as runc does. */
static void inherit_unset(struct nook_process *p, const struct nook_process *base)
{
  if (p->capabilities == NULL)
    p->capabilities = base->capabilities;
  if (p->n_rlimits == 0)
    {
      p->rlimits = base->rlimits;
      p->n_rlimits = base->n_rlimits;
    }
  if (p->apparmor_profile == NULL)
    p->apparmor_profile = base->apparmor_profile;
  if (p->selinux_label == NULL)
    p->selinux_label = base->selinux_label;
  if (!p->oom_score_adj.set)
    p->oom_score_adj = base->oom_score_adj;
  if (!p->scheduler.set)
    p->scheduler = base->scheduler;
  if (!p->io_priority.set)
    p->io_priority = base->io_priority;
  if (p->exec_cpu_affinity.initial == NULL && p->exec_cpu_affinity.final == NULL)
    p->exec_cpu_affinity = base->exec_cpu_affinity;
}

static int read_process_file(struct exec *x, struct nook_error **err)
{
  const char *path = x->o->process_file;
  _cleanup_free_ char *raw = NULL;
  _cleanup_free_ char *doc = xasprintf("--process `%s`", path);
  size_t len = 0;

  if (nook_read_file_at(AT_FDCWD, path, PROCESS_FILE_MAX, &raw, &len, err) < 0)
    return nook_error_prefix(err, "--process");
  return nook_spec_parse_process(raw, len, doc, &x->file, err);
}

/* env with each NAME=value of overrides replacing NAME's entries, or appended. */
static char **merge_env(char *const *env, char *const *overrides)
{
  size_t n = nook_strv_length(env), k = nook_strv_length(overrides);
  char **v = xcalloc(n + k + 1, sizeof(char *));

  if (n)
    memcpy(v, env, n * sizeof(char *));
  for (size_t i = 0; i < k; i++)
    {
      size_t name_len = strcspn(overrides[i], "=") + 1;
      bool replaced = false;
      for (size_t j = 0; j < n; j++)
        if (strncmp(v[j], overrides[i], name_len) == 0)
          {
            v[j] = overrides[i];
            replaced = true;
          }
      if (!replaced)
        v[n++] = overrides[i];
    }
  return v;
}

/* list + the names not in it yet (shallow). */
static char **caps_add(char *const *list, char *const *names)
{
  size_t n = nook_strv_length(list);
  char **v = xcalloc(n + nook_strv_length(names) + 1, sizeof(char *));

  if (n)
    memcpy(v, list, n * sizeof(char *));
  for (size_t i = 0; names[i]; i++)
    if (!nook_strv_contains(v, names[i]))
      v[n++] = names[i];
  return v;
}

/* --cap: runc 1.1 adds each to the bounding, effective, inheritable, permitted and ambient
 * sets of the process. */
static void apply_caps(struct exec *x, struct nook_process *p)
{
  struct nook_capabilities base = p->capabilities ? *p->capabilities : (struct nook_capabilities){ 0 };

  x->caps.bounding = caps_add(base.bounding, x->o->caps);
  x->caps.effective = caps_add(base.effective, x->o->caps);
  x->caps.inheritable = caps_add(base.inheritable, x->o->caps);
  x->caps.permitted = caps_add(base.permitted, x->o->caps);
  x->caps.ambient = caps_add(base.ambient, x->o->caps);
  p->capabilities = &x->caps;
}

static void apply_user(struct exec *x, struct nook_process *p)
{
  const struct nook_exec_opts *o = x->o;
  size_t n = p->user.n_additional_gids;

  if (o->user_set)
    p->user.uid = o->uid;
  if (o->gid_set)
    p->user.gid = o->gid;
  if (o->n_additional_gids == 0)
    return;
  x->gids = xcalloc(n + o->n_additional_gids, sizeof(gid_t));
  if (n)
    memcpy(x->gids, p->user.additional_gids, n * sizeof(gid_t));
  memcpy(x->gids + n, o->additional_gids, o->n_additional_gids * sizeof(gid_t));
  p->user.additional_gids = x->gids;
  p->user.n_additional_gids = n + o->n_additional_gids;
}

/* The stored config's process, or the --process file over it, then the flags. */
static int build_process(struct exec *x, struct nook_error **err)
{
  const struct nook_exec_opts *o = x->o;
  struct nook_process *p = &x->proc;

  if (x->spec->process == NULL)
    return nook_error_setx(err, EINVAL, "container `%s`: its config has no process", o->id);
  if (o->process_file)
    {
      if (read_process_file(x, err) < 0)
        return -1;
      *p = *x->file;
      inherit_unset(p, x->spec->process);
    }
  else
    {
      *p = *x->spec->process;
      p->terminal = false; /* as runc: only --tty gives the process a terminal */
    }
  if (o->args && o->args[0])
    p->args = (char **)o->args;
  if (p->args == NULL || p->args[0] == NULL)
    return nook_error_setx(err, EINVAL, "exec: no command given");
  p->terminal = p->terminal || o->tty;
  if (o->cwd)
    p->cwd = (char *)o->cwd;
  if (o->env && o->env[0])
    p->env = x->env = merge_env(p->env, o->env);
  apply_user(x, p);
  if (o->caps && o->caps[0])
    apply_caps(x, p);
  if (o->apparmor)
    p->apparmor_profile = (char *)o->apparmor;
  if (o->process_label)
    p->selinux_label = (char *)o->process_label;
  p->no_new_privileges = p->no_new_privileges || o->no_new_privs;
  x->xspec = *x->spec;
  x->xspec.process = p;
  return nook_process_check_labels(p, err);
}

/* ---- the container ----------------------------------------------------------------------- */

static int open_container(struct exec *x, struct nook_error **err)
{
  const char *id = x->o->id;
  enum nook_status status;

  if (nook_state_dir_open(x->o->root, id, true, &x->dirfd, err) < 0
      || nook_state_read(x->dirfd, id, &x->st, err) < 0)
    return -1;
  status = nook_state_status(x->dirfd, x->st);
  if (status == NOOK_STATUS_PAUSED && !x->o->ignore_paused)
    return nook_error_setx(err, EINVAL,
                           "cannot exec in a paused container `%s` (use --ignore-paused to "
                           "override)",
                           id);
  if (status == NOOK_STATUS_STOPPED || status == NOOK_STATUS_CREATING)
    return nook_error_setx(err, EINVAL, "cannot exec in a %s container `%s`",
                           nook_status_to_string(status), id);
  if (nook_state_pidfd(x->st, &x->init_pidfd, err) < 0)
    return nook_error_setx(err, ESRCH, "cannot exec in a stopped container `%s`", id);
  if (nook_ns_differing(x->st->pid, &x->ns_flags, err) < 0)
    return nook_error_prefix(err, "container `%s`", id);
  if (*x->st->cgroup_path && nook_cgroup_open(x->st->cgroup_path, &x->cg, err) < 0)
    return nook_error_prefix(err, "container `%s`", id);
  return nook_lifecycle_load_spec(x->dirfd, id, &x->spec, err);
}

/* The console for the process: the --console-socket, or in the foreground a socketpair whose
 * other end nook keeps to relay the pty. */
static int open_console(struct exec *x, struct nook_error **err)
{
  const struct nook_exec_opts *o = x->o;
  int sp[2];

  if (!x->proc.terminal)
    {
      if (o->console_socket)
        return nook_error_setx(err, EINVAL,
                               "--console-socket given but the process has no terminal (use "
                               "--tty)");
      return 0;
    }
  if (o->console_socket)
    {
      x->console_fd = nook_unix_connect(o->console_socket, "--console-socket", err);
      return x->console_fd < 0 ? -1 : 0;
    }
  if (o->detach)
    return nook_error_setx(err, EINVAL, "--tty with --detach needs --console-socket");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return nook_error_set(err, errno, "socketpair");
  x->relay_fd = sp[0];
  x->console_fd = sp[1];
  return 0;
}

/* ---- the children ------------------------------------------------------------------------ */

/* In the process: after START, the pty (when any), the init's tail, execve. */
static _noreturn_ void exec_process(struct exec *x)
{
  const struct nook_process *p = &x->proc;
  struct nook_init_args a = {
    .spec = &x->xspec,
    .id = x->o->id,
    .sync_fd = x->sync_fd,
    .fifo_fd = -1,
    .console_fd = x->console_fd,
    .preserve_fds = x->o->preserve_fds,
    .no_new_keyring = x->st->no_new_keyring,
    .seccomp = x->seccomp,
  };
  struct nook_error *err = NULL;

  /* sync step 5 */
  if (nook_sync_expect(x->sync_fd, NOOK_SYNC_START, NULL, &err) < 0)
    _exit(1);
  if (p->terminal)
    {
      _cleanup_free_ char *slave = NULL;
      if (nook_terminal_open_send(x->console_fd, &slave, &err) < 0
          || nook_terminal_become_controlling(slave, p->console_size.height,
                                              p->console_size.width, &err)
                 < 0)
        nook_init_fail(x->sync_fd, err, 1);
    }
  else if (nook_terminal_new_session(&err) < 0) /* as for the init (init.c, setup_terminal) */
    nook_init_fail(x->sync_fd, err, 1);
  if (nook_init_finish_process(&a, &err) < 0)
    nook_init_fail(x->sync_fd, err, 1);
  nook_init_exec_process(&a);
}

/* In the stage: into the cgroup, the namespaces, then the process. */
static _noreturn_ void exec_stage(struct exec *x)
{
  struct nook_error *err = NULL;
  pid_t pid;

  nook_signals_reset();
  /* Nothing in the container may ptrace the runtime or open its /proc/PID/exe. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (x->relay_fd >= 0)
    close(x->relay_fd);
  /* (a no-op where clone3 put the stage in every hierarchy: a v2 host) */
  if (x->cg && nook_cgroup_enter_self(x->cg, x->cgroup_into, &err) < 0)
    {
      nook_error_prefix(&err, "container `%s`", x->o->id);
      nook_init_fail(x->sync_fd, err, 1);
    }
  /* No directory of the host goes along into the container (CVE-2024-21626). */
  nook_cgroup_free(TAKE_PTR(x->cg));
  close(TAKE_FD(x->dirfd));
  if (nook_ns_join_process(x->init_pidfd, x->st->pid, x->ns_flags, &err) < 0)
    {
      nook_error_prefix(&err, "container `%s`", x->o->id);
      nook_init_fail(x->sync_fd, err, 1);
    }
  close(x->init_pidfd);
  /* The process is nook's child, born in the container's pid namespace. */
  pid = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
  if (pid < 0)
    {
      nook_error_set(&err, errno, "fork the process in container `%s`", x->o->id);
      nook_init_fail(x->sync_fd, err, 1);
    }
  if (pid == 0)
    exec_process(x);
  /* sync step 2 */
  if (nook_sync_send(x->sync_fd, NOOK_SYNC_PID, pid, NULL, &err) < 0)
    {
      kill(pid, SIGKILL);
      _exit(1);
    }
  _exit(0);
}

/* ---- the parent -------------------------------------------------------------------------- */

static void reap(pid_t *pid, int *ret_wstatus)
{
  int ws = 0;

  if (*pid <= 0)
    return;
  while (waitpid(*pid, &ws, 0) < 0 && errno == EINTR)
    ;
  *pid = 0;
  if (ret_wstatus)
    *ret_wstatus = ws;
}

/* Clones the stage and learns the process's pid (sync steps 0 and 2). */
static int spawn_stage(struct exec *x, struct nook_error **err)
{
  int cgroup_fd = x->cg ? nook_cgroup_dirfd(x->cg) : -1;
  int fds[2];
  int pid = 0;
  int r;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return nook_error_set(err, errno, "socketpair");
  /* No other verb waits for an exec: pause, resume and delete may go on from here. */
  flock(x->dirfd, LOCK_UN);
  x->stage = nook_lifecycle_clone(0, cgroup_fd, &x->cgroup_into);
  if (x->stage < 0)
    {
      r = errno;
      close(fds[0]);
      close(fds[1]);
      x->stage = 0;
      return nook_error_set(err, r, "clone");
    }
  if (x->stage == 0)
    {
      close(fds[0]);
      x->sync_fd = fds[1];
      exec_stage(x);
    }
  close(fds[1]);
  x->sync_fd = fds[0];
  /* The children have it; the receiver (or the relay) must see it close with them. */
  if (x->console_fd >= 0)
    {
      close(x->console_fd);
      x->console_fd = -1;
    }
  /* sync step 2 */
  r = nook_sync_expect(x->sync_fd, NOOK_SYNC_PID, &pid, err);
  reap(&x->stage, NULL);
  if (r == -EPIPE)
    {
      nook_error_freep(err);
      return nook_error_setx(err, EPIPE, "exec in container `%s`: the process exited during setup",
                             x->o->id);
    }
  if (r < 0)
    return -1;
  x->pid = pid;
  x->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (x->pidfd < 0)
    return nook_error_set(err, errno, "pidfd_open %d", pid);
  return 0;
}

/* sync step 4a: the listener goes to linux.seccomp.listenerPath with the container's state. */
static int pass_notify_fd(struct exec *x, struct nook_error **err)
{
  _cleanup_free_ char *state = nook_state_oci_json(x->st, nook_state_status(x->dirfd, x->st), false);

  return nook_sync_forward_listener(x->sync_fd, &x->xspec, x->pid, state, err);
}

/* Lets the process go and waits until it executed.  When execve failed (exit 126 or 127) the
 * error is logged and *ret_status gets that code. */
static int start_process(struct exec *x, int *ret_status, struct nook_error **err)
{
  int ws = 0;

  /* sync step 5 */
  if (nook_sync_send(x->sync_fd, NOOK_SYNC_START, 0, NULL, err) < 0)
    return -1;
  if (nook_seccomp_filter_has_listener(x->seccomp) && pass_notify_fd(x, err) < 0)
    return -1;
  if (nook_sync_wait_exec(x->sync_fd, err) == 0)
    {
      *ret_status = -1;
      return 0;
    }
  reap(&x->pid, &ws);
  if (nook_lifecycle_status_code(ws) != 126 && nook_lifecycle_status_code(ws) != 127)
    return -1;
  nook_error_log("%s", (*err)->msg);
  nook_error_freep(err);
  *ret_status = nook_lifecycle_status_code(ws);
  return 0;
}

static int prepare(struct exec *x, struct nook_error **err)
{
  _cleanup_free_ char *cache_dir = xasprintf("%s/.seccomp-cache", x->o->root);

  if (open_container(x, err) < 0 || build_process(x, err) < 0)
    return -1;
  if (nook_seccomp_compile(x->spec, cache_dir, &x->seccomp, err) < 0)
    return nook_error_prefix(err, "container `%s`", x->o->id);
  return open_console(x, err);
}

static int do_exec(struct exec *x, int sigfd, int *ret_status, struct nook_error **err)
{
  int status = -1;

  if (prepare(x, err) < 0 || spawn_stage(x, err) < 0)
    return -1;
  if (start_process(x, &status, err) < 0)
    return -1;
  if (status >= 0)
    {
      *ret_status = status;
      return 0;
    }
  if (x->o->pid_file && nook_lifecycle_write_pid_file(x->o->pid_file, x->pid, err) < 0)
    return -1;
  if (x->o->detach)
    {
      *ret_status = 0;
      return 0;
    }
  if (nook_lifecycle_foreground(sigfd, x->relay_fd, x->pid, x->pidfd, &status, err) < 0)
    return -1;
  x->pid = 0; /* reaped */
  *ret_status = status;
  return 0;
}

int nook_container_exec(const struct nook_exec_opts *o, int *ret_status, struct nook_error **err)
{
  struct exec x = { .o = o, .dirfd = -1, .init_pidfd = -1, .sync_fd = -1, .console_fd = -1,
                    .relay_fd = -1, .pidfd = -1 };
  _cleanup_close_ int sigfd = -1;
  sigset_t all, old;
  int r;

  if (!o->detach)
    {
      /* Blocked before clone, so that no signal is lost or kills nook before the loop. */
      sigfillset(&all);
      sigprocmask(SIG_BLOCK, &all, &old);
      sigfd = signalfd(-1, &all, SFD_CLOEXEC);
      if (sigfd < 0)
        {
          r = nook_error_set(err, errno, "set up signal forwarding");
          goto out;
        }
    }
  r = do_exec(&x, sigfd, ret_status, err);
out:
  /* Both are nook's own children, not reaped yet: their pids cannot have been reused. */
  if (x.stage > 0)
    kill(x.stage, SIGKILL);
  if (x.pid > 0 && r < 0)
    kill(x.pid, SIGKILL);
  reap(&x.stage, NULL);
  if (r < 0)
    reap(&x.pid, NULL);
  if (!o->detach)
    sigprocmask(SIG_SETMASK, &old, NULL);
  exec_release(&x);
  return r;
}
