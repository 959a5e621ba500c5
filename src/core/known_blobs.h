// KnownBlobs: where the blobs a store already holds live, so that a push
// uploads only what is new to the store.
//
// The answer is the union of the store's indexes. A summary of that union is
// kept on the pushing machine (NodeCache::StoreSummaryDir(), one file per
// store URL) together with the index keys it covers, so a push fetches only
// the indexes added since the last push from this machine, in parallel. The
// summary is a hint, never trusted over the store:
//   - every location is dropped unless its pack is in the store's current
//     listing (packs are named by their digest, so a listed pack holds the
//     bytes the location was made from; a deleted pack means re-uploading);
//   - a summary that is missing, unreadable or malformed is ignored and
//     rebuilt from every index;
//   - failing to write it only costs the next push more reads.
// An index that cannot be read or parsed is skipped (its blobs get uploaded
// again) and is not marked covered, so the next push tries it again.
//
// Format of the summary (local only, written atomically by rename):
//   "lazypath-store-summary 1\n", the store URL and a newline, the number of
//   covered index keys and a newline, one key per line, then an index
//   (doc/format.md, "Index") whose `tree` is the digest of the store URL.
//
// Thread safety: KnownBlobs may run concurrently, also from several
// processes; the summary written last wins, and any of them is correct.
#ifndef LAZYPATH_CORE_KNOWN_BLOBS_H_
#define LAZYPATH_CORE_KNOWN_BLOBS_H_

#include <cstdint>
#include <map>
#include <string>

#include "lazypath/status.h"
#include "lazypath/store.h"
#include "pack/index.h"
#include "util/env.h"

namespace lazypath {

struct KnownBlobsResult {
  std::map<Hash, BlobLocation> blobs;
  uint64_t indexes = 0;            // index keys in the store
  uint64_t indexes_fetched = 0;    // of those, read from the store this time
  uint64_t indexes_failed = 0;     // unreadable or malformed: skipped
  uint64_t locations_dropped = 0;  // their pack is no longer in the store
};

// `summary_dir` empty: no summary, every index is read. The summary is
// read and written through `env`.
Result<KnownBlobsResult> KnownBlobs(Store& store,
                                    const std::string& summary_dir, int threads,
                                    Env* env = Env::Default());

// The summary file for `store_url` under `summary_dir`.
std::string StoreSummaryPath(const std::string& summary_dir,
                             const std::string& store_url);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_KNOWN_BLOBS_H_
