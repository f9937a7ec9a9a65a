/* `nook run IMAGE [CMD...]` in the foreground, and `nook rm`.
 *
 * A container of `nook run` is an OCI container in the state root (--root) whose bundle is
 * STORAGE/containers/ID: config.json, made from the image's config and the flags, and rootfs/,
 * the image's layers under overlay.  The runtime runs it like any bundle. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctr.h"
#include "cli/run-flags.h"
#include "cli/run-network.h"
#include "cli/verbs.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/cloned-binary.h"
#include "runtime/container.h"
#include "runtime/spec.h"
#include "runtime/state.h"
#include "runtime/supervisor.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_opts
{
  bool rm, tty, interactive, read_only, detach, no_sig_proxy;
  const char *detach_keys;
  struct nook_restart restart;
  uint64_t log_max_size;
  unsigned log_max_files;
  int stop_signal; /* 0: the image's StopSignal, else SIGTERM */
  unsigned stop_timeout;
  bool stop_timeout_set;
  const char *name, *workdir, *user, *entrypoint, *hostname, *cgroup_parent;
  const char *network;   /* --net, NULL: the default (cli/run-network.h) */
  char **ports, **add_hosts, **dns;
  bool entrypoint_set;
  char **env;      /* -e, in order */
  char **env_files;
  const char *image;
  char **cmd;      /* after the image, NULL when none */
  struct run_flags flags; /* confinement, resources, mounts, labels (cli/run-flags.c) */
};

static void run_usage(FILE *f)
{
  fputs("usage: nook run [OPTIONS] IMAGE [COMMAND [ARG...]]\n\n"
        "Run a command in a new container from IMAGE.  In the foreground nook returns its exit\n"
        "code; with -d it prints the container's id and leaves it running under its supervisor.\n\n"
        "  -d, --detach           run in the background, print the container's id\n"
        "  --rm                   remove the container when it exits\n"
        "  --restart POLICY       no, on-failure[:N] or always\n"
        "  --log-max-size SIZE    rotate the container's log at SIZE bytes (k, m, g suffixes)\n"
        "  --log-max-files N      rotated logs to keep (default 1)\n"
        "  --stop-signal SIG      signal for `nook stop` (default: the image's, or SIGTERM)\n"
        "  --stop-timeout N       seconds `nook stop` waits before SIGKILL (default 10)\n"
        "  --sig-proxy=false      do not forward signals to the container in the foreground\n"
        "  --detach-keys KEYS     keys that detach a foreground terminal (default ctrl-p,ctrl-q)\n"
        "  --name NAME            the container's name (unique)\n"
        "  -e, --env KEY[=VALUE]  set a variable (without =VALUE: the host's)\n"
        "  --env-file FILE        read KEY=VALUE lines\n"
        "  -w, --workdir DIR      working directory\n"
        "  -u, --user USER[:GROUP] user, by name (the image's /etc/passwd) or id\n"
        "  --entrypoint CMD       replace the image's entrypoint (\"\" for none)\n"
        "  --hostname NAME        hostname (default: the first 12 digits of the id)\n"
        "  -t, --tty              allocate a terminal\n"
        "  -i, --interactive      keep stdin open\n"
        "  --read-only            mount the root filesystem read-only\n"
        "  --net MODE             bridge (the default network `nook`), NETWORK, none (only lo),\n"
        "                         host, or container:NAME (another container's)\n"
        "  -p, --publish [IP:]HOSTPORT:PORT[/tcp|udp]  publish a port on the host\n"
        "  --add-host NAME:IP     add a line to /etc/hosts\n"
        "  --dns IP               nameserver for /etc/resolv.conf (instead of the host's)\n"
        "  --cgroup-parent DIR    the container's cgroup is DIR/ID (relative: below nook's own)\n",
        f);
  run_flags_usage(f);
}

enum
{
  OPT_RM = 1000,
  OPT_NAME,
  OPT_ENV_FILE,
  OPT_ENTRYPOINT,
  OPT_HOSTNAME,
  OPT_READ_ONLY,
  OPT_NET,
  OPT_CGROUP_PARENT,
  OPT_ADD_HOST,
  OPT_DNS,
  OPT_RESTART,
  OPT_LOG_MAX_SIZE,
  OPT_LOG_MAX_FILES,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_SIG_PROXY,
  OPT_DETACH_KEYS,
};

