// Packs: immutable store objects holding many blobs as independent frames.
//
// A pack is the 8-byte magic "LZPACK1\n" followed by frames, one per blob,
// back to back (doc/format.md). A pack is named by the SHA-256 of all its
// bytes. The index (index.h) says where each blob's frame is.
//
// PackWriter builds a pack in a local file. It re-hashes every source while
// compressing it, so a file that changed since it was scanned is caught
// instead of being shipped under a stale digest.
//
// Thread safety: a PackWriter is used by one thread at a time. EncodeBlob is
// thread-safe.
#ifndef LAZYPATH_PACK_PACK_H_
#define LAZYPATH_PACK_PACK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "codec/codec.h"
#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "util/fs.h"

namespace lazypath {

inline constexpr std::string_view kPackMagic = "LZPACK1\n";
// Packs are cut near this size, so no object in a store grows without bound.
inline constexpr uint64_t kPackTargetBytes = 256ull << 20;
// The zstd level a push encodes frames at unless told otherwise. Level 1:
// on Python sources it writes about 2% more than level 3, on the mixed
// tree of bench/cold_push.py 2% less, and the push takes about two thirds
// of level 3's CPU time (bench/RESULTS.md); decoding costs the same.
inline constexpr int kDefaultLevel = 1;
// Blobs up to this size are compressed in memory (in parallel); larger ones
// are streamed straight into the pack.
inline constexpr uint64_t kInMemoryBlobBytes = 8ull << 20;

// A blob's frame: where it sits in its pack and how it is encoded.
struct FrameRef {
  uint64_t offset = 0;
  uint64_t length = 0;
  Codec codec = Codec::kNone;
};

// One small blob encoded in memory: zstd when that saves space, else raw.
struct EncodedBlob {
  std::string bytes;
  Codec codec = Codec::kNone;
};
// Encodes bytes held in memory (a chunk, a located frame's content).
Result<EncodedBlob> EncodeBytes(std::string raw, int level);
// Same, for bytes the caller keeps (copied only when stored raw).
Result<EncodedBlob> EncodeView(std::string_view raw, int level);
// Reads `source`, checks it against `expected` and encodes it.
Result<EncodedBlob> EncodeBlob(const std::string& source,
                               const Digest& expected, int level);

class PackWriter {
 public:
  // Creates `path` (which must not exist) and writes the magic.
  static Result<PackWriter> Create(const std::string& path, int level);
  PackWriter(PackWriter&&) = default;

  // Appends an already encoded blob.
  Result<FrameRef> AddEncoded(const EncodedBlob& blob);
  // Streams `source` into one zstd frame, verifying it against `expected`.
  // `on_bytes`, if set, gets the size of each chunk read (for progress).
  Result<FrameRef> AddFile(const std::string& source, const Digest& expected,
                           const std::function<void(uint64_t)>& on_bytes = {});
  uint64_t size() const { return size_; }
  // Fsyncs and closes the file; returns the pack's digest.
  Result<Digest> Finish();
  // Prefixed to errors writing the pack ("store URL: put packs/", when it
  // is assembled inside the store).
  void set_context(std::string context) { context_ = std::move(context); }

 private:
  PackWriter(std::string path, fs::Fd fd, int level);
  Status Append(std::string_view data);
  std::string path_;
  fs::Fd fd_;
  int level_;
  uint64_t size_ = 0;
  std::unique_ptr<Hasher> hasher_;
  std::string context_;
  static constexpr uint64_t kWritebackBytes = 8ull << 20;
  uint64_t written_back_ = 0;  // bytes handed to writeback so far
};

}  // namespace lazypath

#endif  // LAZYPATH_PACK_PACK_H_
