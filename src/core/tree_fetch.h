// Reading a whole format 2 tree (eager activation, listings, diffs): its
// directories level by level from the root, the located frames of each
// level fetched together, and every object verified against the digest
// its parent names before it is parsed (doc/format.md, "Format 2").
//
// A push keeps its directory frames side by side (tree_writer.h), so a
// level's frames are coalesced into range reads that may span the small
// gaps between them: reading a tree costs a few requests per level, not one
// per directory. What a read moves is counted in TreeReadStats.
//
// Thread safety: reentrant; up to `threads` range reads run at once, and
// the Store must allow concurrent calls (all backends do).
#ifndef LAZYPATH_CORE_TREE_FETCH_H_
#define LAZYPATH_CORE_TREE_FETCH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree_reader.h"
#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "pack/index.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

class Store;

// One non-directory entry of a tree with where its bytes are.
struct FlatFile {
  std::string path;
  DirEntry entry;
  // Non-chunked files of size > 0: the blob's frame. Chunked files: the
  // located frame of the chunk list (lsize: its locator's length).
  BlobLocation location;
  uint64_t lsize = 0;
};

class DirectoryCache;  // core/directory_cache.h

struct TreeReadStats {
  std::atomic<uint64_t> directories{0};  // directory objects read
  std::atomic<uint64_t> cached{0};       // taken from a DirectoryCache
  std::atomic<uint64_t> requests{0};     // range reads made for them
  std::atomic<uint64_t> bytes{0};        // bytes those reads moved
};

// Whether `record` (the bytes of trees/<hex>) is a format 2 tree record.
bool IsTreeRecord(std::string_view record);

// The root directory of the tree whose tree record is `record`, verified
// against `root` (as ReadRootDirectory, from bytes already read).
Result<LocatedDirectory> DecodeRoot(const Hash& root, std::string_view record);

// File entry `i` of `dir` with where its bytes are.
// REQUIRES: entry `i` is not a directory.
Result<FlatFile> LocateFile(const LocatedDirectory& dir, size_t i);

// One subdirectory to read: entry `index` of `*parent`, which must outlive
// the read.
struct ChildRef {
  const LocatedDirectory* parent = nullptr;
  size_t index = 0;
};

// Reads the given subdirectories, each verified as ReadChildDirectory does,
// in order; located frames of one pack less than `gap` bytes apart are read
// in one request (0: only touching frames). With `cache`, those it holds
// come from there and the others are kept in it.
Result<std::vector<LocatedDirectory>> ReadChildDirectories(
    Store& store, const std::vector<ChildRef>& children, uint64_t gap,
    int threads, TreeReadStats* stats, const DirectoryCache* cache = nullptr);

// Reads every directory of the tree whose tree record is `record` (the
// bytes of trees/<hex of root>) and returns its non-directory entries in
// path order. Refuses, naming the object, anything DecodeTreeRecord,
// Directory::ParseChild or CheckLocator refuses. With `cache`, directories
// the node holds are not read again (a tree that shares most directories
// with one read before costs only its changed ones), and those read are
// kept.
Result<std::vector<FlatFile>> ReadWholeTree(
    Store& store, const Hash& root, std::string_view record, int threads,
    TreeReadStats* stats, const DirectoryCache* cache = nullptr);

// The files of two format 2 trees in the directories where they differ:
// both trees are walked together from their roots, and a subdirectory whose
// digest is the same in both is not read (nothing below it can differ). A
// directory on one side only is read whole. Every file of each directory
// read is listed, changed or not. What is listed of each tree is enough to
// diff them (DiffTrees over the two listings), not to list either.
struct ChangedFiles {
  std::vector<FlatFile> from, to;  // in no particular order
};
Result<ChangedFiles> ReadChangedFiles(Store& store, const Hash& from,
                                      std::string_view from_record,
                                      const Hash& to,
                                      std::string_view to_record, int threads,
                                      TreeReadStats* stats);

// Chunks this node holds already (in files it assembled before).
class LocalChunks {
 public:
  virtual ~LocalChunks() = default;
  virtual bool Has(const Hash& chunk) const = 0;
  // The chunk's bytes as held; the caller verifies them.
  virtual std::optional<std::string> Read(const Chunk& chunk) const = 0;
};

// Reads a chunked file's located chunk list and streams its chunks, each
// verified, to `sink` in order; errors name the chunk and the file. A chunk
// `local` holds is taken from there if its bytes match its digest, and read
// from the store otherwise. `list`, when set, receives the chunk list.
Status ReadChunkedFile(Store& store, const FlatFile& file,
                       const std::function<Status(std::string_view)>& sink,
                       const LocalChunks* local = nullptr,
                       ChunkList* list = nullptr);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_TREE_FETCH_H_
