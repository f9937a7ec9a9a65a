/* start, state, kill, delete and list: the verbs that act on an existing container; and what
 * run and exec share (cloning into a cgroup, the pid file, the foreground loop). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/lifecycle.h"
#include "runtime/terminal.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define CONFIG_MAX (16 * 1024 * 1024)

int nook_lifecycle_wait_exit(int pidfd, int timeout_ms)
{
  struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
  int r;

  do
    r = poll(&pfd, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0 ? 0 : -ETIMEDOUT;
}

void nook_lifecycle_poststop(const struct nook_spec *spec, const struct nook_state *st)
{
  struct nook_error *e = NULL;
  _cleanup_free_ char *state = NULL;

  if (spec == NULL || spec->hooks.n_poststop == 0)
    return;
  state = nook_state_oci_json(st, NOOK_STATUS_STOPPED, false);
  if (nook_hooks_run(spec->hooks.poststop, spec->hooks.n_poststop, "poststop", state, &e) < 0)
    {
      nook_warn("%s", e->msg);
      nook_error_free(e);
    }
}

int nook_lifecycle_write_pid_file(const char *path, pid_t pid, struct nook_error **err)
{
  _cleanup_free_ char *dir_copy = xstrdup(path);
  _cleanup_free_ char *base_copy = xstrdup(path);
  _cleanup_close_ int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d", (int)pid);

  if (dfd < 0)
    return nook_error_set(err, errno, "--pid-file: open the directory of `%s`", path);
  if (nook_write_file_atomic_at(dfd, basename(base_copy), buf, (size_t)n, 0644, err) < 0)
    return nook_error_prefix(err, "--pid-file");
  return 0;
}

pid_t nook_lifecycle_clone(int flags, int cgroup_fd, bool *ret_into)
{
  *ret_into = false;
#ifdef SYS_clone3
  if (cgroup_fd >= 0)
    {
      struct
      {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
            set_tid, set_tid_size, cgroup;
      } args = {
        .flags = (uint64_t)(unsigned)flags | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup_fd,
      };
      pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
      *ret_into = pid >= 0;
      if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
        return pid;
    }
#endif
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int nook_lifecycle_status_code(int wstatus)
{
  if (WIFEXITED(wstatus))
    return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return 255;
}

/* Copies what is readable on from to to; returns false at EOF or error. */
static bool pump(int from, int to)
{
  char buf[8192];
  ssize_t n = read(from, buf, sizeof(buf));

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  return nook_write_all(to, buf, (size_t)n) >= 0;
}

static int foreground_loop(int sigfd, int master, pid_t pid, int pidfd)
{
  struct pollfd pfd[3] = {
    { .fd = sigfd, .events = POLLIN },
    { .fd = master >= 0 ? STDIN_FILENO : -1, .events = POLLIN },
    { .fd = master, .events = POLLIN },
  };
  int code = -1;

  while (code < 0)
    {
      struct signalfd_siginfo si;
      if (poll(pfd, 3, -1) < 0)
        continue;
      if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
        if (!pump(master, STDOUT_FILENO))
          pfd[2].fd = -1;
      if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
        if (!pump(STDIN_FILENO, master))
          pfd[1].fd = -1;
      if (!(pfd[0].revents & POLLIN) || read(sigfd, &si, sizeof(si)) != sizeof(si))
        continue;
      if (si.ssi_signo == SIGCHLD)
        {
          int ws;
          pid_t p;
          while ((p = waitpid(-1, &ws, WNOHANG)) > 0)
            if (p == pid)
              code = nook_lifecycle_status_code(ws);
        }
      else if (si.ssi_signo == SIGWINCH && master >= 0)
        nook_terminal_copy_size(STDIN_FILENO, master);
      else if (si.ssi_signo != SIGURG)
        syscall(SYS_pidfd_send_signal, pidfd, si.ssi_signo, NULL, 0);
    }
  /* What the container wrote just before it exited is still in the pty. */
  while (master >= 0 && pfd[2].fd >= 0 && poll(&pfd[2], 1, 0) > 0 && pump(master, STDOUT_FILENO))
    ;
  return code;
}

