// StoreObjects: what a format 2 store already holds, so that a push writes
// only what is new. Format 2's counterpart of KnownBlobs (known_blobs.h).
//
// The answer is the union of the store's locations objects (locs/<hex>, one
// per push, listing what that push added). A summary of that union is kept
// on the pushing machine (NodeCache::StoreSummaryDir(), one file per store
// URL) with the locs keys it covers, so a push reads only the locations
// objects added since this machine last looked, in parallel; the cost then
// follows the pushes since, not the store's age or size. The summary is a
// hint, never trusted over the store:
//   - every object is dropped unless its pack is in the store's current
//     listing (packs are named by their digest, so a listed pack holds the
//     bytes the location was made from);
//   - a summary that is missing, unreadable or malformed is ignored and
//     rebuilt from every locations object; so is one that covers a locs key
//     the store no longer lists, since prune withdraws the locations of
//     what no kept tree reaches by replacing or deleting locations objects;
//   - failing to write it only costs the next push more reads.
// A locations object that cannot be read or decoded is skipped (what it
// lists is written again) and not marked covered, so the next push retries.
//
// Format of the summary (local only, written atomically by rename):
//   "lazypath-locs-summary 2\n", the store URL and a newline, the number of
//   covered locs keys and a newline, one key per line, the hex SHA-256 of
//   the rest and a newline, then one locations object (doc/format.md,
//   "Locations object") holding the union.
//
// Thread safety: may run concurrently, also from several processes; the
// summary written last wins, and any of them is correct.
#ifndef LAZYPATH_CORE_STORE_OBJECTS_H_
#define LAZYPATH_CORE_STORE_OBJECTS_H_

#include <cstdint>
#include <string>

#include "lazypath/status.h"
#include "pack/known_objects.h"

namespace lazypath {

class Env;
class Store;

struct StoreObjectsResult {
  KnownObjects objects;
  uint64_t locations = 0;          // locs keys in the store
  uint64_t locations_fetched = 0;  // of those, read from the store this time
  uint64_t locations_failed = 0;   // unreadable or malformed: skipped
  uint64_t objects_dropped = 0;    // their pack is no longer in the store
  bool summary_rebuilt = false;    // a covered locs key was gone
};

// `summary_dir` empty: no summary, every locations object is read. The
// summary is read and written through `env` (nullptr: the default Env).
Result<StoreObjectsResult> StoreObjects(Store& store,
                                        const std::string& summary_dir,
                                        int threads, Env* env = nullptr);

// The summary file for `store_url` under `summary_dir`.
std::string LocationsSummaryPath(const std::string& summary_dir,
                                 const std::string& store_url);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_STORE_OBJECTS_H_
