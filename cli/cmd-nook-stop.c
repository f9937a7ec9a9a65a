/* `nook stop` and `nook kill`, and ctr_stop (cli/ctr.h).
 *
 * Both go through the container's supervisor when it lives: it sends the signal, marks the
 * exit as the user's (restart policies do not apply), and for stop arms the SIGKILL deadline
 * and reports the exit.  A container whose supervisor was killed is signalled directly; stop
 * then waits for its init with a pidfd, records the exit in status.json (the code is what the
 * signal makes it: nobody reaped the init to know better) and cleans up as the supervisor
 * would have. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/container.h"


/* The stop of a container without a supervisor. */
static int stop_direct(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
                       unsigned timeout, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  struct ctr_status st;
  int sig = timeout ? c->stop_signal : SIGKILL, r;

  if (ctr_status_get(g, s, c->id, &st, err) < 0)
    return -1;
  r = nook_container_kill(g->root, c->id, sig, false, err);
  if (r < 0 && verbs_init_wait(g->root, c->id, 0, NULL) == 1)
    nook_error_freep(err); /* it exited meanwhile */
  else if (r < 0)
    return r;
  r = verbs_init_wait(g->root, c->id, (int)(timeout > 86400 ? 86400 : timeout) * 1000, err);
  if (r == 0)
    {
      sig = SIGKILL;
      r = nook_container_kill(g->root, c->id, SIGKILL, true, err);
      if (r < 0 && verbs_init_wait(g->root, c->id, 0, NULL) != 1)
        return r;
      nook_error_freep(err);
      r = verbs_init_wait(g->root, c->id, 10000, err);
      if (r == 0)
        return nook_error_setx(err, ETIMEDOUT, "container `%s` did not die of SIGKILL", c->name);
    }
  if (r < 0)
    return r;
  st.sup.state = NOOK_SUP_EXITED;
  st.sup.exit_code = 128 + sig;
  st.sup.signal = sig;
  st.sup.stopped_by_user = true;
  st.sup.finished_ns = verbs_now_ns();
  if ((r = ctr_dir_open(s, c->id, &dfd, err)) < 0 || (r = nook_sup_status_write(dfd, &st.sup, err)) < 0)
    return r;
  return ctr_cleanup(g, s, c->id, false, err);
}

/* The stop through the supervisor.  1: it reported the exit; 0: it is not there (any more). */
static int stop_supervised(struct image_store *s, const char *id, unsigned timeout,
                           struct nook_error **err)
{
  _cleanup_close_ int dfd = -1, sock = -1;
  struct nook_msg_exit ex;
  uint32_t t = timeout;
  int r;

  if ((r = ctr_dir_open(s, id, &dfd, err)) < 0)
    return r;
  r = nook_attach_connect(dfd, &sock, err);
  if (r == -ECONNREFUSED || r == -ENOENT)
    {
      nook_error_freep(err);
      return 0;
    }
  if (r < 0 || (r = nook_msg_send(sock, NOOK_MSG_WATCH, NULL, 0, err)) < 0
      || (r = nook_msg_send(sock, NOOK_MSG_STOP, &t, sizeof t, err)) < 0)
    return r;
  r = verbs_wait_exit(sock, &ex, err);
  if (r == -ECONNRESET)
    {
      nook_error_freep(err);
      return 0;
    }
  return r < 0 ? r : 1;
}

int ctr_stop(const struct nook_globals *g, struct image_store *s, const char *id, unsigned timeout,
             struct nook_error **err)
{
  _cleanup_ctr_ struct ctr *c = NULL;
  struct ctr_status st;
  int r;

