// Fuzz target: format 2 tree records from a store. Decoding must never
// crash nor produce more than the declared sizes. The key is derived from
// the input's own first dsize decoded bytes, so the fuzzer reaches past the
// digest check; an accepted record re-encodes to the same content (and to
// exactly the input when it was raw).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pack/locator.h"
#include "util/varint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lazypath;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Hash key;  // all zero unless the header and frame decode
  uint8_t codec = 0;
  if (in.substr(0, 4) == "LZT2") {
    ByteReader r(in.substr(4));
    uint64_t dsize = 0, lsize = 0;
    if (r.Varint(&dsize) && r.Varint(&lsize) && r.Byte(&codec) && codec <= 1 &&
        dsize <= kMaxObjectBytes && lsize <= kMaxLocatorBytes) {
      auto body = DecodeFrame(static_cast<Codec>(codec),
                              in.substr(in.size() - r.remaining()),
                              dsize + lsize, "fuzz");
      if (body.ok()) key = HashBytes(body->substr(0, dsize)).hash;
    }
  }
  auto rec = DecodeTreeRecord(in, key, "fuzz");
  if (!rec.ok()) return 0;
  auto raw = EncodeTreeRecord(rec->directory, rec->locator, Codec::kNone, 1);
  if (!raw.ok()) std::abort();
  if (codec == 0 && *raw != in) std::abort();
  auto again = DecodeTreeRecord(*raw, key, "fuzz");
  if (!again.ok() || again->directory != rec->directory ||
      again->locator.Serialize() != rec->locator.Serialize()) {
    std::abort();
  }
  return 0;
}
