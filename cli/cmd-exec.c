/* exec: runc's flags; the process itself is put together in runtime/exec.c. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/cloned-binary.h"
#include "runtime/exec.h"
#include "runtime/process.h"

enum
{
  OPT_PROCESS = 1000,
  OPT_TTY,
  OPT_CONSOLE_SOCKET,
  OPT_CWD,
  OPT_ENV,
  OPT_USER,
  OPT_ADDITIONAL_GIDS,
  OPT_CAP,
  OPT_NO_NEW_PRIVS,
  OPT_DETACH,
  OPT_PID_FILE,
  OPT_PRESERVE_FDS,
  OPT_IGNORE_PAUSED,
  OPT_APPARMOR,
  OPT_PROCESS_LABEL,
  OPT_CGROUP,
  OPT_HELP,
};

static const struct option opts[] = {
  { "process", required_argument, NULL, OPT_PROCESS },
  { "p", required_argument, NULL, OPT_PROCESS },
  { "tty", no_argument, NULL, OPT_TTY },
  { "t", no_argument, NULL, OPT_TTY },
  { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
  { "cwd", required_argument, NULL, OPT_CWD },
  { "env", required_argument, NULL, OPT_ENV },
  { "e", required_argument, NULL, OPT_ENV },
  { "user", required_argument, NULL, OPT_USER },
  { "u", required_argument, NULL, OPT_USER },
  { "additional-gids", required_argument, NULL, OPT_ADDITIONAL_GIDS },
  { "g", required_argument, NULL, OPT_ADDITIONAL_GIDS },
  { "cap", required_argument, NULL, OPT_CAP },
  { "c", required_argument, NULL, OPT_CAP },
  { "no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS },
  { "detach", no_argument, NULL, OPT_DETACH },
  { "d", no_argument, NULL, OPT_DETACH },
  { "pid-file", required_argument, NULL, OPT_PID_FILE },
  { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
  { "ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED },
  { "apparmor", required_argument, NULL, OPT_APPARMOR },
  { "process-label", required_argument, NULL, OPT_PROCESS_LABEL },
  { "cgroup", required_argument, NULL, OPT_CGROUP },
  { "help", no_argument, NULL, OPT_HELP },
  { "h", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

static void usage(void)
{
  printf("usage: nook oci exec [OPTIONS] ID COMMAND [ARG...]\n"
         "       nook oci exec [OPTIONS] --process FILE ID\n\n"
         "Runs a process in a created or running container, with the process of its config.json\n"
         "changed by the options; in the foreground, exits with the process's exit code.\n\n"
         "  -p, --process FILE         the process as runtime-spec JSON\n"
         "  -t, --tty                  give the process a pty\n"
         "  --console-socket PATH      unix socket to receive the pty master\n"
         "  --cwd DIR                  working directory in the container\n"
         "  -e, --env NAME=VALUE       set an environment variable (repeatable)\n"
         "  -u, --user UID[:GID]       user (and group) to run as\n"
         "  -g, --additional-gids GID  add a supplementary group (repeatable)\n"
         "  -c, --cap CAP              add a capability to every set (repeatable)\n"
         "  --no-new-privs             set no_new_privs\n"
         "  --apparmor PROFILE         AppArmor profile\n"
         "  --process-label LABEL      SELinux label\n"
         "  -d, --detach               return once the process runs\n"
         "  --pid-file FILE            write the process's pid to FILE\n"
         "  --preserve-fds N           pass N more fds (3..3+N-1) to the process\n"
         "  --ignore-paused            exec in a paused container too\n");
}

/* UID[:GID], numbers as runc takes them. */
static int parse_user(const char *s, struct nook_exec_opts *o)
{
  _cleanup_free_ char *copy = xstrdup(s);
  char *colon = strchr(copy, ':');
  uint64_t uid, gid = 0;

  if (colon)
    *colon = '\0';
  if (nook_parse_u64(copy, &uid) < 0 || uid >= UINT32_MAX
      || (colon && (nook_parse_u64(colon + 1, &gid) < 0 || gid >= UINT32_MAX)))
    return cli_usage_error("exec", "--user: `%s` is not UID[:GID]", s);
  o->user_set = true;
  o->uid = (uid_t)uid;
  o->gid_set = colon != NULL;
  o->gid = (gid_t)gid;
  return 0;
}

