// lazypath._doctor: the doctor's C++ analysis, exposed to Python.
//
// A second extension module so the doctor builds and links apart from the
// core's bindings. analyze() takes the collector's facts as a JSON string and
// returns the report as a JSON string; the GIL is released while it scans.
// A bad facts document raises lazypath.errors.InvalidInputError.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "lazypath/doctor.h"

namespace nb = nanobind;
using namespace nb::literals;

NB_MODULE(_doctor, m) {
  m.doc() = "lazypath's sys.path analyser (private: use lazypath.doctor)";
  m.def(
      "analyze",
      [](const std::string& facts_json) -> std::string {
        lazypath::Result<std::string> r = [&] {
          nb::gil_scoped_release release;
          return lazypath::doctor::AnalyzeJson(facts_json);
        }();
        if (!r.ok()) {
          nb::object cls =
              nb::module_::import_("lazypath.errors").attr("InvalidInputError");
          PyErr_SetString(cls.ptr(), r.status().message().c_str());
          throw nb::python_error();
        }
        return std::move(r).value();
      },
      "facts_json"_a,
      "Analyse the collector's facts (JSON); returns the report (JSON).");
}
