// Fuzz target: tree bytes from a store. Parse must never crash, and whatever
// it accepts must re-serialise to exactly the input (one encoding per tree).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lazypath/tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto t = lazypath::Tree::Parse(in, "fuzz");
  if (t.ok() && t->Serialize() != in) std::abort();
  return 0;
}
