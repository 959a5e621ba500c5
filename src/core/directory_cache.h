// DirectoryCache: format 2 directory objects kept on a node, so that each is
// read from a store once per node, whichever activation (eager or lazy) or
// process reads it first (doc/format.md, "Node cache": meta/<hash>.ldir).
//
// A directory object is named by its digest, so a copy is as good as the
// store's once it verifies: Find() checks the bytes against the digest and
// size its parent names (and the parent's claims about it), and the locator
// against the object, every time. The locator is not covered by the digest:
// a kept one says where the directory's children were in the store when it
// was read; whatever is fetched through it is verified against its own
// digest, so a wrong or stale locator costs an error, never a wrong byte.
// A copy is used only while the parent's locator names the pack it was read
// from: a directory prune moved into another pack (a repack) is read again,
// since the old packs its kept locator names are deleted later.
//
// Thread safety: const methods may run concurrently (each Keep writes its
// own file atomically). REQUIRES: the NodeCache outlives the object.
#ifndef LAZYPATH_CORE_DIRECTORY_CACHE_H_
#define LAZYPATH_CORE_DIRECTORY_CACHE_H_

#include <cstddef>
#include <optional>

#include "core/tree_reader.h"
#include "lazypath/node_cache.h"

namespace lazypath {

class DirectoryCache {
 public:
  virtual ~DirectoryCache() = default;
  // Subdirectory entry `i` of `parent`, if held and valid.
  virtual std::optional<LocatedDirectory> Find(const LocatedDirectory& parent,
                                               size_t i) const = 0;
  // Keeps `dir`, entry `i` of `parent`. Best effort: a failure costs a
  // read from the store later.
  virtual void Keep(const LocatedDirectory& parent, size_t i,
                    const LocatedDirectory& dir) const = 0;
};

// The node cache's meta/<hash>.ldir files.
class NodeDirectoryCache : public DirectoryCache {
 public:
  explicit NodeDirectoryCache(const NodeCache& cache) : cache_(cache) {}
  std::optional<LocatedDirectory> Find(const LocatedDirectory& parent,
                                       size_t i) const override;
  void Keep(const LocatedDirectory& parent, size_t i,
            const LocatedDirectory& dir) const override;

 private:
  const NodeCache& cache_;
};

}  // namespace lazypath

#endif  // LAZYPATH_CORE_DIRECTORY_CACHE_H_
