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
#include <sys/random.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run-flags.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/cloned-binary.h"
#include "runtime/container.h"
#include "runtime/spec.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_opts
{
  bool rm, tty, interactive, read_only, host_network;
  const char *name, *workdir, *user, *entrypoint, *hostname, *cgroup_parent;
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
        "Run a command in a new container from IMAGE, in the foreground, and return its exit code.\n\n"
        "  --rm                   remove the container when it exits\n"
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
        "  --net none|host        network: none (only lo, the default for now) or the host's\n"
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
};

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
    { "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
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
  while ((c = getopt_long(argc, argv, "+:e:w:u:v:tih", opts, NULL)) != -1)
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
      case OPT_NET:
        if (streq(optarg, "host"))
          o->host_network = true;
        else if (!streq(optarg, "none"))
          return cli_nook_usage("run", "--net `%s`: only `none` and `host` are supported", optarg);
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
  if (o->workdir && o->workdir[0] != '/')
    return cli_nook_usage("run", "--workdir `%s` is not an absolute path", o->workdir);
  if (o->name && (!*o->name || strlen(o->name) > 128 || strspn(o->name,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(o->name)
      || !isalnum((unsigned char)o->name[0])))
    return cli_nook_usage("run", "--name `%s`: use letters, digits, `_`, `.` and `-`", o->name);
  return 0;
}

/* Sets KEY=VALUE in env, replacing an earlier KEY. */
static void env_set(char ***env, const char *kv)
{
  size_t klen = strcspn(kv, "=");

  for (size_t i = 0; *env && (*env)[i]; i++)
    if (strncmp((*env)[i], kv, klen) == 0 && (*env)[i][klen] == '=')
      {
        free((*env)[i]);
        (*env)[i] = xstrdup(kv);
        return;
      }
  nook_strv_push(env, kv);
}

/* -e KEY=VALUE, or -e KEY for the host's value (skipped when the host has none). */
static int env_add_flag(char ***env, const char *arg, const char *where, struct nook_error **err)
{
  const char *v;
  _cleanup_free_ char *kv = NULL;

  if (!*arg || *arg == '=')
    return nook_error_setx(err, EINVAL, "%s: `%s` is not KEY=VALUE", where, arg);
  if (strchr(arg, '='))
    {
      env_set(env, arg);
      return 0;
    }
  if ((v = getenv(arg)))
    {
      kv = xasprintf("%s=%s", arg, v);
      env_set(env, kv);
    }
  return 0;
}

static int env_add_file(char ***env, const char *file, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  char *save = NULL;
  int r;

  r = nook_read_file_at(AT_FDCWD, file, 1u << 20, &text, NULL, err);
  if (r < 0)
    return nook_error_prefix(err, "--env-file");
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      line += strspn(line, " \t");
      if (!*line || *line == '#')
        continue;
      _cleanup_free_ char *where = xasprintf("--env-file `%s`", file);
      if ((r = env_add_flag(env, line, where, err)) < 0)
        return r;
    }
  return 0;
}

static int build_env(const struct run_opts *o, const struct image_config *ic, const char *hostname,
                     char ***ret, struct nook_error **err)
{
  _cleanup_strv_ char **env = NULL;
  _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", hostname);
  int r;

  env_set(&env, DEFAULT_PATH);
  for (size_t i = 0; ic->env && ic->env[i]; i++)
    env_set(&env, ic->env[i]);
  env_set(&env, h);
  if (o->tty)
    env_set(&env, "TERM=xterm");
  for (size_t i = 0; o->env_files && o->env_files[i]; i++)
    if ((r = env_add_file(&env, o->env_files[i], err)) < 0)
      return r;
  for (size_t i = 0; o->env && o->env[i]; i++)
    if ((r = env_add_flag(&env, o->env[i], "--env", err)) < 0)
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

static void random_id(char ret[65])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char b[32];

  if (getrandom(b, sizeof b, 0) != sizeof b)
    abort(); /* the kernel's entropy is initialised long before containers run */
  for (size_t i = 0; i < sizeof b; i++)
    {
      ret[2 * i] = hex[b[i] >> 4];
      ret[2 * i + 1] = hex[b[i] & 15];
    }
  ret[64] = '\0';
}

