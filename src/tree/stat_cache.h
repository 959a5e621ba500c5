// The stat cache: remembered digests of files by their stat(2) identity.
//
// One cache file per scanned root, named by the hash of the root's absolute
// path. Loading a missing or damaged cache yields an empty one (the cache is
// only an accelerator; a bad one costs re-hashing, never a wrong digest,
// because any stat field change invalidates an entry). Saving is atomic.
//
// The file holds fixed-size binary records in the order they were Put (a
// scan puts them in walk order), so the next scan of an unchanged directory
// finds each entry where the previous one left off: a lookup is then one
// comparison, and a hash index of the paths is built only when an entry is
// not where it was. The records are in this machine's byte order; the file
// never leaves it.
//
// Thread safety: none. Lookup, Put and Save must not run concurrently on
// the same object (Lookup moves a cursor).
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
  // Movable only: the records' paths point into data_'s heap buffer, which a
  // move keeps and a copy would not.
  StatCache(StatCache&&) = default;
  StatCache& operator=(StatCache&&) = default;
  StatCache(const StatCache&) = delete;
  StatCache& operator=(const StatCache&) = delete;
  // Loads the cache for `root` from `cache_dir`. Never fails.
  static StatCache Load(const std::string& cache_dir, const std::string& root);
  // Loads the cache file `file` (FileFor names it). Never fails.
  static StatCache LoadFile(const std::string& file);
  // The cache file for `root` in `cache_dir` ("" without a directory).
  static std::string FileFor(const std::string& cache_dir,
                             const std::string& root);
  // At most how many entries a cache file of `bytes` holds; a scan sizes
  // its buffers by it before the cache is loaded.
  static size_t MaxEntries(uint64_t bytes);
  // Makes room for `n` Puts.
  void Reserve(size_t n) { new_.reserve(n); }
  std::optional<Digest> Lookup(std::string_view path, const StatKey& key);
  // REQUIRES: each path is Put at most once, and `path`'s bytes stay put
  // until Save (only a view is kept). `from_lookup`: `digest` is what Lookup
  // returned for this path and key, so the entry changes nothing.
  void Put(std::string_view path, const StatKey& key, const Digest& digest,
           bool from_lookup = false);
  // Writes the entries Put since Load (only those: stale paths drop out);
  // writes nothing when they equal what Load read.
  Status Save() const;
  // The entries loaded.
  size_t size() const { return old_.size(); }
  // The cache file ("" without a cache directory).
  const std::string& file() const { return file_; }

 private:
  struct Record {
    StatKey key;
    Digest digest;
  };
  // The index of the loaded entry for `path`, or old_.size().
  size_t Find(std::string_view path);

  std::string file_;
  std::string data_;  // the loaded file; old_'s paths point into it
  std::vector<std::pair<std::string_view, Record>> old_;  // in file order
  size_t cursor_ = 0;  // where the next Lookup looks first
  // Built on the first lookup that misses the cursor.
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<std::pair<std::string_view, Record>> new_;
  bool changed_ = false;  // a Put differs from, or is missing in, old_
};

}  // namespace lazypath

#endif  // LAZYPATH_TREE_STAT_CACHE_H_
