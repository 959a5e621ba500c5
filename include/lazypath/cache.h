// NodeCache: the per-machine cache shared by every process on the node.
//
// Layout under the cache directory (doc/format.md, "Node cache"):
//   blobs/<hh>/<hex>     verified blob content, read-only (0444)
//   blobs/<hh>/<hex>.x   the same content as an executable (0555)
//   trees/<hex>/         a materialised tree, published whole by rename
//   meta/<hex>.tree      verified tree bytes; meta/<hex>.index index bytes
//   locks/               flock files that serialise work on one tree
//   tmp/                 staging; only debris of crashed processes lingers
//   statcache/           push-side stat caches
//
// Nothing enters blobs/ or trees/ before it is complete and verified; both are
// filled only by rename(2) from tmp/. Thread- and process-safe: any number of
// processes may use one cache directory at once.
#ifndef LAZYPATH_CACHE_H_
#define LAZYPATH_CACHE_H_

#include <string>
#include <string_view>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"

namespace lazypath {

class NodeCache {
 public:
  // $LAZYPATH_CACHE, else $XDG_CACHE_HOME/lazypath, else ~/.cache/lazypath.
  static std::string DefaultDir();
  // Opens (creating its layout) the cache at `dir`, or DefaultDir() if empty.
  static Result<NodeCache> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::string TreeDir(const Hash& tree) const;
  bool HasTree(const Hash& tree) const;
  std::string BlobPath(const Hash& blob) const;
  bool HasBlob(const Hash& blob) const;
  std::string TempDir() const;
  std::string LockPath(const Hash& tree) const;
  std::string StatCacheDir() const;

  // Renames `tmp_path` (in TempDir(), already verified as `blob`) into the
  // blob cache. Idempotent: if the blob is already there the file is removed.
  Status AdoptBlob(const std::string& tmp_path, const Hash& blob) const;
  // Verified bytes of a tree or index, kept so later activations and lazy
  // mode need no store traffic. Get* return NotFound when absent.
  Status PutMeta(const Hash& tree, std::string_view suffix,
                 std::string_view bytes) const;
  Result<std::string> GetMeta(const Hash& tree, std::string_view suffix) const;

  // Builds `tree` (whose blobs must all be cached) in a staging directory by
  // hardlinks from the blob cache, copying where a link can't be made, and
  // publishes it as TreeDir(digest) by one rename. REQUIRES: the caller holds
  // the tree's lock (LockPath) so that only one process builds it.
  Status Materialize(const Tree& tree, const Hash& digest) const;

 private:
  explicit NodeCache(std::string dir) : dir_(std::move(dir)) {}
  Result<std::string> ExecutableBlob(const Hash& blob) const;
  std::string dir_;
};

}  // namespace lazypath

#endif  // LAZYPATH_CACHE_H_
