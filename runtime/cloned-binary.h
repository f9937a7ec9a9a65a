/* CVE-2019-5736: the runtime's own binary must not be writable through /proc/PID/exe.
 *
 * nook's init is a clone of the nook process and runs nook's code until it execs the
 * container's process, so until then /proc/<init>/exe is the nook binary; and an execve of a
 * script whose interpreter is /proc/self/exe makes the container's process that binary again,
 * dumpable and inside the container.  Whoever can open that link for writing once the binary
 * stops running (ETXTBSY protects it only while it runs) replaces nook on the host.
 *
 * The defence, as runc's and crun's: before any process enters a container, nook re-executes
 * itself from a copy of its binary that cannot be written: a read-only, detached bind mount of
 * the binary (open_tree + mount_setattr), or where that is refused a sealed memfd copy. */
#ifndef NOOK_CLONED_BINARY_H
#define NOOK_CLONED_BINARY_H

#include "common/error.h"

/* Makes sure /proc/self/exe cannot be opened for writing: returns 0 at once when it is
 * already a sealed memfd or on a read-only mount (as after the re-exec, or when nook is
 * installed on a read-only filesystem); otherwise execs the same command line again from a
 * protected copy of the binary and does not return.  To be called by every command that makes
 * a process inside a container (create, run, exec) before it does anything else.  Fails
 * (< 0, err set) when no protected copy can be made or the exec fails; the command must then
 * stop. */
int nook_cloned_binary_ensure(struct nook_error **err);

#endif
