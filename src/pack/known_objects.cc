#include "pack/known_objects.h"

namespace lazypath {

void KnownObjects::Add(const Locations& locations) {
  for (const LocationRecord& r : locations.records) {
    Add(r.hash, r.kind,
        StoredObject{locations.packs[r.frame.pack], r.frame, r.size, r.lsize});
  }
}

void KnownObjects::Add(const Hash& hash, LocationKind kind,
                       const StoredObject& where) {
  objects_.emplace(std::make_pair(hash, kind), where);
}

const StoredObject* KnownObjects::Find(const Hash& hash,
                                       LocationKind kind) const {
  auto it = objects_.find({hash, kind});
  return it == objects_.end() ? nullptr : &it->second;
}

}  // namespace lazypath
