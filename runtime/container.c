/* create and run: the parent side of a new container (see init.h for the sync protocol). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/lifecycle.h"
#include "runtime/namespaces.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/terminal.h"

/* Everything a create or run holds until the init is ready. */
struct spawn
{
  const struct nook_create_opts *o;
  struct nook_spec *spec;
  char *raw;
  size_t raw_len;
  char *bundle;
  char *rootfs;
  int dirfd;
  struct nook_state st;
  struct nook_ns_plan ns;
  int sync_fd;    /* parent's end */
  int relay_fd;   /* run in the foreground with a terminal: receives the pty master */
  pid_t child;    /* the process nook cloned: the init, or the first stage */
  int init_pidfd; /* the init, once known */
  struct nook_cgroup *cg;
  struct nook_seccomp_filter *seccomp; /* compiled before clone; NULL when none */
  int *idmap_fds;                      /* idmapped trees per mount, until the init is ready */
  bool hooks_started;
  bool foreground;
};

static void spawn_release(struct spawn *s)
{
  /* The idmapped trees are counted by the spec's mounts: before the spec goes. */
  nook_rootfs_idmap_free(s->idmap_fds, s->spec ? s->spec->n_mounts : 0);
  nook_spec_free(s->spec);
  nook_cgroup_free(s->cg);
  nook_seccomp_filter_free(s->seccomp);
  free(s->st.cgroup_path);
  free(s->raw);
  free(s->bundle);
  free(s->rootfs);
  free(s->st.created);
  nook_ns_plan_close(&s->ns);
  if (s->dirfd >= 0)
    close(s->dirfd);
  if (s->sync_fd >= 0)
    close(s->sync_fd);
  if (s->relay_fd >= 0)
    close(s->relay_fd);
  if (s->init_pidfd >= 0)
    close(s->init_pidfd);
}

/* What create needs beyond the spec's own validation. */
static int check_spec(const struct spawn *s, struct nook_error **err)
{
  const struct nook_spec *spec = s->spec;

  if (nook_spec_namespace(spec, NOOK_NS_MOUNT) == NULL)
    return nook_error_setx(err, EINVAL, "config.json: linux.namespaces: a mount namespace is required");
  if ((spec->hostname && *spec->hostname) && nook_spec_namespace(spec, NOOK_NS_UTS) == NULL)
    return nook_error_setx(err, EINVAL,
                          "config.json: hostname: cannot set a hostname without a uts namespace");
  if (spec->process->terminal && s->o->console_socket == NULL && s->o->console_fd <= 0
      && !s->foreground)
    return nook_error_setx(err, EINVAL, "config.json: process.terminal is true: "
                                       "--console-socket is required when detached");
  if (!spec->process->terminal && (s->o->console_socket || s->o->console_fd > 0))
    return nook_error_setx(err, EINVAL,
                          "--console-socket given but config.json: process.terminal is false");
  return 0;
}

static int load_bundle(struct spawn *s, struct nook_error **err)
{
  const char *bundle = s->o->bundle ? s->o->bundle : ".";
  _cleanup_free_ char *root = NULL;

  if (nook_realpath(bundle, &s->bundle, err) < 0)
    return nook_error_prefix(err, "bundle");
  if (nook_spec_load(s->bundle, &s->spec, &s->raw, &s->raw_len, err) < 0)
    return -1;
  if (nook_spec_validate(s->spec, err) < 0 || check_spec(s, err) < 0)
    return -1;
  root = s->spec->root->path[0] == '/' ? xstrdup(s->spec->root->path)
                                       : xasprintf("%s/%s", s->bundle, s->spec->root->path);
  if (nook_realpath(root, &s->rootfs, err) < 0)
    return nook_error_prefix(err, "config.json: root.path");
  return 0;
}

static int run_runtime_hooks(struct spawn *s, struct nook_error **err)
{
  const struct nook_hooks *h = &s->spec->hooks;
  _cleanup_free_ char *state = nook_state_oci_json(&s->st, NOOK_STATUS_CREATING, false);

  s->hooks_started = true;
  if (nook_hooks_run(h->prestart, h->n_prestart, "prestart", state, err) < 0)
    return -1;
  return nook_hooks_run(h->create_runtime, h->n_create_runtime, "createRuntime", state, err);
}

