// Fuzz target: format 2 directory objects from a store. Parse must never
// crash nor allocate more than the input justifies; whatever it accepts
// re-serialises to exactly the input (one encoding per directory), stays
// accepted deeper in a tree, and agrees with the entry a parent would hold
// for it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tree/directory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lazypath::Directory;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool shallower_ok = false;
  for (size_t depth : {0, 3, 127}) {
    auto d = Directory::Parse(in, depth, "fuzz");
    if (!d.ok()) {
      // A symlink allowed at one depth is allowed at every greater depth.
      if (shallower_ok) std::abort();
      continue;
    }
    shallower_ok = true;
    if (d->Serialize() != in) std::abort();
    if (d->SlotShapes().size() != d->entries.size()) std::abort();
    auto claim = d->EntryFor("child", lazypath::HashBytes(in));
    if (claim.ok() && !Directory::ParseChild(*claim, in, depth).ok()) {
      std::abort();
    }
  }
  return 0;
}
