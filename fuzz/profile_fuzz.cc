// Fuzz target: profile objects from a store.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lazypath/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = lazypath::ParseProfile(in, "fuzz");
  if (!p.ok()) return 0;
  // Whatever is accepted is valid, and its canonical form parses back to it.
  if (!lazypath::ValidateProfile(*p).ok()) std::abort();
  auto again = lazypath::ParseProfile(lazypath::SerializeProfile(*p), "fuzz");
  if (!again.ok() || again->dirs != p->dirs || again->tree != p->tree) {
    std::abort();
  }
  return 0;
}
