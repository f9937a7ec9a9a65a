/* `nook oci` / nook-runc: global options and the verb table. */
#include "config.h"

#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/state.h"
#include "common/log.h"
#include "common/util.h"

static const struct oci_command commands[] = {
  { "create", cmd_create, "create a container" },
  { "delete", cmd_delete, "delete a container and its state" },
  { "events", cmd_events, "print a container's resource statistics and OOM events as JSON" },
  { "exec", cmd_exec, "run a new process in a created or running container" },
  { "features", cmd_features, "print what this runtime supports (runtime-spec features JSON)" },
  { "kill", cmd_kill, "send a signal to a container's init (or all its processes)" },
  { "list", cmd_list, "list the containers" },
  { "pause", cmd_pause, "freeze every process of a container" },
  { "ps", cmd_ps, "list the processes of a container" },
  { "resume", cmd_resume, "thaw a paused container" },
  { "run", cmd_run, "create and start a container" },
  { "spec", cmd_spec, "write a default config.json" },
  { "start", cmd_start, "start a created container" },
  { "state", cmd_state, "print a container's state as JSON" },
  { "update", cmd_update, "change the resource limits of a running container" },
};

int cli_fail(struct nook_error *err)
{
  nook_error_log("%s", err && err->msg ? err->msg : "unknown error");
  nook_error_free(err);
  return OCI_EXIT_ERROR;
}

void cli_usage_errorv(const char *tool, const char *verb, const char *fmt, va_list ap)
{
  _cleanup_free_ char *msg = NULL;

  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  nook_error_log("%s: %s (see `%s %s --help`)", verb, msg ? msg : "usage error", tool, verb);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  cli_usage_errorv("nook oci", verb, fmt, ap);
  va_end(ap);
  return OCI_EXIT_ERROR;
}

int cli_getopt(int argc, char **argv, const struct option *opts, const char *verb)
{
  int c;

  opterr = 0;
  c = getopt_long_only(argc, argv, "+:", opts, NULL);
  if (c == '?' || c == ':')
    {
      const char *bad = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "";
      if (c == ':')
        cli_usage_error(verb, "option `%s` needs a value", bad);
      else
        cli_usage_error(verb, "unknown option `%s`", bad);
      return '?';
    }
  return c;
}

const char *cli_oci_id(const struct oci_globals *g, const char *arg)
{
  /* Lives as long as the process, as argv does. */
  static char *resolved;

  free(resolved);
  resolved = nook_state_alias_resolve(g->root, arg);
  return resolved ? resolved : arg;
}

int cli_want_args(int argc, char **argv, int n, const char *verb, const char *what)
{
  if (argc - optind < n)
    return cli_usage_error(verb, "missing %s", what);
  if (argc - optind > n)
    return cli_usage_error(verb, "unexpected argument `%s`", argv[optind + n]);
  return 0;
}

bool cli_wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (streq(argv[i], "--"))
        break;
      if (streq(argv[i], "--help") || streq(argv[i], "-h") || streq(argv[i], "-help"))
        return true;
    }
  return false;
}

static void oci_usage(FILE *f)
{
  fputs("usage: nook oci [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
        "The OCI runtime interface of nook, compatible with runc's command line.\n\n"
        "Commands:\n",
        f);
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fputs("\nGlobal options:\n"
        "  --root DIR            state directory (default /run/nook; when not root\n"
        "                        $XDG_RUNTIME_DIR/nook)\n"
        "  --log FILE            also write messages to FILE\n"
        "  --log-format FORMAT   text or json (default text)\n"
        "  --debug               debug messages\n"
        "  --systemd-cgroup      accept cgroupsPath as slice:prefix:name\n"
        "  --help, --version\n",
        f);
}

static int print_version(void)
{
  const struct scmp_version *v = seccomp_version();
  printf("nook version %s\nspec: 1.2.0\n", PACKAGE_VERSION);
  if (v)
    printf("libseccomp: %u.%u.%u\n", v->major, v->minor, v->micro);
  return 0;
}

