/* What the people's lifecycle verbs share (cli/verbs.c): finding a container, talking to its
 * supervisor, the times and states as podman prints them, and --format templates. */
#ifndef NOOK_CLI_VERBS_H
#define NOOK_CLI_VERBS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/error.h"
#include "runtime/supervisor.h"

/* getopt_long over a verb's options ("+:" is prepended to shortopts: options stop at the first
 * argument).  Returns the option, -1 at the end, or VERBS_OPT_ERROR after printing a usage
 * error ("nook VERB: unknown option `--x` (see ...)"). */
#define VERBS_OPT_ERROR (-2)
int verbs_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                 const char *verb);

/* -t/--time of stop and restart: seconds, 0 to 86400, -1 for the container's own.  0, or a
 * usage error printed and NOOK_EXIT_ERROR. */
int verbs_parse_timeout(const char *verb, const char *arg, int *ret);

/* The container named or id'd what, loaded (ctr_lookup + ctr_load). */
int verbs_ctr_find(struct image_store *s, const char *what, struct ctr **ret,
                   struct nook_error **err);

/* Runs fn for each of the n names (in order, on after a failure), printing each failure as
 * one line and, with print_names, each name fn succeeded for, as podman's stop, kill, pause...
 * do.  Returns 0, or NOOK_EXIT_ERROR when one failed. */
struct verbs_ctx
{
  const struct nook_globals *g;
  struct image_store *s;
  int arg; /* the verb's: a timeout, a signal... */
};
typedef int (*verbs_each_fn)(const char *what, void *data, struct nook_error **err);
int verbs_each(char **names, int n, bool print_names, verbs_each_fn fn, void *data);

/* The body of a verb that takes containers and, besides --help, perhaps -t/--time SECONDS
 * (into the context's arg, -1 when not given): stop, restart, wait, pause, unpause. */
struct verbs_each_spec
{
  const char *verb;
  const char *help; /* printed for --help */
  bool timeout;     /* takes -t */
  bool print_names;
  verbs_each_fn fn;
};
int verbs_each_main(const struct nook_globals *g, int argc, char **argv,
                    const struct verbs_each_spec *spec);

/* Prints err's message as a usage error of verb, frees it, returns NOOK_EXIT_ERROR. */
int verbs_usage_from(const char *verb, struct nook_error *err);

/* CLOCK_REALTIME in nanoseconds. */
int64_t verbs_now_ns(void);
/* The nanoseconds of an RFC 3339 time (run.json's created), 0 when it is not one. */
int64_t verbs_time_ns(const char *rfc3339);
/* ns since the epoch as RFC 3339 with nanoseconds, UTC, into buf; podman's zero time
 * ("0001-01-01T00:00:00Z") for 0. */
const char *verbs_time_format(int64_t ns, char *buf, size_t size);
/* A duration as podman (go-units' HumanDuration): "Less than a second", "1 second",
 * "5 seconds", "About a minute", "3 minutes", "About an hour", "5 hours", "3 days",
 * "2 weeks", "4 months", "2 years". */
const char *verbs_human_duration(int64_t ns, char *buf, size_t size);

/* A size as podman prints it (go-units' HumanSize: 4 significant digits, powers of 1000):
 * "0B", "49.15kB", "8.325GB". */
const char *verbs_human_size(double n, char *buf, size_t size);

/* The STATUS column of ps: "Created", "Up 3 seconds", "Up 3 seconds (Paused)", "Stopping",
 * "Restarting (1) 2 seconds ago", "Exited (0) 2 seconds ago", with " (no supervisor)" for a
 * running container whose supervisor is gone. */
const char *verbs_status_text(const struct ctr_status *st, int64_t now_ns, char *buf,
                              size_t size);
/* Whether the container's init lives (running, paused or stopping). */
bool verbs_state_running(enum ctr_state s);

/* Connects to the container's supervisor as a watcher (NOOK_MSG_WATCH: no output, only the
 * exit).  ECONNREFUSED / ENOENT: no supervisor listens. */
int verbs_watch_connect(struct image_store *s, const char *id, int *ret_sock,
                        struct nook_error **err);
/* Waits up to timeout_ms (-1: for ever) for the init of the OCI container id (in --root) to be
 * gone, with a pidfd: for a container whose supervisor is gone.  1: gone (or no state left to
 * tell), 0: still there. */
int verbs_init_wait(const char *root, const char *id, int timeout_ms, struct nook_error **err);

/* Reads messages on sock until the exit message of a run that is not restarted, into *ret.
 * ECONNRESET: the supervisor went away without one; NOOK_MSG_ERROR's errno when a (re)start
 * failed. */
int verbs_wait_exit(int sock, struct nook_msg_exit *ret, struct nook_error **err);

/* --format: "json" (the caller's), or a Go-like template over the JSON value v: "{{.Name}}",
 * "{{.State.Status}}", "{{json .Config}}"; strings print as they are, arrays of strings
 * joined by ",", anything else as JSON; `\t` and `\n` are a tab and a newline, and a newline
 * ends the output.  A key that v does not have is EINVAL ("--format: no field `X`"). */
int verbs_template_render(const char *tmpl, yajl_val v, FILE *out, struct nook_error **err);
/* verbs_template_render over the JSON object g generated (g is finished and freed). */
int verbs_template_gen(const char *tmpl, yajl_gen g, FILE *out, struct nook_error **err);

/* The end of a listing: with g, closes its array and prints it; then prints and frees t
 * (nothing when it has no rows). */
struct verbs_table;
void verbs_output_finish(yajl_gen g, struct verbs_table *t, FILE *out);

/* The header line of a "table {{.A}}\t{{.B}}" template: the last key of each field in upper
 * case ("A\tB").  *ret_body is the template without "table". */
char *verbs_template_header(const char *tmpl, const char **ret_body);

/* The -p specs of run.json, parsed; specs that do not parse are left out. */
struct verbs_port
{
  char host_ip[16]; /* "0.0.0.0" for every address */
  unsigned host_port, ctr_port;
  const char *proto; /* "tcp", "udp" */
};
size_t verbs_ports_parse(char *const *specs, struct verbs_port **ret);
/* "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp": the PORTS column. */
char *verbs_ports_text(char *const *specs);

/* A table as podman prints them (Go's tabwriter: columns at least 12 wide, 2 spaces apart;
 * the last one unpadded).  verbs_table_add takes ncols strings (NULL: empty). */
struct verbs_table
{
  size_t ncols;
  size_t nrows;
  char **cells;
};
void verbs_table_add(struct verbs_table *t, ...);
void verbs_table_print(struct verbs_table *t, FILE *out);
void verbs_table_free(struct verbs_table *t);

/* Environment lists: KEY=VALUE replaces an earlier KEY.  verbs_env_add takes -e's argument:
 * KEY=VALUE, or KEY for the host's value (nothing when the host has none); where names the
 * option in errors.  verbs_env_add_file reads --env-file's KEY=VALUE lines (blank lines and
 * # comments skipped). */
void verbs_env_set(char ***env, const char *kv);
int verbs_env_add(char ***env, const char *arg, const char *where, struct nook_error **err);
int verbs_env_add_file(char ***env, const char *file, struct nook_error **err);

/* Waits (up to 5 s) until the supervisor recorded in status.json is gone: after a stop, before
 * a new one starts. */
void verbs_wait_supervisor_gone(const struct nook_globals *g, struct image_store *s,
                                const char *id);

/* A JSON text of our own making, as a tree (aborts on invalid JSON: a bug). */
yajl_val verbs_json_tree(const char *text);

#endif
