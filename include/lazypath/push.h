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
// Profiles (lazypath/profile.h): when the tag's current tree, or the tree of
// `profile_from`, has a profile, the blobs of its directories that are still
// in the new tree are written first, contiguous and in profile order (even
// if the store already holds them elsewhere), unless they already lie in one
// range of one pack; and the profile, without the directories the new tree
// lacks, is carried over to the new tree when that has none of its own.
// Pushing a tree the store already has rewrites only its index, to point at
// the new profile pack. The profile is written before the ref.
//
// Format 2 (PushOptions::format, doc/format.md "Format 2"): the tree becomes
// directory objects, large files chunk lists. Write order: new packs, then
// the push's locations object, then the tree record, then the ref. What the
// store has is learnt from its locations objects (core/store_objects.h),
// and a tree the store has costs one existence check; the ref is written
// only if it moves.
//
// Thread safety: concurrent pushes to one store are safe; the last ref write
// wins.
#ifndef LAZYPATH_PUSH_H_
#define LAZYPATH_PUSH_H_

#include <cstdint>
#include <optional>
#include <string>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"

namespace lazypath {

class Env;  // src/util/env.h

struct PushOptions {
  ScanOptions scan;       // scan.progress is ignored; `progress` covers it
  std::string tag;        // ref to point at the tree; empty: none
  std::string actor;      // who the tag's move is recorded as; "": default
  std::string cache_dir;  // node cache (for the stat cache); "" = default
  int level = 1;          // zstd level (pack/pack.h kDefaultLevel)
  // A REF (tag or digest) whose profile orders this push; "" = the tag's
  // current tree, if it has one. NotFound when REF has no profile.
  std::string profile_from;
  bool use_profile = true;  // false: ignore profiles entirely
  // Portability problems (scan.portability) fail the push with
  // InvalidArgument before anything is uploaded, instead of being warnings.
  bool strict = false;
  ProgressFn progress;
  // The node cache's file-system calls (NodeCache::Open); nullptr: default.
  Env* env = nullptr;
  // The store format to write (doc/format.md): 2 (directory objects,
  // chunked large files, locations per push), or 1 (a flat tree and an
  // index per tree), which every reader still reads. Format 2 pushes do not
  // reorder packs for a profile; they carry the profile over.
  int format = 2;
};

// How an import profile ordered a push (lazypath/profile.h).
struct PushProfileUse {
  // The tree whose profile ordered the packs (if any), how many of its
  // directories the new tree has, and how many blobs were (re)written first
  // for them. `carried`: written as the new tree's profile.
  std::optional<Hash> source;
  uint64_t dirs = 0;
  uint64_t blobs_first = 0;
  bool carried = false;
  std::string warning;  // a profile that was unusable, and why
};

struct PushResult {
  Digest tree;
  ScanStats scan;
  uint64_t blobs_total = 0;     // distinct non-empty blobs in the tree
  uint64_t blobs_uploaded = 0;  // of those, new to the store
  uint64_t packs_uploaded = 0;
  uint64_t bytes_uploaded = 0;  // every byte written to the store
  uint64_t bytes_read = 0;      // every byte read from it (refs, indexes...)
  uint64_t requests = 0;        // store requests, retries included
  int format = 1;               // the format this push wrote
  bool tree_existed = false;    // the store already had the tree whole
  // For a new tree: the store's indexes (format 2: its locations objects),
  // and how many of them this push read (the rest were summarised on this
  // machine by earlier pushes).
  uint64_t store_indexes = 0;
  uint64_t indexes_fetched = 0;
  PushProfileUse profile;
  std::vector<std::string> warnings;  // portability problems (scan.h)
};

Result<PushResult> Push(const std::string& dir, const std::string& store_url,
                        const PushOptions& options);

class NodeCache;
// How a push to `store_url` scans: `scan` plus the node cache's stat cache,
// leaving out the node cache and a file store that lie inside the
// directory. diff --dir scans the same way, so it sees what push would.
ScanOptions PushScanOptions(ScanOptions scan, const NodeCache& cache,
                            const std::string& store_url);

}  // namespace lazypath

#endif  // LAZYPATH_PUSH_H_
