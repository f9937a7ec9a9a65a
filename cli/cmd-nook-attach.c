/* `nook attach`: our terminal or stdio to a running container's, through its supervisor's
 * attach socket (runtime/supervisor.h), until it exits or the detach keys. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"

static void attach_usage(void)
{
  fputs("usage: nook attach [OPTIONS] CONTAINER\n\n"
        "Attach to a running container: its output to ours, our input to its (when it was\n"
        "run with -i).  Returns the container's exit code when it exits, 0 when detached.\n\n"
        "      --no-stdin           do not relay our input\n"
        "      --detach-keys KEYS   keys that detach from a container with a terminal\n"
        "                           (default ctrl-p,ctrl-q; \"\" for none)\n"
        "      --sig-proxy=false    do not forward the signals we receive (without a\n"
        "                           terminal they are, by default)\n",
        stdout);
}

int cmd_nook_attach(const struct nook_globals *g, int argc, char **argv)
{
  enum
  {
    OPT_NO_STDIN = 1000,
    OPT_DETACH_KEYS,
    OPT_SIG_PROXY,
  };
  static const struct option opts[] = {
    { "no-stdin", no_argument, NULL, OPT_NO_STDIN },
    { "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
    { "sig-proxy", optional_argument, NULL, OPT_SIG_PROXY },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_close_ int dfd = -1, sock = -1;
  struct nook_attach_opts ao = { .sig_proxy = true };
  struct nook_error *err = NULL;
  struct nook_msg_exit ex = { 0 };
  struct ctr_status st;
  bool no_stdin = false, detached = false;
  int opt;

  while ((opt = verbs_getopt(argc, argv, "h", opts, "attach")) != -1)
    switch (opt)
      {
      case OPT_NO_STDIN: no_stdin = true; break;
      case OPT_DETACH_KEYS: ao.detach_keys = optarg; break;
      case OPT_SIG_PROXY:
        if (!optarg || streq(optarg, "true"))
          ao.sig_proxy = true;
        else if (streq(optarg, "false"))
          ao.sig_proxy = false;
        else
          return cli_nook_usage("attach", "--sig-proxy `%s`: use true or false", optarg);
        break;
      case 'h': attach_usage(); return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind + 1 != argc)
    return cli_nook_usage("attach", optind >= argc ? "missing CONTAINER" : "one CONTAINER only");
  if (image_store_open(g->storage, &s, &err) < 0 || verbs_ctr_find(s, argv[optind], &c, &err) < 0
      || ctr_status_get(g, s, c->id, &st, &err) < 0)
    return cli_nook_fail(err);
  if (!verbs_state_running(st.state) && st.state != CTR_RESTARTING)
    {
      nook_error_setx(&err, EINVAL, "container `%s` is not running: only running containers "
                                    "can be attached to", argv[optind]);
      return cli_nook_fail(err);
    }
  if (!st.supervisor_alive)
    {
      nook_error_setx(&err, ENOTCONN, "container `%s` has no supervisor: its input and output "
                                      "are gone (its log keeps what it wrote)", argv[optind]);
      return cli_nook_fail(err);
    }
  ao.stdin = c->interactive && !no_stdin;
  ao.tty = c->tty;
  ao.sig_proxy = ao.sig_proxy && !c->tty; /* with a terminal ^C is a key for the container */
  if (ctr_dir_open(s, c->id, &dfd, &err) < 0 || nook_attach_connect(dfd, &sock, &err) < 0
      || nook_attach_run(sock, &ao, &ex, &detached, &err) < 0)
    {
      nook_error_prefix(&err, "container `%s`", argv[optind]);
      return cli_nook_fail(err);
    }
  return detached ? 0 : ex.exit_code;
}
