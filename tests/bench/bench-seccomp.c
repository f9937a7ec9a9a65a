/* bench-seccomp [N]: the cost of linux.seccomp per container for a default-like profile
 * (defaultAction ERRNO, x86_64/x86/x32, one ALLOW rule with the first ~300 syscalls libseccomp
 * knows plus docker's personality and clone argument rules), N times each: compile with
 * libseccomp (no cache), compile with a cache hit, and load the program in a forked child.
 * Prints the median and mean in microseconds as a markdown table. */
#include "config.h"

#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/bench/bench.h"
#include "runtime/seccomp.h"

#define N_NAMES 300

/* A profile shaped like runc's and docker's default. */
static char *profile_json(size_t *ret_names)
{
  static const char *const denied[] = { "mount", "umount2", "reboot", "kexec_load", "ptrace",
                                        "personality", "clone", "swapon", "swapoff", "bpf" };
  char *names = xstrdup("");
  size_t n = 0;

  for (int nr = 0; nr < 1024 && n < N_NAMES; nr++)
    {
      char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
      bool skip = name == NULL;
      for (size_t i = 0; !skip && i < ARRAY_SIZE(denied); i++)
        skip = streq(name, denied[i]);
      if (!skip)
        {
          char *next = xasprintf("%s%s\"%s\"", names, n ? "," : "", name);
          free(names);
          names = next;
          n++;
        }
      free(name);
    }
  *ret_names = n;
  char *json = xasprintf(
      "{\"ociVersion\":\"1.2.0\",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
      "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
      "\"syscalls\":[{\"names\":[%s],\"action\":\"SCMP_ACT_ALLOW\"},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
      "\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
      "\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
      "\"value\":4294967295,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
      "\"value\":2114060288,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}}}",
      names);
  free(names);
  return json;
}

static int compile(const struct nook_spec *spec, const char *dir, double *t, bool *hit)
{
  struct nook_seccomp_filter *f = NULL;
  struct nook_error *err = NULL;
  double t0 = bench_now_us();

  if (nook_seccomp_compile(spec, dir, &f, &err) < 0)
    {
      fprintf(stderr, "bench-seccomp: %s\n", err->msg);
      return -1;
    }
  *t = bench_now_us() - t0;
  *hit = nook_seccomp_filter_from_cache(f);
  nook_seccomp_filter_free(f);
  return 0;
}

static double load_in_child(const struct nook_spec *spec)
{
  struct nook_seccomp_filter *f = NULL;
  int pipefd[2], st;
  double t = -1;

  if (nook_seccomp_compile(spec, NULL, &f, NULL) < 0 || pipe(pipefd) < 0)
    return -1;
  if (fork() == 0)
    {
      int nfd;
      double t0 = bench_now_us();
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && nook_seccomp_load(f, &nfd, NULL) == 0)
        t = bench_now_us() - t0;
      _exit(write(pipefd[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
    }
  close(pipefd[1]);
  if (read(pipefd[0], &t, sizeof(t)) != sizeof(t))
    t = -1;
  close(pipefd[0]);
  wait(&st);
  nook_seccomp_filter_free(f);
  return t;
}

int main(int argc, char **argv)
{
  char tmpl[] = "/tmp/nook-bench-seccomp.XXXXXX";
  _cleanup_free_ char *json = NULL;
  struct nook_spec *spec = NULL;
  struct nook_error *err = NULL;
  double *t_compile, *t_hit, *t_load;
  size_t n_names;
  char *dir;
  bool hit;
  int n = 50, rc = 1;

  if (argc > 1 && (nook_parse_int(argv[1], &n) < 0 || n < 1 || n > 100000))
    {
      fprintf(stderr, "usage: bench-seccomp [N]\n");
      return 2;
    }
  json = profile_json(&n_names);
  if (nook_spec_parse(json, strlen(json), &spec, &err) < 0 || (dir = mkdtemp(tmpl)) == NULL)
    {
      fprintf(stderr, "bench-seccomp: %s\n", err ? err->msg : "mkdtemp");
      return 1;
    }
  t_compile = xcalloc((size_t)n, sizeof(double));
  t_hit = xcalloc((size_t)n, sizeof(double));
  t_load = xcalloc((size_t)n, sizeof(double));
  if (compile(spec, dir, &t_hit[0], &hit) < 0) /* fills the cache */
    goto out;
  for (int i = 0; i < n; i++)
    {
      if (compile(spec, NULL, &t_compile[i], &hit) < 0 || compile(spec, dir, &t_hit[i], &hit) < 0)
        goto out;
      if (!hit)
        {
          fprintf(stderr, "bench-seccomp: expected a cache hit\n");
          goto out;
        }
      t_load[i] = load_in_child(spec);
    }
  printf("profile: defaultAction ERRNO, 3 arches, %zu allowed syscalls + 4 arg rules, %d runs\n\n",
         n_names, n);
  printf("| step | median | mean |\n| --- | ---: | ---: |\n");
  bench_report("compile with libseccomp (no cache)", t_compile, n);
  bench_report("compile, cache hit", t_hit, n);
  bench_report("load (seccomp(2) in a child)", t_load, n);
  rc = 0;
out:
  nook_rm_rf_at(AT_FDCWD, dir, NULL);
  nook_spec_free(spec);
  free(t_compile);
  free(t_hit);
  free(t_load);
  return rc;
}
