/* create and run share their options: runc's create flags, plus run's --detach and --keep. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/cloned-binary.h"
#include "runtime/container.h"

enum
{
  OPT_BUNDLE = 1000,
  OPT_PID_FILE,
  OPT_CONSOLE_SOCKET,
  OPT_NO_PIVOT,
  OPT_NO_NEW_KEYRING,
  OPT_PRESERVE_FDS,
  OPT_DETACH,
  OPT_KEEP,
  OPT_NO_SUBREAPER,
  OPT_HELP,
};

/* create and run share one table; run's own options are refused by create in parse(). */
static const struct option opts[] = {
  { "bundle", required_argument, NULL, OPT_BUNDLE },
  { "b", required_argument, NULL, OPT_BUNDLE },
  { "pid-file", required_argument, NULL, OPT_PID_FILE },
  { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
  { "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
  { "no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING },
  { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
  { "detach", no_argument, NULL, OPT_DETACH },
  { "d", no_argument, NULL, OPT_DETACH },
  { "keep", no_argument, NULL, OPT_KEEP },
  { "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
  { "help", no_argument, NULL, OPT_HELP },
  { "h", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

static void usage(bool run)
{
  printf("usage: nook oci %s [OPTIONS] ID\n\n"
         "%s\n\n"
         "  -b, --bundle DIR        the bundle (config.json and rootfs; default: .)\n"
         "  --pid-file FILE         write the init's pid to FILE\n"
         "  --console-socket PATH   unix socket to receive the pty master (process.terminal)\n"
         "  --preserve-fds N        pass N more fds (3..3+N-1) to the process\n"
         "  --no-pivot              use MS_MOVE and chroot instead of pivot_root\n"
         "  --no-new-keyring        keep the caller's session keyring\n",
         run ? "run" : "create",
         run ? "Creates and starts a container; in the foreground, exits with its exit code."
             : "Creates a container; `nook oci start ID` runs its process.");
  if (run)
    printf("  -d, --detach            return once the process runs\n"
           "  --keep                  keep the container's state after it exits\n");
}

static int parse(int argc, char **argv, bool run, struct nook_create_opts *o)
{
  const char *verb = run ? "run" : "create";
  int c;

  while ((c = cli_getopt(argc, argv, opts, verb)) != -1)
    {
      if (!run && (c == OPT_DETACH || c == OPT_KEEP || c == OPT_NO_SUBREAPER))
        return cli_usage_error(verb, "unknown option `%s`", argv[optind - 1]);
      switch (c)
      {
      case OPT_BUNDLE: o->bundle = optarg; break;
      case OPT_PID_FILE: o->pid_file = optarg; break;
      case OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
      case OPT_NO_PIVOT: o->no_pivot = true; break;
      case OPT_NO_NEW_KEYRING: o->no_new_keyring = true; break;
      case OPT_PRESERVE_FDS:
        if (nook_parse_int(optarg, &o->preserve_fds) < 0 || o->preserve_fds < 0)
          return cli_usage_error(verb, "--preserve-fds: `%s` is not a count", optarg);
        break;
      case OPT_DETACH: o->detach = true; break;
      case OPT_KEEP: o->keep = true; break;
      case OPT_NO_SUBREAPER: break;
      case OPT_HELP: usage(run); return -2;
      default: return OCI_EXIT_ERROR;
      }
    }
  if (cli_want_args(argc, argv, 1, verb, "container id") != 0)
    return OCI_EXIT_ERROR;
  o->id = argv[optind];
  return 0;
}

int cmd_create(const struct oci_globals *g, int argc, char **argv)
{
  struct nook_create_opts o = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  struct nook_error *err = NULL;
  int r = parse(argc, argv, false, &o);

  if (r != 0)
    return r == -2 ? 0 : r;
  if (nook_cloned_binary_ensure(&err) < 0 || nook_container_create(&o, &err) < 0)
    return cli_fail(err);
  return 0;
}

int cmd_run(const struct oci_globals *g, int argc, char **argv)
{
  struct nook_create_opts o = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  struct nook_error *err = NULL;
  int status = 0;
  int r = parse(argc, argv, true, &o);

  if (r != 0)
    return r == -2 ? 0 : r;
  if (nook_cloned_binary_ensure(&err) < 0 || nook_container_run(&o, &status, &err) < 0)
    return cli_fail(err);
  return status;
}
