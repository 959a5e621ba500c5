// Fuzz target: format 2 locations objects from a store (keyed by their own
// hash, so every input reaches the decoder). Decoding must never crash nor
// produce more than the declared size; an accepted object's body
// re-serialises to the decoded body, and a raw one re-encodes to exactly
// the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pack/locator.h"
#include "util/varint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lazypath;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto locs = DecodeLocations(in, HashBytes(in).hash, "fuzz");
  if (!locs.ok()) return 0;
  std::string body = locs->SerializeBody();
  auto again = Locations::ParseBody(body, "fuzz");
  if (!again.ok() || again->records != locs->records ||
      again->packs != locs->packs) {
    std::abort();
  }
  ByteReader r(in.substr(4));
  uint64_t declared = 0;
  uint8_t codec = 0;
  if (!r.Varint(&declared) || !r.Byte(&codec) || declared != body.size()) {
    std::abort();
  }
  if (codec == 0 && *EncodeLocations(*locs, Codec::kNone, 1) != in) {
    std::abort();
  }
  return 0;
}
