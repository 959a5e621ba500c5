// Fuzz target: ref history entries from a store.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lazypath/ref_history.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = lazypath::ParseRefMove(in, "fuzz");
  // Whatever parses is canonical: it serializes back to the same bytes.
  if (m.ok() && lazypath::SerializeRefMove(*m) != in) std::abort();
  return 0;
}
