// libcurl, loaded when the first HTTP request needs it.
//
// The core does not link libcurl. Most processes that load it need no
// network (a push to a local store, an activation from the node cache,
// `import lazypath` in every Ray worker), and libcurl brings some thirty
// shared libraries that take longer to load than the rest of the core. So
// libcurl is linked by a small shim, liblazypath_curl.so (curl_shim.cc),
// which sits in the directory of the binary holding this code (the Python
// extension's package directory, or the build directory of the tests) and
// hands over the few functions used here.
//
// Thread safety: Curl() may be called from any thread; the first call
// loads the shim and runs curl_global_init once. The table is immutable and
// lives until the process ends (the shim is never unloaded).
// Failure: a missing or broken shim is an Unavailable status naming the
// shim's path and the loader's reason, returned by every call.
#ifndef LAZYPATH_STORE_CURL_API_H_
#define LAZYPATH_STORE_CURL_API_H_

#include <curl/curl.h>

#include "lazypath/status.h"

namespace lazypath::http {

// Bump with any change to the struct below; the shim and the core must
// agree (both are built from this header).
inline constexpr int kCurlApiVersion = 1;

struct CurlApi {
  int version;
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL* curl, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* curl);
  CURLcode (*easy_getinfo)(CURL* curl, CURLINFO info, ...);
  void (*easy_cleanup)(CURL* curl);
  const char* (*easy_strerror)(CURLcode code);
  curl_slist* (*slist_append)(curl_slist* list, const char* value);
  void (*slist_free_all)(curl_slist* list);
};

// The C symbol the shim exports: returns its (static) table.
inline constexpr const char* kCurlApiSymbol = "lazypath_curl_api";
inline constexpr const char* kCurlShimName = "liblazypath_curl.so";

// The loaded table (see above).
Result<const CurlApi*> Curl();

}  // namespace lazypath::http

#endif  // LAZYPATH_STORE_CURL_API_H_
