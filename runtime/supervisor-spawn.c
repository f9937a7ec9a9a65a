/* Spawning a supervisor, and the options of `nook __supervise` that carry its opts across the
 * exec.  See the top of supervisor.h for why a double fork and a fresh exec. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/supervisor-internal.h"
#include "runtime/supervisor.h"

#define SUP_SOCK_FD 3
#define MAX_LOG_FILES 1000

extern char **environ;

int nook_supervisor_parse_args(int argc, char **argv, struct nook_supervisor_opts *o, int *ret_sock,
                               struct nook_error **err)
{
  static const struct option opts[] = {
    { "dir", required_argument, NULL, 'd' },
    { "tty", no_argument, NULL, 't' },
    { "stdin", no_argument, NULL, 'i' },
    { "log-max-size", required_argument, NULL, 'S' },
    { "log-max-files", required_argument, NULL, 'F' },
    { "restart", required_argument, NULL, 'R' },
    { "stop-signal", required_argument, NULL, 'K' },
    { "sock", required_argument, NULL, 'k' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_supervisor_opts n = { .log_max_files = 1 };
  uint64_t files;
  int c, sock = -1;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1)
    switch (c)
      {
      case 'd': n.dir = optarg; break;
      case 't': n.tty = true; break;
      case 'i': n.stdin_open = true; break;
      case 'S':
        if (nook_parse_u64(optarg, &n.log_max_size) < 0)
          return nook_error_setx(err, EINVAL, "--log-max-size `%s` is not a number of bytes",
                                 optarg);
        break;
      case 'F':
        if (nook_parse_u64(optarg, &files) < 0 || files == 0 || files > MAX_LOG_FILES)
          return nook_error_setx(err, EINVAL, "--log-max-files `%s`: use 1 to %d", optarg,
                                 MAX_LOG_FILES);
        n.log_max_files = (unsigned)files;
        break;
      case 'R':
        if (nook_restart_parse(optarg, &n.restart, err) < 0)
          return -EINVAL;
        break;
      case 'K':
        if ((n.stop_signal = nook_signal_parse(optarg)) <= 0)
          return nook_error_setx(err, EINVAL, "--stop-signal `%s` is not a signal", optarg);
        break;
      case 'k':
        if (nook_parse_int(optarg, &sock) < 0 || sock < 0 || fcntl(sock, F_GETFD) < 0)
          return nook_error_setx(err, EBADF, "--sock `%s` is not an open fd", optarg);
        break;
      case ':':
        return nook_error_setx(err, EINVAL, "__supervise: option `%s` needs a value",
                               argv[optind - 1]);
      default:
        return nook_error_setx(err, EINVAL, "__supervise: unknown option `%s`", argv[optind - 1]);
      }
  if (n.dir == NULL)
    return nook_error_setx(err, EINVAL, "__supervise: --dir is required");
  if (optind != argc - 1)
    return nook_error_setx(err, EINVAL, "__supervise: give exactly one container id");
  n.id = argv[optind];
  *o = n;
  *ret_sock = sock;
  return 0;
}

/* The command line of the supervisor: nook EXEC_ARGS... __supervise OPTIONS -- ID. */
static char **spawn_argv(const struct nook_supervisor_opts *o, const char *dir)
{
  char size[24], files[24], sig[24], restart[32], sock[8];
  char **argv = NULL;

  snprintf(size, sizeof(size), "%" PRIu64, o->log_max_size);
  snprintf(files, sizeof(files), "%u", o->log_max_files ? o->log_max_files : 1);
  snprintf(sig, sizeof(sig), "%d", o->stop_signal > 0 ? o->stop_signal : SIGTERM);
  snprintf(sock, sizeof(sock), "%d", SUP_SOCK_FD);
  nook_strv_push(&argv, "nook");
  for (size_t i = 0; o->exec_args && o->exec_args[i]; i++)
    nook_strv_push(&argv, o->exec_args[i]);
  for (const char *const *a = (const char *const[]){ "__supervise", "--dir", dir, NULL }; *a; a++)
    nook_strv_push(&argv, *a);
  if (o->tty)
    nook_strv_push(&argv, "--tty");
  if (o->stdin_open)
    nook_strv_push(&argv, "--stdin");
  for (const char *const *a =
           (const char *const[]){ "--log-max-size", size, "--log-max-files", files, "--restart",
                                  nook_restart_format(&o->restart, restart, sizeof(restart)),
                                  "--stop-signal", sig, "--sock", sock, "--", o->id, NULL };
       *a; a++)
    nook_strv_push(&argv, *a);
  return argv;
}

/* The middle child: a new session, so that the supervisor has no controlling terminal and no
 * signal to the caller's process group reaches it; the grandchild execs the supervisor. */
static _noreturn_ void spawn_child(int sock, char **argv)
{
  int fd, null;
  pid_t pid;

  if (setsid() < 0)
    _exit(1);
  pid = fork();
  if (pid != 0)
    _exit(pid < 0 ? 1 : 0);
  nook_signals_reset();
  /* Out of the way of 0-3 first: the socket may be one of them when the caller closed stdio. */
  fd = fcntl(sock, F_DUPFD_CLOEXEC, 10);
  null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0
      || dup2(fd, SUP_SOCK_FD) < 0 || chdir("/") < 0
      || nook_fds_close_from(SUP_SOCK_FD + 1, NULL, 0, NULL) < 0)
    {
      sup_error_send(fd >= 0 ? fd : sock, errno, "start the supervisor: prepare its fds", 0);
      _exit(1);
    }
  execve("/proc/self/exe", argv, environ);
  {
    char msg[128];
    snprintf(msg, sizeof(msg), "start the supervisor: execute `/proc/self/exe`: %s",
             strerror(errno));
    sup_error_send(SUP_SOCK_FD, errno, msg, 0);
  }
  _exit(127);
}

int nook_supervisor_spawn(const struct nook_supervisor_opts *o, int *ret_sock,
                          struct nook_error **err)
{
  _cleanup_free_ char *dir = NULL;
  _cleanup_strv_ char **argv = NULL;
  int sp[2], ws = 0;
  pid_t pid;

  if (o->id == NULL || o->dir == NULL)
    return nook_error_setx(err, EINVAL, "start the supervisor: no container id or directory");
  if (nook_realpath(o->dir, &dir, err) < 0)
    return nook_error_prefix(err, "the container's directory");
  argv = spawn_argv(o, dir);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return nook_error_set(err, errno, "start the supervisor: socketpair");
  pid = fork();
  if (pid == 0)
    spawn_child(sp[1], argv);
  close(sp[1]);
  if (pid < 0)
    {
      close(sp[0]);
      return nook_error_set(err, errno, "start the supervisor: fork");
    }
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    {
      close(sp[0]);
      return nook_error_setx(err, ECHILD, "start the supervisor: its first fork failed");
    }
  *ret_sock = sp[0];
  return 0;
}
