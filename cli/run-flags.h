/* The confinement, resource, mount and label flags of `nook run` (cli/run-flags.c).
 *
 * cmd-nook-run.c lists them in its option table with the RUN_OPT_* values and hands every
 * one to run_flags_parse() as getopt returns it; run_flags_check() ends the command line,
 * and run_flags_apply() fills the matching fields of struct nook_run_config.  The run_parse_*
 * functions are pure (no file is looked at) and unit tested; every error is one line that
 * names the flag and the value: "--memory `12x`: not a size (...)". */
#ifndef NOOK_RUN_FLAGS_H
#define NOOK_RUN_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "runtime/spec.h"

enum
{
  RUN_OPT_FIRST = 2000,
  RUN_OPT_PRIVILEGED = RUN_OPT_FIRST,
  RUN_OPT_SECURITY_OPT,
  RUN_OPT_CAP_ADD,
  RUN_OPT_CAP_DROP,
  RUN_OPT_MEMORY,
  RUN_OPT_MEMORY_SWAP,
  RUN_OPT_CPUS,
  RUN_OPT_CPU_SHARES,
  RUN_OPT_PIDS_LIMIT,
  RUN_OPT_ULIMIT,
  RUN_OPT_VOLUME, /* also -v */
  RUN_OPT_MOUNT,
  RUN_OPT_TMPFS,
  RUN_OPT_DEVICE,
  RUN_OPT_LABEL,
  RUN_OPT_LAST = RUN_OPT_LABEL,
};

struct run_flags
{
  bool privileged, no_new_privileges, seccomp_unconfined;
  struct nook_seccomp_profile *seccomp; /* --security-opt seccomp=FILE */
  uint64_t cap_add, cap_drop;           /* masks, bit N: capability N */
  bool cap_add_all, cap_drop_all;
  uint64_t caps;               /* the container's set, made by run_flags_check() */
  int64_t memory, memory_swap; /* 0: not given; memory_swap -1: unlimited */
  int64_t cpu_quota;           /* per 100000 us; 0: not given */
  uint64_t cpu_shares;
  int64_t pids_limit; /* 0: not given, -1: unlimited */
  struct nook_run_rlimit *rlimits;
  size_t n_rlimits;
  struct nook_run_mount *mounts;
  size_t n_mounts;
  struct nook_run_device *devices;
  size_t n_devices;
  char **labels; /* KEY=VALUE */
};

/* The flags' lines of `nook run --help`. */
void run_flags_usage(FILE *f);

/* One flag: opt is a RUN_OPT_* value or 'v'.  Beyond the pure parsers it reads the seccomp
 * profile of --security-opt seccomp=FILE, checks that a bind source exists and that a
 * --device is a device node, and that an --ulimit hard limit above nook's own can be
 * raised (CAP_SYS_RESOURCE). */
int run_flags_parse(struct run_flags *f, int opt, const char *arg, struct nook_error **err);
/* After the last flag: what depends on several flags (--memory-swap needs --memory, a
 * capability both added and dropped ...), and the capability set of the container. */
int run_flags_check(struct run_flags *f, struct nook_error **err);
/* Points rc's fields at f's values (f must outlive rc). */
void run_flags_apply(const struct run_flags *f, struct nook_run_config *rc);
void run_flags_free(struct run_flags *f);

/* ---- the pure parsers ----------------------------------------------------------------- */

/* A size as podman's --memory: a decimal number with an optional unit b, k, m, g, t or p
 * (powers of 1024, any case, "kb" and "kib" too): "512m", "1.5g", "4096". */
int run_parse_size(const char *flag, const char *s, int64_t *ret, struct nook_error **err);
/* --cpus: a decimal number of CPUs, at least 0.01, as a quota of a 100000 us period. */
int run_parse_cpus(const char *s, int64_t *ret_quota, struct nook_error **err);
/* --cpu-shares: 2..262144. */
int run_parse_cpu_shares(const char *s, uint64_t *ret, struct nook_error **err);
/* --pids-limit: a positive count, or 0 / -1 for unlimited (-1). */
int run_parse_pids_limit(const char *s, int64_t *ret, struct nook_error **err);
/* --ulimit NAME=SOFT[:HARD] (nofile, nproc, core ...; -1 or "unlimited" for no limit). */
int run_parse_ulimit(const char *s, struct nook_run_rlimit *ret, struct nook_error **err);
/* --cap-add / --cap-drop: comma-separated names, with or without CAP_, any case, or ALL;
 * ORed into *mask and *all. */
int run_parse_caps(const char *flag, const char *s, uint64_t *mask, bool *all,
                   struct nook_error **err);
/* podman's MergeCapabilities: base plus adds less drops; ALL adds every capability of
 * all_caps, a dropped ALL leaves only the adds; a capability both added and dropped is an
 * error. */
int run_caps_merge(uint64_t base, uint64_t all_caps, uint64_t add, bool add_all, uint64_t drop,
                   bool drop_all, uint64_t *ret, struct nook_error **err);
/* -v SRC:DST[:OPTS], --mount type=bind|tmpfs,..., --tmpfs DST[:OPTS] as a mount (the caller
 * frees it with run_mount_clear). */
int run_parse_volume(const char *s, struct nook_run_mount *ret, struct nook_error **err);
int run_parse_mount(const char *s, struct nook_run_mount *ret, struct nook_error **err);
int run_parse_tmpfs(const char *s, struct nook_run_mount *ret, struct nook_error **err);
void run_mount_clear(struct nook_run_mount *m);
/* --device HOST[:CONTAINER][:PERMISSIONS]: the paths and the access ("rwm" by default). */
int run_parse_device(const char *s, char **ret_host, char **ret_path, char **ret_access,
                     struct nook_error **err);
/* --label KEY[=VALUE] as KEY=VALUE. */
int run_parse_label(const char *s, char **ret, struct nook_error **err);

#endif
