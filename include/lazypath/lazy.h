// LazyTree: a tree activated lazily, one directory at a time.
//
// Open() fetches only the tree and its index (both kept in the node cache;
// for a format 2 tree, only its tree record: its directory objects are read
// as paths through them are asked about, src/core/lazy_format2.h) and
// materialises the tree's root directory under lazy/<hex>/. Every other
// directory starts as a placeholder; MaterializeDir() replaces it, when it is
// first needed, with the directory's own files. The import hook calls it the
// first time anything in a package is imported, so Python's normal machinery
// then loads from disk.
//
// What a materialised directory D holds:
//   - every file and symlink directly in D;
//   - for each subdirectory S whose name is a Python identifier (so it can be
//     imported): a placeholder, mode 0700, holding only S/__init__.py when
//     the tree has one, so pkgutil and importlib see S as a package without
//     fetching it; S is materialised when imported;
//   - in full, every subdirectory that nothing can import, so that it is
//     only ever reached by path and must be there when its parent is: one
//     whose name is not an identifier (dist-info, .libs, "static-files"), or
//     one with no code (.py, .pyc, .so, .pyd) anywhere beneath it (data/,
//     templates/, schemas/);
//   - except the directories named in LazyOptions::on_demand (big data or
//     model directories the program may never read): each is an empty
//     placeholder (0700) until MaterializePath() asks for something in it,
//     then it comes in full. Which ones stay out is decided by the process
//     that materialises their parent.
// (One function owns that rule, src/core/materialization.h; the prefetch
// and a push's profile layout use it too.)
// A materialised directory has mode 0755. It replaces its placeholder in one
// atomic rename (RENAME_EXCHANGE), after one syncfs, so no process ever sees
// a directory half-filled. Blobs of one directory are adjacent in a pack and
// fetched with one coalesced request (plus one per prefilled __init__.py
// elsewhere).
//
// A tree already materialised eagerly (trees/<hex>), or lazily with every
// directory done by earlier processes, is used as it is: complete() is true,
// nothing is fetched and no import hook is needed. (A format 2 tree is known
// to be all done only once MaterializePath("") completed it.)
//
// Prefetch() reads the tree's profile (lazypath/profile.h) and fetches the
// blobs of every profiled directory still a placeholder in one go (one
// coalesced range read per pack when a push laid them out contiguously):
// exactly what materialising them will place, so nothing of an on_demand
// directory. It then materialises those directories in profile order. It is
// meant to run on a background thread while the program starts: an import
// that needs a directory first either waits for the prefetch (same locks) or
// builds that directory itself.
//
// Thread safety: all methods may be called from any thread; processes
// sharing a node cache serialise materialisation of one tree with a flock.
#ifndef LAZYPATH_LAZY_H_
#define LAZYPATH_LAZY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/activate.h"
#include "lazypath/digest.h"
#include "lazypath/node_cache.h"
#include "lazypath/status.h"
#include "lazypath/store.h"
#include "lazypath/tree.h"

namespace lazypath {

class Env;  // src/util/env.h
class Index;
class LazyFormat2;      // src/core/lazy_format2.h
class Materialization;  // src/core/materialization.h

struct PrefetchStats {
  bool profile = false;       // the store has a profile for this tree
  uint64_t profile_dirs = 0;  // directories it names that the tree has
  uint64_t dirs = 0;          // of those, materialised by the prefetch
  uint64_t blobs = 0, bytes = 0;
  uint64_t requests = 0;  // store requests during the bulk fetch
};

struct LazyOptions {
  std::string cache_dir;  // "" = NodeCache::DefaultDir()
  int threads = 8;
  bool lease = false;  // as ActivateOptions::lease
  // Directories without code (relative paths) that do not come with their
  // parent (see above). Open() fails with InvalidArgument for one that holds
  // code (its packages are fetched when imported anyway); names the tree
  // does not have are ignored, so one list serves many versions.
  std::vector<std::string> on_demand;
  // The node cache's file-system calls (NodeCache::Open); nullptr: default.
  Env* env = nullptr;
};

class LazyTree {
 public:
  static Result<std::unique_ptr<LazyTree>> Open(const std::string& store_url,
                                                const std::string& ref,
                                                const LazyOptions& options);
  ~LazyTree();

