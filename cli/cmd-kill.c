/* kill: runc's `kill [--all] ID [SIGNAL]`, SIGNAL a name (KILL, SIGKILL) or number. */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/container.h"

int cmd_kill(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "all", no_argument, NULL, 'a' },
    { "a", no_argument, NULL, 'a' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_error *err = NULL;
  bool all = false;
  int sig = SIGTERM;
  int c;

  while ((c = cli_getopt(argc, argv, opts, "kill")) != -1)
    switch (c)
      {
      case 'a': all = true; break;
      case 'h':
        printf("usage: nook oci kill [--all] ID [SIGNAL]\n\n"
               "Sends SIGNAL (default TERM; a name or a number) to the container's init, or with\n"
               "--all to every process of the container.\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (argc - optind < 1)
    return cli_usage_error("kill", "missing container id");
  if (argc - optind > 2)
    return cli_usage_error("kill", "unexpected argument `%s`", argv[optind + 2]);
  if (argc - optind == 2)
    {
      sig = nook_signal_parse(argv[optind + 1]);
      if (sig < 0)
        return cli_usage_error("kill", "unknown signal `%s`", argv[optind + 1]);
    }
  if (nook_container_kill(g->root, cli_oci_id(g, argv[optind]), sig, all, &err) < 0)
    return cli_fail(err);
  return 0;
}
