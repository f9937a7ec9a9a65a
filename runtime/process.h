/* The container process's identity and limits: user and groups, capabilities (libcap),
 * rlimits, oom_score_adj, scheduler, I/O priority, personality, no_new_privs.  Everything here
 * runs in the container's init (or an exec'd process) just before execve. */
#ifndef NOOK_PROCESS_H
#define NOOK_PROCESS_H

#include <stdbool.h>
#include "common/error.h"
#include "runtime/spec.h"

/* setrlimit for each process.rlimits entry.  A hard limit above the current one without
 * CAP_SYS_RESOURCE fails with: "process.rlimits: RLIMIT_NOFILE: cannot raise hard limit to N
 * above the current N: Operation not permitted". */
int nook_process_apply_rlimits(const struct nook_process *p, struct nook_error **err);

/* Writes /proc/self/oom_score_adj when set. */
int nook_process_apply_oom_score_adj(const struct nook_process *p, struct nook_error **err);

/* process.scheduler (sched_setattr), process.ioPriority (ioprio_set), linux.personality,
 * when set.  Errors name the field. */
int nook_process_apply_scheduling(const struct nook_spec *spec, struct nook_error **err);

/* process.execCPUAffinity.initial (sched_setaffinity) before exec; "final" is applied by
 * nook_process_apply_final_cpu_affinity just before execve. */
int nook_process_apply_cpu_affinity(const char *cpus, const char *field, struct nook_error **err);

/* The identity switch, in runc's order: drop from the bounding set every capability not in
 * capabilities.bounding; PR_SET_KEEPCAPS; setgroups(additionalGids) (skipped with
 * setgroups_allowed=false, as in a user namespace whose setgroups is "deny"); setresgid;
 * setresuid; then set effective/permitted/inheritable exactly as listed and raise the ambient
 * ones; umask when set.  With capabilities absent from the config, all capabilities are dropped
 * (as runc does).  Unknown capability names are an error naming them
 * ("process.capabilities.bounding: unknown capability `CAP_FOO`"). */
int nook_process_set_identity(const struct nook_process *p, bool setgroups_allowed,
                              struct nook_error **err);

/* prctl(PR_SET_NO_NEW_PRIVS) when process.noNewPrivileges. */
int nook_process_apply_no_new_privs(const struct nook_process *p, struct nook_error **err);

/* process.apparmorProfile and process.selinuxLabel: an error naming the field (EOPNOTSUPP)
 * when one is set and the host does not have that LSM enabled (as runc refuses them). */
int nook_process_check_labels(const struct nook_process *p, struct nook_error **err);

/* Checks, then applies the labels for the next execve: "exec PROFILE" to the thread's AppArmor
 * exec attribute, the SELinux label to its exec attribute.  Needs /proc. */
int nook_process_apply_labels(const struct nook_process *p, struct nook_error **err);

/* Looks process.args[0] up in the PATH of process.env (as execvp would, with the process's own
 * environment) and execve()s it.  Returns only on failure: -ENOENT when nothing was found
 * (exit 127: "exec `foo`: executable file not found in $PATH"), else -errno (exit 126). */
int nook_process_exec(const struct nook_process *p, struct nook_error **err);

/* Capability name ("CAP_SYS_ADMIN", case-insensitive, "CAP_" prefix optional) to its number,
 * or -1; known to this build's libcap and kernel. */
int nook_cap_from_name(const char *name);

#endif