  const Hash& tree() const { return tree_; }
  // The directory to put on sys.path.
  const std::string& root() const { return root_; }
  bool complete() const { return complete_; }
  int TakeLeaseFd();  // -1 without a lease; the caller closes it

  // Whether `rel` ("" for the root) is a directory of the tree. Always false
  // for a complete() tree, which needs no materialising.
  bool IsDirectory(std::string_view rel) const;
  // Materialises directory `rel`, and first any ancestor still a
  // placeholder. Returns true if this call did the work, false if it was
  // already done (by anyone). NotFound when `rel` is not a directory of the
  // tree.
  Result<bool> MaterializeDir(std::string_view rel);
  // Makes `rel` (a file or a directory, "" for everything) usable by path:
  // the directories leading to it, and for a directory its whole subtree.
  Status MaterializePath(std::string_view rel);
  // Prefetches the profiled set (see above). A tree without a profile, or a
  // complete() one, costs at most the one request that looks for it. On
  // failure, directories not yet built stay placeholders and are built on
  // demand as usual.
  Result<PrefetchStats> Prefetch();

  // What this activation did so far, as an eager Activate() reports it:
  // path = root(), mode lazy, files 0, and `cached` when the tree was
  // complete or no directory had to be materialised.
  ActivateResult Snapshot() const;

  uint64_t blobs_fetched() const { return blobs_fetched_; }
  uint64_t bytes_fetched() const { return bytes_fetched_; }
  uint64_t dirs_materialized() const { return dirs_materialized_; }
  uint64_t requests() const;
  uint64_t bytes_read() const;  // every byte read from the store so far
  // Of those, the tree's metadata: the tree and its index (format 1), or
  // the tree record and the directory objects read (format 2).
  uint64_t metadata_bytes() const;
  // Directories materialised by this object, in order (for profiles).
  std::vector<std::string> MaterializedDirs() const;

 private:
  LazyTree() = default;
  bool IsDone(const std::string& rel) const;
  Status Build(const std::string& rel);
  Status LoadIndex();  // REQUIRES: mu_ held, or not yet shared
  // The store, opened on first use. Thread-safe.
  Result<Store*> OpenedStore();
  Result<std::vector<std::string>> SubdirsOf(const std::string& rel) const;
  // What `rel`'s materialisation places (lazy.cc), its blobs fetched into
  // the cache. REQUIRES: mu_ held, the build lock and gc guard too.
  struct Gathered;
  Status Gather(const std::string& rel, Gathered* out);
  Result<PrefetchStats> PrefetchFormat2(std::vector<std::string> todo,
                                        PrefetchStats st);

  std::unique_ptr<NodeCache> cache_;
  mutable std::mutex store_mu_;  // guards opening store_
  std::unique_ptr<Store> store_;
  std::string store_url_;
  std::unique_ptr<Index> index_;
  Tree tree_entries_;
  Hash tree_;
  std::string root_;
  bool complete_ = false;
  int threads_ = 8;
  int lease_fd_ = -1;
  // What each directory holds (src/core/materialization.h), over
  // tree_entries_ and LazyOptions::on_demand.
  std::unique_ptr<Materialization> rule_;
  // Format 2 trees: their directories, read as needed (rule_ stays null).
  std::unique_ptr<LazyFormat2> f2_;
  uint64_t tree_bytes_ = 0;  // tree (and index) bytes read from the store
  mutable std::mutex mu_;    // guards done_, order_, and building
  std::set<std::string, std::less<>> done_;
  std::vector<std::string> order_;
  std::atomic<uint64_t> blobs_fetched_{0}, bytes_fetched_{0};
  std::atomic<uint64_t> dirs_materialized_{0};
};

}  // namespace lazypath

#endif  // LAZYPATH_LAZY_H_
