/* `exec`: a new process in a created or running container, as runc exec.
 *
 * The process joins every namespace of the container's init that is not nook's own (one
 * setns(pidfd) where the kernel has it), the container's cgroup, and goes through the init's
 * own tail (runtime/init.h: rlimits, cwd, seccomp, identity...) with the process of the stored
 * config.json, overridden by --process and the flags. */
#ifndef NOOK_EXEC_H
#define NOOK_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

struct nook_exec_opts
{
  const char *root;
  const char *id;
  /* --process: a runtime-spec process JSON.  Fields it leaves out that runc takes from the
   * container (capabilities, rlimits, apparmorProfile, selinuxLabel, oomScoreAdj, scheduler,
   * ioPriority, execCPUAffinity) come from config.json's process. */
  const char *process_file;
  char *const *args;    /* the command, NULL-terminated; replaces process.args when non-empty */
  const char *cwd;      /* --cwd (absolute) */
  char *const *env;     /* --env NAME=value: replaces NAME in process.env or is appended */
  bool user_set;        /* --user UID[:GID] */
  uid_t uid;
  bool gid_set;
  gid_t gid;
  const gid_t *additional_gids; /* --additional-gids: appended */
  size_t n_additional_gids;
  char *const *caps;            /* --cap: added to every capability set, as runc 1.1 does */
  const char *apparmor;         /* --apparmor */
  const char *process_label;    /* --process-label (SELinux) */
  bool tty;                     /* --tty: process.terminal = true (else false, without -p) */
  bool no_new_privs;            /* --no-new-privs */
  const char *console_socket;   /* receives the pty master (with a terminal) */
  const char *pid_file;         /* the process's pid in nook's pid namespace */
  int preserve_fds;             /* fds 3 .. 3+N-1 pass to the process */
  bool detach;                  /* return once the process was executed */
  bool ignore_paused;           /* exec into a paused container (the process starts frozen) */
};

/* Runs the process.  In the foreground it forwards signals to the process, relays its terminal
 * (a terminal without --console-socket), waits and stores its exit code in *ret_status (128+N
 * for signal N).  Detached it returns once the process was executed, *ret_status 0.  When
 * execve itself fails the message is logged here and *ret_status is 127 (command not found) or
 * 126 (not executable).  Errors (exit 1): unknown container, a container that is creating,
 * stopped or (without ignore_paused) paused, a bad --process file, a cwd that does not exist... */
int nook_container_exec(const struct nook_exec_opts *o, int *ret_status, struct nook_error **err);

#endif
