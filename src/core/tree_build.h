// The format 2 tree of a scanned directory: its directory objects, with
// files over kChunkThreshold chunked, plus what WriteTree needs to push it.
// Push and `diff --dir` build trees this way, so both name a directory by
// the same digest.
//
// A scan given PrecutChunks::Hook() cuts the large files it hashes in the
// same read, so their chunk lists describe exactly the hashed bytes.
// Otherwise chunking reads a large file once more after the scan; the file
// must not change in between (a change fails the push later, when its
// chunks no longer match). With a node cache, the chunk list of each
// content digest is kept there (meta/<blob>.clist), so an unchanged large
// file, whose digest the stat cache gives, is not read again. Thread
// safety: reentrant; a PrecutChunks is filled by many threads at once.
#ifndef LAZYPATH_CORE_TREE_BUILD_H_
#define LAZYPATH_CORE_TREE_BUILD_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/tree_writer.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

struct BuiltTree {
  DirectorySet dirs;
  TreeInput input;  // input.dirs points at `dirs`: keep the BuiltTree put
  BuiltTree() = default;
  BuiltTree(const BuiltTree&) = delete;
  BuiltTree& operator=(const BuiltTree&) = delete;
};

class NodeCache;

// The chunk lists of large files cut while the scan hashed them, by source
// path.
class PrecutChunks {
 public:
  // For ScanOptions::hash_large (with large_file_bytes = kChunkThreshold).
  // The PrecutChunks must outlive the scan.
  std::function<Result<Digest>(const std::string&,
                               const std::function<void(uint64_t)>&)>
  Hook();
  // The list cut from `source`, if the scan cut one.
  const ChunkList* Find(const std::string& source) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ChunkList> by_source_;  // GUARDED_BY(mu_)
};

// `cache` may be nullptr (no memo of chunk lists). Large files are chunked
// on up to `threads` threads (0: one per core); the result does not depend
// on the count.
Result<std::unique_ptr<BuiltTree>> BuildTree(
    const ScanResult& scanned, const NodeCache* cache = nullptr,
    int threads = 0, const PrecutChunks* precut = nullptr);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_TREE_BUILD_H_
