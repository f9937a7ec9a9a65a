/* `nook exec`: a new process in a running container of `nook run` (runtime/exec.h), with the
 * flags and exit codes of podman exec. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/exec.h"

struct exec_opts
{
  bool interactive, tty, detach, privileged;
  const char *user, *workdir;
  char **env;       /* -e and --env-file, in order, as KEY=VALUE */
  const char *name;
  char **cmd;
};

static void exec_usage(void)
{
  fputs("usage: nook exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
        "Run a command in a running container and return its exit code (126: it cannot be\n"
        "executed, 127: it was not found, 125: nook's own error).\n\n"
        "  -i, --interactive       relay our input (else the process reads /dev/null)\n"
        "  -t, --tty               allocate a terminal\n"
        "  -d, --detach            run it in the background; print nothing\n"
        "  -e, --env KEY[=VALUE]   set a variable (without =VALUE: ours); added to the\n"
        "                          container's\n"
        "      --env-file FILE     read KEY=VALUE lines\n"
        "  -u, --user USER[:GROUP] user, by name (the container's /etc/passwd) or id\n"
        "  -w, --workdir DIR       working directory (absolute)\n"
        "      --privileged        every capability\n",
        stdout);
}

static int parse_exec(int argc, char **argv, struct exec_opts *o)
{
  enum
  {
    OPT_ENV_FILE = 1000,
    OPT_PRIVILEGED,
  };
  static const struct option opts[] = {
    { "interactive", no_argument, NULL, 'i' },
    { "tty", no_argument, NULL, 't' },
    { "detach", no_argument, NULL, 'd' },
    { "env", required_argument, NULL, 'e' },
    { "env-file", required_argument, NULL, OPT_ENV_FILE },
    { "user", required_argument, NULL, 'u' },
    { "workdir", required_argument, NULL, 'w' },
    { "privileged", no_argument, NULL, OPT_PRIVILEGED },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_error *err = NULL;
  int c, r = 0;

  while ((c = verbs_getopt(argc, argv, "itde:u:w:h", opts, "exec")) != -1)
    {
      switch (c)
        {
        case 'i': o->interactive = true; break;
        case 't': o->tty = true; break;
        case 'd': o->detach = true; break;
        case 'e': r = verbs_env_add(&o->env, optarg, "--env", &err); break;
        case OPT_ENV_FILE: r = verbs_env_add_file(&o->env, optarg, &err); break;
        case 'u': o->user = optarg; break;
        case 'w': o->workdir = optarg; break;
        case OPT_PRIVILEGED: o->privileged = true; break;
        case 'h': exec_usage(); return -1;
        default: return NOOK_EXIT_ERROR;
        }
      if (r < 0)
        return verbs_usage_from("exec", err);
    }
  if (optind >= argc)
    return cli_nook_usage("exec", "missing CONTAINER");
  if (optind + 1 >= argc)
    return cli_nook_usage("exec", "missing COMMAND");
  if (o->workdir && o->workdir[0] != '/')
    return cli_nook_usage("exec", "--workdir `%s` is not an absolute path", o->workdir);
  o->name = argv[optind];
  o->cmd = argv + optind + 1;
  return 0;
}

/* Every capability this kernel and libcap know, by name. */
static char **all_caps(void)
{
  char **v = NULL;

  for (cap_value_t i = 0; i < (cap_value_t)cap_max_bits(); i++)
    {
      char *name = cap_to_name(i);
      if (name)
        nook_strv_push(&v, name);
      cap_free(name);
    }
  return v;
}

/* -u, resolved in the container's root filesystem as `nook run -u` does. */
static int resolve_user(struct image_store *s, const char *id, const char *user,
                        struct nook_exec_opts *eo, gid_t **ret_gids, struct nook_error **err)
{
  _cleanup_free_ char *rel = xasprintf("containers/%s/rootfs", id);
  _cleanup_close_ int rootfd = openat(s->dirfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
  size_t ngids = 0;
  int r;

  if (rootfd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, rel);
  r = image_user_resolve(rootfd, user, &eo->uid, &eo->gid, ret_gids, &ngids, err);
  if (r < 0)
    return nook_error_prefix(err, "--user");
  eo->user_set = eo->gid_set = true;
  eo->additional_gids = *ret_gids;
  eo->n_additional_gids = ngids;
  return 0;
}

/* fds 0-2 from /dev/null: 0 only (no -i), or all three (-d: podman prints nothing of a
 * detached process).  *ret_saved_err keeps our stderr for our own messages. */
static int redirect_stdio(bool all, int *ret_saved_err, struct nook_error **err)
{
  _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);

  if (null < 0)
    return nook_error_set(err, errno, "open /dev/null");
  if (all && (*ret_saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0)
    return nook_error_set(err, errno, "dup stderr");
  for (int fd = 0; fd <= (all ? 2 : 0); fd++)
    if (dup2(null, fd) < 0)
      return nook_error_set(err, errno, "redirect fd %d", fd);
  return 0;
}

static int exec_run(const struct nook_globals *g, struct exec_opts *o, int *ret_status,
                    int *saved_err, struct nook_error **err)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_free_ gid_t *gids = NULL;
  _cleanup_strv_ char **caps = NULL;
  struct nook_exec_opts eo = { .root = g->root };
  struct ctr_status st;
  int r;

  if ((r = image_store_open(g->storage, &s, err)) < 0 || (r = verbs_ctr_find(s, o->name, &c, err)) < 0
      || (r = ctr_status_get(g, s, c->id, &st, err)) < 0)
    return r;
  if (st.state == CTR_PAUSED)
    return nook_error_setx(err, EINVAL, "container `%s` is paused: unpause it first", o->name);
  if (st.state != CTR_RUNNING)
    return nook_error_setx(err, EINVAL, "container `%s` is not running", o->name);
  if (o->user && (r = resolve_user(s, c->id, o->user, &eo, &gids, err)) < 0)
    return r;
  if (o->privileged)
    eo.caps = caps = all_caps();
  eo.id = c->id;
  eo.args = o->cmd;
  eo.env = o->env;
  eo.cwd = o->workdir;
  eo.tty = o->tty;
  eo.detach = o->detach;
  if ((!o->interactive || o->detach) && (r = redirect_stdio(o->detach, saved_err, err)) < 0)
    return r;
  return nook_container_exec(&eo, ret_status, err);
}

int cmd_nook_exec(const struct nook_globals *g, int argc, char **argv)
{
  struct exec_opts o = { 0 };
  struct nook_error *err = NULL;
  int r, status = 0, saved_err = -1;

  r = parse_exec(argc, argv, &o);
  if (r != 0)
    {
      nook_strv_free(o.env);
      return r < 0 ? 0 : r;
    }
  r = exec_run(g, &o, &status, &saved_err, &err);
  nook_strv_free(o.env);
  if (saved_err >= 0)
    {
      dup2(saved_err, STDERR_FILENO);
      close(saved_err);
    }
  return r < 0 ? cli_nook_fail(err) : status;
}
