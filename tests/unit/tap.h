/* A minimal TAP producer for nook's unit tests (run through automake's tap-driver.sh). */
#ifndef NOOK_TAP_H
#define NOOK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n;
static int tap_failed;

static inline void tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tap_ok(int cond, const char *fmt, ...)
{
  va_list ap;
  tap_n++;
  if (!cond)
    tap_failed++;
  printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

#define tap_is_str(got, want, name)                                                                \
  do                                                                                               \
    {                                                                                              \
      const char *_g = (got), *_w = (want);                                                        \
      int _ok = (_g == NULL && _w == NULL) || (_g && _w && strcmp(_g, _w) == 0);                   \
      tap_ok(_ok, "%s", name);                                                                     \
      if (!_ok)                                                                                    \
        printf("#   got:  %s\n#   want: %s\n", _g ? _g : "(null)", _w ? _w : "(null)");          \
    }                                                                                              \
  while (0)

#define tap_is_int(got, want, name)                                                                \
  do                                                                                               \
    {                                                                                              \
      long long _g = (long long)(got), _w = (long long)(want);                                     \
      tap_ok(_g == _w, "%s", name);                                                                \
      if (_g != _w)                                                                                \
        printf("#   got:  %lld\n#   want: %lld\n", _g, _w);                                        \
    }                                                                                              \
  while (0)

static inline int tap_done(void)
{
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif
