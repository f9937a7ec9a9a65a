/* bench-run-network [N [DIR]]: what the network of one `nook run` container costs,
 * run_network_setup() and run_network_teardown() (cli/run-network.c) as `nook run` calls them:
 * a network namespace bound on ROOT/@netns/ID, attach to the default network, the hosts file
 * (and every peer's), hostname and resolv.conf; then the namespace file unmounted, detach (the
 * kernel removes the veth pair with the namespace, in the background), the peers' hosts files
 * again.  Rounds of N: each container set up and torn down alone on the network; N set up one
 * after the other (each new one has the earlier ones as peers, so the last setups rewrite N-1
 * hosts files), then torn down; alone with one published port; --net none (the files only);
 * alone again, each teardown followed by a wait until the host end of its veth is gone (how
 * long the kernel takes, polled every 100 us).  --root and --storage
 * are made below DIR (default /tmp): its file system matters for the lease journal and the
 * files.  Prints medians and means in microseconds, in markdown.
 *
 * Runs as root in a network namespace and a mount namespace of its own: the host's network is
 * never touched, and what the bench mounts goes with it. */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run-network.h"
#include "common/util.h"
#include "images/image.h"
#include "netns/netns.h"
#include "tests/bench/bench.h"

static int fail(struct nook_error *err)
{
  fprintf(stderr, "bench-run-network: %s\n", err ? err->msg : "failed");
  return 1;
}

static char *ctr_id(int round, int i)
{
  return xasprintf("%056x%08x", round, i);
}

/* Tears container i of round down; with t_gone, then waits (up to 5 s) until the host end of
 * its veth is gone, and says how long that took after teardown returned. */
static int teardown(const struct nook_globals *g, struct image_store *s, int round, int i,
                    const char *network, double *t, double *t_gone)
{
  _cleanup_free_ char *id = ctr_id(round, i);
  _cleanup_nl_sock_ struct nl_sock *nl = NULL;
  struct nook_error *err = NULL;
  char host_if[IFNAMSIZ];
  double t0, t1;

  if (t_gone && nl_sock_open(-1, &nl, &err) < 0)
    return fail(err);
  t0 = bench_now_us();
  if (run_network_teardown(g, s, id, network, &err) < 0)
    return fail(err);
  t1 = bench_now_us();
  *t = t1 - t0;
  if (t_gone == NULL)
    return 0;
  netns_veth_name(id, host_if);
  while (nl_link_exists(nl, host_if, NULL) == 1)
    {
      if (bench_now_us() - t1 > 5e6)
        {
          fprintf(stderr, "bench-run-network: `%s` still there after 5 s\n", host_if);
          return 1;
        }
      usleep(100);
    }
  *t_gone = bench_now_us() - t1;
  return 0;
}

/* Sets up n containers (made in the store first) with `network` and a port each when ports,
 * then tears them down (each right after its setup when alone: no peers); times in t_setup[]
 * and t_teardown[], and when t_gone is not NULL how long each host end outlived teardown. */
static int round_trip(const struct nook_globals *g, struct image_store *s, int round, int n,
                      const char *network, bool ports, bool alone, double *t_setup,
                      double *t_teardown, double *t_gone)
{
  struct nook_error *err = NULL;

  for (int i = 0; i < n; i++)
    {
      _cleanup_free_ char *id = ctr_id(round, i), *name = xasprintf("c%d-%d", round, i);
      _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->path, id);
      _cleanup_free_ char *port = xasprintf("%d:80", 20000 + i);
      char *pv[] = { port, NULL };
      struct run_network_config cfg = {
        .id = id, .name = name, .network = network, .ports = ports ? pv : NULL
      };
      struct run_network net;
      double t0;

      if (mkdir(dir, 0700) < 0)
        return fail(NULL);
      t0 = bench_now_us();
      if (run_network_setup(g, s, &cfg, &net, &err) < 0)
        return fail(err);
      t_setup[i] = bench_now_us() - t0;
      run_network_done(&net);
      if (alone && teardown(g, s, round, i, network, &t_teardown[i], t_gone ? &t_gone[i] : NULL))
        return 1;
    }
  for (int i = 0; i < n && !alone; i++)
    if (teardown(g, s, round, i, network, &t_teardown[i], NULL) != 0)
      return 1;
  return 0;
}

