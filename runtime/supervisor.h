/* The supervisor: one small process per container of `nook run`, the container's parent for as
 * long as the container lives (s6-supervise and conmon are the models).
 *
 * Spawning (nook_supervisor_spawn): the caller forks; the child setsid()s and forks again; the
 * grandchild re-executes nook's own binary (/proc/self/exe: the protected copy, see
 * cloned-binary.h) as the hidden verb `nook __supervise`, so that the supervisor starts from a
 * fresh image of a few hundred kB and not from a copy of the caller's heap; the middle child
 * exits at once and the caller reaps it.  The caller keeps one end of a SOCK_SEQPACKET
 * socketpair: the supervisor's first client, which speaks the attach protocol below.
 *
 * The supervisor makes itself a child subreaper, makes the container's stdio (pipes, or a pty
 * that the runtime sends it with -t), then forks a short-lived child that runs
 * ops->create in-process (the OCI create + start of the bundle); the container's init is
 * reparented to the supervisor when that child exits.  Everything the create child touches is
 * its own copy-on-write memory, so the supervisor stays small.  From then on one poll loop
 * over a signalfd, the stdio fds, the listening attach socket and its clients, and a deadline
 * (stop timeout, restart backoff) on CLOCK_MONOTONIC; no allocation in steady state.
 *
 * The container's directory (o->dir, STORAGE/containers/ID for `nook run`) holds:
 *
 *   status.json   the supervisor's record (struct nook_sup_status), rewritten atomically at
 *                 every transition before it is acted on; the exit code is written there
 *                 before any cleanup, so it is never lost
 *   ctr.log       the container's output in the k8s-file format that podman and Kubernetes
 *                 read: "RFC3339Nano stdout|stderr F|P text\n" (P: a partial line, continued by
 *                 the next record); rotated to ctr.log.1 .. ctr.log.N at --log-max-size
 *   attach        the SOCK_SEQPACKET socket (mode 0600 in a 0700 directory) for attach, stop,
 *                 kill and wait; bound and connected relative to the directory, so the path
 *                 length never matters
 *
 * On exit: status.json (exit code, signal, OOM flag, times), then ops->cleanup in a forked
 * child (poststop hooks, network, mounts, --rm), then the exit message to every client; then
 * either a restart (policy, exponential backoff from 100 ms to 1 min, counted) or the
 * supervisor exits.  When the supervisor is killed the container keeps running; nook ps says
 * so from status.json (supervisorPid no longer alive). */
#ifndef NOOK_SUPERVISOR_H
#define NOOK_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* ==== the record in status.json ============================================================ */

enum nook_sup_state
{
  NOOK_SUP_STARTING,   /* the supervisor is creating the container */
  NOOK_SUP_RUNNING,    /* the init runs (pid) */
  NOOK_SUP_STOPPING,   /* stop was asked: signal sent, deadline armed */
  NOOK_SUP_EXITED,     /* the init exited: exit_code, signal, oom_killed, finished_ns */
  NOOK_SUP_RESTARTING, /* exited, and the policy restarts it after a backoff */
  NOOK_SUP_FAILED,     /* the create failed: error holds the message */
};

struct nook_sup_status
{
  enum nook_sup_state state;
  pid_t pid;              /* the init, in nook's pid namespace; 0 before it runs */
  pid_t supervisor_pid;
  uint64_t supervisor_start; /* /proc/PID/stat starttime: tells the supervisor from a reused pid */
  int exit_code;          /* 0-255; 128+N when killed by signal N */
  int signal;             /* the signal that killed it, or 0 */
  bool oom_killed;        /* the cgroup recorded an OOM kill during this run */
  bool stopped_by_user;   /* stop or kill asked for it: restart policies do not apply */
  int64_t started_ns;     /* CLOCK_REALTIME of the last start, ns; 0 before */
  int64_t finished_ns;    /* CLOCK_REALTIME of the last exit, ns; 0 before */
  unsigned restart_count;
  char error[512];        /* NOOK_SUP_FAILED: why; otherwise "cleanup: ..." when the last
                           * cleanup failed, or "" */
};

const char *nook_sup_state_to_string(enum nook_sup_state s);

