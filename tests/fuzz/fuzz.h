/* What the fuzz targets (tests/fuzz/fuzz-*.c) share, from tests/fuzz/common.c: libFuzzer's entry
 * points, checks that abort with a message (a crash for the fuzzer), a temporary directory, a
 * tar writer and a tar-aware mutator.
 *
 * Each target is built two ways by tests/fuzz/run-fuzz.sh: with clang's libFuzzer
 * (-DNOOK_LIBFUZZER), or with any compiler around the standalone runner in common.c, which
 * replays files and mutates seeds itself (LLVMFuzzerMutate is then common.c's generic mutator):
 *
 *   fuzz-NAME FILE...                                  run each file (or directory) once
 *   fuzz-NAME -t SECONDS [-s SEED] [-d DICT] SEED...   mutate the seeds for SECONDS
 *
 * The standalone runner saves an input that fails to ./crash-NAME-PID. */
#ifndef NOOK_FUZZ_H
#define NOOK_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

/* Largest input the standalone runner makes (it replays files up to 64 MiB). */
#define FUZZ_MAX_INPUT (1u << 20)

/* Aborts (after the standalone runner saved the input) when OK is false:
 * "fuzz-NAME: WHAT[: DETAIL]". */
void fuzz_check(bool ok, const char *what, const char *detail);

/* A failed call (R < 0) must have set ERR to one line of printable text that starts with PREFIX
 * (when not NULL); a successful one must not have set it. */
void fuzz_check_error(int r, const struct nook_error *err, const char *prefix);

/* A directory of its own for the target, made on first use and removed at exit:
 * $TMPDIR/nook-fuzz-NAME-XXXXXX.  Returns an O_PATH fd of it (the caller keeps nothing);
 * *ret_path (may be NULL) gets its path, valid until exit. */
int fuzz_tmpdir(const char **ret_path);

/* Writes DATA to DIRFD/NAME (created 0600, replaced when it exists); aborts on failure. */
void fuzz_write_file(int dirfd, const char *name, const void *data, size_t size);

/* xorshift64: a small deterministic generator for the mutators. */
uint64_t fuzz_rnd(uint64_t *s);

/* ---- tar --------------------------------------------------------------------------------- */

/* A growing buffer. */
struct fuzz_buf
{
  uint8_t *data;
  size_t len;
};

/* Appends a ustar entry: TYPE '0' (file, DATA), '2' (symlink to LINK), '5' (directory)...
 * NAME up to 99 bytes. */
void fuzz_tar_add(struct fuzz_buf *b, const char *name, char type, const char *link,
                  const void *data, size_t size);
/* Appends the two zero blocks that end a tar. */
void fuzz_tar_end(struct fuzz_buf *b);

/* Whether DATA looks like a tar (a ustar header first). */
bool fuzz_tar_is_tar(const uint8_t *data, size_t size);
/* Tar-aware changes: header fields set to what a hostile archive would use (names with `..`,
 * absolute names, whiteouts, huge sizes, every entry type), blocks duplicated, swapped or
 * dropped, truncation, then checksums fixed; sometimes gzip or zstd compression on top, and
 * sometimes damage to the compressed bytes.  Returns the new size (at most MAX). */
size_t fuzz_tar_mutate(uint8_t *data, size_t size, size_t max, uint64_t *s);
/* Rewrites the checksum of every block that looks like a ustar header. */
void fuzz_tar_fix_checksums(uint8_t *data, size_t size);
/* The custom mutator of the targets whose inputs are tars: half the time fuzz_tar_mutate() on a
 * tar, else LLVMFuzzerMutate() and the checksums fixed. */
size_t fuzz_tar_custom_mutator(uint8_t *data, size_t size, size_t max, unsigned seed);

#endif
