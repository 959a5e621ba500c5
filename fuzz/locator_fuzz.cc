// Fuzz target: format 2 locators from a store. Parse must never crash nor
// allocate more than the input justifies; whatever it accepts re-serialises
// to exactly the input, and checking it against shapes read off its own
// frames never crashes (and succeeds where those frames are raw).
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "pack/locator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lazypath;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto loc = Locator::Parse(in, "fuzz");
  if (!loc.ok()) return 0;
  if (loc->Serialize() != in) std::abort();
  std::vector<SlotShape> shapes;
  bool all_raw = true;
  for (const Slot& s : loc->slots) {
    SlotShape shape{s.type, 0, 0};
    if (s.type != SlotType::kNone) {
      uint64_t lsize = s.type == SlotType::kFrame ? 0 : s.lsize;
      if (s.frame.length < lsize) return 0;  // no object fits: not checkable
      shape.size = s.frame.length - lsize;
      all_raw &= s.frame.codec == Codec::kNone;
    }
    if (s.type == SlotType::kLocatedInit) {
      shape.init_size = s.init.length;
      all_raw &= s.init.codec == Codec::kNone;
    }
    shapes.push_back(shape);
  }
  Status st = CheckLocator(*loc, shapes, "fuzz");
  if (all_raw && !st.ok()) std::abort();
  return 0;
}
