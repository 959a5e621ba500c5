// Fuzz target: pack frames. The first byte picks the codec, the next four the
// declared size; the rest is the frame. Decoding must never crash nor produce
// more than the declared size, however it is split into chunks.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "codec/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  auto codec = (data[0] & 1) ? lazypath::Codec::kZstd : lazypath::Codec::kNone;
  uint64_t declared = (uint64_t{data[1]} | uint64_t{data[2]} << 8 |
                       uint64_t{data[3]} << 16 | uint64_t{data[4]} << 24) &
                      0xfffff;
  std::string_view frame(reinterpret_cast<const char*>(data + 5), size - 5);
  uint64_t produced = 0;
  lazypath::FrameDecoder dec(codec, declared, "fuzz");
  size_t chunk = 1 + (data[0] >> 1);
  for (size_t i = 0; i < frame.size(); i += chunk) {
    auto s = dec.Feed(frame.substr(i, chunk), [&](std::string_view out) {
      produced += out.size();
      return lazypath::Status::OK();
    });
    if (!s.ok()) return 0;
  }
  if (produced > declared) std::abort();
  if (dec.Finish().ok() && produced != declared) std::abort();
  return 0;
}
