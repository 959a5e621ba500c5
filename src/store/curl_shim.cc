// liblazypath_curl.so: the only binary that links libcurl (curl_api.h).
#include <curl/curl.h>

#include "store/curl_api.h"

extern "C" __attribute__((visibility("default"))) const lazypath::http::CurlApi*
lazypath_curl_api() {
  static const lazypath::http::CurlApi api{
      lazypath::http::kCurlApiVersion,
      &curl_global_init,
      &curl_easy_init,
      &curl_easy_setopt,
      &curl_easy_perform,
      &curl_easy_getinfo,
      &curl_easy_cleanup,
      &curl_easy_strerror,
      &curl_slist_append,
      &curl_slist_free_all,
  };
  return &api;
}
