/* dlopen(3) of a library and its table of function pointers (dl.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include "images/dl.h"

/* One lock for every library: loads happen once per process, a wait on it costs nothing. */
static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* Sets every pointer of the pairs in AP back to NULL. */
static void dl_clear(va_list ap)
{
  void **symbol;

  while ((symbol = va_arg(ap, void **)))
    {
      (void)va_arg(ap, const char *);
      *symbol = NULL;
    }
}

/* Fills the pointers of the pairs in AP from DL; on a missing symbol returns its name with
 * *RET_MSG set to dlerror's message, NULL when every symbol was found. */
static const char *dl_fill(void *dl, va_list ap, const char **ret_msg)
{
  void **symbol;

  while ((symbol = va_arg(ap, void **)))
    {
      const char *name = va_arg(ap, const char *);

      dlerror();
      *symbol = dlsym(dl, name);
      if (!*symbol)
        {
          const char *msg = dlerror();

          *ret_msg = msg ? msg : "symbol is NULL";
          return name;
        }
    }
  return NULL;
}

int dl_open_many(void **dlp, const char *soname, struct nook_error **err, ...)
{
  const char *missing, *msg = NULL;
  va_list ap, again;
  void *dl;
  int r = 0;

  pthread_mutex_lock(&dl_lock);
  if (*dlp)
    goto out;
  dl = dlopen(soname, RTLD_NOW | RTLD_NODELETE);
  if (!dl)
    {
      msg = dlerror();
      r = nook_error_setx(err, ELIBACC, "%s", msg ? msg : soname);
      goto out;
    }
  va_start(ap, err);
  va_copy(again, ap);
  missing = dl_fill(dl, ap, &msg);
  if (missing)
    {
      /* the message names the file and the symbol */
      r = nook_error_setx(err, ELIBBAD, "%s", msg);
      dl_clear(again);
      dlclose(dl);
    }
  else
    *dlp = dl;
  va_end(again);
  va_end(ap);
out:
  pthread_mutex_unlock(&dl_lock);
  return r;
}
