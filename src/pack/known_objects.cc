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

size_t KnownObjects::DropPacks(
    const std::function<bool(const Hash& pack)>& keep) {
  return std::erase_if(objects_,
                       [&](const auto& kv) { return !keep(kv.second.pack); });
}

Locations KnownObjects::ToLocations() const {
  Locations out;
  std::map<Hash, uint64_t> index;
  for (const auto& [key, where] : objects_) {
    auto [it, added] = index.emplace(where.pack, out.packs.size());
    if (added) out.packs.push_back(where.pack);
    LocationRecord r;
    r.hash = key.first;
    r.kind = key.second;
    r.size = where.size;
    r.frame = where.frame;
    r.frame.pack = it->second;
    r.lsize = where.lsize;
    out.records.push_back(r);
  }
  return out;
}

}  // namespace lazypath
