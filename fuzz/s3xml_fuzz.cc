// Fuzz target: the XML an S3 endpoint hands us (ListObjectsV2 pages and error
// bodies). Parsing must never crash; an accepted page keeps its invariant
// (truncated implies a continuation token), and an error mapping is one line
// that never echoes the body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/http_client.h"
#include "store/s3_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto page = lazypath::ParseListObjectsV2(in, "fuzz");
  if (page.ok() && page->truncated && page->next_token.empty()) std::abort();
  (void)lazypath::XmlFirst(in, "Key");
  std::string code = lazypath::http::ErrorCode(in);
  for (char c : code) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.';
    if (!ok) std::abort();
  }
  lazypath::Status s = lazypath::http::MapHttpError(403, in, "fuzz");
  if (s.message().find('\n') != std::string::npos) std::abort();
  return 0;
}
