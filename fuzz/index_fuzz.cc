// Fuzz target: index documents from a store. Parse must never crash, and an
// accepted index must survive a serialise/parse round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pack/index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto idx = lazypath::Index::Parse(in, "fuzz");
  if (!idx.ok()) return 0;
  auto again = lazypath::Index::Parse(idx->Serialize(), "fuzz");
  if (!again.ok() || again->tree != idx->tree || again->blobs != idx->blobs) {
    std::abort();
  }
  return 0;
}
