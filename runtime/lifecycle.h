/* Helpers shared by the lifecycle operations (runtime/lifecycle.c, runtime/container.c). */
#ifndef NOOK_LIFECYCLE_H
#define NOOK_LIFECYCLE_H

#include <stdbool.h>
#include "runtime/spec.h"
#include "runtime/state.h"

/* Waits until the process behind pidfd has exited, at most timeout_ms.  Returns 0 or
 * -ETIMEDOUT. */
int nook_lifecycle_wait_exit(int pidfd, int timeout_ms);

/* Runs the poststop hooks; a failing hook is a warning (runtime-spec), never an error. */
void nook_lifecycle_poststop(const struct nook_spec *spec, const struct nook_state *st);

#endif
