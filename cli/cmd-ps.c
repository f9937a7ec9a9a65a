/* ps: runc's `ps [--format table|json] ID [ps options]`.  json prints the pids; table runs
 * ps(1) with the options (default -ef) and keeps its header and the container's lines. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/container.h"

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* The index of the PID column in ps's header line, or -1. */
static int pid_column(const char *header)
{
  _cleanup_free_ char *copy = xstrdup(header);
  char *save = NULL;
  int i = 0;

  for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save), i++)
    if (streq(w, "PID"))
      return i;
  return -1;
}

static long column_value(const char *line, int col)
{
  _cleanup_free_ char *copy = xstrdup(line);
  char *save = NULL;
  char *w = strtok_r(copy, " \t\n", &save);
  int64_t v;

  for (int i = 0; w && i < col; i++)
    w = strtok_r(NULL, " \t\n", &save);
  return w && nook_parse_i64(w, &v) == 0 ? (long)v : -1;
}

static int ps_table(char **ps_args, const pid_t *pids, size_t n)
{
  _cleanup_strv_ char **argv = NULL;
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  struct nook_error *err = NULL;
  int fds[2], col = -1, status = 0;
  pid_t child;
  FILE *f;

  nook_strv_push(&argv, "ps");
  if (ps_args == NULL || *ps_args == NULL)
    nook_strv_push(&argv, "-ef");
  for (size_t i = 0; ps_args && ps_args[i]; i++)
    nook_strv_push(&argv, ps_args[i]);
  if (pipe2(fds, O_CLOEXEC) < 0 || (child = fork()) < 0)
    {
      nook_error_set(&err, errno, "run `ps`");
      return cli_fail(err);
    }
  if (child == 0)
    {
      dup2(fds[1], STDOUT_FILENO);
      execvp("ps", argv);
      _exit(127);
    }
  close(fds[1]);
  f = fdopen(fds[0], "r");
  for (bool first = true; f && getline(&line, &cap, f) > 0; first = false)
    {
      if (first)
        {
          col = pid_column(line);
          fputs(line, stdout);
        }
      else if (col >= 0 && has_pid(pids, n, column_value(line, col)))
        fputs(line, stdout);
    }
  if (f)
    fclose(f);
  waitpid(child, &status, 0);
  if (col < 0)
    {
      fprintf(stderr, "nook: ps: no PID column in the output of ps\n");
      return OCI_EXIT_ERROR;
    }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : OCI_EXIT_ERROR;
}

int cmd_ps(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { "f", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_free_ pid_t *pids = NULL;
  struct nook_error *err = NULL;
  const char *format = "table";
  size_t n = 0;
  int c;

  while ((c = cli_getopt(argc, argv, opts, "ps")) != -1)
    switch (c)
      {
      case 'f':
        if (!streq(optarg, "table") && !streq(optarg, "json"))
          return cli_usage_error("ps", "--format must be `table` or `json`, not `%s`", optarg);
        format = optarg;
        break;
      case 'h':
        printf("usage: nook oci ps [--format table|json] ID [-- PS OPTIONS]\n\n"
               "Lists the processes of a container (ps -ef by default).\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (argc - optind < 1)
    return cli_usage_error("ps", "missing container id");
  if (nook_container_pids(g->root, cli_oci_id(g, argv[optind]), &pids, &n, &err) < 0)
    return cli_fail(err);
  if (streq(format, "json"))
    {
      printf("[");
      for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)pids[i]);
      printf("]\n");
      return 0;
    }
  optind++;
  if (optind < argc && streq(argv[optind], "--"))
    optind++;
  return ps_table(argv + optind, pids, n);
}
