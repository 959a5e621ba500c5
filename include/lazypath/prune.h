// Prune: shrinking a store to what retention rules keep, safe against
// concurrent pushes, activations and other prunes (doc/lifecycle.md).
//
// A tree is kept when a ref names it now, when it is among the trees the
// last `keep_last` recorded moves of a ref went to, or when a recorded ref
// move within `keep_within` named it (as `from` or `to`). Everything a kept
// tree reaches stays: format 1 its index and every pack the index names;
// format 2 every pack any locator on the walk from its tree record names
// (the packs of its located directories and chunk lists included).
// Whatever else is in trees/, indexes/, profiles/, locs/ (a locations
// object none of whose packs stays) and packs/ is dead. Since a push reuses
// a located directory or chunk list without descending, a run first
// rewrites the locations objects without those no kept tree reaches, then
// condemns: nothing a push can still find stands for a condemned pack.
//
// Deletion is two-phase: a run writes a condemned mark naming the dead keys
// not yet condemned, and deletes only keys a mark has named for at least
// `grace` that are still dead when it runs. A tree first seen dead counts
// as kept (with all it reaches) until its condemnation is `grace` old, so
// an unnamed tree pushed moments ago survives a grace period. Runs hold the
// lock object prune/lock; a second prune fails with Conflict naming its
// holder. Deletion order: tree records and profiles, indexes, locations
// objects, packs, then the marks that are done; a prune killed anywhere
// leaves a usable store and the next run finishes the work.
//
// Partly used packs: a format 1 pack more than kRepackDeadShare percent
// unused is repacked (its used frames, verified, copied into a new pack,
// and every kept or young tree's index rewritten to name it); the old pack
// is then unused and goes through the two phases like any other. A format
// 2 pack past the same share has what the kept trees use copied into new
// packs, and the located frames and tree records above it rewritten to
// name them (core/repack_format2.h); its locations are withdrawn at once,
// and it too goes through the two phases from the next run on.
//
// Thread safety: Prune may run from any thread; two prunes of one store
// exclude each other through the store.
#ifndef LAZYPATH_PRUNE_H_
#define LAZYPATH_PRUNE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/progress.h"
#include "lazypath/status.h"
#include "lazypath/store.h"

namespace lazypath {

inline constexpr int kDefaultKeepLast = 10;
inline constexpr int64_t kDefaultKeepWithin = 7 * 24 * 3600;  // 7d
inline constexpr int64_t kDefaultGrace = 24 * 3600;           // 24h
inline constexpr int64_t kDefaultLockTimeout = 6 * 3600;      // 6h
inline constexpr std::string_view kPruneLockKey = "prune/lock";
// A pack kept trees use is repacked when more than this share (in percent)
// of its frame bytes is unused.
inline constexpr uint64_t kRepackDeadShare = 50;

struct PruneOptions {
  int keep_last = kDefaultKeepLast;
  int64_t keep_within = kDefaultKeepWithin;  // seconds
  int64_t grace = kDefaultGrace;             // seconds
  // Reports what a run would condemn and delete; writes nothing (no lock,
  // no mark).
  bool dry_run = false;
  // A lock older than this is stale and broken; so is one taken on this
  // host by a process that no longer exists.
  int64_t lock_timeout = kDefaultLockTimeout;
  std::string actor;  // empty: DefaultActor()
  int64_t now = 0;    // seconds since the epoch; 0: the clock
  ProgressFn progress;
};

struct PruneReport {
  bool dry_run = false;
  uint64_t trees = 0;  // in the store before the run
  uint64_t trees_kept = 0;
  uint64_t trees_deleted = 0;  // (dry run: would be)
  uint64_t trees_condemned = 0;
  uint64_t packs = 0;
  uint64_t packs_kept = 0;
  uint64_t packs_deleted = 0;
  // Format 1 packs whose used frames were copied into a new pack (dry run:
  // would be).
  uint64_t packs_repacked = 0;
  // Pack bytes as the store's indexes and locations objects locate them
  // (the store interface has no object sizes; a pack nothing locates
  // counts 0), plus the tree, index and locations objects read.
  uint64_t bytes_before = 0;
  // Locations objects rewritten (or deleted, when nothing was left) without
  // the records no kept tree uses, and how many of those were directories
  // and chunk lists, whose locations are withdrawn so that no push reuses
  // them (dry run: would be). These take effect at once, not a grace
  // period later: locations objects are hints for pushes, never read by
  // activations.
  uint64_t locations_rewritten = 0;
  uint64_t objects_withdrawn = 0;
  uint64_t bytes_after = 0;
  uint64_t requests = 0;
  std::vector<std::string> deleted;    // keys deleted (dry run: would be)
  std::vector<std::string> condemned;  // keys newly condemned (would be)
  // Locations objects replaced or deleted by the withdrawal (would be).
  std::vector<std::string> rewritten;
  // Trees a ref moved to during the run after they were deleted: their
  // records were put back and nothing further was deleted this run.
  std::vector<std::string> restored;
};

// Prunes `store`. InvalidArgument for negative options; Unsupported for a
// read-only store (https://); Conflict when another prune holds the lock.
// Errors name the store and the key or digest.
Result<PruneReport> Prune(Store& store, const PruneOptions& options);

// "0", "90", "90s", "15m", "24h", "7d", "2w": seconds. InvalidArgument
// naming the text otherwise.
Result<int64_t> ParseDuration(std::string_view text);

}  // namespace lazypath

#endif  // LAZYPATH_PRUNE_H_
