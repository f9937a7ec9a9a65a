#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"

static void usage(FILE *f)
{
  fputs("usage: nook oci [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "nook runs Linux containers.  `nook oci` is the OCI runtime interface, flag-compatible\n"
        "with runc; the same binary invoked as nook-runc behaves as `nook oci`.\n"
        "\n"
        "  nook oci --help       the OCI runtime commands\n"
        "  nook network --help   bridge networks for containers\n"
        "  nook --version        the version\n",
        f);
}

int main(int argc, char **argv)
{
  const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

  if (nook_has_prefix(self, "nook-runc") || streq(self, "runc"))
    return cmd_oci(argc, argv);
  if (argc >= 2 && streq(argv[1], "oci"))
    return cmd_oci(argc - 1, argv + 1);
  if (argc >= 2 && streq(argv[1], "network"))
    return cmd_network(argc - 1, argv + 1);
  if (argc >= 2 && (streq(argv[1], "--version") || streq(argv[1], "-v") || streq(argv[1], "version")))
    return cmd_oci(2, (char *[]){ argv[0], (char *)"--version", NULL });
  if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")))
    {
      usage(stdout);
      return 0;
    }
  if (argc >= 2)
    fprintf(stderr, "nook: unknown command `%s`\n", argv[1]);
  usage(stderr);
  return 125;
}