/* A size with an optional b, k, m or g suffix (powers of 1024), as podman's. */
static int parse_size(const char *flag, const char *arg, uint64_t *ret)
{
  static const char units[] = "bkmg";
  _cleanup_free_ char *num = xstrdup(arg);
  size_t len = strlen(num);
  const char *u;
  uint64_t v;
  unsigned shift = 0;

  if (len > 1 && (u = strchr(units, tolower((unsigned char)num[len - 1]))) && *u)
    {
      shift = 10 * (unsigned)(u - units);
      num[len - 1] = '\0';
    }
  if (nook_parse_u64(num, &v) < 0 || v > (UINT64_MAX >> shift))
    return cli_nook_usage("run", "%s `%s`: not a size (a number with b, k, m or g)", flag, arg);
  *ret = v << shift;
  return 0;
}

static int parse_run_more(int c, const char *arg, struct run_opts *o)
{
  _cleanup_error_ struct nook_error *err = NULL;
  uint64_t v;
  int sig;

  switch (c)
    {
    case OPT_RESTART:
      if (nook_restart_parse(arg, &o->restart, &err) < 0)
        return cli_nook_usage("run", "%s", err->msg);
      return 0;
    case OPT_LOG_MAX_SIZE:
      return parse_size("--log-max-size", arg, &o->log_max_size);
    case OPT_LOG_MAX_FILES:
      if (nook_parse_u64(arg, &v) < 0 || v < 1 || v > 100)
        return cli_nook_usage("run", "--log-max-files `%s`: a number from 1 to 100", arg);
      o->log_max_files = (unsigned)v;
      return 0;
    case OPT_STOP_SIGNAL:
      if ((sig = nook_signal_parse(arg)) <= 0)
        return cli_nook_usage("run", "--stop-signal `%s`: not a signal", arg);
      o->stop_signal = sig;
      return 0;
    case OPT_STOP_TIMEOUT:
      if (nook_parse_u64(arg, &v) < 0 || v > 86400)
        return cli_nook_usage("run", "--stop-timeout `%s`: seconds, at most 86400", arg);
      o->stop_timeout = (unsigned)v;
      o->stop_timeout_set = true;
      return 0;
    case OPT_SIG_PROXY:
      if (!streq(arg, "true") && !streq(arg, "false"))
        return cli_nook_usage("run", "--sig-proxy `%s`: true or false", arg);
      o->no_sig_proxy = streq(arg, "false");
      return 0;
    case OPT_DETACH_KEYS:
      {
        char keys[16];
        size_t n;
        /* Checked now: a bad value found once attached would leave the container running. */
        if (nook_detach_keys_parse(arg, keys, &n, &err) < 0)
          return cli_nook_usage("run", "%s", err->msg);
      }
      o->detach_keys = arg;
      return 0;
    }
  return cli_nook_usage("run", "unknown option");
}

