/* start and state: the verbs that take only an id. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "runtime/container.h"

static const struct option id_opts[] = {
  { "help", no_argument, NULL, 'h' },
  { "h", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

/* Parses `VERB [--help] ID`; returns the id, or NULL with *ret_code set. */
static const char *parse_id(int argc, char **argv, const char *verb, const char *help, int *ret_code)
{
  int c;

  while ((c = cli_getopt(argc, argv, id_opts, verb)) != -1)
    {
      if (c == 'h')
        {
          printf("usage: nook oci %s ID\n\n%s\n", verb, help);
          *ret_code = 0;
          return NULL;
        }
      *ret_code = OCI_EXIT_ERROR;
      return NULL;
    }
  if (cli_want_args(argc, argv, 1, verb, "container id") != 0)
    {
      *ret_code = OCI_EXIT_ERROR;
      return NULL;
    }
  return argv[optind];
}

int cmd_start(const struct oci_globals *g, int argc, char **argv)
{
  struct nook_error *err = NULL;
  int code;
  const char *id = parse_id(argc, argv, "start", "Runs the process of a created container.", &code);

  if (id == NULL)
    return code;
  id = cli_oci_id(g, id);
  if (nook_container_start(g->root, id, &err) < 0)
    return cli_fail(err);
  return 0;
}

int cmd_state(const struct oci_globals *g, int argc, char **argv)
{
  struct nook_error *err = NULL;
  char *json = NULL;
  int code;
  const char *id = parse_id(argc, argv, "state", "Prints the OCI state of a container as JSON.", &code);

  if (id == NULL)
    return code;
  id = cli_oci_id(g, id);
  if (nook_container_state(g->root, id, &json, &err) < 0)
    return cli_fail(err);
  printf("%s\n", json);
  free(json);
  return 0;
}
