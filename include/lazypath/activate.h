// Activate: make a tree available on this node, by ref or digest.
//
// Resolves the ref, and when the node cache lacks the tree: fetches the tree
// and its index, fetches the missing blobs with coalesced range reads,
// verifies every blob's digest before it enters the cache, materialises the
// tree by hardlinks and publishes it atomically. A tree already cached needs
// no store traffic apart from resolving a tag.
//
// Format 2 trees (doc/format.md; told apart by the tree record's magic) are
// read directory by directory from the root record, each object verified
// against its parent's digest; a chunked file is assembled into the blob
// cache under its content's digest, once per node.
//
// Any number of processes activating one tree at once: one of them fetches
// (under the tree's lock in the node cache), the others wait and then use
// its result. Every blob is fetched once; nobody sees a partial tree.
//
// Thread safety: may be called concurrently, from threads or processes.
#ifndef LAZYPATH_ACTIVATE_H_
#define LAZYPATH_ACTIVATE_H_

#include <cstdint>
#include <string>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/status.h"

namespace lazypath {

class Env;  // src/util/env.h

struct ActivateOptions {
  std::string cache_dir;  // "" = NodeCache::DefaultDir()
  int threads = 8;        // concurrent range reads
  // Hold a lease on the tree (NodeCache::AcquireLease) and hand it back in
  // ActivateResult::lease_fd; while it is open, no Gc evicts the tree.
  bool lease = false;
  // After fetching, evict least recently used trees not in use until the
  // blob cache fits. 0: LAZYPATH_CACHE_MAX, or no limit when unset.
  uint64_t budget_bytes = 0;
  ProgressFn progress;
  // The node cache's file-system calls (NodeCache::Open); nullptr: default.
  Env* env = nullptr;
};

// Eager: the whole tree is materialised before activation returns. Lazy: the
// root now, each directory when first needed (lazypath/lazy.h).
enum class ActivationMode { kEager, kLazy };

struct ActivateResult {
  Hash tree;
  std::string path;  // the materialised tree (lazy: its root) in the node cache
  ActivationMode mode = ActivationMode::kEager;
  // Nothing had to be materialised: the tree (lazy: every directory this
  // call needed) was in the node cache already.
  bool cached = false;
  uint64_t files = 0;  // entries materialised by this call (lazy: 0)
  uint64_t blobs_fetched = 0;
  uint64_t bytes_fetched = 0;  // blob bytes (compressed frames) fetched
  uint64_t bytes_read = 0;     // every byte read from the store: ref, tree,
                               // index and pack ranges
  uint64_t requests = 0;       // store requests made
  // Of bytes_read, the tree's metadata: the tree and its index (format 1),
  // or the tree record and directory objects (format 2).
  uint64_t metadata_bytes = 0;
  // Cached files an earlier boot wrote, re-hashed before use (a crash may
  // have cut them short), and how many of them were damaged and fetched
  // again (doc/reliability.md, "Power loss").
  uint64_t blobs_rechecked = 0;
  uint64_t blobs_damaged = 0;
  int lease_fd = -1;  // with options.lease: close it to end the lease
};

Result<ActivateResult> Activate(const std::string& store_url,
                                const std::string& ref,
                                const ActivateOptions& options);

}  // namespace lazypath

#endif  // LAZYPATH_ACTIVATE_H_
