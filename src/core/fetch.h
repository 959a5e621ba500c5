// Fetching verified objects from a store: trees, indexes and blobs.
//
// Blobs are fetched with coalesced range reads (adjacent frames of one pack in
// one request, planned by PlanRanges in pack/ranges.h), decoded, hashed and
// written to the node cache's temp area; only a blob whose size and digest
// match enters the cache. Errors name the blob, the pack and the store.
//
// Thread safety: all functions may be called concurrently.
#ifndef LAZYPATH_CORE_FETCH_H_
#define LAZYPATH_CORE_FETCH_H_

#include <string>
#include <vector>

#include "lazypath/node_cache.h"
#include "lazypath/progress.h"
#include "lazypath/store.h"
#include "lazypath/tree.h"
#include "pack/index.h"
#include "pack/ranges.h"

namespace lazypath {

// The bytes of trees/<hex> (either format); NotFound names tree and store.
Result<std::string> GetTreeObject(Store& store, const Hash& tree);
// Checks format 1 tree bytes against their digest and parses them.
Result<Tree> ParseTreeVerified(std::string_view bytes, const Hash& tree,
                               const std::string& store_url);
// Reads trees/<hex>, checks its digest and parses it. Returns the bytes too.
Result<std::pair<Tree, std::string>> FetchTreeVerified(Store& store,
                                                       const Hash& tree);
Result<Index> FetchIndex(Store& store, const Hash& tree);
// The index is not covered by the tree's digest: checks that it agrees with
// the tree on the size of every blob it locates.
Status CheckIndexAgainstTree(const Index& index, const Tree& tree,
                             const std::string& store_url);

// Fetches `blobs` (located by `index`) into `cache`. Counts what it moved
// into `*counters`, which is required.
struct FetchCounters {
  std::atomic<uint64_t> blobs{0};
  std::atomic<uint64_t> bytes{0};
};
Status FetchBlobs(Store& store, const Index& index,
                  const std::vector<Hash>& blobs, const NodeCache& cache,
                  int threads, const ProgressFn& progress,
                  FetchCounters* counters, uint64_t gap = kCoalesceGapBytes);

// Decodes one blob into `sink` as it arrives, hashing as it goes; OK only if
// the whole content matched its digest. The sink sees bytes before they are
// verified: a caller must not expose them unless this returns OK.
Status StreamBlob(Store& store, const Index& index, const Digest& blob,
                  const ByteSink& sink);
// Reads one blob into memory, verified.
Result<std::string> ReadBlob(Store& store, const Index& index,
                             const Digest& blob);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_FETCH_H_
