/* `nook wait`: blocks until containers exit and prints their exit codes, one a line. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"

/* The exit code of the container id, once it exited for good. */
static int wait_one(const struct nook_globals *g, struct image_store *s, const char *what,
                    const char *id, int *ret_code, struct nook_error **err)
{
  struct timespec pause = { 0, 100 * 1000 * 1000 };
  bool waited_unsupervised = false;

  for (;;)
    {
      _cleanup_close_ int sock = -1;
      struct nook_msg_exit ex;
      struct ctr_status st;
      int r;

      if ((r = ctr_status_get(g, s, id, &st, err)) < 0)
        return r;
      if (st.state == CTR_EXITED)
        {
          *ret_code = st.sup.exit_code;
          return 0;
        }
      if (st.supervisor_alive && verbs_watch_connect(s, id, &sock, NULL) == 0)
        {
          r = verbs_wait_exit(sock, &ex, err);
          if (r == 0)
            {
              *ret_code = ex.exit_code;
              return 0;
            }
          if (r != -ECONNRESET)
            return r;
          nook_error_freep(err); /* gone without a word: look again */
        }
      else if (verbs_state_running(st.state) && !st.supervisor_alive)
        {
          if (waited_unsupervised)
            return nook_error_setx(err, ECHILD, "container `%s` exited without its supervisor: "
                                                "its exit code is unknown", what);
          /* Nobody reaps it for us: its code is known only when `nook stop` recorded one. */
          if ((r = verbs_init_wait(g->root, id, -1, err)) < 0)
            return r;
          waited_unsupervised = true;
        }
      /* Created and not started yet, or between two supervisors: look again soon. */
      nanosleep(&pause, NULL);
    }
}

static int wait_print(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  char id[65];
  int r, code = 0;

  if ((r = ctr_lookup(x->s, what, id, err)) < 0 || (r = wait_one(x->g, x->s, what, id, &code, err)) < 0)
    return r;
  printf("%d\n", code);
  return 0;
}

int cmd_nook_wait(const struct nook_globals *g, int argc, char **argv)
{
  static const struct verbs_each_spec spec = {
    .verb = "wait",
    .help = "usage: nook wait CONTAINER...\n\n"
            "Wait until each container exits (for good: not to be restarted by its policy)\n"
            "and print its exit code; an exited container's code is printed at once.\n",
    .fn = wait_print,
  };

  return verbs_each_main(g, argc, argv, &spec);
}
