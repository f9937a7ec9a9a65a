/* libcurl's table of function pointers (dl-curl.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "images/dl-curl.h"

static void *libcurl_dl;

DLSYM_PROTOTYPE(curl_easy_cleanup);
DLSYM_PROTOTYPE(curl_easy_escape);
DLSYM_PROTOTYPE(curl_easy_getinfo);
DLSYM_PROTOTYPE(curl_easy_init);
DLSYM_PROTOTYPE(curl_easy_perform);
DLSYM_PROTOTYPE(curl_easy_reset);
DLSYM_PROTOTYPE(curl_easy_setopt);
DLSYM_PROTOTYPE(curl_easy_strerror);
DLSYM_PROTOTYPE(curl_free);
DLSYM_PROTOTYPE(curl_global_init);
DLSYM_PROTOTYPE(curl_multi_add_handle);
DLSYM_PROTOTYPE(curl_multi_cleanup);
DLSYM_PROTOTYPE(curl_multi_info_read);
DLSYM_PROTOTYPE(curl_multi_init);
DLSYM_PROTOTYPE(curl_multi_perform);
DLSYM_PROTOTYPE(curl_multi_poll);
DLSYM_PROTOTYPE(curl_multi_remove_handle);
DLSYM_PROTOTYPE(curl_multi_strerror);
DLSYM_PROTOTYPE(curl_share_cleanup);
DLSYM_PROTOTYPE(curl_share_init);
DLSYM_PROTOTYPE(curl_share_setopt);
DLSYM_PROTOTYPE(curl_slist_append);
DLSYM_PROTOTYPE(curl_slist_free_all);

/* curl_global_init() is not thread-safe before 7.84: it runs once, under this lock. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialised;

int dl_libcurl_load(struct nook_error **err)
{
  int r;

  /* one symbol a line */
  // clang-format off
  r = dl_open_many(&libcurl_dl, NOOK_LIBCURL_SONAME, err,
                   DLSYM_ARG(curl_easy_cleanup),
                   DLSYM_ARG(curl_easy_escape),
                   DLSYM_ARG(curl_easy_getinfo),
                   DLSYM_ARG(curl_easy_init),
                   DLSYM_ARG(curl_easy_perform),
                   DLSYM_ARG(curl_easy_reset),
                   DLSYM_ARG(curl_easy_setopt),
                   DLSYM_ARG(curl_easy_strerror),
                   DLSYM_ARG(curl_free),
                   DLSYM_ARG(curl_global_init),
                   DLSYM_ARG(curl_multi_add_handle),
                   DLSYM_ARG(curl_multi_cleanup),
                   DLSYM_ARG(curl_multi_info_read),
                   DLSYM_ARG(curl_multi_init),
                   DLSYM_ARG(curl_multi_perform),
                   DLSYM_ARG(curl_multi_poll),
                   DLSYM_ARG(curl_multi_remove_handle),
                   DLSYM_ARG(curl_multi_strerror),
                   DLSYM_ARG(curl_share_cleanup),
                   DLSYM_ARG(curl_share_init),
                   DLSYM_ARG(curl_share_setopt),
                   DLSYM_ARG(curl_slist_append),
                   DLSYM_ARG(curl_slist_free_all),
                   NULL);
  // clang-format on
  if (r < 0)
    return r;
  pthread_mutex_lock(&init_lock);
  if (!initialised && sym_curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
    initialised = true;
  r = initialised ? 0 : nook_error_setx(err, EIO, "cannot initialise libcurl");
  pthread_mutex_unlock(&init_lock);
  return r;
}
