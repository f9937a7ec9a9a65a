/* Fuzz target for linux.seccomp (runtime/seccomp.c): each input is the seccomp object of a
 * config.json, put in place as {"ociVersion":"1.2.0","linux":{"seccomp": INPUT}}, parsed with
 * nook_spec_parse() and compiled to BPF with libseccomp by nook_seccomp_compile(), which never
 * loads it (only nook_seccomp_load() does, in the container's init).  Every other input is
 * compiled through the BPF cache (a directory of the target's own): a second compile must
 * then come from the cache and agree on whether the filter has a notify listener.
 *
 * Checked: no memory error, no leak, no undefined behaviour; every failure is one printable
 * line that names config.json or linux.seccomp. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "tests/fuzz/fuzz.h"

#define HEAD "{\"ociVersion\":\"1.2.0\",\"linux\":{\"seccomp\":"
#define TAIL "}}"

static bool failed_well(int r, const struct nook_error *err)
{
  fuzz_check_error(r, err, NULL);
  if (r < 0)
    fuzz_check(nook_has_prefix(err->msg, "config.json") || nook_has_prefix(err->msg, "linux.seccomp"),
               "an error that names no field", err->msg);
  return r < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  _cleanup_free_ char *text = xmalloc(sizeof(HEAD) + size + sizeof(TAIL));
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_(nook_seccomp_filter_freep) struct nook_seccomp_filter *f = NULL, *again = NULL;
  _cleanup_free_ char *cache = NULL;
  const char *tmp = NULL;
  int dirfd = fuzz_tmpdir(&tmp), r;

  memcpy(text, HEAD, strlen(HEAD));
  if (size)
    memcpy(text + strlen(HEAD), data, size);
  memcpy(text + strlen(HEAD) + size, TAIL, strlen(TAIL));
  r = nook_spec_parse(text, strlen(HEAD) + size + strlen(TAIL), &spec, &err);
  if (failed_well(r, err))
    return 0;
  if (size % 2)
    cache = xasprintf("%s/cache", tmp);
  r = nook_seccomp_compile(spec, cache, &f, &err);
  if (failed_well(r, err) || !cache)
    goto out;
  fuzz_check(!nook_seccomp_filter_from_cache(f), "a first compile from the cache", NULL);
  r = nook_seccomp_compile(spec, cache, &again, &err);
  fuzz_check(r == 0, "a second compile failed", err ? err->msg : NULL);
  fuzz_check(!f || nook_seccomp_filter_from_cache(again), "a second compile not from the cache",
             NULL);
  fuzz_check(nook_seccomp_filter_has_listener(f) == nook_seccomp_filter_has_listener(again),
             "the cached filter disagrees on its listener", NULL);
out:
  if (cache && faccessat(dirfd, "cache", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    fuzz_check(nook_rm_rf_at(dirfd, "cache", NULL) == 0, "cannot remove", cache);
  return 0;
}
