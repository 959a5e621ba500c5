#include "core/tree_build.h"

#include <vector>

#include "lazypath/node_cache.h"
#include "tree/chunker.h"

namespace lazypath {

namespace {

// The chunk list of the content `blob` (read from `source`), from the memo
// when it holds one that fits, else by chunking the file.
Result<ChunkList> ChunksOf(const std::string& source, const Digest& blob,
                           const NodeCache* cache) {
  if (cache) {
    if (auto memo = cache->GetMeta(blob.hash, ".clist"); memo.ok()) {
      auto list = ChunkList::Parse(*memo, "chunk memo of " + source);
      if (list.ok() && list->TotalSize() == blob.size) return list;
    }
  }
  LP_ASSIGN_OR_RETURN(auto chunks, ChunkFile(source));
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

Result<std::unique_ptr<BuiltTree>> BuildTree(const ScanResult& scanned,
                                             const NodeCache* cache) {
  auto b = std::make_unique<BuiltTree>();
  std::vector<FlatEntry> flat;
  const auto& entries = scanned.tree.entries();
  flat.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    FlatEntry f{entries[i], {}};
    if (entries[i].kind != EntryKind::kSymlink && entries[i].blob.size > 0) {
      b->input.sources[entries[i].path] = scanned.sources[i];
      if (entries[i].blob.size > kChunkThreshold) {
        LP_ASSIGN_OR_RETURN(ChunkList list, ChunksOf(scanned.sources[i],
                                                     entries[i].blob, cache));
        f.chunk_list = HashBytes(list.Serialize());
        b->input.chunk_lists.emplace(f.chunk_list.hash, std::move(list));
      }
    }
    flat.push_back(std::move(f));
  }
  LP_ASSIGN_OR_RETURN(b->dirs, BuildDirectories(flat));
  b->input.dirs = &b->dirs;
  return b;
}

}  // namespace lazypath
