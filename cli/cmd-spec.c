/* spec: writes the default config.json into the bundle, as `runc spec` does. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/spec.h"

int cmd_spec(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "b", required_argument, NULL, 'b' },
    { "rootless", no_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *bundle = ".";
  bool rootless = false;
  _cleanup_free_ char *json = NULL;
  _cleanup_close_ int dfd = -1;
  struct nook_error *err = NULL;
  int c;

  (void)g;
  while ((c = cli_getopt(argc, argv, opts, "spec")) != -1)
    switch (c)
      {
      case 'b': bundle = optarg; break;
      case 'r': rootless = true; break;
      case 'h':
        printf("usage: nook oci spec [--bundle DIR] [--rootless]\n\n"
               "Writes a default config.json into the bundle directory.\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (cli_want_args(argc, argv, 0, "spec", "nothing") != 0)
    return OCI_EXIT_ERROR;
  dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return cli_fail((nook_error_set(&err, errno, "--bundle: open `%s`", bundle), err));
  if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return cli_fail((nook_error_setx(&err, EEXIST, "`%s/config.json` exists: remove it first", bundle), err));
  json = nook_spec_default_json(rootless, getuid(), getgid());
  if (nook_write_file_atomic_at(dfd, "config.json", json, strlen(json), 0644, &err) < 0)
    return cli_fail(err);
  return 0;
}
