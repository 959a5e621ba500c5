// The stat cache: remembered digests of files by their stat(2) identity.
//
// One cache file per scanned root, named by the hash of the root's absolute
// path. Loading a missing or damaged cache yields an empty one (the cache is
// only an accelerator; a bad one costs re-hashing, never a wrong digest,
// because any stat field change invalidates an entry). Saving is atomic.
//
// Thread safety: Lookup is const and may run concurrently; Put/Save must not
// run concurrently with anything else on the same object.
#ifndef LAZYPATH_TREE_STAT_CACHE_H_
#define LAZYPATH_TREE_STAT_CACHE_H_

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"

namespace lazypath {

struct StatKey {
  uint64_t ino = 0, size = 0, mode = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  static StatKey From(const struct stat& st);
  bool operator==(const StatKey&) const = default;
};

class StatCache {
 public:
  StatCache() = default;
  // Movable only: old_'s keys point into data_'s heap buffer, which a move
  // keeps and a copy would not.
  StatCache(StatCache&&) = default;
  StatCache& operator=(StatCache&&) = default;
  StatCache(const StatCache&) = delete;
  StatCache& operator=(const StatCache&) = delete;
  // Loads the cache for `root` from `cache_dir`. Never fails.
  static StatCache Load(const std::string& cache_dir, const std::string& root);
  std::optional<Digest> Lookup(const std::string& path,
                               const StatKey& key) const;
  // REQUIRES: each path is Put at most once, and `path`'s bytes stay put
  // until Save (only a view is kept). `from_lookup`: `digest` is what Lookup
  // returned for this path and key, so the entry changes nothing.
  void Put(std::string_view path, const StatKey& key, const Digest& digest,
           bool from_lookup = false);
  // Writes the entries Put since Load (only those: stale paths drop out);
  // writes nothing when they equal what Load read.
  Status Save() const;

 private:
  struct Record {
    StatKey key;
    Digest digest;
  };
  std::string file_;
  std::string data_;  // the loaded file; old_'s keys point into it
  std::unordered_map<std::string_view, Record> old_;
  std::vector<std::pair<std::string_view, Record>> new_;
  bool changed_ = false;  // a Put differs from, or is missing in, old_
};

}  // namespace lazypath

#endif  // LAZYPATH_TREE_STAT_CACHE_H_