enum
{
  OPT_ROOT = 1000,
  OPT_LOG,
  OPT_LOG_FORMAT,
  OPT_LOG_LEVEL,
  OPT_DEBUG,
  OPT_SYSTEMD_CGROUP,
  OPT_ROOTLESS,
  OPT_CRIU,
  OPT_HELP,
  OPT_VERSION,
};

static int parse_globals(int argc, char **argv, struct oci_globals *g)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, OPT_ROOT },
    { "log", required_argument, NULL, OPT_LOG },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "debug", no_argument, NULL, OPT_DEBUG },
    { "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
    { "rootless", required_argument, NULL, OPT_ROOTLESS },
    { "criu", required_argument, NULL, OPT_CRIU },
    { "help", no_argument, NULL, OPT_HELP },
    { "h", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { "v", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
  };
  int c;

  optind = 0; /* 0, not 1: makes glibc's getopt start afresh */
  while ((c = cli_getopt(argc, argv, opts, "oci")) != -1)
    switch (c)
      {
      case OPT_ROOT: g->root = optarg; break;
      case OPT_LOG: g->log = optarg; break;
      case OPT_LOG_FORMAT:
        if (!streq(optarg, "text") && !streq(optarg, "json"))
          return cli_usage_error("oci", "--log-format must be `text` or `json`, not `%s`", optarg);
        g->log_format = optarg;
        break;
      case OPT_LOG_LEVEL: g->debug = g->debug || streq(optarg, "debug"); break;
      case OPT_DEBUG: g->debug = true; break;
      case OPT_SYSTEMD_CGROUP: g->systemd_cgroup = true; break;
      case OPT_ROOTLESS:
      case OPT_CRIU: break;
      case OPT_HELP: oci_usage(stdout); return -2;
      case OPT_VERSION: return print_version() == 0 ? -2 : -1;
      default: return -1;
      }
  return 0;
}

/* The default --root, as runc's: /run/nook for root, $XDG_RUNTIME_DIR/nook otherwise (NULL
 * when that is unset: only the verbs that need no state may then go on). */
static const char *default_root(void)
{
  static char root[4096];
  const char *xdg = getenv("XDG_RUNTIME_DIR");

  if (geteuid() == 0)
    return "/run/nook";
  if (xdg == NULL || *xdg == '\0')
    return NULL;
  snprintf(root, sizeof(root), "%s/nook", xdg);
  return root;
}

int cmd_oci(int argc, char **argv)
{
  struct oci_globals g = { .root = default_root(), .log_format = "text" };
  int r = parse_globals(argc, argv, &g);

  if (r == -2)
    return 0;
  if (r != 0)
    return OCI_EXIT_ERROR;
  if (nook_log_init(g.log, streq(g.log_format, "json"), g.debug ? NOOK_LOG_DEBUG : NOOK_LOG_WARNING) < 0)
    {
      fprintf(stderr, "nook: --log: open `%s`: %s\n", g.log, strerror(errno));
      return OCI_EXIT_ERROR;
    }
  if (optind >= argc)
    {
      oci_usage(stderr);
      return OCI_EXIT_ERROR;
    }
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (streq(argv[optind], commands[i].name))
      {
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        if (g.root == NULL && commands[i].run != cmd_spec && commands[i].run != cmd_features
            && !cli_wants_help(sub_argc, sub_argv))
          {
            nook_error_log("no state directory: set XDG_RUNTIME_DIR or pass --root (running as "
                           "uid %d, the default /run/nook is for root)",
                           (int)geteuid());
            return OCI_EXIT_ERROR;
          }
        optind = 0;
        return commands[i].run(&g, sub_argc, sub_argv);
      }
  nook_error_log("unknown command `%s` (see `nook oci --help`)", argv[optind]);
  return OCI_EXIT_ERROR;
}
