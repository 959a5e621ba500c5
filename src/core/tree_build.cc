#include "core/tree_build.h"

#include <vector>

#include "lazypath/node_cache.h"
#include "tree/chunker.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

// The chunk list of the content `blob` (read from `source`), from the memo
// when it holds one that fits, else by chunking the file. `*stamp` stays as
// it is only if the list was cut from the bytes the scan hashed: chunked
// here, from a file whose stamp has not moved since.
Result<ChunkList> ChunksOf(const std::string& source, const Digest& blob,
                           const NodeCache* cache, FileStamp* stamp) {
  if (cache) {
    if (auto memo = cache->GetMeta(blob.hash, ".clist"); memo.ok()) {
      auto list = ChunkList::Parse(*memo, "chunk memo of " + source);
      if (list.ok() && list->TotalSize() == blob.size) {
        *stamp = {};
        return list;
      }
    }
  }
  LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(source));
  LP_ASSIGN_OR_RETURN(auto chunks, ChunkFd(fd.get(), source));
  if (!stamp->empty() && StampOf(fd.get()) != *stamp) *stamp = {};
  ChunkList list{std::move(chunks)};
  if (list.TotalSize() != blob.size) {
    return Status::Unavailable(source +
                               ": changed while being pushed; push again");
  }
  // Best effort: without it the next push chunks the file again.
  if (cache) (void)cache->PutMeta(blob.hash, ".clist", list.Serialize());
  return list;
}

}  // namespace

std::function<Result<Digest>(const std::string&,
                             const std::function<void(uint64_t)>&)>
PrecutChunks::Hook() {
  return [this](
             const std::string& source,
             const std::function<void(uint64_t)>& on_bytes) -> Result<Digest> {
    std::vector<Chunk> chunks;
    LP_ASSIGN_OR_RETURN(Digest d, HashAndChunkFile(source, &chunks, on_bytes));
    std::lock_guard<std::mutex> lock(mu_);
    by_source_[source] = ChunkList{std::move(chunks)};
    return d;
  };
}

const ChunkList* PrecutChunks::Find(const std::string& source) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_source_.find(source);
  return it == by_source_.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<BuiltTree>> BuildTree(const ScanResult& scanned,
                                             const NodeCache* cache,
                                             int threads,
                                             const PrecutChunks* precut) {
  auto b = std::make_unique<BuiltTree>();
  std::vector<FlatEntry> flat;
  const auto& entries = scanned.tree.entries();
  flat.reserve(entries.size());
  std::vector<size_t> large;  // entries to chunk
  std::vector<FileStamp> stamps(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    FlatEntry f{entries[i], {}};
    if (entries[i].kind != EntryKind::kSymlink && entries[i].blob.size > 0) {
      b->input.sources[entries[i].path] = scanned.sources[i];
      if (i < scanned.stamps.size()) stamps[i] = scanned.stamps[i];
      if (entries[i].blob.size > kChunkThreshold) large.push_back(i);
    }
    flat.push_back(std::move(f));
  }
  // Chunking reads each large file whole: one file per thread at a time.
  std::vector<ChunkList> lists(large.size());
  LP_RETURN_IF_ERROR(ParallelFor(large.size(), threads, [&](size_t k) {
    size_t i = large[k];
    if (const ChunkList* cut =
            precut ? precut->Find(scanned.sources[i]) : nullptr;
        cut && cut->TotalSize() == entries[i].blob.size) {
      lists[k] = *cut;  // the hashed bytes themselves: the stamp holds
      // Best effort: without it the next push chunks the file again.
      if (cache)
        (void)cache->PutMeta(entries[i].blob.hash, ".clist",
                             lists[k].Serialize());
      return Status::OK();
    }
    LP_ASSIGN_OR_RETURN(lists[k], ChunksOf(scanned.sources[i], entries[i].blob,
                                           cache, &stamps[i]));
    return Status::OK();
  }));
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!stamps[i].empty()) b->input.stamps[entries[i].path] = stamps[i];
  }
  for (size_t k = 0; k < large.size(); ++k) {
    flat[large[k]].chunk_list = HashBytes(lists[k].Serialize());
    b->input.chunk_lists.emplace(flat[large[k]].chunk_list.hash,
                                 std::move(lists[k]));
  }
  LP_ASSIGN_OR_RETURN(b->dirs, BuildDirectories(flat));
  b->input.dirs = &b->dirs;
  return b;
}

}  // namespace lazypath
