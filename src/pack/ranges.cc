#include "pack/ranges.h"

#include <algorithm>

namespace lazypath {

Result<std::vector<BlobRange>> PlanRanges(
    std::vector<std::pair<Hash, BlobLocation>> blobs, const std::string& what,
    uint64_t gap) {
  std::sort(blobs.begin(), blobs.end(), [](const auto& a, const auto& b) {
    if (a.second.pack != b.second.pack) return a.second.pack < b.second.pack;
    return a.second.frame.offset < b.second.frame.offset;
  });
  std::vector<BlobRange> out;
  for (auto& [h, loc] : blobs) {
    uint64_t end = loc.frame.offset + loc.frame.length;
    if (!out.empty() && out.back().pack == loc.pack) {
      BlobRange& r = out.back();
      uint64_t r_end = r.offset + r.length;
      if (loc.frame.offset < r_end) {
        return Status::Corrupt(what + ": frames of " + h.ToString() +
                               " and another blob overlap in pack " +
                               loc.pack.ToString());
      }
      if (loc.frame.offset - r_end <= gap && end - r.offset <= kMaxRangeBytes) {
        r.length = end - r.offset;
        r.blobs.emplace_back(h, loc);
        continue;
      }
    }
    BlobRange r;
    r.pack = loc.pack;
    r.offset = loc.frame.offset;
    r.length = loc.frame.length;
    r.blobs.emplace_back(h, loc);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace lazypath
