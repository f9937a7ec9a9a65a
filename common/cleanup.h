/* Scope-bound ownership, after systemd and bubblewrap.
 *
 * Every heap pointer or fd that a scope owns is declared with one of these attributes and
 * starts at NULL / -1.  Ownership leaves the scope only through TAKE_PTR() / TAKE_FD(). */
#ifndef NOOK_CLEANUP_H
#define NOOK_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>

static inline void nook_freep(void *p) { free(*(void **)p); }
static inline void nook_closep(int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close(*fd);
      errno = saved;
    }
}
static inline void nook_fclosep(FILE **f)
{
  if (*f)
    fclose(*f);
}
static inline void nook_closedirp(DIR **d)
{
  if (*d)
    closedir(*d);
}
void nook_strv_free(char **v);
static inline void nook_strv_freep(char ***v) { nook_strv_free(*v); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(nook_freep)
#define _cleanup_close_ _cleanup_(nook_closep)
#define _cleanup_fclose_ _cleanup_(nook_fclosep)
#define _cleanup_closedir_ _cleanup_(nook_closedirp)
#define _cleanup_strv_ _cleanup_(nook_strv_freep)

#define TAKE_PTR(p)                                                                                \
  ({                                                                                               \
    __typeof__(p) _ptr = (p);                                                                      \
    (p) = NULL;                                                                                    \
    _ptr;                                                                                          \
  })
#define TAKE_FD(fd)                                                                                \
  ({                                                                                               \
    int _fd = (fd);                                                                                \
    (fd) = -1;                                                                                     \
    _fd;                                                                                           \
  })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#endif
