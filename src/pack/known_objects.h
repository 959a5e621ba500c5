// What a store holds, as format 2 locates it: every blob, chunk, located
// directory and located chunk list, with the pack (by hash) and frame it
// sits in. Built from locations objects (pack/locator.h) and from what a
// push itself writes, it answers "is this object already in the store, and
// where" without reading any directory.
//
// A located directory in the set stands for its whole subtree: pushes write
// a directory's children before it and publish their locations together,
// so a writer that finds a directory here reuses it without descending.
// Whatever deletes packs (prune) must keep that true: it withdraws a
// directory's location at least a grace period before it deletes any pack
// the subtree's bytes are in (doc/lifecycle.md).
//
// Thread safety: a value; const methods may run concurrently.
#ifndef LAZYPATH_PACK_KNOWN_OBJECTS_H_
#define LAZYPATH_PACK_KNOWN_OBJECTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "lazypath/digest.h"
#include "pack/locator.h"

namespace lazypath {

// One stored object: its pack by hash, its frame there (frame.pack unused)
// and, for located objects, its locator's length.
struct StoredObject {
  Hash pack;
  PackFrame frame;
  uint64_t size = 0;   // the object's own size
  uint64_t lsize = 0;  // kDirectory, kChunkList
  bool operator==(const StoredObject&) const = default;
};

class KnownObjects {
 public:
  // Adds every record of `locations`; an object already known keeps its
  // first location (any copy is as good as another: all are verified).
  void Add(const Locations& locations);
  void Add(const Hash& hash, LocationKind kind, const StoredObject& where);
  const StoredObject* Find(const Hash& hash, LocationKind kind) const;
  size_t size() const { return objects_.size(); }
  // Forgets every object whose pack `keep` rejects; returns how many.
  size_t DropPacks(const std::function<bool(const Hash& pack)>& keep);
  // The whole set as one locations object (packs in order of first use).
  Locations ToLocations() const;

 private:
  std::map<std::pair<Hash, LocationKind>, StoredObject> objects_;
};

}  // namespace lazypath

#endif  // LAZYPATH_PACK_KNOWN_OBJECTS_H_