/* The id of the container NAME or ID (or unique id prefix) in the store, or ENOENT. */
static int container_lookup(struct image_store *s, const char *what, char **ret_id,
                            struct nook_error **err)
{
  _cleanup_close_ int fd = openat(s->dirfd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  _cleanup_(nook_closedirp) DIR *d = NULL;
  _cleanup_free_ char *found = NULL;
  size_t wlen = strlen(what);
  bool ambiguous = false;
  struct dirent *de;

  if (fd < 0 || !(d = fdopendir(fd)))
    return nook_error_set(err, errno, "open `%s/containers`", s->path);
  fd = -1;
  while ((de = readdir(d)))
    {
      _cleanup_free_ char *name = NULL, *path = NULL;
      if (de->d_name[0] == '.')
        continue;
      path = xasprintf("%s/name", de->d_name);
      if (nook_read_file_at(dirfd(d), path, 4096, &name, NULL, NULL) == 0)
        name[strcspn(name, "\n")] = '\0';
      if (streq(name, what) || streq(de->d_name, what))
        {
          *ret_id = xstrdup(de->d_name);
          return 0;
        }
      if (wlen >= 4 && strncmp(de->d_name, what, wlen) == 0)
        {
          ambiguous = found != NULL;
          free(found);
          found = xstrdup(de->d_name);
        }
    }
  if (ambiguous)
    return nook_error_setx(err, EINVAL, "container id prefix `%s` is ambiguous", what);
  if (!found)
    return nook_error_setx(err, ENOENT, "no container `%s`", what);
  *ret_id = TAKE_PTR(found);
  return 0;
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

/* Writes config.json of the bundle STORAGE/containers/ID for the mounted image. */
static int write_bundle(struct image_store *s, const struct run_opts *o, const struct image *img,
                        const char *id, struct nook_error **err)
{
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
  hostname = o->hostname ? xstrdup(o->hostname) : xstrndup(id, 12);
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
  rc.host_network = o->host_network;
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
  if (o->name && (r = nook_write_file_atomic_at(dfd, "name", o->name, strlen(o->name), 0600, err)) < 0)
    return r;
  return nook_write_file_atomic_at(dfd, "config.json", json, strlen(json), 0600, err);
}

static int run_container(const struct nook_globals *g, struct image_store *s,
                         const struct run_opts *o, const struct image *img, const char *id,
                         int *ret_status, struct nook_error **err)
{
  _cleanup_free_ char *bundle = xasprintf("%s/containers/%s", s->path, id);
  struct nook_create_opts co = {
    .root = g->root, .id = id, .bundle = bundle, .keep = !o->rm,
  };
  int r;

  r = write_bundle(s, o, img, id, err);
  if (r < 0)
    return r;
  r = nook_mkdir_p(g->root, 0700, err);
  if (r < 0)
    return nook_error_prefix(err, "--root");
  /* Without -i the container's stdin is /dev/null, as podman's. */
  if (!o->interactive && !o->tty)
    {
      _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null < 0 || dup2(null, STDIN_FILENO) < 0)
        return nook_error_set(err, errno, "open /dev/null");
    }
  return nook_container_run(&co, ret_status, err);
}

int cmd_nook_run(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_(nook_strv_freep) char **env = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_image_ struct image *img = NULL;
  _cleanup_free_ char *other = NULL;
  struct run_opts o = { 0 };
  char id[65];
  int r, status = 0;

  r = parse_run(argc, argv, &o);
  env = o.env;
  if (r != 0)
    {
      nook_strv_free(o.env_files);
      run_flags_free(&o.flags);
      return r == -2 ? 0 : r;
    }
  /* Before anything else: the re-exec repeats what was done (CVE-2019-5736). */
  if (nook_cloned_binary_ensure(&err) < 0 || image_store_open(g->storage, &s, &err) < 0)
    goto fail;
  if (o.name && container_lookup(s, o.name, &other, NULL) == 0)
    {
      nook_error_setx(&err, EEXIST, "the name `%s` is in use by container %.12s", o.name, other);
      goto fail;
    }
  /* Shared: a concurrent prune waits until the layers are recorded as in use. */
  if (image_store_lock(s, false, &err) < 0 || cli_image_open(s, o.image, &img, &err) < 0)
    goto fail;
  random_id(id);
  r = image_rootfs_mount(s, img, id, false, NULL, &err);
  image_store_unlock(s);
  if (r < 0)
    {
      image_rootfs_umount(s, id, true, NULL);
      goto fail;
    }
  r = run_container(g, s, &o, img, id, &status, &err);
  /* The stopped container keeps its upper layer (podman's `run` without --rm). */
  image_rootfs_umount(s, id, o.rm || r < 0, NULL);
  nook_strv_free(o.env_files);
  run_flags_free(&o.flags);
  if (r < 0)
    return run_fail(TAKE_PTR(err));
  return status;
fail:
  nook_strv_free(o.env_files);
  run_flags_free(&o.flags);
  return cli_nook_fail(TAKE_PTR(err));
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
      _cleanup_free_ char *id = NULL;
      struct nook_error *err = NULL;
      int r = container_lookup(s, argv[i], &id, &err);
      if (r >= 0)
        {
          r = nook_container_delete(g->root, id, force, &err);
          if (r == -ENOENT)
            {
              nook_error_freep(&err); /* a crashed run: no state, only the filesystem */
              r = 0;
            }
        }
      if (r >= 0)
        r = image_rootfs_umount(s, id, true, &err);
      if (r < 0)
        {
          rc = cli_nook_fail(err);
          continue;
        }
      puts(id);
    }
  return rc;
}
