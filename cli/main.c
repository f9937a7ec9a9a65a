/* The one binary: `nook oci` and nook-runc are the OCI runtime (cli/oci.c), `nook VERB` the
 * command line for people (cli/nook.c). */
#include "config.h"

#include <string.h>

#include "cli/cli.h"
#include "common/util.h"

int main(int argc, char **argv)
{
  const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

  if (nook_has_prefix(self, "nook-runc") || streq(self, "runc"))
    return cmd_oci(argc, argv);
  if (argc >= 2 && streq(argv[1], "oci"))
    return cmd_oci(argc - 1, argv + 1);
  if (argc >= 2 && (streq(argv[1], "--version") || streq(argv[1], "-v")))
    return cmd_oci(2, (char *[]){ argv[0], (char *)"--version", NULL });
  return cmd_nook(argc, argv);
}
