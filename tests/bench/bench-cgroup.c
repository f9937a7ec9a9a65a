/* bench-cgroup [N]: the cost of a container's cgroup, N times: create with a memory, pids
 * and cpu limit, move a forked child in, destroy.  Prints the mean and median per step in
 * microseconds, and the mode, so the same program measures v1/hybrid here and v2 in the VM
 * lane (tests/vm/run-vm -- tests/bench/bench-cgroup). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/util.h"
#include "tests/bench/bench.h"

int main(int argc, char **argv)
{
  int n = 50;
  struct nook_resources res = { 0 };
  double *t_create, *t_enter, *t_destroy;

  if (argc > 1 && (nook_parse_int(argv[1], &n) < 0 || n < 1 || n > 100000))
    {
      fprintf(stderr, "usage: bench-cgroup [N]\n");
      return 2;
    }
  res.memory.limit = (struct nook_opt_i64){ true, 64 << 20 };
  res.pids.limit = (struct nook_opt_i64){ true, 100 };
  res.cpu.shares = (struct nook_opt_u64){ true, 512 };
  t_create = xcalloc((size_t)n, sizeof(double));
  t_enter = xcalloc((size_t)n, sizeof(double));
  t_destroy = xcalloc((size_t)n, sizeof(double));
  for (int i = 0; i < n; i++)
    {
      _cleanup_free_ char *id = xasprintf("bench-%d-%d", (int)getpid(), i);
      struct nook_cgroup_config cfg = { .id = id, .resources = &res };
      struct nook_cgroup *cg = NULL;
      struct nook_error *err = NULL;
      double t0 = bench_now_us(), t1, t2;
      pid_t child;

      if (nook_cgroup_create(&cfg, &cg, &err) < 0)
        {
          fprintf(stderr, "bench-cgroup: %s\n", err->msg);
          return 1;
        }
      t1 = bench_now_us();
      child = fork();
      if (child == 0)
        {
          pause();
          _exit(0);
        }
      t2 = bench_now_us();
      if (nook_cgroup_enter(cg, child, &err) < 0)
        {
          fprintf(stderr, "bench-cgroup: %s\n", err->msg);
          kill(child, SIGKILL);
          return 1;
        }
      t_enter[i] = bench_now_us() - t2;
      t_create[i] = t1 - t0;
      t0 = bench_now_us();
      if (nook_cgroup_destroy(cg, &err) < 0)
        {
          fprintf(stderr, "bench-cgroup: %s\n", err->msg);
          return 1;
        }
      t_destroy[i] = bench_now_us() - t0;
      waitpid(child, NULL, 0);
      nook_cgroup_free(cg);
    }
  printf("cgroup mode: %s, %d containers\n\n| step | median | mean |\n| --- | ---: | ---: |\n",
         nook_cgroup_mode_name(nook_cgroup_mode()), n);
  bench_report("create (mkdir + limits)", t_create, n);
  bench_report("enter (cgroup.procs)", t_enter, n);
  bench_report("destroy (kill, rmdir)", t_destroy, n);
  free(t_create);
  free(t_enter);
  free(t_destroy);
  return 0;
}
