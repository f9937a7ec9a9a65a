/* The embedded default image: imported on first use of `busybox`. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "images/image.h"

extern const unsigned char nook_default_image[];
extern const uint64_t nook_default_image_size;

#define DEFAULT_IMAGE_NAME "localhost/busybox:latest"

/* "busybox", "busybox:latest", "localhost/busybox[:latest]": names that, when the store does
 * not have them, mean the embedded image.  (docker.io/library/busybox does not: that one is
 * pulled.) */
static bool wants_default(const char *what)
{
  return streq(what, "busybox") || streq(what, "busybox:latest") || streq(what, "localhost/busybox")
         || streq(what, DEFAULT_IMAGE_NAME);
}

static int import_default(struct image_store *s, struct nook_error **err)
{
  _cleanup_close_ int fd = memfd_create("nook-default-image", MFD_CLOEXEC);
  _cleanup_free_ char *path = NULL;

  if (fd < 0)
    return nook_error_set(err, errno, "memfd_create");
  if (nook_write_all(fd, nook_default_image, nook_default_image_size) < 0)
    return nook_error_set(err, errno, "write the default image");
  path = xasprintf("/proc/self/fd/%d", fd);
  return image_import(s, path, DEFAULT_IMAGE_NAME, NULL, NULL, err);
}

int cli_image_open(struct image_store *s, const char *what, struct image **ret,
                   struct nook_error **err)
{
  int r = image_open(s, what, ret, err);

  if (r != -ENOENT || !wants_default(what))
    return r;
  nook_error_freep(err);
  r = import_default(s, err);
  if (r < 0)
    return nook_error_prefix(err, "import the default image");
  return image_open(s, what, ret, err);
}