/* The init is gone before nook learnt about it: it failed early (a mount), and its error is
 * likely queued on the sync socket already; that error says more than its absence. */
static int init_gone(struct spawn *s, int errnum, struct nook_error **err)
{
  struct pollfd p = { .fd = s->sync_fd, .events = POLLIN };
  struct nook_sync_msg m;
  char text[NOOK_SYNC_TEXT_MAX];

  if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)
      && nook_sync_recv(s->sync_fd, &m, text, sizeof(text), NULL) == 0 && m.type == NOOK_SYNC_ERROR)
    return nook_error_setx(err, m.value > 0 ? m.value : EIO, "%s", text);
  return nook_error_setx(err, errnum, "the container's init exited during setup");
}

static int learn_init(struct spawn *s, pid_t pid, struct nook_error **err)
{
  s->st.pid = pid;
  s->init_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (s->init_pidfd < 0)
    return init_gone(s, errno, err);
  if (nook_proc_start_time(pid, &s->st.pid_start) < 0)
    return init_gone(s, ESRCH, err);
  return 0;
}

/* sync step 4a: the listener fd goes to the agent at linux.seccomp.listenerPath. */
static int pass_notify_fd(struct spawn *s, struct nook_error **err)
{
  _cleanup_free_ char *state = nook_state_oci_json(&s->st, NOOK_STATUS_CREATING, false);

  return nook_sync_forward_listener(s->sync_fd, s->spec, s->st.pid, state, err);
}

/* The parent's half of sync steps 1-4. */
static int sync_with_init(struct spawn *s, struct nook_error **err)
{
  bool userns = s->ns.new_flags & CLONE_NEWUSER;
  int pid = s->child;

  if (userns)
    {
      /* sync step 1 */
      if (nook_sync_expect(s->sync_fd, NOOK_SYNC_USERMAP, NULL, err) < 0
          || nook_userns_write_maps(s->child, s->spec, err) < 0
          || nook_sync_send(s->sync_fd, NOOK_SYNC_USERMAP_DONE, 0, NULL, err) < 0)
        return -1;
    }
  if (s->ns.two_stage)
    {
      /* sync step 2 */
      if (nook_sync_expect(s->sync_fd, NOOK_SYNC_PID, &pid, err) < 0)
        return -1;
      while (waitpid(s->child, NULL, 0) < 0 && errno == EINTR)
        ;
      s->child = 0;
    }
  if (learn_init(s, pid, err) < 0)
    return -1;
  if (nook_state_write(s->dirfd, &s->st, err) < 0)
    return -1;
  if (nook_init_needs_hooks_sync(s->spec))
    {
      /* sync step 3 */
      if (nook_sync_expect(s->sync_fd, NOOK_SYNC_HOOKS, NULL, err) < 0
          || run_runtime_hooks(s, err) < 0
          || nook_sync_send(s->sync_fd, NOOK_SYNC_HOOKS_DONE, pid, NULL, err) < 0)
        return -1;
    }
  if (nook_seccomp_filter_has_listener(s->seccomp) && pass_notify_fd(s, err) < 0)
    return -1;
  /* sync step 4 */
  return nook_sync_expect(s->sync_fd, NOOK_SYNC_READY, NULL, err);
}