int nook_lifecycle_foreground(int sigfd, int relay_fd, pid_t pid, int pidfd, int *ret_code,
                              struct nook_error **err)
{
  _cleanup_close_ int master = -1;
  struct termios saved;
  bool raw = false;

  if (relay_fd >= 0 && nook_terminal_relay_begin(relay_fd, &master, &saved, &raw, err) < 0)
    return -1;
  *ret_code = foreground_loop(sigfd, master, pid, pidfd);
  if (raw)
    nook_terminal_restore(STDIN_FILENO, &saved);
  return 0;
}

/* The config the container was created from, as stored in its state directory. */
int nook_lifecycle_load_spec(int dirfd, const char *id, struct nook_spec **ret, struct nook_error **err)
{
  _cleanup_free_ char *raw = NULL;
  size_t len;

  if (nook_read_file_at(dirfd, "config.json", CONFIG_MAX, &raw, &len, err) < 0)
    return nook_error_prefix(err, "container `%s`", id);
  if (nook_spec_parse(raw, len, ret, err) < 0)
    return nook_error_prefix(err, "container `%s`: stored", id);
  return 0;
}

/* An open, locked container: its state dir, recorded state and current status. */
struct ctr
{
  int dirfd;
  struct nook_state *st;
  enum nook_status status;
};

static void ctr_release(struct ctr *c)
{
  nook_state_free(c->st);
  if (c->dirfd >= 0)
    close(c->dirfd);
}

static int ctr_open(const char *root, const char *id, bool lock, struct ctr *c, struct nook_error **err)
{
  *c = (struct ctr){ .dirfd = -1 };
  if (nook_state_dir_open(root, id, lock, &c->dirfd, err) < 0)
    return -1;
  if (nook_state_read(c->dirfd, id, &c->st, err) < 0)
    return -1;
  c->status = nook_state_status(c->dirfd, c->st);
  return 0;
}

/* Writes the byte the init waits for on exec.fifo, then waits until the process was
 * executed: the init holds the fifo open O_RDWR and close-on-exec, so a read end opened here
 * sees POLLHUP once execve (or the init's death) closed the last writer.  poststart hooks
 * must run after that (runtime-spec), not merely after the byte was written. */