  if ((r = ctr_load(s, id, &c, err)) < 0 || (r = ctr_status_get(g, s, id, &st, err)) < 0)
    return r;
  if (st.state == CTR_PAUSED && (r = nook_container_pause(g->root, id, false, err)) < 0)
    return r; /* a frozen init would not see the signal */
  if (st.supervisor_alive && (verbs_state_running(st.state) || st.state == CTR_RESTARTING))
    {
      if ((r = stop_supervised(s, id, timeout, err)) != 0)
        return r < 0 ? r : 0;
      /* The supervisor went away meanwhile: what is left? */
      if ((r = ctr_status_get(g, s, id, &st, err)) < 0)
        return r;
    }
  if (!verbs_state_running(st.state))
    return 0;
  return stop_direct(g, s, c, timeout, err);
}

/* ==== the verbs =========================================================================== */


static int stop_one(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  _cleanup_ctr_ struct ctr *c = NULL;
  int r;

  if ((r = verbs_ctr_find(x->s, what, &c, err)) < 0)
    return r;
  r = ctr_stop(x->g, x->s, c->id, x->arg < 0 ? c->stop_timeout : (unsigned)x->arg, err);
  return r < 0 ? nook_error_prefix(err, "stop `%s`", what) : 0;
}

int cmd_nook_stop(const struct nook_globals *g, int argc, char **argv)
{
  static const struct verbs_each_spec spec = {
    .verb = "stop",
    .help = "usage: nook stop [-t SECONDS] CONTAINER...\n\n"
            "Stop running containers: their stop signal (the image's StopSignal, else\n"
            "SIGTERM), then SIGKILL after the timeout (-t, default the container's own, 10).\n"
            "Restart policies do not restart a stopped container.  Prints the names.\n\n"
            "  -t, --time SECONDS   before SIGKILL (0: at once)\n",
    .timeout = true,
    .print_names = true,
    .fn = stop_one,
  };

  return verbs_each_main(g, argc, argv, &spec);
}

/* Sends sig to the running container c: through the supervisor, or directly without one. */
static int kill_one(const char *what, void *data, struct nook_error **err)
{
  const struct verbs_ctx *x = data;
  const struct nook_globals *g = x->g;
  _cleanup_close_ int dfd = -1, sock = -1;
  _cleanup_ctr_ struct ctr *c = NULL;
  struct image_store *s = x->s;
  struct ctr_status st;
  int32_t sig32 = x->arg;
  int r;

  if ((r = verbs_ctr_find(s, what, &c, err)) < 0 || (r = ctr_status_get(g, s, c->id, &st, err)) < 0)
    return r;
  if (!verbs_state_running(st.state))
    return nook_error_setx(err, EINVAL, "container `%s` is not running (%s)", what,
                           ctr_state_to_string(st.state));
  if (st.supervisor_alive && ctr_dir_open(s, c->id, &dfd, NULL) == 0
      && nook_attach_connect(dfd, &sock, NULL) == 0)
    return nook_msg_send(sock, NOOK_MSG_KILL, &sig32, sizeof sig32, err);
  r = nook_container_kill(g->root, c->id, x->arg, false, err);
  return r < 0 ? nook_error_prefix(err, "kill `%s`", what) : 0;
}

int cmd_nook_kill(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "signal", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  int opt, sig = SIGKILL;

  while ((opt = verbs_getopt(argc, argv, "s:h", opts, "kill")) != -1)
    switch (opt)
      {
      case 's':
        if ((sig = nook_signal_parse(optarg)) < 0)
          return cli_nook_usage("kill", "--signal `%s`: not a signal (a name or number)", optarg);
        break;
      case 'h':
        fputs("usage: nook kill [-s SIGNAL] CONTAINER...\n\n"
              "Send a signal (default SIGKILL) to the main process of running containers.\n"
              "Restart policies do not restart a container killed so.  Prints the names.\n\n"
              "  -s, --signal SIGNAL   a name (TERM, SIGUSR1) or number\n",
              stdout);
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_nook_usage("kill", "missing CONTAINER");
  if (image_store_open(g->storage, &s, &err) < 0)
    return cli_nook_fail(err);
  return verbs_each(argv + optind, argc - optind, true, kill_one,
                    &(struct verbs_ctx){ .g = g, .s = s, .arg = sig });
}
