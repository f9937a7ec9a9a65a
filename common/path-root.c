/* Paths inside a root filesystem an image or container controls, opened relative to a dirfd
 * of it: openat2 (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), or on kernels without it a walk
 * that reads symlinks itself and keeps them inside the root.  Shared by images/ (the image's
 * /etc/passwd and Volumes, read from the host) and runtime/ (mount destinations). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#else
struct open_how
{
  unsigned long long flags, mode, resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#endif

#include "common/path-root.h"
#include "common/util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* The fallback for kernels without openat2 (< 5.6): walks rel one component at a time with
 * O_NOFOLLOW, reading symlinks and restarting from the root for absolute targets, and clamping
 * ".." at the root, so that the result is what RESOLVE_IN_ROOT would give.  /proc magic links
 * cannot be jumped through: their text is read as a path inside the root.  With follow false,
 * any symlink is an error (used to reopen an already resolved prefix).  Returns an O_PATH fd,
 * or -1 with errno set. */
int nook_walk_in_root(int rootfd, const char *rel, bool follow)
{
  _cleanup_free_ char *todo = xstrdup(rel);
  _cleanup_free_ char *done = xstrdup("");
  _cleanup_close_ int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int links = 0;

  while (cur >= 0)
    {
      char *p = todo + strspn(todo, "/");
      size_t n = strcspn(p, "/");
      _cleanup_free_ char *name = xstrndup(p, n);
      _cleanup_close_ int next = -1;
      char target[PATH_MAX];
      struct stat st;
      ssize_t tl;

      memmove(todo, p + n, strlen(p + n) + 1); /* todo is now "/rest" or "" */
      if (n == 0)
        return TAKE_FD(cur);
      if (streq(name, "."))
        continue;
      if (streq(name, ".."))
        {
          char *slash = strrchr(done, '/');
          *(slash ? slash : done) = '\0';
          close(cur);
          cur = nook_walk_in_root(rootfd, done, false);
          continue;
        }
      next = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 || fstat(next, &st) < 0)
        return -1;
      if (!S_ISLNK(st.st_mode))
        {
          char *d = *done ? xasprintf("%s/%s", done, name) : xstrdup(name);
          free(done);
          done = d;
          close(cur);
          cur = TAKE_FD(next);
          continue;
        }
      if (!follow || ++links > 40)
        return errno = ELOOP, -1;
      tl = readlinkat(next, "", target, sizeof(target) - 1);
      if (tl < 0)
        return -1;
      target[tl] = '\0';
      p = xasprintf("%s%s", target, todo);
      free(todo);
      todo = p;
      if (target[0] == '/')
        {
          *done = '\0';
          close(cur);
          cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
    }
  return -1;
}

int nook_open_in_root(int rootfd, const char *rel, int flags)
{
  struct open_how how = {
    .flags = (unsigned long long)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  _cleanup_close_ int path_fd = -1;
  char proc[64];
  long fd = -1;

  for (int i = 0; i < 32; i++)
    {
      fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
      /* EAGAIN: a rename raced with ".." resolution; the kernel asks us to retry */
      if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  /* EAGAIN after every try: renames and mounts elsewhere on a busy host keep invalidating a
   * scoped ".." walk; the walk below needs no such check, as it resolves ".." itself. */
  if (fd >= 0 || (errno != ENOSYS && errno != EAGAIN))
    return (int)fd;
  path_fd = nook_walk_in_root(rootfd, rel, true);
  if (path_fd < 0 || (flags & O_PATH))
    return TAKE_FD(path_fd);
  /* The object the walk reached, inside the root: reopened through its fd, not a path. */
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", path_fd);
  return open(proc, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
}