static int release_init(int dirfd, struct nook_error **err)
{
  _cleanup_close_ int rfd = openat(dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  _cleanup_close_ int wfd = -1;
  struct pollfd pfd = { .fd = rfd, .events = 0 };

  if (rfd < 0)
    return nook_error_set(err, errno, "open exec.fifo");
  wfd = openat(dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (wfd < 0 || nook_write_all(wfd, "0", 1) < 0)
    return nook_error_set(err, errno, "write exec.fifo");
  close(TAKE_FD(wfd));
  unlinkat(dirfd, "exec.fifo", 0);
  while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
    ;
  return 0;
}

int nook_container_start(const char *root, const char *id, struct nook_error **err)
{
  struct ctr c;
  _cleanup_spec_ struct nook_spec *spec = NULL;
  int r = -1;

  if (ctr_open(root, id, true, &c, err) < 0)
    goto out;
  if (c.status != NOOK_STATUS_CREATED)
    {
      nook_error_setx(err, EINVAL, "cannot start container `%s` in state `%s`", id,
                     nook_status_to_string(c.status));
      goto out;
    }
  if (nook_lifecycle_load_spec(c.dirfd, id, &spec, err) < 0)
    goto out;
  if (release_init(c.dirfd, err) < 0)
    {
      nook_error_prefix(err, "start container `%s`", id);
      goto out;
    }
  if (spec->hooks.n_poststart)
    {
      _cleanup_free_ char *state = nook_state_oci_json(c.st, NOOK_STATUS_RUNNING, false);
      struct nook_error *e = NULL;
      if (nook_hooks_run(spec->hooks.poststart, spec->hooks.n_poststart, "poststart", state, &e) < 0)
        {
          nook_warn("%s", e->msg);
          nook_error_free(e);
        }
    }
  r = 0;
out:
  ctr_release(&c);
  return r;
}

int nook_container_state(const char *root, const char *id, char **ret_json, struct nook_error **err)
{
  struct ctr c;
  int r = ctr_open(root, id, false, &c, err);

  if (r == 0)
    *ret_json = nook_state_oci_json(c.st, c.status, true);
  ctr_release(&c);
  return r;
}

static bool same_pidns(pid_t pid, const char *ns)
{
  char path[64], link[64];
  ssize_t n;

  snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
  n = readlink(path, link, sizeof(link) - 1);
  if (n < 0)
    return false;
  link[n] = '\0';
  return streq(link, ns);
}

static pid_t proc_ppid(pid_t pid)
{
  char path[64];
  _cleanup_free_ char *text = NULL;
  const char *p;
  int ppid;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (nook_read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL, NULL) < 0)
    return -1;
  p = strstr(text, "\nPPid:");
  if (p == NULL || sscanf(p + 6, "%d", &ppid) != 1)
    return -1;
  return ppid;
}

/* Every process of the container: with its own pid namespace, all processes in it; otherwise
 * the init and its descendants.  (The cgroup gives the exact set; see cgroups/.) */
static size_t collect_pids(const struct nook_state *st, pid_t **ret)
{
  _cleanup_closedir_ DIR *d = opendir("/proc");
  char nspath[64], ns[64] = "";
  pid_t *pids = xcalloc(1, sizeof(pid_t));
  size_t n = 0;
  struct dirent *de;
  ssize_t len;

  pids[n++] = st->pid;
  snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)st->pid);
  len = readlink(nspath, ns, sizeof(ns) - 1);
  if (len > 0)
    ns[len] = '\0';
  for (bool grew = true; grew && d;)
    {
      grew = false;
      rewinddir(d);
      while ((de = readdir(d)) != NULL)
        {
          int pid;
          bool member = false;
          if (nook_parse_int(de->d_name, &pid) < 0 || pid == st->pid)
            continue;
          for (size_t i = 0; i < n; i++)
            if (pids[i] == pid)
              member = true;
          if (member)
            continue;
          if (st->own_pidns)
            member = len > 0 && same_pidns(pid, ns);
          else
            {
              pid_t pp = proc_ppid(pid);
              for (size_t i = 0; i < n && !member; i++)
                member = pids[i] == pp;
            }
          if (!member)
            continue;
          pids = xrealloc(pids, (n + 1) * sizeof(pid_t));
          pids[n++] = pid;
          grew = !st->own_pidns;
        }
    }
  *ret = pids;
  return n;
}

/* The container's cgroup, or NULL (without an error) when it has none. */
static int open_cgroup(const struct nook_state *st, struct nook_cgroup **ret, struct nook_error **err)
{
  *ret = NULL;
  if (st->cgroup_path == NULL || *st->cgroup_path == '\0')
    return 0;
  return nook_cgroup_open(st->cgroup_path, ret, err);
}

/* Signals every process of the container: through its cgroup when it has one. */
static int signal_all(const struct nook_state *st, int sig, struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  _cleanup_free_ pid_t *pids = NULL;
  size_t n;

  if (open_cgroup(st, &cg, err) < 0)
    return -1;
  if (cg)
    return nook_cgroup_kill(cg, sig, err);
  n = collect_pids(st, &pids);
  for (size_t i = 0; i < n; i++)
    kill(pids[i], sig);
  return 0;
}

int nook_container_kill(const char *root, const char *id, int sig, bool all, struct nook_error **err)
{
  struct ctr c;
  _cleanup_close_ int pidfd = -1;
  int r = -1;

  if (ctr_open(root, id, true, &c, err) < 0)
    goto out;
  /* "container not running" is runc's text: containerd's shim matches it to know that a kill
   * raced with the container's exit (else `ctr tasks rm -f` fails). */
  if (c.status == NOOK_STATUS_STOPPED || c.status == NOOK_STATUS_CREATING)
    {
      nook_error_setx(err, EINVAL, "kill `%s`: container not running (%s)", id,
                      nook_status_to_string(c.status));
      goto out;
    }
  r = nook_state_pidfd(c.st, &pidfd, err);
  if (r == -ESRCH)
    nook_error_setx(err, ESRCH, "kill `%s`: container not running (stopped)", id);
  if (r < 0)
    goto out;
  if (all)
    r = signal_all(c.st, sig, err);
  else if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    r = nook_error_set(err, errno, "send signal %d to container `%s`", sig, id);
out:
  ctr_release(&c);
  return r;
}

