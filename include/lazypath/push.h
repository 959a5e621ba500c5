// Push: scan a directory, upload what the store lacks, and publish the tree.
//
// Order of writes (each one atomic): new packs, then the index, then the
// tree, then the ref. A crash at any point leaves no ref pointing at missing
// objects and nothing half-written visible; at worst unreferenced packs.
//
// "What the store has" is the union of the store's indexes: blobs located by
// any index are not uploaded again. The files of one directory are written
// next to each other in a pack, so one directory is one range read.
//
// Thread safety: concurrent pushes to one store are safe; the last ref write
// wins.
#ifndef LAZYPATH_PUSH_H_
#define LAZYPATH_PUSH_H_

#include <cstdint>
#include <string>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"

namespace lazypath {

struct PushOptions {
  ScanOptions scan;       // scan.progress is ignored; `progress` covers it
  std::string tag;        // ref to point at the tree; empty: none
  std::string cache_dir;  // node cache (for the stat cache); "" = default
  int level = 3;          // zstd level
  ProgressFn progress;
};

struct PushResult {
  Digest tree;
  ScanStats scan;
  uint64_t blobs_total = 0;     // distinct non-empty blobs in the tree
  uint64_t blobs_uploaded = 0;  // of those, new to the store
  uint64_t packs_uploaded = 0;
  uint64_t bytes_uploaded = 0;  // every byte written to the store
  bool tree_existed = false;    // the store already had tree and index
};

Result<PushResult> Push(const std::string& dir, const std::string& store_url,
                        const PushOptions& options);

}  // namespace lazypath

#endif  // LAZYPATH_PUSH_H_
