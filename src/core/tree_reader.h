// Reads a format 2 tree from a store one object at a time (doc/format.md,
// "Format 2"): the tree record, then any directory, chunk list or file the
// caller asks for through its parent's locator. Every object is verified
// against the digest its parent names before it is parsed or returned, so
// a reader needs to trust only the root digest. Errors are one-line
// statuses naming the object's digest and the cause.
//
// Thread safety: values and reentrant functions; a Store is used from the
// calling thread.
#ifndef LAZYPATH_CORE_TREE_READER_H_
#define LAZYPATH_CORE_TREE_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "pack/locator.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

class Store;

// One directory as read, with what locates its children.
struct LocatedDirectory {
  std::string path;  // "" for the root
  size_t depth = 0;
  Directory dir;
  Locator locator;  // checked against dir.SlotShapes()
  Hash holding;     // the pack this directory's located frame came from
};

// Reads trees/<hex of root>: the root directory and its locator.
Result<LocatedDirectory> ReadRootDirectory(Store& store, const Hash& root);
// The same from a tree record's bytes already read.
Result<LocatedDirectory> ParseRootDirectory(std::string_view record,
                                            const Hash& root);

// Reads the located frame `frame` of `pack` (an object of `size` bytes
// followed by its locator of `lsize` bytes): the object's bytes, not yet
// verified, and its locator, parsed but not checked against the object.
Result<std::pair<std::string, Locator>> ReadLocatedFrame(
    Store& store, const Hash& pack, const PackFrame& frame, uint64_t size,
    uint64_t lsize, const std::string& what);

// Reads the subdirectory entry `i` of `parent` names.
// REQUIRES: parent.dir.entries[i] is a directory.
Result<LocatedDirectory> ReadChildDirectory(Store& store,
                                            const LocatedDirectory& parent,
                                            size_t i);

// The chunk list of chunked file entry `e`, from its located frame: `list`
// (the list's bytes) checked against the entry's digest and list size, the
// list against the file's size, and `locator` against the list. Errors are
// one line starting with `what`.
Result<ChunkList> CheckChunkList(std::string_view list, const Locator& locator,
                                 const DirEntry& e, const std::string& what);

// The content of the file entry `i` of `parent` names, verified (a chunked
// file's chunk list, then each chunk). REQUIRES: entry `i` is a file.
Result<std::string> ReadFileContent(Store& store,
                                    const LocatedDirectory& parent, size_t i);

// One entry of a whole tree, as a walk from the root finds it.
struct WalkedEntry {
  std::string path;
  DirEntry entry;
};

// Every directory of the tree, read from the root down, and the
// non-directory entries of each in path order.
Result<std::vector<WalkedEntry>> WalkTree(Store& store, const Hash& root);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_TREE_READER_H_