/* Kills what is left of a container and waits for its init to be gone. */
static int kill_and_wait(const struct ctr *c, const char *id, struct nook_error **err)
{
  _cleanup_close_ int pidfd = -1;
  int r = nook_state_pidfd(c->st, &pidfd, err);

  if (r == -ESRCH)
    return 0;
  if (r < 0)
    return r;
  if (c->st->own_pidns)
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  else if (signal_all(c->st, SIGKILL, err) < 0)
    return -1;
  if (nook_lifecycle_wait_exit(pidfd, 10000) < 0)
    return nook_error_setx(err, ETIMEDOUT, "container `%s` did not exit after SIGKILL", id);
  return 0;
}

/* The cgroup of a create that died before its state.json: its processes are killed and it
 * is removed (NOOK_STATE_CGROUP_FILE); 0 when there is none. */
static int destroy_orphan_cgroup(int dirfd, const char *id, struct nook_error **err)
{
  _cleanup_free_ char *path = NULL;
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  int r = nook_read_file_at(dirfd, NOOK_STATE_CGROUP_FILE, 4096, &path, NULL, err);

  if (r == -ENOENT)
    {
      nook_error_freep(err);
      return 0;
    }
  if (r < 0 || *path == '\0')
    return r < 0 ? nook_error_prefix(err, "container `%s`", id) : 0;
  if (nook_cgroup_open(path, &cg, err) < 0)
    {
      if ((*err)->errnum != ENOENT)
        return nook_error_prefix(err, "container `%s`", id);
      nook_error_freep(err); /* removed already */
      return 0;
    }
  return nook_cgroup_destroy(cg, err);
}

int nook_container_delete(const char *root, const char *id, bool force, struct nook_error **err)
{
  struct ctr c;
  _cleanup_spec_ struct nook_spec *spec = NULL;
  int r = -1;

  r = nook_state_dir_open(root, id, true, &c.dirfd, err);
  if (r == -ENOENT && force)
    {
      /* As runc: --force makes deleting what is already gone a success. */
      nook_error_freep(err);
      return 0;
    }
  if (r < 0)
    return -1;
  r = -1;
  c.st = NULL;
  if (nook_state_read(c.dirfd, id, &c.st, err) < 0)
    {
      /* A create that crashed before writing its state: nothing runs, remove it. */
      if (force || faccessat(c.dirfd, "state.json", F_OK, 0) < 0)
        {
          nook_error_freep(err);
          r = destroy_orphan_cgroup(c.dirfd, id, err);
          if (r == 0)
            r = nook_state_dir_remove(root, id, err);
        }
      goto out;
    }
  c.status = nook_state_status(c.dirfd, c.st);
  if ((c.status == NOOK_STATUS_RUNNING || c.status == NOOK_STATUS_PAUSED
       || c.status == NOOK_STATUS_CREATING) && !force)
    {
      nook_error_setx(err, EBUSY, "cannot delete container `%s` that is %s (use --force)", id,
                     nook_status_to_string(c.status));
      goto out;
    }
  if (kill_and_wait(&c, id, err) < 0)
    goto out;
  if (nook_lifecycle_load_spec(c.dirfd, id, &spec, err) < 0)
    {
      if (!force)
        goto out;
      nook_warn("%s", (*err)->msg);
      nook_error_freep(err);
    }
  {
    _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
    if (open_cgroup(c.st, &cg, err) < 0 || (cg && nook_cgroup_destroy(cg, err) < 0))
      goto out;
  }
  nook_lifecycle_poststop(spec, c.st);
  r = nook_state_dir_remove(root, id, err);
out:
  ctr_release(&c);
  return r;
}

static char *owner_of(int dirfd)
{
  struct stat st;
  struct passwd *pw;

  if (fstat(dirfd, &st) < 0)
    return xstrdup("");
  pw = getpwuid(st.st_uid);
  return pw ? xstrdup(pw->pw_name) : xasprintf("#%u", (unsigned)st.st_uid);
}

static int cmp_info(const void *a, const void *b)
{
  const struct nook_container_info *x = a, *y = b;
  return strcmp(x->state->id, y->state->id);
}