static int clone_init(struct spawn *s, int fifo_fd, int console_fd, struct nook_error **err)
{
  int cgroup_fd = s->cg ? nook_cgroup_dirfd(s->cg) : -1;
  int flags = s->ns.two_stage ? 0 : s->ns.new_flags;
  int late_flags = 0;
  bool into = false, joined, by_parent;
  int fds[2];
  pid_t pid;

  /* Unless clone3 put it in every hierarchy (v2), the init joins its cgroup after clone; its
   * cgroup namespace must be made after that, or it would be rooted at nook's own cgroup. */
  if (s->cg && (flags & CLONE_NEWCGROUP))
    {
      flags &= ~CLONE_NEWCGROUP;
      late_flags = CLONE_NEWCGROUP;
    }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return nook_error_set(err, errno, "socketpair");
  pid = nook_lifecycle_clone(flags, cgroup_fd, &into);
  joined = s->cg == NULL || nook_cgroup_clone_joins(s->cg, into);
  /* A child in a new user namespace cannot write the host's cgroup files: nook moves it. */
  by_parent = !joined && (flags & CLONE_NEWUSER);
  if (pid < 0)
    {
      int e = errno;
      close(fds[0]);
      close(fds[1]);
      return nook_error_set(err, e, "clone the container's init");
    }
  if (pid == 0)
    {
      struct nook_init_args a = {
        .spec = s->spec,
        .id = s->o->id,
        .rootfs = s->rootfs,
        .bundle = s->bundle,
        .ns = &s->ns,
        .sync_fd = fds[1],
        .fifo_fd = fifo_fd,
        .console_fd = console_fd,
        .preserve_fds = s->o->preserve_fds,
        .no_pivot = s->o->no_pivot,
        .no_new_keyring = s->o->no_new_keyring,
        .cgroup_sync = by_parent,
        .cgroup_self = joined || by_parent ? NULL : s->cg,
        .cgroup_into = into,
        .late_flags = late_flags,
        .seccomp = s->seccomp,
        .idmap_fds = s->idmap_fds,
      };
      /* The state directory's fd carries the flock that `start` and `delete` wait for; the
       * cgroup's is a host directory, which /proc/self/fd/N would lead to (CVE-2024-21626). */
      close(fds[0]);
      close(s->dirfd);
      if (cgroup_fd >= 0)
        close(cgroup_fd);
      if (s->relay_fd >= 0)
        close(s->relay_fd);
      nook_init_main(&a);
    }
  close(fds[1]);
  s->sync_fd = fds[0];
  s->child = pid;
  if (by_parent)
    {
      /* sync step 0 */
      if (nook_cgroup_enter(s->cg, pid, err) < 0
          || nook_sync_send(s->sync_fd, NOOK_SYNC_CGROUP_DONE, 0, NULL, err) < 0)
        return -1;
    }
  return 0;
}

/* The devices every container may use, after the config's own rules, as runc's
 * AllowedDevices: mknod of anything, and null, random, full, tty, zero, urandom, the ptys,
 * ptmx and tun. */
static const struct nook_device_rule default_devices[] = {
  { true, 'c', -1, -1, (char *)"m" }, { true, 'b', -1, -1, (char *)"m" },
  { true, 'c', 1, 3, (char *)"rwm" }, { true, 'c', 1, 8, (char *)"rwm" },
  { true, 'c', 1, 7, (char *)"rwm" }, { true, 'c', 5, 0, (char *)"rwm" },
  { true, 'c', 1, 5, (char *)"rwm" }, { true, 'c', 1, 9, (char *)"rwm" },
  { true, 'c', 136, -1, (char *)"rwm" }, { true, 'c', 5, 2, (char *)"rwm" },
  { true, 'c', 10, 200, (char *)"rwm" },
};

/* Whether one of the config's rules names exactly this node (type, major and minor). */
static bool rule_names_node(const struct nook_device_rule *rules, size_t n, char type,
                            int64_t major, int64_t minor)
{
  for (size_t i = 0; i < n; i++)
    if (rules[i].type == type && rules[i].major == major && rules[i].minor == minor)
      return true;
  return false;
}

/* linux.resources.devices, then the defaults, then an allow rule for each linux.devices node
 * (the config asked for those nodes, so it may use them) that no rule of the config names
 * exactly: a config that says "c 10:237 r" for its node (`nook run --device X:r`) means it. */
static struct nook_device_rule *device_rules(const struct nook_linux *lx, size_t *ret_n)
{
  size_t n_spec = lx && lx->resources ? lx->resources->n_devices : 0;
  size_t n_nodes = lx ? lx->n_devices : 0;
  size_t n = n_spec + ARRAY_SIZE(default_devices);
  struct nook_device_rule *rules = xcalloc(n + n_nodes, sizeof(*rules));

