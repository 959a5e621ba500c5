// lazypath/size.h: the size grammar ("20G", "512M", "4096").
#include "bindings/binding.h"
#include "lazypath/size.h"

namespace lazypath::binding {

void RegisterSize(nb::module_& m) {
  m.def(
      "parse_size",
      [](const std::string& text) { return Unwrap(ParseSize(text)); }, "text"_a,
      "Bytes in `text` (20G, 512M, 4096); InvalidInputError otherwise.");
}

}  // namespace lazypath::binding
