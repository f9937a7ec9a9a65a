/* Seccomp profiles as podman and docker write them (containers/common pkg/seccomp's
 * seccomp.json format), turned into the OCI linux.seccomp of one container.
 *
 * The format is OCI's linux.seccomp plus, per syscalls[] entry, "includes" and "excludes"
 * filters ({"caps": [...], "arches": [...], "minKernel": "4.8"}), "name" as well as "names",
 * and at the top "archMap" ([{"architecture", "subArchitectures"}]).  An entry applies when
 * the container holds every capability of includes.caps and none of excludes.caps (in its
 * bounding set, as podman checks), the host's architecture (Go's names: amd64, arm64, x86 ...)
 * is in includes.arches and not in excludes.arches, and the kernel is at least
 * includes.minKernel and below excludes.minKernel.  archMap gives the architectures of the
 * host's native one.  An OCI linux.seccomp object is a profile without any of that. */
#ifndef NOOK_SECCOMP_PROFILE_H
#define NOOK_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "common/error.h"

struct nook_seccomp_profile;

/* Parses and checks a profile: actions, operators, architectures, flags, argument indexes,
 * errnoRet ranges, minKernel versions.  Errors are one line "DOC: PATH: what is wrong", e.g.
 * "DOC: syscalls[3].action: unknown action `SCMP_ACT_FOO`" (EINVAL).  Unknown members are
 * ignored, unknown capability names only never match. */
int nook_seccomp_profile_parse(const char *data, size_t len, const char *doc,
                               struct nook_seccomp_profile **ret, struct nook_error **err);

/* podman's default profile (runtime/seccomp-default.json, compiled in), parsed on first use
 * and kept for the life of the process.  Never NULL: the build's unit test parses it. */
const struct nook_seccomp_profile *nook_seccomp_profile_default(void);

/* Writes the linux.seccomp object (the value, not the key) for a container whose bounding
 * set is caps (bit N: capability N).  arch is the host's architecture in Go's naming and
 * kernel its release ("6.1.0-18-amd64"); NULL for this machine's (libseccomp's native
 * architecture, uname). */
void nook_seccomp_profile_gen(yajl_gen g, const struct nook_seccomp_profile *p, uint64_t caps,
                              const char *arch, const char *kernel);

void nook_seccomp_profile_free(struct nook_seccomp_profile *p);
static inline void nook_seccomp_profile_freep(struct nook_seccomp_profile **p)
{
  nook_seccomp_profile_free(*p);
}

#endif
