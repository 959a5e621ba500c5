#include "bindings/binding.h"

#include <memory>

namespace lazypath::binding {

ProgressFn WrapProgress(nb::object cb) {
  if (cb.is_none()) return {};
  auto shared = std::make_shared<nb::object>(std::move(cb));
  return [shared](const std::string& phase, uint64_t done, uint64_t total,
                  const std::string& unit) {
    nb::gil_scoped_acquire gil;
    try {
      (*shared)(phase, done, total, unit);
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("lazypath progress callback");
    }
  };
}

nb::object Plain(nb::handle value) {
  if (nb::hasattr(value, "_json_names")) return RecordToDict(value);
  if (nb::isinstance<nb::list>(value) || nb::isinstance<nb::tuple>(value)) {
    nb::list out;
    for (nb::handle item : value) out.append(Plain(item));
    return out;
  }
  if (nb::isinstance<nb::dict>(value)) {
    nb::dict out;
    for (auto [k, v] : nb::borrow<nb::dict>(value)) out[k] = Plain(v);
    return out;
  }
  return nb::borrow(value);
}

nb::object RecordItem(nb::handle self, nb::handle key) {
  nb::dict names = nb::borrow<nb::dict>(self.type().attr("_json_names"));
  if (!names.contains(key)) {
    throw nb::key_error(nb::str(nb::repr(key)).c_str());
  }
  return self.attr(names[key]);
}

nb::dict RecordToDict(nb::handle self) {
  nb::dict names = nb::borrow<nb::dict>(self.type().attr("_json_names"));
  nb::object omit = self.type().attr("_omit_none");
  nb::dict out;
  for (auto [json, attr] : names) {
    nb::object v = self.attr(attr);
    if (v.is_none() && PySet_Contains(omit.ptr(), json.ptr()) == 1) continue;
    out[json] = Plain(v);
  }
  return out;
}

std::string RecordRepr(nb::handle self) {
  std::string out = nb::cast<std::string>(self.type().attr("__name__")) + "(";
  bool first = true;
  for (nb::handle name : self.type().attr("_fields")) {
    if (!first) out += ", ";
    first = false;
    out += nb::cast<std::string>(nb::str(name)) + "=" +
           nb::cast<std::string>(nb::repr(self.attr(name)));
  }
  return out + ")";
}

}  // namespace lazypath::binding
