// LazyFormat2: a format 2 tree as lazy activation reads it, one directory
// at a time (doc/format.md, "Format 2"; include/lazypath/lazy.h).
//
// Open() needs only the tree record (the root directory and its locator).
// Every other directory object is read when something asks about a path
// through it: IsDirectory("a/b") reads "a" (if not read yet), Plan("a/b")
// reads "a/b" and, for the subdirectories that come with it in full, their
// whole subtrees, level by level. A directory is read from the store once
// per node: its verified object and locator are kept in the node cache
// (meta/<hash>.ldir, see doc/format.md "Node cache") and taken from there by
// later processes, verified again against the digest its parent names.
//
// What a materialised directory holds is the rule of materialization.h,
// decided from the parent's entry alone: a subdirectory whose name is a
// Python identifier and whose CODE flag is set is a placeholder, prefilled
// with its __init__.py (INIT) from the init frame the parent's locator
// carries, so prefilling costs one small read per subpackage and no read of
// the subpackage itself (a chunked __init__.py, over 2 MiB, is the one
// exception: its chunk list is located in the child). CODE counts files
// only, so a directory whose only "code" is a symlink comes in full here
// where format 1 leaves it a placeholder.
//
// Thread safety: all methods may be called from any thread; reads of the
// store are serialised by an internal mutex. The Store returned by the
// StoreFn and the NodeCache must outlive this object.
#ifndef LAZYPATH_CORE_LAZY_FORMAT2_H_
#define LAZYPATH_CORE_LAZY_FORMAT2_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/fetch.h"
#include "core/materialization.h"
#include "core/tree_fetch.h"
#include "core/tree_reader.h"
#include "lazypath/digest.h"
#include "lazypath/node_cache.h"
#include "lazypath/status.h"
#include "lazypath/store.h"
#include "lazypath/tree.h"

namespace lazypath {

class LazyFormat2 {
 public:
  // Opens the store when first needed (a tree whose directories are all in
  // the node cache needs none).
  using StoreFn = std::function<Result<Store*>()>;

  // `record`: the bytes of trees/<hex of root>, verified here (Corrupt
  // naming the tree otherwise).
  static Result<std::unique_ptr<LazyFormat2>> Open(const Hash& root,
                                                   std::string_view record,
                                                   const NodeCache& cache,
                                                   StoreFn store);

  // As Materialization::SetOnDemand: reads the directories on the path to
  // each listed directory's parent; names that are not directories of the
  // tree are skipped; InvalidArgument naming the directory and the tree for
  // one that holds code (then nothing is changed).
  Status SetOnDemand(const std::vector<std::string>& dirs);

  // Whether `rel` ("" for the root) is a directory of the tree. Reads the
  // directories leading to `rel`'s parent; their errors are returned.
  Result<bool> IsDirectory(std::string_view rel);
  // The names of the subdirectories directly in directory `rel`; NotFound
  // when `rel` is not one.
  Result<std::vector<std::string>> Subdirs(std::string_view rel);

  // What materialising directory `rel` places, paths relative to `rel`:
  // directories parents first, and files located (prefilled __init__.py
  // files of placeholders included). NotFound when `rel` is not a directory.
  struct Plan {
    std::vector<DirectoryPlan::Dir> dirs;
    std::vector<FlatFile> files;
  };
  Result<Plan> PlanDir(std::string_view rel);

  // Brings every file of `files` into the cache's blobs (what it lacks,
  // non-chunked files in coalesced range reads, chunked ones assembled
  // chunk by chunk, everything verified) and returns them as the cache
  // places them (TreeEntry, content digests), in order. Counts what it
  // fetched into `*counters`.
  Result<std::vector<TreeEntry>> Fetch(const std::vector<FlatFile>& files,
                                       int threads, FetchCounters* counters);

  // Reads the tree record from the store again. When it differs from the
  // one held (prune's repack rewrote it, doc/lifecycle.md: same root, new
  // locators), starts over from it: the directories read so far are
  // dropped, to be read again through the new locators (the node cache
  // serves those that did not move), and the new record replaces
  // meta/<hex>.record. Returns whether it changed; a plan made before is
  // stale then. Errors: the store's, or Corrupt for a record that does not
  // verify (nothing changes then).
  Result<bool> Refresh();

  // Bytes of directory objects (and the tree record) read from the store.
  uint64_t metadata_bytes() const { return metadata_bytes_; }

 private:
  using DirPtr = std::shared_ptr<const LocatedDirectory>;
  LazyFormat2() = default;

  // The directory at `rel`, reading what it must; nullptr when `rel` is not
  // a directory of the tree. REQUIRES: mu_ held.
  Result<DirPtr> Dir(std::string_view rel);
  // Reads the children (node cache first, then the store, in one batch).
  // REQUIRES: mu_ held.
  Result<std::vector<DirPtr>> ReadChildren(const std::vector<ChildRef>& refs);
  // The entry of `rel` in its parent, or nullptr. REQUIRES: mu_ held.
  Result<const DirEntry*> EntryOf(std::string_view rel, DirPtr* parent);

  Hash root_;
  std::string record_;  // guarded by mu_
  const NodeCache* cache_ = nullptr;
  StoreFn store_;
  std::mutex mu_;
  std::map<std::string, DirPtr, std::less<>> dirs_;  // read so far, by path
  std::set<std::string, std::less<>> on_demand_;
  std::atomic<uint64_t> metadata_bytes_{0};
};

}  // namespace lazypath

#endif  // LAZYPATH_CORE_LAZY_FORMAT2_H_
