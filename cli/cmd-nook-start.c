/* `nook start` and `nook restart`: a created or exited container runs again under a new
 * supervisor (ctr_start, cli/ctr.h), as podman's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"

/* Starts c unless it runs already (podman's start of a running container is fine). */
static int start_one(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
                     bool attach, int *ret_code, struct nook_error **err)
{
  struct ctr_status st;
  int r;

  *ret_code = 0;
  if ((r = ctr_status_get(g, s, c->id, &st, err)) < 0)
    return r;
  if (verbs_state_running(st.state) || st.state == CTR_RESTARTING)
    {
      if (!attach)
        return 0;
      return nook_error_setx(err, EBUSY, "container `%s` is running already: use nook attach",
                             c->name);
    }
  /* The last supervisor may still be on its way out after the exit. */
  verbs_wait_supervisor_gone(g, s, c->id);
  return ctr_start(g, s, c, attach, ret_code, err);
}

static int start_detached(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  _cleanup_ctr_ struct ctr *c = NULL;
  int r, code = 0;

  if ((r = verbs_ctr_find(x->s, what, &c, err)) < 0)
    return r;
  return start_one(x->g, x->s, c, false, &code, err);
}

int cmd_nook_start(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "attach", no_argument, NULL, 'a' },
    { "interactive", no_argument, NULL, 'i' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  bool attach = false, interactive = false;
  int opt;

  while ((opt = verbs_getopt(argc, argv, "aih", opts, "start")) != -1)
    switch (opt)
      {
      case 'a': attach = true; break;
      case 'i': interactive = true; break;
      case 'h':
        fputs("usage: nook start [-a] [-i] CONTAINER...\n\n"
              "Start created or exited containers again, with the command, flags and\n"
              "filesystem they were run with, in the background.  Prints the names.\n\n"
              "  -a, --attach        stay attached to its output and return its exit code\n"
              "  -i, --interactive   relay our input too (a container run with -i; implies -a)\n",
              stdout);
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_nook_usage("start", "missing CONTAINER");
  attach = attach || interactive;
  if (attach && argc - optind > 1)
    return cli_nook_usage("start", "-a and -i take one CONTAINER");
  if (attach && !interactive)
    {
      /* Attached, our input is not the container's: it sees no input, not our end of it. */
      _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null < 0 || dup2(null, STDIN_FILENO) < 0)
        {
          nook_error_set(&err, errno, "open /dev/null");
          return cli_nook_fail(err);
        }
    }
  if (image_store_open(g->storage, &s, &err) < 0)
    return cli_nook_fail(err);
  if (attach)
    {
      _cleanup_ctr_ struct ctr *c = NULL;
      int code = 0;
      if (verbs_ctr_find(s, argv[optind], &c, &err) < 0
          || start_one(g, s, c, true, &code, &err) < 0)
        return cli_nook_fail(err);
      return code;
    }
  return verbs_each(argv + optind, argc - optind, true, start_detached,
                    &(struct verbs_ctx){ .g = g, .s = s });
}

/* Stops (x->arg: the timeout, < 0 the container's own) and starts the container what. */
static int restart_one(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  const struct nook_globals *g = x->g;
  struct image_store *s = x->s;
  int timeout = x->arg;
  _cleanup_ctr_ struct ctr *c = NULL;
  char id[65];
  int r, code = 0;

  if ((r = verbs_ctr_find(s, what, &c, err)) < 0
      || (r = ctr_stop(g, s, c->id, timeout < 0 ? c->stop_timeout : (unsigned)timeout, err)) < 0)
    return r;
  /* --rm: the stop removed it. */
  if (ctr_lookup(s, c->id, id, NULL) < 0)
    return nook_error_setx(err, ENOENT, "container `%s` was removed when it stopped (--rm)", what);
  return start_one(g, s, c, false, &code, err);
}

int cmd_nook_restart(const struct nook_globals *g, int argc, char **argv)
{
  static const struct verbs_each_spec spec = {
    .verb = "restart",
    .help = "usage: nook restart [-t SECONDS] CONTAINER...\n\n"
            "Stop containers (as nook stop -t) if they run, then start them again in the\n"
            "background.  Prints the names.\n\n"
            "  -t, --time SECONDS   the stop's time before SIGKILL\n",
    .timeout = true,
    .print_names = true,
    .fn = restart_one,
  };

  return verbs_each_main(g, argc, argv, &spec);
}
