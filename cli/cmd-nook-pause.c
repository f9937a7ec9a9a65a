/* `nook pause` and `nook unpause`: freeze and thaw every process of containers (their cgroup's
 * freezer, runtime/container.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/container.h"

static int pause_one(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  const struct nook_globals *g = x->g;
  struct image_store *s = x->s;
  bool pause = x->arg;
  _cleanup_ctr_ struct ctr *c = NULL;
  struct ctr_status st;
  int r;

  if ((r = verbs_ctr_find(s, what, &c, err)) < 0 || (r = ctr_status_get(g, s, c->id, &st, err)) < 0)
    return r;
  if (pause && st.state == CTR_PAUSED)
    return nook_error_setx(err, EINVAL, "container `%s` is paused already", what);
  if (pause && st.state != CTR_RUNNING)
    return nook_error_setx(err, EINVAL, "container `%s` is not running (%s)", what,
                           ctr_state_to_string(st.state));
  if (!pause && st.state != CTR_PAUSED)
    return nook_error_setx(err, EINVAL, "container `%s` is not paused (%s)", what,
                           ctr_state_to_string(st.state));
  r = nook_container_pause(g->root, c->id, pause, err);
  return r < 0 ? nook_error_prefix(err, "%s `%s`", pause ? "pause" : "unpause", what) : 0;
}

static int pause_verb(const struct nook_globals *g, int argc, char **argv, bool pause)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *verb = pause ? "pause" : "unpause";
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  int opt;

  while ((opt = verbs_getopt(argc, argv, "h", opts, verb)) != -1)
    switch (opt)
      {
      case 'h':
        if (pause)
          fputs("usage: nook pause CONTAINER...\n\n"
                "Freeze every process of running containers (their cgroup's freezer).\n",
                stdout);
        else
          fputs("usage: nook unpause CONTAINER...\n\nThaw paused containers.\n", stdout);
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_nook_usage(verb, "missing CONTAINER");
  if (image_store_open(g->storage, &s, &err) < 0)
    return cli_nook_fail(err);
  return verbs_each(argv + optind, argc - optind, true, pause_one,
                    &(struct verbs_ctx){ .g = g, .s = s, .arg = pause });
}

int cmd_nook_pause(const struct nook_globals *g, int argc, char **argv)
{
  return pause_verb(g, argc, argv, true);
}

int cmd_nook_unpause(const struct nook_globals *g, int argc, char **argv)
{
  return pause_verb(g, argc, argv, false);
}
