/* Fault injection for the crash tests (tests/integration/faults.bats).
 *
 * NOOK_FAULT_POINT("name") marks a place where a crash must leave nothing behind that the
 * cleanup verbs (oci delete -f, rm -f, image prune) cannot remove.  In a build configured
 * with --enable-fault-injection, a process whose environment has NOOK_FAULT=name kills
 * itself there with SIGKILL (or with the signal number in NOOK_FAULT_SIGNAL).  In every
 * other build the macro compiles to nothing. */
#ifndef NOOK_FAULT_H
#define NOOK_FAULT_H

#ifdef NOOK_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Kills the calling process when NOOK_FAULT names this point. */
static inline void nook_fault_point(const char *name)
{
  const char *want = getenv("NOOK_FAULT");
  const char *sig = getenv("NOOK_FAULT_SIGNAL");
  long signo = sig ? strtol(sig, NULL, 10) : 0;

  if (!want || strcmp(want, name) != 0)
    return;
  if (signo <= 0 || signo >= NSIG)
    signo = SIGKILL;
  kill(getpid(), (int)signo);
  if (signo != SIGKILL)
    raise(SIGKILL); /* a caught or ignored signal must not let it go on */
}
#define NOOK_FAULT_POINT(name) nook_fault_point(name)
#else
#define NOOK_FAULT_POINT(name) ((void)0)
#endif

#endif
