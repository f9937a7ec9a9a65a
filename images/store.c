/* The store's directory and its lock.  Names live in names.c, blobs in blob.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"

static const char *const store_dirs[] = { "blobs", "blobs/sha256", "layers", "containers", "tmp" };

int image_store_open(const char *path, struct image_store **ret, struct nook_error **err)
{
  _cleanup_free_ char *abs = NULL;
  _cleanup_close_ int dirfd = -1;
  struct image_store *s;
  int r;

  if (!path || !*path)
    return nook_error_setx(err, EINVAL, "the storage directory is empty");
  r = nook_mkdir_p(path, 0700, err);
  if (r < 0)
    return nook_error_prefix(err, "storage");
  r = nook_realpath(path, &abs, err);
  if (r < 0)
    return r;
  dirfd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return nook_error_set(err, errno, "open storage `%s`", abs);
  for (size_t i = 0; i < sizeof store_dirs / sizeof *store_dirs; i++)
    if (mkdirat(dirfd, store_dirs[i], 0700) < 0 && errno != EEXIST)
      return nook_error_set(err, errno, "create `%s/%s`", abs, store_dirs[i]);
  s = xcalloc(1, sizeof *s);
  s->path = TAKE_PTR(abs);
  s->dirfd = TAKE_FD(dirfd);
  s->lockfd = -1;
  *ret = s;
  return 0;
}

void image_store_free(struct image_store *s)
{
  if (!s)
    return;
  image_store_unlock(s);
  if (s->dirfd >= 0)
    close(s->dirfd);
  free(s->path);
  free(s);
}

int image_store_lock(struct image_store *s, bool exclusive, struct nook_error **err)
{
  if (s->lockfd < 0)
    {
      s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (s->lockfd < 0)
        return nook_error_set(err, errno, "open `%s/lock`", s->path);
    }
  while (flock(s->lockfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "lock `%s/lock`", s->path);
  return 0;
}

void image_store_unlock(struct image_store *s)
{
  if (s->lockfd >= 0)
    {
      close(s->lockfd);
      s->lockfd = -1;
    }
}
