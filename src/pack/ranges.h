// Range planning: which byte ranges of which packs to read for a set of
// blobs.
//
// A store charges per request, so frames of one pack that lie close together
// are read in one range request (coalesced across gaps of up to
// kCoalesceGapBytes) as long as the request stays under kMaxRangeBytes. The
// locations come from an untrusted index: frames that overlap are refused.
//
// Thread safety: pure functions of their arguments.
#ifndef LAZYPATH_PACK_RANGES_H_
#define LAZYPATH_PACK_RANGES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "pack/index.h"

namespace lazypath {

// Two frames closer than this are read in one request.
inline constexpr uint64_t kCoalesceGapBytes = 256 << 10;
// A coalesced request stops growing past this size.
inline constexpr uint64_t kMaxRangeBytes = 32ull << 20;

struct BlobRange {
  Hash pack;
  uint64_t offset = 0, length = 0;
  std::vector<std::pair<Hash, BlobLocation>> blobs;  // by offset
};
// Groups blob locations into coalesced ranges, sorted by pack and offset.
// Fails with Corrupt, naming `what` and the pack, when two frames overlap.
// `gap` replaces kCoalesceGapBytes (lazy activation reads one directory's
// files and keeps its reads tight).
Result<std::vector<BlobRange>> PlanRanges(
    std::vector<std::pair<Hash, BlobLocation>> blobs, const std::string& what,
    uint64_t gap = kCoalesceGapBytes);

}  // namespace lazypath

#endif  // LAZYPATH_PACK_RANGES_H_
