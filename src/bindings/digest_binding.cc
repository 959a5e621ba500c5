// lazypath/digest.h: the digest grammar, for Python code that checks a ref.
#include "bindings/binding.h"

namespace lazypath::binding {

void RegisterDigest(nb::module_& m) {
  m.def(
      "parse_digest",
      [](const std::string& text) {
        return Unwrap(Hash::Parse(text)).ToString();
      },
      "text"_a,
      "The digest `text` names ('sha256:' and 64 lowercase hex digits); "
      "InvalidInputError otherwise.");
  m.def(
      "is_digest",
      [](nb::handle text) {
        return nb::isinstance<nb::str>(text) &&
               Hash::Parse(nb::cast<std::string>(text)).ok();
      },
      "text"_a, "Whether `text` is a digest string (see parse_digest).");
}

}  // namespace lazypath::binding
