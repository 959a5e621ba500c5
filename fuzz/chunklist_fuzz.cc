// Fuzz target: format 2 chunk lists from a store. Parse must never crash nor
// allocate more than the input justifies; whatever it accepts re-serialises
// to exactly the input and fits the file size its chunks add up to.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tree/chunker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto list = lazypath::ChunkList::Parse(in, "fuzz");
  if (!list.ok()) return 0;
  if (list->Serialize() != in) std::abort();
  if (!list->CheckFileSize(list->TotalSize(), "fuzz").ok()) std::abort();
  if (list->CheckFileSize(list->TotalSize() + 1, "fuzz").ok()) std::abort();
  if (list->SlotShapes().size() != list->chunks.size()) std::abort();
  return 0;
}
