#include "core/tree_reader.h"

#include <algorithm>

#include "lazypath/store.h"
#include "tree/chunker.h"

namespace lazypath {

namespace {

// Reads and decodes one frame of `pack`, capped at `expected` bytes.
Result<std::string> ReadFrame(Store& store, const Hash& pack,
                              const PackFrame& frame, uint64_t expected,
                              const std::string& what) {
  std::string bytes;
  LP_RETURN_IF_ERROR(store.GetRange(PackKey(pack), frame.offset, frame.length,
                                    [&](std::string_view b) {
                                      bytes.append(b);
                                      return Status::OK();
                                    }));
  return DecodeFrame(frame.codec, bytes, expected, what);
}

// A located frame's content split into the object and its locator.
Result<std::pair<std::string, Locator>> ReadLocated(Store& store,
                                                    const Hash& pack,
                                                    const Slot& slot,
                                                    uint64_t size,
                                                    const std::string& what) {
  return ReadLocatedFrame(store, pack, slot.frame, size, slot.lsize, what);
}

}  // namespace

Result<std::pair<std::string, Locator>> ReadLocatedFrame(
    Store& store, const Hash& pack, const PackFrame& frame, uint64_t size,
    uint64_t lsize, const std::string& what) {
  LP_ASSIGN_OR_RETURN(std::string content,
                      ReadFrame(store, pack, frame, size + lsize, what));
  if (content.size() < size) {
    return Status::Corrupt(what + ": located frame shorter than its object");
  }
  LP_ASSIGN_OR_RETURN(Locator loc,
                      Locator::Parse(std::string_view(content).substr(size),
                                     what + " (locator)"));
  content.resize(size);
  return std::make_pair(std::move(content), std::move(loc));
}

Result<LocatedDirectory> ReadRootDirectory(Store& store, const Hash& root) {
  LP_ASSIGN_OR_RETURN(std::string bytes,
                      store.Get(TreeKey(root), 2 * kMaxObjectBytes + 64));
  return ParseRootDirectory(bytes, root);
}

Result<LocatedDirectory> ParseRootDirectory(std::string_view bytes,
                                            const Hash& root) {
  const std::string what = "tree " + root.hex();
  LP_ASSIGN_OR_RETURN(TreeRecord record, DecodeTreeRecord(bytes, root, what));
  LocatedDirectory out;
  LP_ASSIGN_OR_RETURN(out.dir, Directory::Parse(record.directory, 0, what));
  LP_RETURN_IF_ERROR(CheckLocator(record.locator, out.dir.SlotShapes(), what));
  out.locator = std::move(record.locator);
  return out;
}

Result<LocatedDirectory> ReadChildDirectory(Store& store,
                                            const LocatedDirectory& parent,
                                            size_t i) {
  const DirEntry& e = parent.dir.entries[i];
  const Slot& slot = parent.locator.slots[i];
  const std::string what = "directory " + e.hash.hex();
  LocatedDirectory out;
  LP_ASSIGN_OR_RETURN(out.path, ChildPath(parent.path, e.name));
  out.depth = parent.depth + 1;
  out.holding = parent.locator.PackOf(slot.frame, parent.holding);
  LP_ASSIGN_OR_RETURN(auto located,
                      ReadLocated(store, out.holding, slot, e.size, what));
  LP_ASSIGN_OR_RETURN(out.dir,
                      Directory::ParseChild(e, located.first, out.depth));
  LP_RETURN_IF_ERROR(CheckLocator(located.second, out.dir.SlotShapes(), what));
  out.locator = std::move(located.second);
  return out;
}

Result<ChunkList> CheckChunkList(std::string_view list, const Locator& locator,
                                 const DirEntry& e, const std::string& what) {
  if (HashBytes(list) != Digest{e.hash, e.list_size}) {
    return Status::Corrupt(what + ": content does not match its digest");
  }
  LP_ASSIGN_OR_RETURN(ChunkList parsed, ChunkList::Parse(list, what));
  LP_RETURN_IF_ERROR(parsed.CheckFileSize(e.size, what));
  LP_RETURN_IF_ERROR(CheckLocator(locator, parsed.SlotShapes(), what));
  return parsed;
}

Result<std::string> ReadFileContent(Store& store,
                                    const LocatedDirectory& parent, size_t i) {
  const DirEntry& e = parent.dir.entries[i];
  const Slot& slot = parent.locator.slots[i];
  if (e.size == 0) return std::string();
  if (!e.chunked()) {
    const std::string what = "blob " + e.hash.hex();
    LP_ASSIGN_OR_RETURN(
        std::string data,
        ReadFrame(store, parent.locator.PackOf(slot.frame, parent.holding),
                  slot.frame, e.size, what));
    if (HashBytes(data) != Digest{e.hash, e.size}) {
      return Status::Corrupt(what + ": content does not match its digest");
    }
    return data;
  }
  const std::string what = "chunk list " + e.hash.hex();
  Hash holding = parent.locator.PackOf(slot.frame, parent.holding);
  LP_ASSIGN_OR_RETURN(auto located,
                      ReadLocated(store, holding, slot, e.list_size, what));
  LP_ASSIGN_OR_RETURN(ChunkList list,
                      CheckChunkList(located.first, located.second, e, what));
  std::string data;
  data.reserve(e.size);
  for (size_t k = 0; k < list.chunks.size(); ++k) {
    const Chunk& c = list.chunks[k];
    const PackFrame& f = located.second.slots[k].frame;
    const std::string chunk_what = "chunk " + c.hash.hex();
    LP_ASSIGN_OR_RETURN(std::string chunk,
                        ReadFrame(store, located.second.PackOf(f, holding), f,
                                  c.size, chunk_what));
    if (HashBytes(chunk).hash != c.hash) {
      return Status::Corrupt(chunk_what +
                             ": content does not match its digest");
    }
    data += chunk;
  }
  return data;
}

Result<std::vector<WalkedEntry>> WalkTree(Store& store, const Hash& root) {
  std::vector<WalkedEntry> out;
  std::vector<LocatedDirectory> stack;
  LP_ASSIGN_OR_RETURN(LocatedDirectory r, ReadRootDirectory(store, root));
  stack.push_back(std::move(r));
  while (!stack.empty()) {
    LocatedDirectory d = std::move(stack.back());
    stack.pop_back();
    for (size_t i = 0; i < d.dir.entries.size(); ++i) {
      const DirEntry& e = d.dir.entries[i];
      if (e.kind == DirKind::kDirectory) {
        LP_ASSIGN_OR_RETURN(LocatedDirectory child,
                            ReadChildDirectory(store, d, i));
        stack.push_back(std::move(child));
        continue;
      }
      LP_ASSIGN_OR_RETURN(std::string path, ChildPath(d.path, e.name));
      out.push_back({std::move(path), e});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const WalkedEntry& a, const WalkedEntry& b) {
              return a.path < b.path;
            });
  return out;
}

}  // namespace lazypath
