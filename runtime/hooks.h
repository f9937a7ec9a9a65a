/* OCI hooks: prestart, createRuntime, createContainer, startContainer, poststart, poststop. */
#ifndef NOOK_HOOKS_H
#define NOOK_HOOKS_H

#include "common/error.h"
#include "runtime/spec.h"

/* Runs hooks[0..n) in order: fork, execve(path, args or {path}, env or {}) with the container
 * state JSON on stdin, stdout/stderr captured.  A hook with a timeout is killed (SIGKILL) after
 * it.  Returns < 0 at the first hook that fails to start, exits non-zero, is killed or times
 * out, with an error such as: "createRuntime hook #0 `/usr/bin/x`: exited with status 1: <first
 * line of its stderr>".  kind is the hook list's name for messages ("createRuntime"). */
int nook_hooks_run(const struct nook_hook *hooks, size_t n, const char *kind,
                   const char *state_json, struct nook_error **err);

#endif
