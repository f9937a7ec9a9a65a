/* What the people's lifecycle verbs share (see cli/verbs.h): options, finding containers,
 * running a verb over several, the supervisor and waits.  The formats are cli/verbs-format.c. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/lifecycle.h"
#include "runtime/state.h"

int verbs_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                 const char *verb)
{
  char spec[64];
  int c;

  snprintf(spec, sizeof spec, "+:%s", shortopts);
  opterr = 0;
  c = getopt_long(argc, argv, spec, opts, NULL);
  if (c == ':')
    {
      cli_nook_usage(verb, "option `%s` needs a value", argv[optind - 1]);
      return VERBS_OPT_ERROR;
    }
  if (c == '?')
    {
      cli_nook_usage(verb, "unknown option `%s`", argv[optind - 1]);
      return VERBS_OPT_ERROR;
    }
  return c;
}

int verbs_parse_timeout(const char *verb, const char *arg, int *ret)
{
  int64_t v;

  if (nook_parse_i64(arg, &v) < 0 || v < -1 || v > 86400)
    return cli_nook_usage(verb, "--time `%s`: use seconds, 0 to 86400 (-1: the container's own)",
                          arg);
  *ret = (int)v;
  return 0;
}

int verbs_ctr_find(struct image_store *s, const char *what, struct ctr **ret,
                   struct nook_error **err)
{
  char id[65];
  int r;

  if ((r = ctr_lookup(s, what, id, err)) < 0)
    return r;
  if ((r = ctr_load(s, id, ret, err)) < 0)
    return r == -ENOENT ? nook_error_prefix(err, "`%s`", what) : r;
  return 0;
}

int verbs_each(char **names, int n, bool print_names, verbs_each_fn fn, void *data)
{
  int rc = 0;

  for (int i = 0; i < n; i++)
    {
      struct nook_error *err = NULL;
      if (fn(names[i], data, &err) < 0)
        rc = cli_nook_fail(err);
      else if (print_names)
        printf("%s\n", names[i]);
      fflush(stdout);
    }
  return rc;
}

int verbs_each_main(const struct nook_globals *g, int argc, char **argv,
                    const struct verbs_each_spec *spec)
{
  static const struct option opts[] = {
    { "time", required_argument, NULL, 't' },
    { "timeout", required_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  int opt, timeout = -1;

  while ((opt = verbs_getopt(argc, argv, spec->timeout ? "t:h" : "h", spec->timeout ? opts : opts + 2,
                             spec->verb))
         != -1)
    switch (opt)
      {
      case 't':
        if (verbs_parse_timeout(spec->verb, optarg, &timeout) != 0)
          return NOOK_EXIT_ERROR;
        break;
      case 'h': fputs(spec->help, stdout); return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_nook_usage(spec->verb, "missing CONTAINER");
  if (image_store_open(g->storage, &s, &err) < 0)
    return cli_nook_fail(err);
  return verbs_each(argv + optind, argc - optind, spec->print_names, spec->fn,
                    &(struct verbs_ctx){ .g = g, .s = s, .arg = timeout });
}

int verbs_usage_from(const char *verb, struct nook_error *err)
{
  cli_nook_usage(verb, "%s", err->msg);
  nook_error_free(err);
  return NOOK_EXIT_ERROR;
}

/* ==== the supervisor ====================================================================== */

int verbs_watch_connect(struct image_store *s, const char *id, int *ret_sock,
                        struct nook_error **err)
{
  _cleanup_close_ int dfd = -1, sock = -1;
  int r;

  if ((r = ctr_dir_open(s, id, &dfd, err)) < 0 || (r = nook_attach_connect(dfd, &sock, err)) < 0
      || (r = nook_msg_send(sock, NOOK_MSG_WATCH, NULL, 0, err)) < 0)
    return r;
  *ret_sock = TAKE_FD(sock);
  return 0;
}

int verbs_wait_exit(int sock, struct nook_msg_exit *ret, struct nook_error **err)
{
  static char buf[NOOK_MSG_MAX];

  for (;;)
    {
      ssize_t n = recv(sock, buf, sizeof buf, MSG_CMSG_CLOEXEC);
      struct nook_msg_exit ex;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno != ECONNRESET)
        return nook_error_set(err, errno, "read from the supervisor");
      if (n <= 0)
        return nook_error_setx(err, ECONNRESET, "the supervisor went away without an exit code");
      if (buf[0] == NOOK_MSG_ERROR && (size_t)n >= 1 + sizeof(int32_t))
        {
          int32_t e;
          memcpy(&e, buf + 1, sizeof e);
          return nook_error_setx(err, e > 0 ? e : EIO, "the container could not be started: %.*s",
                                 (int)(n - 1 - (ssize_t)sizeof e), buf + 1 + sizeof e);
        }
      if (buf[0] != NOOK_MSG_EXIT || (size_t)n < 1 + sizeof ex)
        continue;
      memcpy(&ex, buf + 1, sizeof ex);
      if (ex.restarting)
        continue;
      *ret = ex;
      return 0;
    }
}

int verbs_init_wait(const char *root, const char *id, int timeout_ms, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1, pidfd = -1;
  _cleanup_state_ struct nook_state *st = NULL;
  int r;

  r = nook_state_dir_open(root, id, false, &dfd, NULL);
  if (r == -ENOENT)
    return 1;
  if (r < 0 || (r = nook_state_read(dfd, id, &st, NULL)) < 0)
    return 1; /* no state left to tell a live init by */
  r = nook_state_pidfd(st, &pidfd, err);
  if (r == -ESRCH)
    return 1;
  if (r < 0)
    return r;
  return nook_lifecycle_wait_exit(pidfd, timeout_ms) == 0 ? 1 : 0;
}

/* ==== waiting ============================================================================= */

void verbs_wait_supervisor_gone(const struct nook_globals *g, struct image_store *s,
                                const char *id)
{
  for (int i = 0; i < 500; i++)
    {
      struct ctr_status st;
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (ctr_status_get(g, s, id, &st, NULL) < 0 || !st.supervisor_alive)
        return;
      nanosleep(&ts, NULL);
    }
}
