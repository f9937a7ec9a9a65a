#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "common/error.h"

static _noreturn_ void oom(void)
{
  static const char msg[] = "nook: out of memory\n";
  if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
    abort();
  abort();
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    oom();
  return p;
}

void *xcalloc(size_t n, size_t m)
{
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (!p)
    oom();
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *r = realloc(p, n ? n : 1);
  if (!r)
    oom();
  return r;
}

char *xstrdup(const char *s)
{
  char *r = strdup(s);
  if (!r)
    oom();
  return r;
}

char *xstrndup(const char *s, size_t n)
{
  char *r = strndup(s, n);
  if (!r)
    oom();
  return r;
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *r = NULL;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&r, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom();
  return r;
}

/* A message is one printable line whatever it quotes (a name from an image, a registry's
 * header, a line of a file): control characters become \xNN, so that no newline splits it and
 * no escape sequence reaches the user's terminal.  Takes MSG. */
static char *one_line(char *msg)
{
  size_t n = 0, o = 0;
  char *out;

  for (const char *p = msg; *p; p++)
    n += (unsigned char)*p < 0x20 || *p == 0x7f;
  if (n == 0)
    return msg;
  out = xmalloc(strlen(msg) + 3 * n + 1);
  for (const char *p = msg; *p; p++)
    {
      unsigned char c = (unsigned char)*p;
      if (c < 0x20 || c == 0x7f)
        o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
      else
        out[o++] = (char)c;
    }
  out[o] = '\0';
  free(msg);
  return out;
}

int nook_error_setv(struct nook_error **err, int errnum, const char *fmt, va_list ap)
{
  int ret = errnum > 0 ? -errnum : -1;
  char *msg = NULL;

  if (err == NULL || *err != NULL)
    return ret;
  if (vasprintf(&msg, fmt, ap) < 0)
    oom();
  msg = one_line(msg);
  if (errnum > 0)
    {
      char *full = xasprintf("%s: %s", msg, strerror(errnum));
      free(msg);
      msg = full;
    }
  *err = xmalloc(sizeof(**err));
  (*err)->errnum = errnum > 0 ? errnum : 0;
  (*err)->msg = msg;
  return ret;
}

int nook_error_set(struct nook_error **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int ret;

  va_start(ap, fmt);
  ret = nook_error_setv(err, errnum, fmt, ap);
  va_end(ap);
  return ret;
}

int nook_error_setx(struct nook_error **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  bool fresh = err != NULL && *err == NULL;

  va_start(ap, fmt);
  nook_error_setv(err, 0, fmt, ap);
  va_end(ap);
  if (fresh)
    (*err)->errnum = errnum > 0 ? errnum : 0;
  return errnum > 0 ? -errnum : -1;
}

int nook_error_code(const struct nook_error *err)
{
  if (err == NULL || err->errnum == 0)
    return -1;
  return -err->errnum;
}

int nook_error_prefix(struct nook_error **err, const char *fmt, ...)
{
  va_list ap;
  char *prefix = NULL;
  char *msg;

  if (err == NULL || *err == NULL)
    return -1;
  va_start(ap, fmt);
  if (vasprintf(&prefix, fmt, ap) < 0)
    oom();
  va_end(ap);
  prefix = one_line(prefix);
  msg = xasprintf("%s: %s", prefix, (*err)->msg);
  free(prefix);
  free((*err)->msg);
  (*err)->msg = msg;
  return nook_error_code(*err);
}

void nook_error_free(struct nook_error *err)
{
  if (err == NULL)
    return;
  free(err->msg);
  free(err);
}
