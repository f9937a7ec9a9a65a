/* `nook VERB`: the command line for people (and scripts), next to `nook oci`.
 *
 * Global options come before the verb.  Exit codes follow podman's: 0 success, 125 an error
 * of nook's own, 126 the command cannot be executed, 127 it was not found, else the
 * container's. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "images/image.h"

static int cmd_version(const struct nook_globals *g, int argc, char **argv)
{
#ifdef NOOK_FAULT_INJECTION
  printf("nook version %s+fault-injection\n", PACKAGE_VERSION); /* tests/integration/faults.bats */
#else
  printf("nook version %s\n", PACKAGE_VERSION);
#endif
  return 0;
}

static const struct nook_command commands[] = {
  { "attach", cmd_nook_attach, "attach to a running container's input and output" },
  { "exec", cmd_nook_exec, "run a process in a running container" },
  { "image", cmd_image, "import, list, inspect, remove and export images" },
  { "inspect", cmd_nook_inspect, "show containers' configuration and state as JSON" },
  { "kill", cmd_nook_kill, "send a signal to containers" },
  { "logs", cmd_nook_logs, "print (and follow) a container's output" },
  { "network", cmd_network, "bridge networks: create, ls, inspect, rm" },
  { "pause", cmd_nook_pause, "freeze every process of containers" },
  { "ps", cmd_nook_ps, "list containers" },
  { "restart", cmd_nook_restart, "stop and start containers" },
  { "rm", cmd_nook_rm, "remove containers" },
  { "run", cmd_nook_run, "run a command in a new container from an image" },
  { "start", cmd_nook_start, "start created or exited containers" },
  { "stats", cmd_nook_stats, "show containers' CPU, memory and pids usage" },
  { "stop", cmd_nook_stop, "stop containers: their stop signal, then SIGKILL" },
  { "system", cmd_system, "check the image store (and repair it)" },
  { "unpause", cmd_nook_unpause, "thaw paused containers" },
  { "version", cmd_version, "print the version" },
  { "wait", cmd_nook_wait, "wait for containers to exit and print their exit codes" },
  /* hidden: the per-container supervisor that `nook run` spawns (cli/cmd-supervise.c) */
  { "__supervise", cmd_supervise, NULL },
};

int cli_nook_fail(struct nook_error *err)
{
  cli_fail(err);
  return NOOK_EXIT_ERROR;
}

int cli_nook_usage(const char *verb, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  cli_usage_errorv("nook", verb, fmt, ap);
  va_end(ap);
  return NOOK_EXIT_ERROR;
}

int cli_nook_subcommand(const struct nook_globals *g, const char *verb,
                        const struct nook_command *cmds, size_t n, int argc, char **argv)
{
  bool help = argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help"));

  if (argc < 2 || help)
    {
      FILE *f = help ? stdout : stderr;
      fprintf(f, "usage: nook %s COMMAND [OPTIONS] [ARGS]\n\nCommands:\n", verb);
      for (size_t i = 0; i < n; i++)
        if (cmds[i].summary)
          fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
      return help ? 0 : NOOK_EXIT_ERROR;
    }
  for (size_t i = 0; i < n; i++)
    if (streq(argv[1], cmds[i].name))
      {
        optind = 0;
        return cmds[i].run(g, argc - 1, argv + 1);
      }
  nook_error_log("unknown command `%s %s` (see `nook %s --help`)", verb, argv[1], verb);
  return NOOK_EXIT_ERROR;
}

static void usage(FILE *f)
{
  fputs("usage: nook [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
        "nook runs Linux containers from OCI images.\n\nCommands:\n",
        f);
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (commands[i].summary)
      fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fputs("  oci      the OCI runtime interface, compatible with runc (`nook oci --help`)\n"
        "\nGlobal options:\n"
        "  --root DIR       container state (default /run/nook; rootless $XDG_RUNTIME_DIR/nook)\n"
        "  --storage DIR    images and container filesystems (default /var/lib/nook;\n"
        "                   rootless $XDG_DATA_HOME/nook)\n"
        "  --debug          debug messages\n"
        "  --help, --version\n",
        f);
}

/* Rootless defaults, as podman: state under $XDG_RUNTIME_DIR, data under $XDG_DATA_HOME. */
static void default_paths(struct nook_globals *g)
{
  static char root[4096], storage[4096];
  const char *xdg;

  g->root = "/run/nook";
  g->storage = IMAGE_STORE_DEFAULT;
  if (geteuid() == 0)
    return;
  if ((xdg = getenv("XDG_RUNTIME_DIR")) && *xdg)
    {
      snprintf(root, sizeof root, "%s/nook", xdg);
      g->root = root;
    }
  if ((xdg = getenv("XDG_DATA_HOME")) && *xdg)
    snprintf(storage, sizeof storage, "%s/nook", xdg);
  else if ((xdg = getenv("HOME")) && *xdg)
    snprintf(storage, sizeof storage, "%s/.local/share/nook", xdg);
  if (storage[0])
    g->storage = storage;
}

int cmd_nook(int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "storage", required_argument, NULL, 's' },
    { "debug", no_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_globals g = { 0 };
  int c;

  default_paths(&g);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'r': g.root = optarg; break;
      case 's': g.storage = optarg; break;
      case 'd': g.debug = true; break;
      case 'h': usage(stdout); return 0;
      case ':':
        nook_error_log("option `%s` needs a value (see `nook --help`)", argv[optind - 1]);
        return NOOK_EXIT_ERROR;
      default:
        nook_error_log("unknown option `%s` (see `nook --help`)", argv[optind - 1]);
        return NOOK_EXIT_ERROR;
      }
  if (nook_log_init(NULL, false, g.debug ? NOOK_LOG_DEBUG : NOOK_LOG_WARNING) < 0)
    return NOOK_EXIT_ERROR;
  if (optind >= argc)
    {
      usage(stderr);
      return NOOK_EXIT_ERROR;
    }
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (streq(argv[optind], commands[i].name))
      {
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0;
        return commands[i].run(&g, sub_argc, sub_argv);
      }
  nook_error_log("unknown command `%s` (see `nook --help`)", argv[optind]);
  return NOOK_EXIT_ERROR;
}
