/* linux.seccomp: compiles the config's filter with libseccomp and loads it, with the notify
 * listener handed to linux.seccomp.listenerPath as the runtime-spec describes.  Compiled
 * filters are cached as BPF (keyed by a SHA-256 of a canonical encoding of the seccomp
 * section, libseccomp's version, the native arch and the kernel release), so that a repeated
 * run does not pay libseccomp's compile cost again. */
#ifndef NOOK_SECCOMP_H
#define NOOK_SECCOMP_H

#include <stdbool.h>
#include <sys/types.h>
#include "common/error.h"
#include "runtime/spec.h"

struct nook_seccomp_filter; /* a compiled filter (BPF and seccomp(2) flags), ready to load */

/* Compiles spec->linux->seccomp (in the parent, before clone: errors name the field, e.g.
 * "config.json: linux.seccomp.architectures[0]: `SCMP_ARCH_FOO` is not supported ...").
 * Unknown syscall names are skipped with a debug message, as runc does.  cache_dir (may be
 * NULL) holds compiled programs, one `<sha256>.bpf` file per profile, created 0700 on first
 * use; a hit skips libseccomp's compiler, a corrupt file is recompiled and replaced.  Flags
 * the kernel lacks are EINVAL naming the flag.  *ret is NULL when the config has no seccomp. */
int nook_seccomp_compile(const struct nook_spec *spec, const char *cache_dir,
                         struct nook_seccomp_filter **ret, struct nook_error **err);

/* Loads the filter into the calling process with seccomp(2) (no libseccomp call).  Without
 * no_new_privs the caller must hold CAP_SYS_ADMIN (else EACCES).  When the config has an
 * SCMP_ACT_NOTIFY rule, *ret_notify_fd receives the listener fd (else -1). */
int nook_seccomp_load(const struct nook_seccomp_filter *f, int *ret_notify_fd,
                      struct nook_error **err);

/* Whether loading yields a notify fd (the config has an SCMP_ACT_NOTIFY rule). */
bool nook_seccomp_filter_has_listener(const struct nook_seccomp_filter *f);
/* Whether the program came from the cache rather than libseccomp (for tests and benchmarks). */
bool nook_seccomp_filter_from_cache(const struct nook_seccomp_filter *f);

/* Connects to linux.seccomp.listenerPath and sends the runtime-spec "containerProcessState"
 * JSON ({"ociVersion","fds":["seccompFd"],"pid","metadata","state"}) with notify_fd attached
 * (SCM_RIGHTS).  state_json is the OCI state of the container.  The caller keeps notify_fd. */
int nook_seccomp_send_listener(const struct nook_spec *spec, pid_t pid, int notify_fd,
                               const char *state_json, struct nook_error **err);

/* Whether this kernel takes a linux.seccomp.flags name (`features`'s supportedFlags). */
bool nook_seccomp_flag_supported(const char *name);

void nook_seccomp_filter_free(struct nook_seccomp_filter *f);
static inline void nook_seccomp_filter_freep(struct nook_seccomp_filter **f)
{
  nook_seccomp_filter_free(*f);
}

#endif
