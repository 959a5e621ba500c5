// Push's stages, each testable alone, in the order of ARCHITECTURE.md's
// data flow:
//
//   PlanPush    what is new: which blobs of the scanned tree the store
//               lacks, in the order they go into packs. No I/O.
//   WritePacks  the new blobs, encoded into packs, each pack put into the
//               store whole; returns where every blob landed.
//   PublishTree the index, then the tree: a reader that finds the tree
//               finds its index. (The caller then moves the ref.)
//
// Push (lazypath/push.h) decides what the store already has, runs the three
// and reports. Nothing a stage writes is visible to a reader until
// PublishTree's last Put; a failure in WritePacks leaves at most whole,
// unreferenced packs in the store and no temporary file behind.
//
// Thread safety: the functions are reentrant; WritePacks uses up to
// `threads` threads of its own and calls the progress callbacks from the
// calling thread only.
#ifndef LAZYPATH_CORE_PUSH_STAGES_H_
#define LAZYPATH_CORE_PUSH_STAGES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"
#include "pack/index.h"
#include "pack/pack.h"

namespace lazypath {

class Env;
class Store;

// One blob the store lacks, with the file it is read from.
struct NewBlob {
  Hash hash;
  uint64_t size = 0;
  std::string source;
  // Pack order: profiled blobs first, by `rank` (their position in the
  // profile's blob list); then the files of one directory together, by
  // directory and base name.
  size_t rank = 0;
  std::string dir, base;
};

struct PushPlan {
  // The new tree's index, holding so far the blobs that stay where they are.
  Index index;
  std::vector<NewBlob> fresh;  // distinct, in pack order
  uint64_t fresh_bytes = 0;
  uint64_t blobs_first = 0;  // of `fresh`, profiled blobs written first
};

// Plans the push of `scanned` (whose tree hashes to `tree`). A non-empty
// blob is new unless `known` locates it; with `repack_profile`, the blobs
// `profiled` ranks are new regardless, so they can be written first and
// contiguous.
PushPlan PlanPush(const ScanResult& scanned, const Hash& tree,
                  const std::map<Hash, BlobLocation>& known,
                  const std::map<Hash, size_t>& profiled, bool repack_profile);

struct PackWriteOptions {
  int level = kDefaultLevel;  // zstd level
  int threads = 0;            // encoders for small blobs; 0: one per core
  // Where packs are assembled before they are put into the store; the
  // temporary files are removed whatever happens.
  std::string temp_dir;
  Env* env = nullptr;  // for removing the temporary files; never nullptr
  // Each blob's bytes as they are packed ("pack" progress).
  std::function<void(uint64_t)> on_bytes;
  // A finished pack of this many bytes is about to be uploaded.
  std::function<void(uint64_t)> on_pack;
};

struct WrittenPacks {
  std::map<Hash, BlobLocation> blobs;  // every blob of `fresh`
  uint64_t packs = 0;
};

// Encodes `fresh` in order into packs of about kPackTargetBytes and puts
// each into `store` under PackKey(its digest). Small blobs are encoded in
// parallel windows and appended in order; those over kInMemoryBlobBytes are
// streamed. A source that changed since the scan fails the stage, naming
// the file.
Result<WrittenPacks> WritePacks(Store& store, const std::vector<NewBlob>& fresh,
                                const PackWriteOptions& options);

// Writes `index` and, unless the store has it already (`tree_existed`), the
// tree's canonical bytes. `on_put` gets the bytes about to be uploaded.
Status PublishTree(Store& store, const Index& index,
                   std::string_view tree_bytes, bool tree_existed,
                   const std::function<void(uint64_t)>& on_put);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_PUSH_STAGES_H_
