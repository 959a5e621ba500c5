// Content-defined chunking of large files, and chunk lists (format 2).
//
// A file larger than kChunkThreshold is cut where its content says so, with
// a FastCDC-style gear hash and normalised chunking (doc/format.md, "Format
// 2"): an edit inside a model or data file moves only the chunks around it,
// and every other chunk keeps its digest. The cut points depend on the bytes
// alone, so the same file always gives the same chunks on every machine.
//
// A chunk list object names a chunked file's chunks in order (size and
// SHA-256 each); its digest is what the file's directory entry holds.
// ChunkList::Parse accepts only canonical bytes within the limits, since
// chunk lists come from a store and may be hostile.
//
// Thread safety: GearTable, CutPoint and ChunkFile are thread-safe. A Chunker
// is used by one thread at a time. ChunkList is a value.
#ifndef LAZYPATH_TREE_CHUNKER_H_
#define LAZYPATH_TREE_CHUNKER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "util/format2.h"

namespace lazypath {

inline constexpr uint64_t kMinChunk = 128 << 10;
inline constexpr uint64_t kAvgChunk = 512 << 10;
inline constexpr uint64_t kMaxChunk = 2 << 20;
// Files larger than this are chunked: one no larger than the largest chunk
// would be a single chunk anyway.
inline constexpr uint64_t kChunkThreshold = 2 << 20;
// Before kAvgChunk a cut needs the top 21 bits of the fingerprint clear,
// after it the top 17: cuts are rare early and likely late.
inline constexpr uint64_t kChunkMaskS = ((uint64_t{1} << 21) - 1) << 43;
inline constexpr uint64_t kChunkMaskL = ((uint64_t{1} << 17) - 1) << 47;

// gear[i]: the first 8 bytes, big-endian, of SHA-256("lazypath-gear-<i>").
const std::array<uint64_t, 256>& GearTable();

// The length of the chunk starting at data[0], where `data` is everything
// left of the file. Reads at most the first kMaxChunk bytes.
size_t CutPoint(std::string_view data);

struct Chunk {
  uint64_t size = 0;
  Hash hash;
  bool operator==(const Chunk&) const = default;
};

// Receives each chunk with its bytes; `bytes` is valid only during the call.
using ChunkSink = std::function<Status(const Chunk&, std::string_view bytes)>;

// Streaming chunker: feed a file's bytes in pieces of any size and get its
// chunks in order. Holds at most kMaxChunk bytes, whatever the file's size.
class Chunker {
 public:
  Chunker() = default;
  // Feeds the next bytes. Calls `sink` for every chunk whose end is now
  // known. A sink error is returned as is; the Chunker is then unusable.
  Status Update(std::string_view data, const ChunkSink& sink);
  // Ends the file: the bytes still held become its last chunk(s).
  Status Finish(const ChunkSink& sink);

 private:
  Status Emit(size_t n, const ChunkSink& sink);
  std::string buf_;  // bytes not yet in a chunk
};

// Chunks the file at `path`, streamed. `sink`, when set, also gets each
// chunk's bytes (to compress them, say). Errors name the path.
Result<std::vector<Chunk>> ChunkFile(const std::string& path,
                                     const ChunkSink& sink = nullptr);
// Same, reading the open file `fd` from its current offset; `path` names
// it in errors.
Result<std::vector<Chunk>> ChunkFd(int fd, const std::string& path,
                                   const ChunkSink& sink = nullptr);
// Reads the file at `path` once, returning its whole-file digest and
// setting `*chunks` to its chunks: the two describe the same bytes.
// `on_bytes`, if set, gets the size of each piece read.
Result<Digest> HashAndChunkFile(
    const std::string& path, std::vector<Chunk>* chunks,
    const std::function<void(uint64_t)>& on_bytes = {});

class ChunkList {
 public:
  std::vector<Chunk> chunks;

  uint64_t TotalSize() const;
  std::string Serialize() const;
  // Parses canonical chunk list bytes: magic, at least one chunk, sizes in
  // [1, kMaxChunk], every chunk but the last at least kMinChunk, at most
  // 64 MiB, nothing after the last chunk. Errors are one-line Corrupt
  // statuses that start with `what` (the list's digest, say).
  static Result<ChunkList> Parse(std::string_view bytes, std::string_view what);
  // Checks the list against the size its directory entry gives the file:
  // no more chunks than such a file can have, and sizes adding up to it.
  Status CheckFileSize(uint64_t file_size, std::string_view what) const;
  // The slots its locator must have: one frame per chunk.
  std::vector<SlotShape> SlotShapes() const;
};

}  // namespace lazypath

#endif  // LAZYPATH_TREE_CHUNKER_H_
