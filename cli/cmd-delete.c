/* delete: runc's `delete [--force] ID`. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "runtime/container.h"

int cmd_delete(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' },
    { "f", no_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_error *err = NULL;
  bool force = false;
  int c;

  while ((c = cli_getopt(argc, argv, opts, "delete")) != -1)
    switch (c)
      {
      case 'f': force = true; break;
      case 'h':
        printf("usage: nook oci delete [--force] ID\n\n"
               "Deletes a stopped or created container; --force kills a running one first.\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (cli_want_args(argc, argv, 1, "delete", "container id") != 0)
    return OCI_EXIT_ERROR;
  if (nook_container_delete(g->root, cli_oci_id(g, argv[optind]), force, &err) < 0)
    return cli_fail(err);
  return 0;
}
