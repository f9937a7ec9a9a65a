/* Fuzz target for seccomp (runtime/seccomp.c, runtime/seccomp-profile.c).  Each input is used
 * two ways:
 *   - as the linux.seccomp object of a config.json, put in place as
 *     {"ociVersion":"1.2.0","linux":{"seccomp": INPUT}}, parsed with nook_spec_parse() and
 *     compiled to BPF with libseccomp by nook_seccomp_compile(), which never loads it (only
 *     nook_seccomp_load() does, in the container's init).  Every other input is compiled
 *     through the BPF cache (a directory of the target's own): a second compile must then come
 *     from the cache and agree on whether the filter has a notify listener;
 *   - as a profile in podman's and docker's format (`nook run --security-opt seccomp=FILE`),
 *     parsed by nook_seccomp_profile_parse(); one that parses is resolved with
 *     nook_seccomp_profile_gen() for capabilities, an architecture and a kernel taken from the
 *     input, and what it writes must be a linux.seccomp that config.json's parser accepts and
 *     nook_seccomp_compile() compiles.
 * Checked: no memory error, no leak, no undefined behaviour; every failure is one printable
 * line that names its document. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/seccomp-profile.h"
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

/* SECTION as config.json's linux.seccomp, parsed. */
static int spec_of(const char *section, size_t size, struct nook_spec **ret, struct nook_error **err)
{
  _cleanup_free_ char *text = xmalloc(sizeof(HEAD) + size + sizeof(TAIL));

  memcpy(text, HEAD, strlen(HEAD));
  if (size)
    memcpy(text + strlen(HEAD), section, size);
  memcpy(text + strlen(HEAD) + size, TAIL, strlen(TAIL));
  return nook_spec_parse(text, strlen(HEAD) + size + strlen(TAIL), ret, err);
}

static void check_oci(const uint8_t *data, size_t size)
{
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_(nook_seccomp_filter_freep) struct nook_seccomp_filter *f = NULL, *again = NULL;
  _cleanup_free_ char *cache = NULL;
  const char *tmp = NULL;
  int dirfd = fuzz_tmpdir(&tmp), r;

  r = spec_of((const char *)data, size, &spec, &err);
  if (failed_well(r, err))
    return;
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
}

static void check_profile(const uint8_t *data, size_t size)
{
  static const char *const arches[] = { NULL, "amd64", "arm64", "x86", "arm", "s390x", "riscv64", "" };
  static const char *const kernels[] = { NULL, "6.1.0-18-amd64", "4.8", "5.10.0", "3.10", "x", "" };
  struct nook_seccomp_profile *p = NULL;
  _cleanup_spec_ struct nook_spec *spec = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_(nook_seccomp_filter_freep) struct nook_seccomp_filter *f = NULL;
  _cleanup_free_ char *section = NULL;
  uint64_t caps = 0, s = size | 1;
  yajl_gen g;
  size_t len = 0;
  int r;

  r = nook_seccomp_profile_parse((const char *)data, size, "profile.json", &p, &err);
  fuzz_check_error(r, err, "profile.json");
  if (r < 0)
    return;
  for (size_t i = 0; i < size && i < 64; i++)
    s = s * 31 + data[i];
  caps = fuzz_rnd(&s) % 4 == 0 ? UINT64_MAX : fuzz_rnd(&s);
  g = nook_json_gen_new(false);
  nook_seccomp_profile_gen(g, p, caps, arches[fuzz_rnd(&s) % ARRAY_SIZE(arches)],
                           kernels[fuzz_rnd(&s) % ARRAY_SIZE(kernels)]);
  section = nook_json_gen_finish(g, &len);
  nook_seccomp_profile_free(p);
  r = spec_of(section, len, &spec, &err);
  fuzz_check(r == 0, "a resolved profile that config.json's parser refuses",
             err ? err->msg : section);
  r = nook_seccomp_compile(spec, NULL, &f, &err);
  fuzz_check_error(r, err, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_oci(data, size);
  check_profile(data, size);
  return 0;
}
