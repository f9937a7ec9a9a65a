/* libcurl, loaded at first use (dl.h): registry pulls.  Call sites write
 * sym_curl_easy_init() where they would write curl_easy_init().
 *
 * curl's own compile-time checks of curl_easy_setopt() and curl_easy_getinfo() arguments
 * (typecheck-gcc.h) are macros around the real functions and do not cover calls through
 * these pointers: a long option takes a long (30L), a callback its exact curl type. */
#ifndef NOOK_DL_CURL_H
#define NOOK_DL_CURL_H

#include <curl/curl.h>

#include "images/dl.h"

extern DLSYM_PROTOTYPE(curl_easy_cleanup);
extern DLSYM_PROTOTYPE(curl_easy_escape);
extern DLSYM_PROTOTYPE(curl_easy_getinfo);
extern DLSYM_PROTOTYPE(curl_easy_init);
extern DLSYM_PROTOTYPE(curl_easy_perform);
extern DLSYM_PROTOTYPE(curl_easy_reset);
extern DLSYM_PROTOTYPE(curl_easy_setopt);
extern DLSYM_PROTOTYPE(curl_easy_strerror);
extern DLSYM_PROTOTYPE(curl_free);
extern DLSYM_PROTOTYPE(curl_global_init);
extern DLSYM_PROTOTYPE(curl_multi_add_handle);
extern DLSYM_PROTOTYPE(curl_multi_cleanup);
extern DLSYM_PROTOTYPE(curl_multi_info_read);
extern DLSYM_PROTOTYPE(curl_multi_init);
extern DLSYM_PROTOTYPE(curl_multi_perform);
extern DLSYM_PROTOTYPE(curl_multi_poll);
extern DLSYM_PROTOTYPE(curl_multi_remove_handle);
extern DLSYM_PROTOTYPE(curl_multi_strerror);
extern DLSYM_PROTOTYPE(curl_share_cleanup);
extern DLSYM_PROTOTYPE(curl_share_init);
extern DLSYM_PROTOTYPE(curl_share_setopt);
extern DLSYM_PROTOTYPE(curl_slist_append);
extern DLSYM_PROTOTYPE(curl_slist_free_all);

/* Loads libcurl (the soname configure found, e.g. libcurl.so.4), fills the sym_ pointers
 * above and runs curl_global_init() once; 0 at once when that was done already.  ELIBACC when
 * the library is not installed ("libcurl.so.4: cannot open shared object file: No such file
 * or directory"), ELIBBAD when it lacks a function, EIO when it cannot initialise. */
int dl_libcurl_load(struct nook_error **err);

#endif