/* What a bare network namespace bound on a file costs (unshare, bind mount, setns back), for
 * comparison with setup. */
static int bare_netns(const char *dir, int n, double *t)
{
  _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  for (int i = 0; i < n; i++)
    {
      _cleanup_free_ char *path = xasprintf("%s/bare-%d", dir, i);
      _cleanup_close_ int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
      double t0 = bench_now_us();

      if (fd < 0 || unshare(CLONE_NEWNET) < 0
          || mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0
          || setns(self, CLONE_NEWNET) < 0)
        return fail(NULL);
      t[i] = bench_now_us() - t0;
    }
  for (int i = 0; i < n; i++)
    {
      _cleanup_free_ char *path = xasprintf("%s/bare-%d", dir, i);
      umount2(path, MNT_DETACH);
      unlink(path);
    }
  return 0;
}

int main(int argc, char **argv)
{
  _cleanup_free_ char *tmpl = NULL, *root = NULL, *storage = NULL;
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_nl_sock_ struct nl_sock *nl = NULL;
  struct nook_error *err = NULL;
  struct nook_globals g = { NULL };
  double *t[12], first_setup, first_teardown;
  const char *dir;
  int n = 100;

  if (argc > 3 || (argc > 1 && (nook_parse_int(argv[1], &n) < 0 || n < 1 || n > 5000)))
    {
      fprintf(stderr, "usage: bench-run-network [N [DIR]]\n");
      return 2;
    }
  tmpl = xasprintf("%s/nook-bench-run-network.XXXXXX", argc > 2 ? argv[2] : "/tmp");
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0
      || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      fprintf(stderr, "bench-run-network: needs root, for namespaces of its own\n");
      return 1;
    }
  dir = mkdtemp(tmpl);
  if (dir == NULL)
    return fail(NULL);
  root = xasprintf("%s/root", dir);
  storage = xasprintf("%s/storage", dir);
  g.root = root;
  g.storage = storage;
  if (nl_sock_open(-1, &nl, &err) < 0 || nl_link_set_up(nl, "lo", true, &err) < 0
      || image_store_open(storage, &s, &err) < 0)
    return fail(err);
  for (int i = 0; i < 12; i++)
    t[i] = xcalloc((size_t)n, sizeof(double));
  /* the first also makes the default network, its bridge and the nft table */
  if (round_trip(&g, s, 0, 1, NULL, false, true, &first_setup, &first_teardown, NULL) != 0
      || round_trip(&g, s, 1, n, NULL, false, true, t[0], t[1], NULL) != 0
      || round_trip(&g, s, 2, n, NULL, false, false, t[2], t[3], NULL) != 0
      || round_trip(&g, s, 3, n, NULL, true, true, t[4], t[5], NULL) != 0
      || round_trip(&g, s, 4, n, "none", false, true, t[6], t[7], NULL) != 0
      || round_trip(&g, s, 5, n, NULL, false, true, t[9], t[10], t[11]) != 0
      || bare_netns(dir, n, t[8]) != 0)
    return 1;
  printf("%d containers on the default network, each alone or joining the earlier ones;\n"
         "state in %s\n\n| step | median | mean |\n| --- | ---: | ---: |\n",
         n, dir);
  printf("| first setup (network, bridge, nft table too) | %.0f us | |\n", first_setup);
  bench_report("setup, alone on the network", t[0], n);
  bench_report("teardown, alone", t[1], n);
  bench_report("setup, joining 0 to N-1 others (their hosts files)", t[2], n);
  bench_report("teardown, leaving N-1 to 0 others", t[3], n);
  bench_report("setup, alone, one published port", t[4], n);
  bench_report("teardown, alone, one published port", t[5], n);
  bench_report("--net none: setup (the files)", t[6], n);
  bench_report("--net none: teardown", t[7], n);
  bench_report("a bare network namespace bound on a file", t[8], n);
  bench_report("setup, alone, the previous pair gone", t[9], n);
  bench_report("teardown, alone, then waiting for the veth to go", t[10], n);
  bench_report("... until the host end of the veth is gone, after teardown", t[11], n);
  for (int i = 0; i < 12; i++)
    free(t[i]);
  nook_rm_rf_at(AT_FDCWD, dir, NULL);
  return 0;
}