/* status.json in dirfd, through a temporary file and rename(2).  Written with snprintf (the
 * supervisor links no JSON writer into its steady state).  Read back with yajl; -ENOENT without
 * an error when there is none yet. */
int nook_sup_status_write(int dirfd, const struct nook_sup_status *st, struct nook_error **err);
int nook_sup_status_read(int dirfd, struct nook_sup_status *ret, struct nook_error **err);

/* Whether the supervisor recorded in st is still that process. */
bool nook_sup_status_supervisor_alive(const struct nook_sup_status *st);

/* ==== restart policies ====================================================================== */

enum nook_restart_policy
{
  NOOK_RESTART_NO,
  NOOK_RESTART_ON_FAILURE, /* a non-zero exit code, at most max times (0: no limit) */
  NOOK_RESTART_ALWAYS,     /* unless stopped by the user */
};

struct nook_restart
{
  enum nook_restart_policy policy;
  unsigned max;
};

/* "no", "on-failure", "on-failure:N", "always" (and "unless-stopped", as always).  The error
 * names the value: "--restart `sometimes`: use no, on-failure[:N] or always". */
int nook_restart_parse(const char *s, struct nook_restart *ret, struct nook_error **err);
/* The inverse, into buf: "no", "on-failure:3", "always". */
const char *nook_restart_format(const struct nook_restart *r, char *buf, size_t size);

/* ==== the supervisor ======================================================================== */

struct nook_supervisor_opts
{
  const char *id;
  const char *dir;         /* the container's directory: status.json, ctr.log, attach */
  bool tty;                /* process.terminal: the runtime sends the pty master */
  bool stdin_open;         /* -i: the container's stdin stays open for attach (else /dev/null) */
  uint64_t log_max_size;   /* bytes of ctr.log before it is rotated; 0: never */
  unsigned log_max_files;  /* rotated files kept (ctr.log.1 ..), >= 1 */
  struct nook_restart restart;
  int stop_signal;         /* for stop; SIGTERM when 0 */
  /* Passed to `nook __supervise` and from there to the ops: the global options the verb
   * needs (--root, --storage, ...), NULL-terminated. */
  char *const *exec_args;
};

/* What the container's side of the supervisor does, each called in a forked child of the
 * supervisor (its memory is thrown away afterwards).  data is the ops' own. */
struct nook_supervisor_ops
{
  /* Creates and starts the container with the child's fds 0, 1, 2 as its stdio and, with a
   * terminal, console_fd (> 0) to send the pty master to (nook_create_opts.console_fd).
   * Returns once the init was executed: *ret_pid, and in *ret_oom_file the file whose OOM
   * count tells an OOM kill (cgroup v2 memory.events, v1 memory.oom_control), or NULL.  The
   * cgroup must be new for this run: any count above 0 at the exit is an OOM kill. */
  int (*create)(void *data, int console_fd, pid_t *ret_pid, char **ret_oom_file,
                struct nook_error **err);
  /* After an exit: the OCI delete (poststop hooks), and unless restarting the network, the
   * mounts and with --rm the container itself. */
  int (*cleanup)(void *data, bool restarting, struct nook_error **err);
  void *data;
};

/* Runs the supervisor in the calling process (the body of `nook __supervise`): sock is the
 * spawning client's end-of-socketpair (fd number it was given), or -1 for none.  Returns the
 * process exit status for the verb: 0 after a clean end, 1 when the setup (directory, log,
 * attach socket; EBUSY when another supervisor listens there) or the create failed (the
 * clients got NOOK_MSG_ERROR).  It blocks SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1
 * and SIGUSR2 (read from a signalfd; all but SIGCHLD are forwarded to the init) and ignores
 * SIGPIPE. */
int nook_supervisor_main(const struct nook_supervisor_opts *o, const struct nook_supervisor_ops *ops,
                         int sock);

/* Spawns a supervisor for o (see the top of this file): `nook EXEC_ARGS... __supervise
 * [options] -- ID` from /proc/self/exe, with o->dir made absolute, fds 0-2 on /dev/null, the
 * socket on fd 3, no other fd, default signal dispositions, cwd /.  Call it before making the
 * caller a child subreaper (the supervisor would stay its child).  Returns the caller's end of
 * the socketpair in *ret_sock; the first message on it is NOOK_MSG_STARTED or
 * NOOK_MSG_ERROR. */
