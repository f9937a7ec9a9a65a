/* Stopping a container of `nook run` (ctr_stop, cli/ctr.h): through its supervisor, which
 * records the exit and cleans up, or directly when the supervisor is gone. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/ctr.h"
#include "common/util.h"
#include "runtime/container.h"
#include "runtime/lifecycle.h"
#include "runtime/state.h"

/* Asks the supervisor to stop the container and waits for its exit message (sent after the
 * cleanup).  Returns 1 when it did, 0 when no supervisor answered. */
static int stop_supervised(struct image_store *s, const char *id, unsigned timeout,
                           struct nook_error **err)
{
  _cleanup_close_ int dfd = -1, sock = -1;
  char buf[NOOK_MSG_MAX];
  uint32_t t = timeout;
  ssize_t n;
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
  for (;;)
    {
      n = recv(sock, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return 0; /* it went away: the caller looks again */
      if (buf[0] == NOOK_MSG_EXIT)
        return 1;
    }
}

/* Without a supervisor: the init gets SIGKILL (after the stop signal and timeout), then the
 * cleanup the supervisor would have done. */
static int stop_direct(const struct nook_globals *g, struct image_store *s, const struct ctr *c,
                       unsigned timeout, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1, pidfd = -1;
  _cleanup_state_ struct nook_state *st = NULL;
  int r;

  if (nook_state_dir_open(g->root, c->id, false, &dfd, NULL) == 0
      && nook_state_read(dfd, c->id, &st, NULL) == 0 && nook_state_pidfd(st, &pidfd, NULL) == 0)
    {
      if (timeout > 0 && nook_container_kill(g->root, c->id, c->stop_signal, false, NULL) == 0
          && nook_lifecycle_wait_exit(pidfd, (int)timeout * 1000) == 0)
        ;
      else if ((r = nook_container_kill(g->root, c->id, SIGKILL, true, err)) < 0 && r != -ESRCH)
        return r;
      else
        nook_lifecycle_wait_exit(pidfd, 10000);
    }
  return ctr_cleanup(g, s, c->id, false, err);
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
  if (st.supervisor_alive && st.state != CTR_EXITED && st.state != CTR_CREATED)
    {
      if ((r = stop_supervised(s, id, timeout, err)) != 0)
        return r < 0 ? r : 0;
      if ((r = ctr_status_get(g, s, id, &st, err)) < 0)
        return r;
    }
  if (st.state == CTR_EXITED || st.state == CTR_CREATED)
    return 0;
  return stop_direct(g, s, c, timeout, err);
}
