/* bench-netns [N [DIR]]: the cost of a container's network.  N fresh network namespaces are
 * attached to the default network one after the other (bridge, lease, veth pair, address,
 * route, lo, nft rules), then detached; then the same with one published port each.  Prints
 * the median and mean per step in microseconds.  Making the namespaces is not counted (the
 * runtime's clone does it), and they are destroyed only after a round is measured: a dying
 * namespace is torn down by the kernel in the background under the rtnl lock, which would
 * land in whichever netlink request comes next.  The state dir (leases, network configs) is
 * made below DIR (default /tmp): its file system matters, as every lease change is a rename.
 *
 * Runs as root in a network namespace of its own, which plays the host: the host's network is
 * never touched, and everything goes when the program exits. */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "netns/netns.h"
#include "tests/bench/bench.h"

static int host_fd = -1;

/* A fresh network namespace, held by the returned fd; the thread stays in host_fd's. */
static int new_netns(void)
{
  int fd = -1;

  if (unshare(CLONE_NEWNET) == 0)
    fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (setns(host_fd, CLONE_NEWNET) < 0)
    abort();
  return fd;
}

static int fail(struct nook_error *err)
{
  fprintf(stderr, "bench-netns: %s\n", err ? err->msg : "failed");
  return 1;
}

/* Attaches n new namespaces, then detaches them; times in t_attach[] and t_detach[]. */
static int round_trip(const char *state, int n, const struct nat_port *ports, size_t n_ports,
                      double *t_attach, double *t_detach)
{
  int *ns = xcalloc((size_t)n, sizeof(int));
  struct nook_error *err = NULL;
  int r = 0;

  for (int i = 0; i < n; i++)
    if ((ns[i] = new_netns()) < 0)
      return fail(NULL);
  for (int i = 0; i < n && r == 0; i++)
    {
      _cleanup_free_ char *id = xasprintf("bench-%d", i);
      struct netns_attach_config cfg = {
        .state_dir = state, .id = id, .netns_fd = ns[i], .ports = ports, .n_ports = n_ports
      };
      struct netns_attachment a;
      double t0 = bench_now_us();

      if (netns_container_attach(&cfg, &a, &err) < 0)
        r = fail(err);
      t_attach[i] = bench_now_us() - t0;
    }
  for (int i = 0; i < n && r == 0; i++)
    {
      _cleanup_free_ char *id = xasprintf("bench-%d", i);
      double t0 = bench_now_us();

      if (netns_container_detach(state, NETWORK_DEFAULT, id, -1, &err) < 0)
        r = fail(err);
      t_detach[i] = bench_now_us() - t0;
    }
  for (int i = 0; i < n; i++)
    close(ns[i]);
  free(ns);
  return r;
}

int main(int argc, char **argv)
{
  _cleanup_free_ char *tmpl = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  struct nook_error *err = NULL;
  struct nat_port port;
  double *t[4], first_attach, first_detach;
  struct stat before, after;
  const char *dir;
  int n = 100;

  if (argc > 3 || (argc > 1 && (nook_parse_int(argv[1], &n) < 0 || n < 1 || n > 10000)))
    {
      fprintf(stderr, "usage: bench-netns [N [DIR]]\n");
      return 2;
    }
  tmpl = xasprintf("%s/nook-bench-netns.XXXXXX", argc > 2 ? argv[2] : "/tmp");
  if (stat("/proc/self/ns/net", &before) < 0 || unshare(CLONE_NEWNET) < 0
      || stat("/proc/self/ns/net", &after) < 0 || before.st_ino == after.st_ino)
    {
      fprintf(stderr, "bench-netns: needs root, for a network namespace of its own\n");
      return 1;
    }
  host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  dir = mkdtemp(tmpl);
  if (host_fd < 0 || dir == NULL || nl_sock_open(-1, &s, &err) < 0
      || nl_link_set_up(s, "lo", true, &err) < 0 || nat_port_parse("18080:80", &port, &err) < 0)
    return fail(err);
  for (int i = 0; i < 4; i++)
    t[i] = xcalloc((size_t)n, sizeof(double));
  /* the first one also makes the default network, its bridge and the nft table */
  if (round_trip(dir, 1, NULL, 0, &first_attach, &first_detach) != 0
      || round_trip(dir, n, NULL, 0, t[0], t[1]) != 0
      || round_trip(dir, n, &port, 1, t[2], t[3]) != 0)
    return 1;
  printf("%d containers attached, then detached, twice (the default network, 10.88.0.0/16);\n"
         "state in %s\n\n| step | median | mean |\n| --- | ---: | ---: |\n",
         n, dir);
  printf("| first attach (network, bridge, nft table too) | %.0f us | |\n", first_attach);
  bench_report("attach", t[0], n);
  bench_report("detach", t[1], n);
  bench_report("attach, one published port", t[2], n);
  bench_report("detach, one published port", t[3], n);
  for (int i = 0; i < 4; i++)
    free(t[i]);
  nook_rm_rf_at(AT_FDCWD, dir, NULL);
  return 0;
}
