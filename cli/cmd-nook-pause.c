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

static int freeze(const char *what, const struct verbs_ctx *x, bool pause, struct nook_error **err)
{
  const struct nook_globals *g = x->g;
  struct image_store *s = x->s;
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


static int pause_one(const char *what, void *data, struct nook_error **err)
{
  return freeze(what, data, true, err);
}

static int unpause_one(const char *what, void *data, struct nook_error **err)
{
  return freeze(what, data, false, err);
}

int cmd_nook_pause(const struct nook_globals *g, int argc, char **argv)
{
  static const struct verbs_each_spec spec = {
    .verb = "pause",
    .help = "usage: nook pause CONTAINER...\n\n"
            "Freeze every process of running containers (their cgroup's freezer).\n",
    .print_names = true,
    .fn = pause_one,
  };

  return verbs_each_main(g, argc, argv, &spec);
}

int cmd_nook_unpause(const struct nook_globals *g, int argc, char **argv)
{
  static const struct verbs_each_spec spec = {
    .verb = "unpause",
    .help = "usage: nook unpause CONTAINER...\n\nThaw paused containers.\n",
    .print_names = true,
    .fn = unpause_one,
  };

  return verbs_each_main(g, argc, argv, &spec);
}
