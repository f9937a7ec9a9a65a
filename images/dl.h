/* Libraries that only images/ needs (libarchive, libcurl), loaded with dlopen(3) at first use
 * instead of being linked, after systemd's dlopen pattern (src/shared/dlfcn-util.h).
 *
 * Linked, the two drag about 40 more libraries into every nook process (gnutls, openssl,
 * krb5, ldap, icu, libxml2, libstdc++...), whose relocations alone cost each process ~1.6 MB of
 * private memory and a millisecond of startup, although `nook oci ...` and the per-container
 * supervisor never touch an image (docs/ARCHITECTURE.md, "Linking").
 *
 * Each library has a table of function pointers named sym_<function>, declared with the
 * library's own prototypes (DLSYM_PROTOTYPE), and one loader (dl-archive.h, dl-curl.h) that
 * every entry point calling into the library runs first.  The sonames are the ones configure
 * found the development files for (config.h). */
#ifndef NOOK_DL_H
#define NOOK_DL_H

#include "common/error.h"

/* `extern DLSYM_PROTOTYPE(archive_read_new);` declares sym_archive_read_new, a pointer of the
 * exact type of archive_read_new, so that every call through it is checked by the compiler. */
#define DLSYM_PROTOTYPE(symbol) __typeof__(symbol) *sym_##symbol

/* One (pointer, name) pair for dl_open_many(); refuses to compile when the pointer does not
 * have the type of the function. */
#define DLSYM_ARG(symbol)                                                                          \
  ({                                                                                               \
    _Static_assert(__builtin_types_compatible_p(__typeof__(sym_##symbol), __typeof__(&symbol)),    \
                   "sym_" #symbol " has the wrong type");                                          \
    (void **)&sym_##symbol;                                                                        \
  }),                                                                                              \
      #symbol

/* Opens SONAME (RTLD_NOW, never closed) and fills the pointers of the (void **, const char *)
 * pairs that follow, up to a NULL, with dlsym(3); then stores the handle in *DLP.  Does nothing
 * when *DLP is already set.  All or nothing: when the library is missing (ELIBACC, the message
 * is dlerror's "libfoo.so.1: cannot open shared object file: No such file or directory") or
 * lacks one of the symbols (ELIBBAD, "...: undefined symbol: foo_bar"), no pointer is set
 * and *DLP stays NULL.  Safe to call from several threads. */
int dl_open_many(void **dlp, const char *soname, struct nook_error **err, ...)
    __attribute__((sentinel));

#endif
