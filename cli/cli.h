/* The command line: `nook oci VERB` (and nook-runc) is runc's interface, one file per verb. */
#ifndef NOOK_CLI_H
#define NOOK_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <getopt.h>

#include "common/error.h"

/* Options that come before the verb, as runc's global flags. */
struct oci_globals
{
  const char *root;
  const char *log;
  const char *log_format;
  bool debug;
  bool systemd_cgroup;
};

struct oci_command
{
  const char *name;
  int (*run)(const struct oci_globals *g, int argc, char **argv);
  const char *summary;
};

/* Exit codes: 0 success, 1 any error of nook's (runc's convention for the OCI layer). */
#define OCI_EXIT_ERROR 1

int cmd_oci(int argc, char **argv);

/* `nook VERB` (cli/nook.c): the command line for people.  Exit codes as podman's. */
struct nook_globals
{
  const char *root;    /* container state, --root */
  const char *storage; /* the image store, --storage */
  bool debug;
};

struct nook_command
{
  const char *name;
  int (*run)(const struct nook_globals *g, int argc, char **argv);
  const char *summary;
};

#define NOOK_EXIT_ERROR 125
#define NOOK_EXIT_CANNOT_EXEC 126
#define NOOK_EXIT_NOT_FOUND 127

int cmd_nook(int argc, char **argv);
int cmd_nook_run(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_rm(const struct nook_globals *g, int argc, char **argv);
/* `nook __supervise` (hidden): a container's supervisor, as nook_supervisor_spawn() runs it. */
int cmd_supervise(const struct nook_globals *g, int argc, char **argv);
/* The lifecycle verbs of `nook run`'s containers, one file each (cli/cmd-nook-VERB.c; kill
 * with stop, restart with start, unpause with pause). */
int cmd_nook_ps(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_logs(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_attach(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_stop(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_kill(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_wait(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_start(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_restart(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_exec(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_inspect(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_stats(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_pause(const struct nook_globals *g, int argc, char **argv);
int cmd_nook_unpause(const struct nook_globals *g, int argc, char **argv);

/* image_open(), which imports the embedded default image (localhost/busybox:latest) the first
 * time `busybox` is asked for and the store does not have it (cli/default-image.c). */
struct image_store;
struct image;
int cli_image_open(struct image_store *s, const char *what, struct image **ret,
                   struct nook_error **err);
/* Print err once and return NOOK_EXIT_ERROR; a usage error for `nook VERB`. */
int cli_nook_fail(struct nook_error *err);
int cli_nook_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `nook network create|ls|inspect|rm` (cli/cmd-network.c); networks live in --storage. */
int cmd_network(const struct nook_globals *g, int argc, char **argv);

/* `nook VERB COMMAND ...` for a verb of several commands (image, system): runs the entry of
 * CMDS named by argv[1] with argv + 1; usage (the entries with a summary) on --help, or on
 * stderr when no command is given; an unknown one is an error.  Returns the exit code. */
int cli_nook_subcommand(const struct nook_globals *g, const char *verb,
                        const struct nook_command *cmds, size_t n, int argc, char **argv);

/* `nook system check` (cli/cmd-system.c). */
int cmd_system(const struct nook_globals *g, int argc, char **argv);

/* `nook image ...` (cli/cmd-image.c). */
int cmd_image(const struct nook_globals *g, int argc, char **argv);

int cmd_spec(const struct oci_globals *g, int argc, char **argv);
int cmd_create(const struct oci_globals *g, int argc, char **argv);
int cmd_start(const struct oci_globals *g, int argc, char **argv);
int cmd_run(const struct oci_globals *g, int argc, char **argv);
int cmd_state(const struct oci_globals *g, int argc, char **argv);
int cmd_kill(const struct oci_globals *g, int argc, char **argv);
int cmd_delete(const struct oci_globals *g, int argc, char **argv);
int cmd_list(const struct oci_globals *g, int argc, char **argv);
int cmd_pause(const struct oci_globals *g, int argc, char **argv);
int cmd_resume(const struct oci_globals *g, int argc, char **argv);
int cmd_ps(const struct oci_globals *g, int argc, char **argv);
int cmd_update(const struct oci_globals *g, int argc, char **argv);
int cmd_exec(const struct oci_globals *g, int argc, char **argv);
int cmd_events(const struct oci_globals *g, int argc, char **argv);
int cmd_features(const struct oci_globals *g, int argc, char **argv);

/* The container id an `nook oci` verb was given: a name of a `nook run` container (an alias in
 * the state root, see nook_state_alias_set) becomes its id; anything else is returned as is. */
const char *cli_oci_id(const struct oci_globals *g, const char *arg);

/* Prints err once (stderr and --log) and returns OCI_EXIT_ERROR. */
int cli_fail(struct nook_error *err);
/* Logs "VERB: MESSAGE (see `TOOL VERB --help`)"; the two usage errors below are built on it. */
void cli_usage_errorv(const char *tool, const char *verb, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Prints a usage error for a verb and returns OCI_EXIT_ERROR. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses options with getopt_long_only (runc accepts -flag and --flag); "+" semantics: stops
 * at the first argument.  Returns the option, -1 at the end, or '?' after printing an error. */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *verb);
/* Exactly n positional arguments remain after optind, or a usage error. */
int cli_want_args(int argc, char **argv, int n, const char *verb, const char *what);
bool cli_wants_help(int argc, char **argv);

#endif