  if (n_spec)
    memcpy(rules, lx->resources->devices, n_spec * sizeof(*rules));
  memcpy(rules + n_spec, default_devices, sizeof(default_devices));
  for (size_t i = 0; i < n_nodes; i++)
    {
      const struct nook_device *d = &lx->devices[i];
      char type = d->type == 'u' ? 'c' : d->type;
      if (d->type == 'p') /* fifos are not devices to the cgroup */
        continue;
      if (rule_names_node(rules, n_spec, type, d->major, d->minor))
        continue;
      rules[n++] = (struct nook_device_rule){
        .allow = true,
        .type = type,
        .major = d->major,
        .minor = d->minor,
        .access = (char *)"rwm",
      };
    }
  *ret_n = n;
  return rules;
}

/* Whether linux.resources asks for a limit (devices aside, which the user namespace and the
 * bind-mounted nodes already restrict). */
static bool resources_have_limits(const struct nook_resources *r)
{
  return r
         && (r->memory.limit.set || r->memory.reservation.set || r->memory.swap.set
             || r->cpu.shares.set || r->cpu.quota.set || r->cpu.cpus || r->cpu.mems
             || r->pids.limit.set);
}

static int create_cgroup(struct spawn *s, struct nook_error **err)
{
  _cleanup_(nook_error_freep) struct nook_error *e = NULL;
  const struct nook_linux *lx = s->spec->linux;
  struct nook_resources res = lx && lx->resources ? *lx->resources : (struct nook_resources){ 0 };
  _cleanup_free_ struct nook_device_rule *rules = device_rules(lx, &res.n_devices);
  struct nook_cgroup_config cfg = {
    .id = s->o->id,
    .cgroups_path = lx ? lx->cgroups_path : NULL,
    .systemd = s->o->systemd_cgroup,
    .resources = &res,
  };

  res.devices = rules;
  if (nook_cgroup_create(&cfg, &s->cg, &e) == 0)
    {
      s->st.cgroup_path = xstrdup(nook_cgroup_path(s->cg));
      return nook_write_file_atomic_at(s->dirfd, NOOK_STATE_CGROUP_FILE, s->st.cgroup_path,
                                       strlen(s->st.cgroup_path), 0600, err);
    }
  if (geteuid() == 0 || !(e->errnum == EACCES || e->errnum == EPERM || e->errnum == EROFS))
    {
      if (err)
        *err = TAKE_PTR(e);
      return -1;
    }
  /* Rootless without a delegated cgroup: runc (without systemd) goes on without one, and so
   * does nook.  The state's empty cgroupPath tells the other verbs; limits cannot be kept. */
  if (resources_have_limits(lx ? lx->resources : NULL))
    {
      if (err)
        *err = TAKE_PTR(e);
      return nook_error_prefix(err,
                               "linux.resources: the limits need a cgroup, which uid %d "
                               "may not create",
                               (int)geteuid());
    }
  nook_warn("rootless: no cgroup for container `%s` (%s)", s->o->id, e->msg);
  s->st.cgroup_path = xstrdup("");
  return 0;
}

/* Sets the console up for the init: the --console-socket, or for a foreground run a
 * socketpair whose other end nook keeps to receive the pty master. */
static int open_console(struct spawn *s, int *ret_console_fd, struct nook_error **err)
{
  int sp[2];

  *ret_console_fd = -1;
  if (!s->spec->process->terminal)
    return 0;
  if (s->o->console_fd > 0)
    {
      *ret_console_fd = fcntl(s->o->console_fd, F_DUPFD_CLOEXEC, 3);
      return *ret_console_fd < 0 ? nook_error_set(err, errno, "dup the console fd") : 0;
    }
  if (s->o->console_socket)
    {
      *ret_console_fd = nook_unix_connect(s->o->console_socket, "--console-socket", err);
      return *ret_console_fd < 0 ? -1 : 0;
    }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return nook_error_set(err, errno, "socketpair");
  s->relay_fd = sp[0];
  *ret_console_fd = sp[1];
  return 0;
}

