/* pause and resume: freeze and thaw a container's cgroup. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "runtime/container.h"

static int pause_or_resume(const struct oci_globals *g, int argc, char **argv, bool pause)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *verb = pause ? "pause" : "resume";
  struct nook_error *err = NULL;
  int c;

  while ((c = cli_getopt(argc, argv, opts, verb)) != -1)
    {
      if (c != 'h')
        return OCI_EXIT_ERROR;
      printf("usage: nook oci %s ID\n\n%s every process of the container (its cgroup).\n", verb,
             pause ? "Freezes" : "Thaws");
      return 0;
    }
  if (cli_want_args(argc, argv, 1, verb, "container id") != 0)
    return OCI_EXIT_ERROR;
  if (nook_container_pause(g->root, cli_oci_id(g, argv[optind]), pause, &err) < 0)
    return cli_fail(err);
  return 0;
}

int cmd_pause(const struct oci_globals *g, int argc, char **argv)
{
  return pause_or_resume(g, argc, argv, true);
}

int cmd_resume(const struct oci_globals *g, int argc, char **argv)
{
  return pause_or_resume(g, argc, argv, false);
}
