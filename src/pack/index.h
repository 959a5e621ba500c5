// Index: where each blob of a tree lives (pack, offset, length, codec).
//
// Stored beside the tree as JSON (doc/format.md) and not part of the tree's
// digest: the same code has the same digest however it was packed. The index
// is not trusted: Parse() checks its shape and bounds, and every blob read
// through it is verified against its own digest after decoding.
//
// Thread safety: a value; const methods may run concurrently.
#ifndef LAZYPATH_PACK_INDEX_H_
#define LAZYPATH_PACK_INDEX_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "pack/pack.h"

namespace lazypath {

struct BlobLocation {
  Hash pack;
  FrameRef frame;
  uint64_t size = 0;  // decoded size (the blob's own size)
  bool operator==(const BlobLocation& o) const {
    return pack == o.pack && frame.offset == o.frame.offset &&
           frame.length == o.frame.length && frame.codec == o.frame.codec &&
           size == o.size;
  }
};

inline constexpr uint64_t kMaxIndexBytes = 1ull << 30;

class Index {
 public:
  Hash tree;
  std::map<Hash, BlobLocation> blobs;

  // Compact JSON with the packs listed once and blobs sorted by digest.
  std::string Serialize() const;
  static Result<Index> Parse(std::string_view bytes, std::string_view what);
};

}  // namespace lazypath

#endif  // LAZYPATH_PACK_INDEX_H_
