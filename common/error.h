/* Errors carried up the stack with context, after crun's libcrun_error_t.
 *
 * A fallible function returns an int < 0 and fills *err (its last parameter) once, at the
 * place that knows what failed.  Callers that add context use nook_error_prefix().  The CLI
 * prints the message once.  Messages are lowercase, without a trailing period, user input in
 * backticks.  A message is always one printable line: nook_error_set*() and
 * nook_error_prefix() write a control character of what they format (a name from an image, a
 * registry's header) as \xNN. */
#ifndef NOOK_ERROR_H
#define NOOK_ERROR_H

#include <stdarg.h>
#include "common/cleanup.h"

struct nook_error
{
  int errnum; /* errno of the failure, 0 when not a system error */
  char *msg;  /* full message, already including strerror(errnum) when errnum != 0 */
};

/* Fills *err (if err != NULL and *err is still NULL) with the formatted message, followed by
 * ": strerror(errnum)" when errnum != 0.  Returns -errnum, or -1 when errnum is 0, so that
 * callers can write `return nook_error_set(err, errno, "open `%s`", path);`. */
int nook_error_set(struct nook_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);
int nook_error_setv(struct nook_error **err, int errnum, const char *fmt, va_list ap) _printf_(3, 0);

/* Like nook_error_set() for errors that are not a failed system call ("container `x` is
 * running"): records errnum for callers and exit codes but does not append strerror. */
int nook_error_setx(struct nook_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);

/* Prepends "PREFIX: " to an existing error.  Returns the value nook_error_set() returned for it
 * (-errnum or -1), so that it can end a failure path too. */
int nook_error_prefix(struct nook_error **err, const char *fmt, ...) _printf_(2, 3);

/* Returns the errno-like code of *err as a negative int (-1 when none). */
int nook_error_code(const struct nook_error *err);

void nook_error_free(struct nook_error *err);
static inline void nook_error_freep(struct nook_error **e)
{
  nook_error_free(*e);
  *e = NULL;
}
#define _cleanup_error_ _cleanup_(nook_error_freep)

/* Out of memory is not recoverable in a runtime: these abort with a message. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

#endif
