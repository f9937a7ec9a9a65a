/* Files in a test's temporary directory, for test-supervisor.c and test-supervisor-data.c. */
#ifndef NOOK_TEST_SUPERVISOR_H
#define NOOK_TEST_SUPERVISOR_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static char *tmpdir; /* main() makes it */

/* A new directory NAME in tmpdir (the caller frees the path). */
static inline char *new_dir(const char *name)
{
  char *d = xasprintf("%s/%s", tmpdir, name);

  if (mkdir(d, 0700) < 0)
    abort();
  return d;
}

/* DIR/NAME's content, or NULL. */
static inline char *slurp(const char *dir, const char *name)
{
  _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
  char *buf = NULL;

  if (nook_read_file_at(AT_FDCWD, path, 64 << 20, &buf, NULL, NULL) < 0)
    return NULL;
  return buf;
}

static inline void put(const char *dir, const char *name, const char *text)
{
  _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0 || nook_write_all(fd, text, strlen(text)) < 0)
    abort();
}

static inline bool exists(const char *dir, const char *name)
{
  _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);

  return access(path, F_OK) == 0;
}

#endif
