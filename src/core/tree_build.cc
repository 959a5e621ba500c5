#include "core/tree_build.h"

#include <vector>

#include "tree/chunker.h"

namespace lazypath {

Result<std::unique_ptr<BuiltTree>> BuildTree(const ScanResult& scanned) {
  auto b = std::make_unique<BuiltTree>();
  std::vector<FlatEntry> flat;
  const auto& entries = scanned.tree.entries();
  flat.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    FlatEntry f{entries[i], {}};
    if (entries[i].kind != EntryKind::kSymlink && entries[i].blob.size > 0) {
      b->input.sources[entries[i].path] = scanned.sources[i];
      if (entries[i].blob.size > kChunkThreshold) {
        LP_ASSIGN_OR_RETURN(auto chunks, ChunkFile(scanned.sources[i]));
        ChunkList list{std::move(chunks)};
        if (list.TotalSize() != entries[i].blob.size) {
          return Status::Unavailable(
              scanned.sources[i] + ": changed while being pushed; push again");
        }
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
