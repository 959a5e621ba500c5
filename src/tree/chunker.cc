#include "tree/chunker.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "util/fs.h"
#include "util/varint.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "LZC2";
constexpr size_t kRecordMinBytes = 1 + 32;  // a size varint and a hash

std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> gear{};
  for (int i = 0; i < 256; ++i) {
    Digest d = HashBytes("lazypath-gear-" + std::to_string(i));
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = v << 8 | d.hash.bytes[k];
    gear[i] = v;
  }
  return gear;
}

}  // namespace

const std::array<uint64_t, 256>& GearTable() {
  static const std::array<uint64_t, 256> gear = MakeGear();
  return gear;
}

size_t CutPoint(std::string_view data) {
  size_t n = data.size();
  if (n <= kMinChunk) return n;
  const std::array<uint64_t, 256>& gear = GearTable();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t end = std::min<size_t>(n, kMaxChunk);
  size_t small = std::min<size_t>(kAvgChunk, end);
  uint64_t fp = 0;
  size_t i = kMinChunk;
  while (i < small) {
    fp = (fp << 1) + gear[p[i]];
    ++i;
    if ((fp & kChunkMaskS) == 0) return i;
  }
  while (i < end) {
    fp = (fp << 1) + gear[p[i]];
    ++i;
    if ((fp & kChunkMaskL) == 0) return i;
  }
  return end;
}

Status Chunker::Emit(size_t n, const ChunkSink& sink) {
  std::string_view bytes(buf_.data(), n);
  Chunk c{n, HashBytes(bytes).hash};
  if (sink) LP_RETURN_IF_ERROR(sink(c, bytes));
  buf_.erase(0, n);
  return Status::OK();
}

Status Chunker::Update(std::string_view data, const ChunkSink& sink) {
  while (!data.empty()) {
    // A cut is decided only once a whole kMaxChunk window is held (or the
    // file ends): with fewer bytes the chunk might still grow.
    size_t take = std::min(data.size(), size_t{kMaxChunk} - buf_.size());
    buf_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (buf_.size() == kMaxChunk)
      LP_RETURN_IF_ERROR(Emit(CutPoint(buf_), sink));
  }
  return Status::OK();
}

Status Chunker::Finish(const ChunkSink& sink) {
  while (!buf_.empty()) LP_RETURN_IF_ERROR(Emit(CutPoint(buf_), sink));
  return Status::OK();
}

Result<std::vector<Chunk>> ChunkFile(const std::string& path,
                                     const ChunkSink& sink) {
  LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(path));
  return ChunkFd(fd.get(), path, sink);
}

Result<Digest> HashAndChunkFile(const std::string& path,
                                std::vector<Chunk>* chunks,
                                const std::function<void(uint64_t)>& on_bytes) {
  LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(path));
  Hasher whole;
  chunks->clear();
  ChunkSink collect = [&](const Chunk& c, std::string_view) {
    chunks->push_back(c);
    return Status::OK();
  };
  Chunker chunker;
  constexpr size_t kPieceBytes = 1 << 20;
  thread_local std::unique_ptr<char[]> piece(new char[kPieceBytes]);
  for (;;) {
    ssize_t n = ::read(fd.get(), piece.get(), kPieceBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read", path, errno);
    if (n == 0) break;
    std::string_view bytes(piece.get(), static_cast<size_t>(n));
    whole.Update(bytes);
    LP_RETURN_IF_ERROR(chunker.Update(bytes, collect));
    if (on_bytes) on_bytes(bytes.size());
  }
  LP_RETURN_IF_ERROR(chunker.Finish(collect));
  return whole.Finish();
}

Result<std::vector<Chunk>> ChunkFd(int fd, const std::string& path,
                                   const ChunkSink& sink) {
  std::vector<Chunk> chunks;
  ChunkSink collect = [&](const Chunk& c, std::string_view bytes) {
    chunks.push_back(c);
    return sink ? sink(c, bytes) : Status::OK();
  };
  Chunker chunker;
  std::string piece(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, piece.data(), piece.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read", path, errno);
    if (n == 0) break;
    LP_RETURN_IF_ERROR(
        chunker.Update(std::string_view(piece.data(), size_t(n)), collect));
  }
  LP_RETURN_IF_ERROR(chunker.Finish(collect));
  return chunks;
}

uint64_t ChunkList::TotalSize() const {
  uint64_t total = 0;
  for (const Chunk& c : chunks) total += c.size;
  return total;
}

std::string ChunkList::Serialize() const {
  std::string out(kMagic);
  PutVarint(out, chunks.size());
  for (const Chunk& c : chunks) {
    PutVarint(out, c.size);
    out.append(reinterpret_cast<const char*>(c.hash.bytes.data()), 32);
  }
  return out;
}

Result<ChunkList> ChunkList::Parse(std::string_view bytes,
                                   std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(std::string(what) + ": chunk list " +
                           std::string(why));
  };
  if (bytes.size() > kMaxObjectBytes) return bad("larger than 64 MiB");
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return bad("has a bad magic (not a format 2 chunk list)");
  }
  ByteReader r(bytes.substr(kMagic.size()));
  uint64_t count = 0;
  if (!r.Varint(&count)) return bad(std::string(r.error()));
  if (count == 0) return bad("has no chunks");
  if (count > r.remaining() / kRecordMinBytes) {
    return bad("counts " + std::to_string(count) +
               " chunks but has room for at most " +
               std::to_string(r.remaining() / kRecordMinBytes));
  }
  ChunkList list;
  list.chunks.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string at = "chunk " + std::to_string(i) + ": ";
    Chunk& c = list.chunks[i];
    std::string_view h;
    if (!r.Varint(&c.size) || !r.Bytes(32, &h)) {
      return bad(at + std::string(r.error()));
    }
    std::copy(h.begin(), h.end(), c.hash.bytes.begin());
    if (c.size == 0 || c.size > kMaxChunk) {
      return bad(at + "size out of range (" + std::to_string(c.size) + ")");
    }
    if (i + 1 < count && c.size < kMinChunk) {
      return bad(at + "smaller than 128 KiB and not the last");
    }
  }
  if (!r.at_end()) return bad("has trailing bytes");
  return list;
}

Status ChunkList::CheckFileSize(uint64_t file_size,
                                std::string_view what) const {
  uint64_t most = file_size / kMinChunk + (file_size % kMinChunk != 0) + 1;
  if (chunks.size() > most) {
    return Status::Corrupt(std::string(what) + ": chunk list has " +
                           std::to_string(chunks.size()) +
                           " chunks, more chunks than a file of " +
                           std::to_string(file_size) + " bytes can have");
  }
  if (TotalSize() != file_size) {
    return Status::Corrupt(std::string(what) + ": chunks add up to " +
                           std::to_string(TotalSize()) +
                           " bytes, the file has " + std::to_string(file_size));
  }
  return Status::OK();
}

std::vector<SlotShape> ChunkList::SlotShapes() const {
  std::vector<SlotShape> shapes;
  shapes.reserve(chunks.size());
  for (const Chunk& c : chunks) shapes.push_back({SlotType::kFrame, c.size, 0});
  return shapes;
}

}  // namespace lazypath
