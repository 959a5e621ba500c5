// Fuzz target: the JSON a GCS endpoint or a token endpoint hands us
// (objects.list pages, object metadata, error bodies, token responses).
// Parsing must never crash; an accepted token fits in a header line; every
// mapped error is one line that never echoes the body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/gcs_store.h"
#include "store/google_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)lazypath::ParseGcsListPage(in, "fuzz");
  auto gen = lazypath::ParseGcsGeneration(in, "fuzz");
  if (gen.ok() && (gen->empty() || gen->size() > 20)) std::abort();
  auto tok = lazypath::ParseTokenResponse(in, "fuzz");
  if (tok.ok()) {
    if (tok->access_token.empty() || tok->expires_in < 0) std::abort();
    for (unsigned char c : tok->access_token) {
      if (c <= 0x20 || c >= 0x7F) std::abort();
    }
  }
  (void)lazypath::ParseServiceAccountKey(in, "fuzz");
  std::string reason = lazypath::GcsErrorReason(in);
  if (reason.size() > 60) std::abort();
  for (long status : {401L, 404L, 412L, 503L}) {
    lazypath::Status s = lazypath::MapGcsError(status, in, "fuzz", "src");
    if (s.message().find('\n') != std::string::npos) std::abort();
  }
  lazypath::Status t = lazypath::MapTokenError(400, in, "fuzz");
  if (t.message().find('\n') != std::string::npos) std::abort();
  return 0;
}
