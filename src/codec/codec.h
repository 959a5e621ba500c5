// Frame codecs: how one blob is stored inside a pack.
//
// Each blob is one independent frame, so any blob (or a run of adjacent
// blobs) can be read with one range request and decoded alone. Codec kNone
// stores the bytes as they are; kZstd stores one zstd frame.
//
// Thread safety: FrameEncoder/FrameDecoder objects are not thread-safe; use
// one per thread. A FrameDecoder borrows its thread's zstd context, so it
// must be destroyed on the thread that made it. The free functions are
// thread-safe.
#ifndef LAZYPATH_CODEC_CODEC_H_
#define LAZYPATH_CODEC_CODEC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lazypath/status.h"

namespace lazypath {

enum class Codec : uint8_t { kNone = 0, kZstd = 1 };

using ByteSink = std::function<Status(std::string_view)>;

std::string_view CodecName(Codec c);  // "none" / "zstd"
Result<Codec> ParseCodec(std::string_view name);

// Compresses `data` into one zstd frame (in memory).
Result<std::string> ZstdCompress(std::string_view data, int level);

// Streams one zstd frame to `sink`.
class FrameEncoder {
 public:
  explicit FrameEncoder(int level);
  ~FrameEncoder();
  FrameEncoder(const FrameEncoder&) = delete;
  FrameEncoder& operator=(const FrameEncoder&) = delete;
  Status Write(std::string_view data, const ByteSink& sink);
  // Ends the frame. REQUIRES: called once, after all Write calls.
  Status Finish(const ByteSink& sink);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decodes one frame of `codec` whose content is declared to be exactly
// `expected_size` bytes. Fails with Corrupt (naming `what`) as soon as the
// output would exceed that size, on any decoding error, on trailing bytes
// after the frame, or, at Finish, when the frame was incomplete or short.
class FrameDecoder {
 public:
  FrameDecoder(Codec codec, uint64_t expected_size, std::string what);
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;
  Status Feed(std::string_view in, const ByteSink& out);
  Status Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decodes a whole frame held in memory.
Result<std::string> DecodeFrame(Codec codec, std::string_view frame,
                                uint64_t expected_size,
                                const std::string& what);

}  // namespace lazypath

#endif  // LAZYPATH_CODEC_CODEC_H_
