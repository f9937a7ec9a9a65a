/* bench-supervisor DIR CMD [ARG...]: nook's supervisor loop (nook_supervisor_main) over DIR,
 * with a create operation that forks CMD in a session of its own instead of running the OCI
 * runtime.  The same supervisor as `nook __supervise`, in a binary that links only libc and
 * yajl: tests/bench/supervisor-pss.sh measures it next to the nook binary to tell the cost of
 * the loop from the cost of the libraries the nook binary links. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/supervisor.h"

static int fork_command(void *data, int console_fd, pid_t *ret_pid, char **ret_oom_file,
                        struct nook_error **err)
{
  char **argv = data;
  pid_t pid = fork();

  if (pid < 0)
    return nook_error_set(err, errno, "fork");
  if (pid == 0)
    {
      execvp(argv[0], argv);
      _exit(127);
    }
  *ret_pid = pid;
  *ret_oom_file = NULL;
  return 0;
}

int main(int argc, char **argv)
{
  struct nook_supervisor_opts o = { .id = "bench", .log_max_files = 1 };
  struct nook_supervisor_ops ops = { fork_command, NULL, NULL };

  if (argc < 3)
    {
      fputs("usage: bench-supervisor DIR CMD [ARG...]\n", stderr);
      return 2;
    }
  o.dir = argv[1];
  ops.data = argv + 2;
  return nook_supervisor_main(&o, &ops, -1);
}