/* Undoes a failed create: the init and its state go; poststop hooks run if the runtime
 * hooks did (runtime-spec: a failed create continues the lifecycle at delete). */
static void spawn_abort(struct spawn *s)
{
  if (s->init_pidfd >= 0)
    syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
  if (s->child > 0)
    {
      kill(s->child, SIGKILL);
      while (waitpid(s->child, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  if (s->init_pidfd >= 0 && s->st.pid != s->child)
    nook_lifecycle_wait_exit(s->init_pidfd, 5000);
  if (s->cg)
    nook_cgroup_destroy(s->cg, NULL);
  if (s->hooks_started)
    nook_lifecycle_poststop(s->spec, &s->st);
  if (s->dirfd >= 0)
    nook_state_dir_remove(s->o->root, s->o->id, NULL);
}

/* linux.seccomp is compiled here, before clone, so that its errors come from nook itself and
 * the init only has to load a ready program.  The cache lives beside the containers. */
static int compile_seccomp(struct spawn *s, struct nook_error **err)
{
  _cleanup_free_ char *cache_dir = xasprintf("%s/.seccomp-cache", s->o->root);

  return nook_seccomp_compile(s->spec, cache_dir, &s->seccomp, err);
}

/* create, and the first half of run: on return the init waits for START (run) or for
 * exec.fifo (create) and the state says "created". */
static int spawn(struct spawn *s, bool create, struct nook_error **err)
{
  _cleanup_close_ int fifo_fd = -1;
  _cleanup_close_ int console_fd = -1;

  if (load_bundle(s, err) < 0)
    return -1;
  if (nook_state_dir_create(s->o->root, s->o->id, &s->dirfd, err) < 0)
    return -1;
  s->st.id = (char *)s->o->id;
  s->st.bundle = s->bundle;
  s->st.rootfs = s->rootfs;
  s->st.created = nook_time_rfc3339();
  s->st.owner = (char *)"";
  s->st.no_new_keyring = s->o->no_new_keyring;
  s->st.annotations = s->spec->annotations;
  s->st.n_annotations = s->spec->n_annotations;

  if (nook_write_file_atomic_at(s->dirfd, "config.json", s->raw, s->raw_len, 0600, err) < 0)
    goto fail;
  if (compile_seccomp(s, err) < 0
      || nook_rootfs_idmap_prepare(s->spec, s->bundle, &s->idmap_fds, err) < 0)
    goto fail;
  if (create)
    {
      if (mkfifoat(s->dirfd, "exec.fifo", 0600) < 0)
        {
          nook_error_set(err, errno, "create exec.fifo");
          goto fail;
        }
      fifo_fd = openat(s->dirfd, "exec.fifo", O_RDWR | O_CLOEXEC);
      if (fifo_fd < 0)
        {
          nook_error_set(err, errno, "open exec.fifo");
          goto fail;
        }
    }
  if (open_console(s, &console_fd, err) < 0 || nook_ns_plan_init(s->spec, &s->ns, err) < 0)
    goto fail;
  if (create_cgroup(s, err) < 0)
    goto fail;
  NOOK_FAULT_POINT("after-cgroup");
  s->st.own_pidns = (s->ns.new_flags & CLONE_NEWPID) || s->ns.join_fds[NOOK_NS_PID] >= 0;
  if (clone_init(s, fifo_fd, console_fd, err) < 0)
    goto fail;
  NOOK_FAULT_POINT("after-clone");
  if (sync_with_init(s, err) < 0)
    goto fail;
  NOOK_FAULT_POINT("after-mounts"); /* the init has mounted its rootfs and pivoted */
  nook_rootfs_idmap_free(TAKE_PTR(s->idmap_fds), s->spec->n_mounts); /* attached by now */
  if (!s->ns.two_stage)
    s->child = 0; /* from here on it is the init, followed through init_pidfd */
  s->st.created_done = true;
  if (nook_state_write(s->dirfd, &s->st, err) < 0)
    goto fail;
  if (s->o->pid_file && nook_lifecycle_write_pid_file(s->o->pid_file, s->st.pid, err) < 0)
    goto fail;
  return 0;

fail:
  spawn_abort(s);
  return -1;
}

static void spawn_init(struct spawn *s, const struct nook_create_opts *o)
{
  *s = (struct spawn){ .o = o, .dirfd = -1, .sync_fd = -1, .relay_fd = -1, .init_pidfd = -1 };
  for (int i = 0; i < NOOK_NS_COUNT; i++)
    s->ns.join_fds[i] = -1;
}

int nook_container_create(const struct nook_create_opts *o, struct nook_error **err)
{
  struct spawn s;
  int r;

  spawn_init(&s, o);
  r = spawn(&s, true, err);
  spawn_release(&s);
  return r;
}

/* sync step 5: lets the init exec and waits for the close-on-exec socket to close. */
static int start_init(struct spawn *s, struct nook_error **err)
{
  if (nook_sync_send(s->sync_fd, NOOK_SYNC_START, 0, NULL, err) < 0)
    return -1;
  return nook_sync_wait_exec(s->sync_fd, err);
}

static int run_poststart(struct spawn *s)
{
  struct nook_error *e = NULL;
  _cleanup_free_ char *state = NULL;

  if (s->spec->hooks.n_poststart == 0)
    return 0;
  state = nook_state_oci_json(&s->st, NOOK_STATUS_RUNNING, false);
  if (nook_hooks_run(s->spec->hooks.poststart, s->spec->hooks.n_poststart, "poststart", state, &e) < 0)
    {
      nook_warn("%s", e->msg);
      nook_error_free(e);
    }
  return 0;
}

static int run_foreground(struct spawn *s, int sigfd, int *ret_status, struct nook_error **err)
{
  int code;

  /* Other verbs (kill, state, delete) act on the container while it runs. */
  flock(s->dirfd, LOCK_UN);
  if (start_init(s, err) < 0)
    {
      /* execve failed: the init exits 127 or 126, which becomes run's exit code. */
      nook_error_log("%s", (*err)->msg);
      nook_error_freep(err);
    }
  run_poststart(s);
  /* The init sent the pty master before READY: it waits in relay_fd. */
  if (nook_lifecycle_foreground(sigfd, s->relay_fd, s->st.pid, s->init_pidfd, &code, err) < 0)
    return -1;
  *ret_status = code;
  if (!s->o->keep)
    {
      /* A concurrent `delete` may have removed it already; removal is then a no-op. */
      while (flock(s->dirfd, LOCK_EX) < 0 && errno == EINTR)
        ;
      if (s->cg)
        nook_cgroup_destroy(s->cg, NULL);
      nook_lifecycle_poststop(s->spec, &s->st);
      return nook_state_dir_remove(s->o->root, s->o->id, err);
    }
  return 0;
}

int nook_container_run(const struct nook_create_opts *o, int *ret_status, struct nook_error **err)
{
  _cleanup_close_ int sigfd = -1;
  struct spawn s;
  sigset_t all, old;
  int r;

  spawn_init(&s, o);
  s.foreground = !o->detach;
  sigfillset(&all);
  if (s.foreground)
    {
      /* Blocked before clone so that no signal is lost or kills nook before the loop. */
      sigprocmask(SIG_BLOCK, &all, &old);
      sigfd = signalfd(-1, &all, SFD_CLOEXEC);
      if (sigfd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        {
          r = nook_error_set(err, errno, "set up signal forwarding");
          goto out;
        }
    }
  r = spawn(&s, false, err);
  if (r < 0)
    goto out;
  if (s.foreground)
    {
      r = run_foreground(&s, sigfd, ret_status, err);
      goto out;
    }
  if (start_init(&s, err) < 0)
    {
      s.child = -1;
      spawn_abort(&s);
      r = -1;
      goto out;
    }
  run_poststart(&s);
  *ret_status = 0;
out:
  if (s.foreground)
    sigprocmask(SIG_SETMASK, &old, NULL);
  spawn_release(&s);
  return r;
}
