/* Fuzz target for image references (image_ref_parse in images/manifest.c): each input is a
 * reference as a user or an archive's RepoTags would give it ("busybox", "a.io:5000/x/y:t",
 * "x@sha256:..."), cut at its first NUL.  A reference that parses has a registry, a
 * repository and a tag or a digest; its canonical form (image_ref_format, what index.json
 * stores) parses again to the same canonical form; a failure is one printable line naming
 * the reference. */
#include "config.h"

#include <string.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  _cleanup_free_ char *s = xstrndup((const char *)data, size), *canon = NULL, *again = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_ref *ref = NULL, *ref2 = NULL;
  int r;

  r = image_ref_parse(s, &ref, &err);
  fuzz_check_error(r, err, NULL);
  if (r < 0)
    {
      fuzz_check(strstr(err->msg, "image reference") != NULL, "an error that names no reference",
                 err->msg);
      return 0;
    }
  fuzz_check(ref->registry && *ref->registry && ref->repository && *ref->repository,
             "a reference without registry or repository", s);
  fuzz_check(ref->tag || ref->digest, "a reference without tag or digest", s);
  fuzz_check(!ref->digest || image_digest_valid(ref->digest), "an invalid digest", ref->digest);
  canon = image_ref_format(ref);
  r = image_ref_parse(canon, &ref2, &err);
  fuzz_check(r == 0, "the canonical form does not parse", canon);
  again = image_ref_format(ref2);
  fuzz_check(streq(canon, again), "the canonical form changes when parsed again", canon);
  fuzz_check(streq(ref->registry, ref2->registry) && streq(ref->repository, ref2->repository),
             "the canonical form names another image", canon);
  image_ref_free(ref);
  image_ref_free(ref2);
  return 0;
}