int nook_container_list(const char *root, struct nook_container_info **ret, size_t *ret_n,
                        struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = opendir(root);
  struct nook_container_info *list = NULL;
  size_t n = 0;
  struct dirent *de;

  if (d == NULL)
    {
      if (errno != ENOENT)
        return nook_error_set(err, errno, "open state root `%s`", root);
      *ret = NULL;
      *ret_n = 0;
      return 0;
    }
  while ((de = readdir(d)) != NULL)
    {
      struct nook_state *st = NULL;
      _cleanup_close_ int dfd = -1;
      if (de->d_name[0] == '.' || nook_id_validate(de->d_name, NULL) < 0)
        continue;
      dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dfd < 0 || nook_state_read(dfd, de->d_name, &st, NULL) < 0)
        continue;
      list = xrealloc(list, (n + 1) * sizeof(*list));
      list[n].state = st;
      list[n].status = nook_state_status(dfd, st);
      list[n].owner = owner_of(dfd);
      n++;
    }
  if (n > 1)
    qsort(list, n, sizeof(*list), cmp_info);
  *ret = list;
  *ret_n = n;
  return 0;
}

void nook_container_list_free(struct nook_container_info *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      nook_state_free(list[i].state);
      free(list[i].owner);
    }
  free(list);
}

/* Opens a container that must be created, running or paused, and its cgroup (which must exist
 * when need_cgroup: a rootless container may have none). */
static int open_live_cg(const char *root, const char *id, bool lock, bool need_cgroup,
                        struct ctr *c, struct nook_cgroup **ret_cg, struct nook_error **err)
{
  if (ctr_open(root, id, lock, c, err) < 0)
    return -1;
  if (c->status == NOOK_STATUS_STOPPED || c->status == NOOK_STATUS_CREATING)
    return nook_error_setx(err, EINVAL, "container `%s` is not running: %s", id,
                           nook_status_to_string(c->status));
  if (open_cgroup(c->st, ret_cg, err) < 0)
    return -1;
  if (*ret_cg == NULL && need_cgroup)
    return nook_error_setx(err, ENOTSUP,
                           "container `%s` has no cgroup (created rootless without one)", id);
  return 0;
}

static int open_live(const char *root, const char *id, bool lock, struct ctr *c,
                     struct nook_cgroup **ret_cg, struct nook_error **err)
{
  return open_live_cg(root, id, lock, true, c, ret_cg, err);
}

int nook_container_pause(const char *root, const char *id, bool pause, struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  struct ctr c;
  int r = open_live(root, id, true, &c, &cg, err);

  if (r == 0 && pause && c.status != NOOK_STATUS_RUNNING)
    r = nook_error_setx(err, EINVAL, "cannot pause container `%s` that is %s", id,
                        nook_status_to_string(c.status));
  else if (r == 0 && !pause && c.status != NOOK_STATUS_PAUSED)
    r = nook_error_setx(err, EINVAL, "cannot resume container `%s` that is %s", id,
                        nook_status_to_string(c.status));
  if (r == 0)
    r = nook_cgroup_freeze(cg, pause, err);
  ctr_release(&c);
  return r;
}

int nook_container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n,
                        struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  struct ctr c;
  int r = open_live_cg(root, id, false, false, &c, &cg, err);

  /* Without a cgroup (rootless), the processes are found from the init down, as kill --all
   * does. */
  if (r == 0 && cg == NULL)
    *ret_n = collect_pids(c.st, ret);
  else if (r == 0)
    r = nook_cgroup_pids(cg, ret, ret_n, err);
  ctr_release(&c);
  return r;
}

int nook_container_update(const char *root, const char *id, const struct nook_resources *res,
                          struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  struct ctr c;
  int r = open_live(root, id, true, &c, &cg, err);

  if (r == 0)
    r = nook_cgroup_update(cg, res, err);
  ctr_release(&c);
  return r;
}

int nook_container_cgroup(const char *root, const char *id, struct nook_cgroup **ret,
                          struct nook_error **err)
{
  struct ctr c;
  int r = open_live(root, id, false, &c, ret, err);

  ctr_release(&c);
  return r;
}
