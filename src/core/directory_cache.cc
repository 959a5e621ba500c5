#include "core/directory_cache.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "pack/locator.h"
#include "tree/directory.h"

namespace lazypath {

namespace {

constexpr std::string_view kSuffix = ".ldir";
constexpr size_t kHashBytes = sizeof(Hash::bytes);

}  // namespace

// meta/<hash>.ldir: the holding pack, then the directory object, then its
// locator. The object's size comes from the parent's entry.
std::optional<LocatedDirectory> NodeDirectoryCache::Find(
    const LocatedDirectory& parent, size_t i) const {
  const DirEntry& claim = parent.dir.entries[i];
  auto held = cache_.GetMeta(claim.hash, kSuffix);
  if (!held.ok()) return std::nullopt;
  std::string_view bytes = *held;
  if (bytes.size() < kHashBytes + claim.size) return std::nullopt;
  LocatedDirectory d;
  auto path = ChildPath(parent.path, claim.name);
  if (!path.ok()) return std::nullopt;
  d.path = std::move(*path);
  d.depth = parent.depth + 1;
  std::copy(bytes.begin(), bytes.begin() + kHashBytes, d.holding.bytes.begin());
  // A copy read from another pack than the one the parent names now is
  // stale: prune's repack moved the directory, and the packs the kept
  // locator names may be gone.
  const Slot& slot = parent.locator.slots[i];
  if (parent.locator.PackOf(slot.frame, parent.holding) != d.holding) {
    return std::nullopt;
  }
  auto dir = Directory::ParseChild(claim, bytes.substr(kHashBytes, claim.size),
                                   d.depth);
  if (!dir.ok()) return std::nullopt;
  const std::string what = "cached directory " + claim.hash.ToString();
  auto locator = Locator::Parse(bytes.substr(kHashBytes + claim.size), what);
  if (!locator.ok() || !CheckLocator(*locator, dir->SlotShapes(), what).ok()) {
    return std::nullopt;
  }
  d.dir = std::move(*dir);
  d.locator = std::move(*locator);
  return d;
}

void NodeDirectoryCache::Keep(const LocatedDirectory& parent, size_t i,
                              const LocatedDirectory& dir) const {
  std::string out(reinterpret_cast<const char*>(dir.holding.bytes.data()),
                  kHashBytes);
  out += dir.dir.Serialize();
  out += dir.locator.Serialize();
  (void)cache_.PutMeta(parent.dir.entries[i].hash, kSuffix, out);
}

}  // namespace lazypath