static int add_gid(const char *s, gid_t **gids, size_t *n)
{
  uint64_t v;

  if (nook_parse_u64(s, &v) < 0 || v >= UINT32_MAX)
    return cli_usage_error("exec", "--additional-gids: `%s` is not a group id", s);
  *gids = xrealloc(*gids, (*n + 1) * sizeof(gid_t));
  (*gids)[(*n)++] = (gid_t)v;
  return 0;
}

/* The options that take a value and need checking; the rest are stored as they are. */
static int parse_value(int c, const char *v, struct nook_exec_opts *o, char ***env, char ***caps,
                       gid_t **gids)
{
  switch (c)
    {
    case OPT_CWD:
      if (v[0] != '/')
        return cli_usage_error("exec", "--cwd: must be an absolute path, got `%s`", v);
      o->cwd = v;
      return 0;
    case OPT_ENV:
      if (v[0] == '=' || strchr(v, '=') == NULL)
        return cli_usage_error("exec", "--env: expected `NAME=value`, got `%s`", v);
      nook_strv_push(env, v);
      return 0;
    case OPT_USER: return parse_user(v, o);
    case OPT_ADDITIONAL_GIDS: return add_gid(v, gids, &o->n_additional_gids);
    case OPT_CAP:
      if (nook_cap_from_name(v) < 0)
        return cli_usage_error("exec", "--cap: unknown capability `%s`", v);
      nook_strv_push(caps, v);
      return 0;
    case OPT_PRESERVE_FDS:
      if (nook_parse_int(v, &o->preserve_fds) < 0 || o->preserve_fds < 0)
        return cli_usage_error("exec", "--preserve-fds: `%s` is not a count", v);
      return 0;
    case OPT_CGROUP: return cli_usage_error("exec", "--cgroup: sub-cgroups are not supported");
    }
  return OCI_EXIT_ERROR;
}

static int parse(int argc, char **argv, struct nook_exec_opts *o, char ***env, char ***caps,
                 gid_t **gids)
{
  int c;

  while ((c = cli_getopt(argc, argv, opts, "exec")) != -1)
    switch (c)
      {
      case OPT_PROCESS: o->process_file = optarg; break;
      case OPT_TTY: o->tty = true; break;
      case OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
      case OPT_NO_NEW_PRIVS: o->no_new_privs = true; break;
      case OPT_DETACH: o->detach = true; break;
      case OPT_PID_FILE: o->pid_file = optarg; break;
      case OPT_IGNORE_PAUSED: o->ignore_paused = true; break;
      case OPT_APPARMOR: o->apparmor = optarg; break;
      case OPT_PROCESS_LABEL: o->process_label = optarg; break;
      case OPT_HELP: usage(); return -2;
      case '?': return OCI_EXIT_ERROR;
      default:
        if (parse_value(c, optarg, o, env, caps, gids) != 0)
          return OCI_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_usage_error("exec", "missing container id");
  o->id = argv[optind];
  o->args = argv + optind + 1;
  if (o->process_file == NULL && o->args[0] == NULL)
    return cli_usage_error("exec", "missing the command (or --process FILE)");
  return 0;
}

int cmd_exec(const struct oci_globals *g, int argc, char **argv)
{
  struct nook_exec_opts o = { .root = g->root };
  _cleanup_strv_ char **env = NULL;
  _cleanup_strv_ char **caps = NULL;
  _cleanup_free_ gid_t *gids = NULL;
  struct nook_error *err = NULL;
  int status = 0;
  int r = parse(argc, argv, &o, &env, &caps, &gids);

  if (r != 0)
    return r == -2 ? 0 : r;
  o.env = env;
  o.caps = caps;
  o.additional_gids = gids;
  o.id = cli_oci_id(g, o.id);
  if (nook_cloned_binary_ensure(&err) < 0 || nook_container_exec(&o, &status, &err) < 0)
    return cli_fail(err);
  return status;
}