int nook_supervisor_spawn(const struct nook_supervisor_opts *o, int *ret_sock,
                          struct nook_error **err);

/* Parses the options nook_supervisor_spawn() put after `__supervise` into o (strings point
 * into argv).  For cli/cmd-supervise.c. */
int nook_supervisor_parse_args(int argc, char **argv, struct nook_supervisor_opts *o, int *ret_sock,
                               struct nook_error **err);

/* ==== the attach protocol ===================================================================
 *
 * SOCK_SEQPACKET; every message is one packet: a type byte, then a payload of at most
 * NOOK_MSG_MAX - 1 bytes; integers in host byte order (the socket never leaves the machine).
 * At most 16 clients at once (one more gets NOOK_MSG_ERROR EUSERS and is closed).  Output goes
 * to every client that did not send WATCH, as it is read; STARTED, EXIT and ERROR go to every
 * client.  The supervisor never blocks on a client: when one's socket is full the output waits
 * for it (the container then waits on its pipe) for at most 10 s, then that client is closed.
 * Client -> supervisor: */
#define NOOK_MSG_STDIN 'i'     /* data for the container's stdin */
#define NOOK_MSG_STDIN_EOF 'c' /* close the container's stdin (ignored with a terminal) */
#define NOOK_MSG_RESIZE 'w'    /* uint16_t rows, cols */
#define NOOK_MSG_STOP 's'      /* uint32_t timeout_s: the stop signal, SIGKILL after timeout_s */
#define NOOK_MSG_KILL 'k'      /* int32_t signal: to the init; marks stopped_by_user */
#define NOOK_MSG_WATCH 'W'     /* no output please: this client only waits for the exit */
/* Supervisor -> client: */
#define NOOK_MSG_STARTED 'r'   /* int32_t pid: the container runs */
#define NOOK_MSG_STDOUT 'o'    /* data (everything, with a terminal) */
#define NOOK_MSG_STDERR 'e'    /* data */
#define NOOK_MSG_EXIT 'x'      /* struct nook_msg_exit: after status.json and cleanup */
#define NOOK_MSG_ERROR 'E'     /* int32_t errno, then the message text: the create failed */

#define NOOK_MSG_MAX 32768

struct nook_msg_exit
{
  int32_t exit_code;
  int32_t signal;
  uint8_t oom_killed;
  uint8_t restarting; /* the policy restarts it: more output follows */
};

/* Connects to the attach socket of the container directory dirfd (through
 * /proc/self/fd/N/attach, so the path length never matters).  ECONNREFUSED / ENOENT: no
 * supervisor listens. */
int nook_attach_connect(int dirfd, int *ret_sock, struct nook_error **err);

/* Sends one message of type with len bytes of payload. */
int nook_msg_send(int sock, char type, const void *payload, size_t len, struct nook_error **err);

struct nook_attach_opts
{
  bool stdin;              /* relay our stdin to the container */
  bool tty;                /* the container has a terminal: raw mode, SIGWINCH -> resize */
  bool sig_proxy;          /* forward SIGINT, SIGTERM, SIGHUP, SIGQUIT... as NOOK_MSG_KILL */
  const char *detach_keys; /* with tty and stdin: e.g. "ctrl-p,ctrl-q"; NULL: the default;
                            * "": none */
};

/* "ctrl-p,ctrl-q" (NULL: that default; "": none) into the bytes of the sequence: each key a
 * character or ctrl-a .. ctrl-z, ctrl-@, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_; at most 16.
 * EINVAL: "--detach-keys `ctrl-1`: `ctrl-1` is not a key (...)". */
int nook_detach_keys_parse(const char *s, char ret[16], size_t *ret_n, struct nook_error **err);

/* The client side of an attached session on sock (a spawned supervisor's or a connected
 * one): relays stdin / stdout / stderr and resizes until the exit message, EOF, or the detach
 * keys.  *ret_exit: the exit message (ret_detached: true and no exit when detached).  Fails
 * when the supervisor goes away without an exit message (ECONNRESET). */
int nook_attach_run(int sock, const struct nook_attach_opts *o, struct nook_msg_exit *ret_exit,
                    bool *ret_detached, struct nook_error **err);

#endif
