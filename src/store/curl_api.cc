#include "store/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace lazypath::http {

namespace {

// The directory of the binary (shared object or executable) this code is
// linked into.
std::string OwnDirectory() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&Curl), &info) == 0 ||
      info.dli_fname == nullptr) {
    return ".";
  }
  std::string path(info.dli_fname);
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Result<const CurlApi*> Load() {
  const std::string path = OwnDirectory() + "/" + kCurlShimName;
  auto fail = [&](const std::string& why) -> Status {
    // dlerror() names the path itself.
    std::string detail =
        why.find(path) == std::string::npos ? path + ": " + why : why;
    return Status::Unsupported(
        "cannot load libcurl for http(s), s3 and gs stores: " + detail);
  };
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = ::dlerror();
    return fail(e != nullptr ? e : "dlopen failed");
  }
  using Fn = const CurlApi* (*)();
  auto fn = reinterpret_cast<Fn>(::dlsym(handle, kCurlApiSymbol));
  if (fn == nullptr) return fail(std::string("no symbol ") + kCurlApiSymbol);
  const CurlApi* api = fn();
  if (api == nullptr || api->version != kCurlApiVersion) {
    return fail("built for another version of lazypath");
  }
  if (CURLcode rc = api->global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return fail(std::string("curl_global_init: ") + api->easy_strerror(rc));
  }
  return api;
}

}  // namespace

Result<const CurlApi*> Curl() {
  static const Result<const CurlApi*>* loaded = [] {
    return new Result<const CurlApi*>(Load());  // lives as long as the shim
  }();
  return *loaded;
}

}  // namespace lazypath::http