static int parse_run(int argc, char **argv, struct run_opts *o)
{
  static const struct option opts[] = {
    { "rm", no_argument, NULL, OPT_RM },
    { "name", required_argument, NULL, OPT_NAME },
    { "env", required_argument, NULL, 'e' },
    { "env-file", required_argument, NULL, OPT_ENV_FILE },
    { "workdir", required_argument, NULL, 'w' },
    { "user", required_argument, NULL, 'u' },
    { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
    { "hostname", required_argument, NULL, OPT_HOSTNAME },
    { "tty", no_argument, NULL, 't' },
    { "interactive", no_argument, NULL, 'i' },
    { "read-only", no_argument, NULL, OPT_READ_ONLY },
    { "net", required_argument, NULL, OPT_NET },
    { "network", required_argument, NULL, OPT_NET },
    { "publish", required_argument, NULL, 'p' },
    { "add-host", required_argument, NULL, OPT_ADD_HOST },
    { "dns", required_argument, NULL, OPT_DNS },
    { "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
    { "detach", no_argument, NULL, 'd' },
    { "restart", required_argument, NULL, OPT_RESTART },
    { "log-max-size", required_argument, NULL, OPT_LOG_MAX_SIZE },
    { "log-max-files", required_argument, NULL, OPT_LOG_MAX_FILES },
    { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
    { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
    { "sig-proxy", required_argument, NULL, OPT_SIG_PROXY },
    { "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
    { "privileged", no_argument, NULL, RUN_OPT_PRIVILEGED },
    { "security-opt", required_argument, NULL, RUN_OPT_SECURITY_OPT },
    { "cap-add", required_argument, NULL, RUN_OPT_CAP_ADD },
    { "cap-drop", required_argument, NULL, RUN_OPT_CAP_DROP },
    { "memory", required_argument, NULL, RUN_OPT_MEMORY },
    { "memory-swap", required_argument, NULL, RUN_OPT_MEMORY_SWAP },
    { "cpus", required_argument, NULL, RUN_OPT_CPUS },
    { "cpu-shares", required_argument, NULL, RUN_OPT_CPU_SHARES },
    { "pids-limit", required_argument, NULL, RUN_OPT_PIDS_LIMIT },
    { "ulimit", required_argument, NULL, RUN_OPT_ULIMIT },
    { "volume", required_argument, NULL, 'v' },
    { "mount", required_argument, NULL, RUN_OPT_MOUNT },
    { "tmpfs", required_argument, NULL, RUN_OPT_TMPFS },
    { "device", required_argument, NULL, RUN_OPT_DEVICE },
    { "label", required_argument, NULL, RUN_OPT_LABEL },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_error_ struct nook_error *err = NULL;
  int c;

  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:e:w:u:p:v:tihd", opts, NULL)) != -1)
    switch (c)
      {
      case OPT_RM: o->rm = true; break;
      case OPT_NAME: o->name = optarg; break;
      case 'e': nook_strv_push(&o->env, optarg); break;
      case OPT_ENV_FILE: nook_strv_push(&o->env_files, optarg); break;
      case 'w': o->workdir = optarg; break;
      case 'u': o->user = optarg; break;
      case OPT_ENTRYPOINT: o->entrypoint = optarg; o->entrypoint_set = true; break;
      case OPT_HOSTNAME: o->hostname = optarg; break;
      case 't': o->tty = true; break;
      case 'i': o->interactive = true; break;
      case OPT_READ_ONLY: o->read_only = true; break;
      case OPT_CGROUP_PARENT: o->cgroup_parent = optarg; break;
      case OPT_NET: o->network = optarg; break;
      case 'p': nook_strv_push(&o->ports, optarg); break;
      case OPT_ADD_HOST: nook_strv_push(&o->add_hosts, optarg); break;
      case OPT_DNS: nook_strv_push(&o->dns, optarg); break;
      case 'd': o->detach = true; break;
      case OPT_RESTART: case OPT_LOG_MAX_SIZE: case OPT_LOG_MAX_FILES: case OPT_STOP_SIGNAL:
      case OPT_STOP_TIMEOUT: case OPT_SIG_PROXY: case OPT_DETACH_KEYS:
        {
          int r = parse_run_more(c, optarg, o);
          if (r != 0)
            return r;
        }
        break;
      case 'v':
      case RUN_OPT_FIRST ... RUN_OPT_LAST:
        if (run_flags_parse(&o->flags, c, optarg, &err) < 0)
          return cli_nook_usage("run", "%s", err->msg);
        break;
      case 'h': run_usage(stdout); return -2;
      case ':': return cli_nook_usage("run", "option `%s` needs a value", argv[optind - 1]);
      default: return cli_nook_usage("run", "unknown option `%s`", argv[optind - 1]);
      }
  if (run_flags_check(&o->flags, &err) < 0)
    return cli_nook_usage("run", "%s", err->msg);
  if (optind >= argc)
    return cli_nook_usage("run", "missing IMAGE");
  o->image = argv[optind];
  if (optind + 1 < argc)
    o->cmd = argv + optind + 1;
  if (o->rm && o->restart.policy != NOOK_RESTART_NO)
    return cli_nook_usage("run", "--rm and --restart `%s` conflict: a removed container "
                                 "cannot be restarted", o->restart.policy == NOOK_RESTART_ALWAYS
                                                          ? "always" : "on-failure");
  if (o->workdir && o->workdir[0] != '/')
    return cli_nook_usage("run", "--workdir `%s` is not an absolute path", o->workdir);
  if (o->name && (!*o->name || strlen(o->name) > 128 || strspn(o->name,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(o->name)
      || !isalnum((unsigned char)o->name[0])))
    return cli_nook_usage("run", "--name `%s`: use letters, digits, `_`, `.` and `-`", o->name);
  return 0;
}

static int build_env(const struct run_opts *o, const struct image_config *ic, const char *hostname,
                     char ***ret, struct nook_error **err)
{
  _cleanup_strv_ char **env = NULL;
  _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", hostname);
  int r;

  verbs_env_set(&env, DEFAULT_PATH);
  for (size_t i = 0; ic->env && ic->env[i]; i++)
    verbs_env_set(&env, ic->env[i]);
  verbs_env_set(&env, h);
  if (o->tty)
    verbs_env_set(&env, "TERM=xterm");
  for (size_t i = 0; o->env_files && o->env_files[i]; i++)
    if ((r = verbs_env_add_file(&env, o->env_files[i], err)) < 0)
      return r;
  for (size_t i = 0; o->env && o->env[i]; i++)
    if ((r = verbs_env_add(&env, o->env[i], "--env", err)) < 0)
      return r;
  *ret = TAKE_PTR(env);
  return 0;
}

/* Entrypoint + Cmd, as docker: --entrypoint replaces the entrypoint (and drops the image's
 * Cmd), a COMMAND replaces Cmd. */
static int build_args(const struct run_opts *o, const struct image_config *ic, char ***ret,
                      struct nook_error **err)
{
  _cleanup_strv_ char **args = NULL;
  char *const *cmd = o->cmd ? o->cmd : (o->entrypoint_set ? NULL : ic->cmd);

  if (o->entrypoint_set && *o->entrypoint)
    nook_strv_push(&args, o->entrypoint);
  else if (!o->entrypoint_set)
    for (size_t i = 0; ic->entrypoint && ic->entrypoint[i]; i++)
      nook_strv_push(&args, ic->entrypoint[i]);
  for (size_t i = 0; cmd && cmd[i]; i++)
    nook_strv_push(&args, cmd[i]);
  if (!args)
    return nook_error_setx(err, EINVAL, "no command: the image `%s` has no Entrypoint or Cmd, "
                                        "give one after the image",
                           o->image);
  *ret = TAKE_PTR(args);
  return 0;
}

/* Writes config.json of the bundle STORAGE/containers/ID for the mounted image. */
static int write_bundle(struct image_store *s, const struct run_opts *o, const struct image *img,
                        const struct ctr *c, const struct run_network *net,
                        struct nook_error **err)
{
  const char *id = c->id;
  _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->path, id);
  _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", dir), *json = NULL, *hostname = NULL;
  _cleanup_free_ char *cgroup = NULL;
  _cleanup_strv_ char **env = NULL, **args = NULL, **volumes = NULL;
  _cleanup_free_ gid_t *gids = NULL;
  _cleanup_close_ int rootfd = -1;
  const struct image_config *ic = img->config;
  struct nook_run_config rc = { 0 };
  size_t ngids = 0;
  int r;

  rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return nook_error_set(err, errno, "open `%s`", rootfs);
  r = image_user_resolve(rootfd, o->user ? o->user : ic->user, &rc.uid, &rc.gid, &gids, &ngids, err);
  if (r < 0)
    return nook_error_prefix(err, "%s", o->user ? "--user" : "the image's User");
  hostname = xstrdup(net->hostname);
  if ((r = build_env(o, ic, hostname, &env, err)) < 0 || (r = build_args(o, ic, &args, err)) < 0)
    return r;
  rc.root_path = "rootfs";
  rc.readonly = o->read_only;
  rc.args = args;
  rc.env = env;
  rc.cwd = o->workdir ? o->workdir : ic->working_dir && *ic->working_dir ? ic->working_dir : "/";
  rc.gids = gids;
  rc.ngids = ngids;
  rc.terminal = o->tty;
  rc.hostname = hostname;
  rc.host_network = net->host;
  rc.netns_path = net->netns_path;
  rc.file_sources = net->file_sources;
  rc.file_destinations = net->file_destinations;
  rc.stop_signal = ic->stop_signal;
  rc.annotations = ic->labels; /* the image's Labels, as annotations */
  run_flags_apply(&o->flags, &rc);
  if ((r = image_volumes_prepare(s, img, id, &volumes, err)) < 0)
    return r;
  rc.bind_sources = volumes;
  rc.bind_destinations = ic->volumes;
  if (o->cgroup_parent)
    rc.cgroups_path = cgroup = xasprintf("%s/%s", o->cgroup_parent, id);
  json = nook_spec_run_json(&rc);
  _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s`", dir);
  return nook_write_file_atomic_at(dfd, "config.json", json, strlen(json), 0600, err);
}

/* The container's process, for run.json (ps, inspect). */
static char **run_command(const struct run_opts *o, const struct image_config *ic)
{
  _cleanup_error_ struct nook_error *err = NULL;
  char **args = NULL;

  if (build_args(o, ic, &args, &err) < 0)
    return NULL;
  return args;
}

static void exec_args(const struct nook_globals *g, char *buf[8])
{
  size_t n = 0;

  buf[n++] = (char *)"--root";
  buf[n++] = (char *)g->root;
  buf[n++] = (char *)"--storage";
  buf[n++] = (char *)g->storage;
  if (g->debug)
    buf[n++] = (char *)"--debug";
  buf[n] = NULL;
}

/* The supervisor's first message: NOOK_MSG_STARTED, or NOOK_MSG_ERROR with the create's
 * error (errno, text). */
static int spawn_result(int sock, struct nook_error **err)
{
  char buf[NOOK_MSG_MAX];
  ssize_t n;
  int32_t e;

  do
    n = recv(sock, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(err, errno, "read from the supervisor");
  if (n == 0)
    return nook_error_setx(err, ECONNRESET, "the supervisor exited before the container started");
  buf[n] = '\0';
  if (buf[0] == NOOK_MSG_STARTED)
    return 0;
  if (buf[0] == NOOK_MSG_ERROR && n >= 1 + (ssize_t)sizeof e)
    {
      memcpy(&e, buf + 1, sizeof e);
      return nook_error_setx(err, e > 0 ? e : EIO, "%s", buf + 1 + sizeof e);
    }
  return nook_error_setx(err, EPROTO, "unexpected message `%c` from the supervisor", buf[0]);
}

/* Spawns the supervisor of a prepared container; attached, relays its stdio until it exits. */
static int start_spawn(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
                       const struct run_opts *o, bool attach, int *ret_code,
                       struct nook_error **err)
{
  _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->path, c->id);
  _cleanup_close_ int sock = -1;
  char *args[8];
  struct nook_supervisor_opts so = {
    .id = c->id,
    .dir = dir,
    .tty = c->tty,
    .stdin_open = c->interactive,
    .log_max_size = c->log_max_size,
    .log_max_files = c->log_max_files ? c->log_max_files : 1,
    .restart = c->restart,
    .stop_signal = c->stop_signal,
    .exec_args = args,
  };
  struct nook_attach_opts ao = {
    .stdin = c->interactive,
    .tty = c->tty,
    .sig_proxy = !(o && o->no_sig_proxy),
    .detach_keys = o ? o->detach_keys : NULL,
  };
  struct nook_msg_exit ex = { 0 };
  bool detached = false;
  int r;

  exec_args(g, args);
  if ((r = nook_supervisor_spawn(&so, &sock, err)) < 0 || (r = spawn_result(sock, err)) < 0)
    return r;
  *ret_code = 0;
  if (!attach)
    return 0;
  r = nook_attach_run(sock, &ao, &ex, &detached, err);
  if (r < 0)
    return r;
  if (!detached)
    *ret_code = ex.exit_code;
  return 0;
}

/* Whether path is the root of a mount (the container's overlay). */
static bool is_mount_root(const char *path)
{
  struct statx stx;

  return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) == 0
         && (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
         && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Mounts the rootfs (unless it is) and sets the network up. */
static int start_prepare(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
                         const struct image *img, struct run_network *ret_net,
                         struct nook_error **err)
{
  _cleanup_free_ char *rootfs = xasprintf("%s/containers/%s/rootfs", s->path, c->id);
  int r;

  if (img && !is_mount_root(rootfs))
    {
      r = image_rootfs_mount(s, img, c->id, false, NULL, err);
      if (r < 0)
        return r;
      NOOK_FAULT_POINT("after-rootfs-mount");
    }
  struct run_network_config nc = {
    .id = c->id, .name = c->name, .network = c->network, .ports = c->ports,
    .hostname = c->hostname, .add_hosts = c->add_hosts, .dns = c->dns,
  };

  if ((r = nook_state_alias_set(g->root, c->name, c->id, err)) < 0)
    return r;
  return run_network_setup(g, s, &nc, ret_net, err);
}

int ctr_start(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
              bool attach, int *ret_code, struct nook_error **err)
{
  _cleanup_image_ struct image *img = NULL;
  _cleanup_(run_network_done) struct run_network net = { 0 };
  int r;

  /* Shared: a concurrent prune waits until the layers are recorded as in use. */
  if ((r = image_store_lock(s, false, err)) < 0)
    return r;
  r = image_open(s, c->image_id, &img, err);
  if (r == 0)
    r = start_prepare(g, s, c, img, &net, err);
  image_store_unlock(s);
  if (r < 0)
    {
      struct nook_error *e2 = NULL;
      ctr_cleanup(g, s, c->id, false, &e2);
      nook_error_freep(&e2);
      return nook_error_prefix(err, "container `%s`", c->name);
    }
  return start_spawn(g, s, c, NULL, attach, ret_code, err);
}

/* podman's codes for a process that could not be started: 127 not found, 126 not
 * executable; anything else of nook's is 125. */
static int run_fail(struct nook_error *err)
{
  int code = NOOK_EXIT_ERROR;

  if (err && err->msg && strstr(err->msg, "exec `"))
    code = err->errnum == ENOENT ? NOOK_EXIT_NOT_FOUND : NOOK_EXIT_CANNOT_EXEC;
  cli_nook_fail(err);
  return code;
}

/* Fills the record of a new container from the flags and the image. */
static void run_record(struct ctr *c, const struct run_opts *o, const struct image *img)
{
  int sig = o->stop_signal;

  c->image = xstrdup(o->image);
  c->image_id = xstrdup(img->entry.config_digest);
  c->created = nook_time_rfc3339();
  c->command = run_command(o, img->config);
  c->rm = o->rm;
  c->tty = o->tty;
  c->interactive = o->interactive;
  c->restart = o->restart;
  c->log_max_size = o->log_max_size;
  c->log_max_files = o->log_max_files ? o->log_max_files : 1;
  if (!sig && img->config->stop_signal)
    sig = nook_signal_parse(img->config->stop_signal);
  c->stop_signal = sig > 0 ? sig : SIGTERM;
  c->stop_timeout = o->stop_timeout_set ? o->stop_timeout : 10;
  c->hostname = o->hostname ? xstrdup(o->hostname) : NULL;
  c->add_hosts = nook_strv_dup(o->add_hosts);
  c->dns = nook_strv_dup(o->dns);
  c->network = xstrdup(o->network ? o->network : run_network_default());
  c->ports = nook_strv_dup(o->ports);
}

/* Makes the container: directory and name, rootfs, network, config.json, run.json. */
static int run_make(const struct nook_globals *g, struct image_store *s, const struct run_opts *o,
                    struct ctr *c, struct nook_error **err)
{
  _cleanup_image_ struct image *img = NULL;
  _cleanup_(run_network_done) struct run_network net = { 0 };
  int r;

  /* Shared: a concurrent prune waits until the layers are recorded as in use. */
  if ((r = image_store_lock(s, false, err)) < 0)
    return r;
  if ((r = cli_image_open(s, o->image, &img, err)) < 0
      || (r = ctr_create(s, o->name, c, err)) < 0)
    {
      image_store_unlock(s);
      return r;
    }
  run_record(c, o, img);
  r = start_prepare(g, s, c, img, &net, err);
  image_store_unlock(s);
  if (r == 0)
    r = write_bundle(s, o, img, c, &net, err);
  if (r == 0)
    r = ctr_save(s, c, err);
  return r;
}

/* A container that could not be made or started goes entirely. */
static void run_undo(const struct nook_globals *g, struct image_store *s, const struct ctr *c)
{
  struct nook_error *err = NULL;

  if (ctr_cleanup(g, s, c->id, false, &err) < 0)
    nook_error_freep(&err);
  if (image_rootfs_umount(s, c->id, true, &err) < 0)
    nook_error_freep(&err);
  if (ctr_release_name(s, c->name, c->id, &err) < 0)
    nook_error_freep(&err);
  /* ctr_cleanup removes the alias only once run.json names it */
  if (c->name)
    nook_state_alias_remove(g->root, c->name, c->id);
}

int cmd_nook_run(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_(nook_strv_freep) char **env = NULL, **env_files = NULL;
  _cleanup_strv_ char **ports = NULL, **add_hosts = NULL, **dns = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_ctr_ struct ctr *c = xcalloc(1, sizeof *c);
  _cleanup_free_ char *joined = NULL;
  struct run_network_config nc;
  struct run_opts o = { 0 };
  bool made;
  int r, status = 0;

  r = parse_run(argc, argv, &o);
  env = o.env;
  env_files = o.env_files;
  ports = o.ports;
  add_hosts = o.add_hosts;
  dns = o.dns;
  if (r != 0)
    {
      run_flags_free(&o.flags);
      return r == -2 ? 0 : r;
    }
  /* Before anything else: the re-exec repeats what was done (CVE-2019-5736). */
  if (nook_cloned_binary_ensure(&err) < 0 || image_store_open(g->storage, &s, &err) < 0)
    goto fail;
  if ((r = nook_mkdir_p(g->root, 0700, &err)) < 0)
    {
      nook_error_prefix(&err, "--root");
      goto fail;
    }
  if (o.network && nook_has_prefix(o.network, "container:"))
    {
      char cid[65];
      if (ctr_lookup(s, o.network + strlen("container:"), cid, &err) < 0)
        {
          nook_error_prefix(&err, "--net `%s`", o.network);
          goto fail;
        }
      o.network = joined = xasprintf("container:%s", cid);
    }
  nc = (struct run_network_config){ .name = o.name, .network = o.network, .ports = o.ports,
                                    .hostname = o.hostname, .add_hosts = o.add_hosts,
                                    .dns = o.dns };
  if (run_network_check(g, s, &nc, &err) < 0)
    goto fail;
  r = run_make(g, s, &o, c, &err);
  made = r == 0;
  if (r == 0)
    r = start_spawn(g, s, c, &o, !o.detach, &status, &err);
  /* Without --rm a container that failed to start stays, as podman's (ps -a shows it). */
  if (r < 0 && c->id[0] && (!made || c->rm))
    run_undo(g, s, c);
  if (r == 0 && o.detach)
    puts(c->id);
  run_flags_free(&o.flags);
  if (r < 0)
    return run_fail(TAKE_PTR(err));
  return status;
fail:
  run_flags_free(&o.flags);
  return cli_nook_fail(TAKE_PTR(err));
}

/* Removes a container: stopped first with -f (a running one is refused without). */
static int rm_one(const struct nook_globals *g, struct image_store *s, const char *what, bool force,
                  char ret_id[65], struct nook_error **err)
{
  _cleanup_ctr_ struct ctr *c = NULL;
  struct ctr_status st;
  int r;

  if ((r = ctr_lookup(s, what, ret_id, err)) < 0)
    return r;
  if (ctr_load(s, ret_id, &c, NULL) < 0)
    c = NULL; /* a run that crashed before its record: only the directory is left */
  if (c && (r = ctr_status_get(g, s, ret_id, &st, err)) < 0)
    return r;
  if (c && st.state != CTR_EXITED && st.state != CTR_CREATED)
    {
      if (!force)
        return nook_error_setx(err, EBUSY, "container `%s` is %s: stop it first, or rm -f",
                               what, ctr_state_to_string(st.state));
      if ((r = ctr_stop(g, s, ret_id, 0, err)) < 0)
        return r;
    }
  if ((r = ctr_cleanup(g, s, ret_id, false, err)) < 0)
    return r;
  if (c && (r = ctr_release_name(s, c->name, ret_id, err)) < 0)
    return r;
  return image_rootfs_umount(s, ret_id, true, err);
}

int cmd_nook_rm(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  bool force = false;
  int c, rc = 0;

  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:fh", opts, NULL)) != -1)
    switch (c)
      {
      case 'f': force = true; break;
      case 'h':
        puts("usage: nook rm [-f] CONTAINER...\n\nRemove containers (-f: stop them first).");
        return 0;
      default: return cli_nook_usage("rm", "unknown option `%s`", argv[optind - 1]);
      }
  if (optind >= argc)
    return cli_nook_usage("rm", "missing CONTAINER");
  {
    struct nook_error *err = NULL;
    if (image_store_open(g->storage, &s, &err) < 0)
      return cli_nook_fail(err);
  }
  for (int i = optind; i < argc; i++)
    {
      struct nook_error *err = NULL;
      char id[65];
      if (rm_one(g, s, argv[i], force, id, &err) < 0)
        {
          rc = cli_nook_fail(err);
          continue;
        }
      puts(id);
    }
  return rc;
}
