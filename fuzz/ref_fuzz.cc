// Fuzz target: ref objects from a store.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lazypath/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = lazypath::ParseRef(in, "fuzz");
  if (h.ok() && lazypath::SerializeRef(*h) != in) std::abort();
  (void)lazypath::ValidateRefName(in);
  return 0;
}
