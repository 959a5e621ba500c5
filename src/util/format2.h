// What the tree and pack layers of format 2 must agree on, kept below both.
//
// tree/ owns directory objects and chunk lists; pack/ owns locators, which
// say where the children of such an object live. Neither includes the
// other: a directory (or chunk list) describes each child's expected slot as
// a SlotShape, and the locator checker takes those shapes
// (doc/format.md, "Format 2").
//
// Thread safety: constants and plain values.
#ifndef LAZYPATH_UTIL_FORMAT2_H_
#define LAZYPATH_UTIL_FORMAT2_H_

#include <cstdint>

namespace lazypath {

// No directory object, chunk list or locator is larger than this.
inline constexpr uint64_t kMaxObjectBytes = 64ull << 20;

// How a locator locates one child (the low two bits of a slot's tag).
enum class SlotType : uint8_t {
  kNone = 0,         // nothing to fetch: a symlink or an empty file
  kFrame = 1,        // one frame holding a blob (a file or a chunk)
  kLocated = 2,      // one frame: a child object followed by its locator
  kLocatedInit = 3,  // kLocated, plus a frame with the child's __init__.py
};

// The slot a child needs: its type and the sizes its frames decode to.
struct SlotShape {
  SlotType type = SlotType::kNone;
  // kFrame: the blob's size. kLocated/kLocatedInit: the child object's size
  // (the located frame decodes to that many bytes plus the slot's lsize).
  uint64_t size = 0;
  uint64_t init_size = 0;  // kLocatedInit: the __init__.py blob's size
  bool operator==(const SlotShape&) const = default;
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_FORMAT2_H_
