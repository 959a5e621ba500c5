// What every binding file of lazypath._core shares: running core work
// without the GIL, turning a Status into a lazypath.errors exception, progress
// callbacks, and Record<T>, which binds a result struct once as a Python class.
//
// A Record is the one schema of a result across the C++/Python boundary: a
// class with read-only attributes (its `_fields`, in order), item access and
// to_dict() by each field's JSON name, and a repr. The API, the CLI (--json)
// and the Ray plugin all use the bound objects as they are.
//
// Threads: everything here runs with the GIL held, except the function RunCore
// is given, which runs without it.
#ifndef LAZYPATH_BINDINGS_BINDING_H_
#define LAZYPATH_BINDINGS_BINDING_H_

#include <nanobind/nanobind.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/status.h"

namespace lazypath::binding {

// A file-system path crossing the boundary as the OS has it: from Python,
// a str (encoded as os.fsencode does, so names that are not UTF-8 survive
// through surrogateescape), bytes or an os.PathLike; to Python, a str
// decoded as os.fsdecode does.
struct FsPath {
  std::string value;
  operator const std::string&() const { return value; }  // NOLINT: implicit
};

}  // namespace lazypath::binding

namespace nanobind::detail {

template <>
struct type_caster<lazypath::binding::FsPath> {
  NB_TYPE_CASTER(lazypath::binding::FsPath,
                 const_name("str | bytes | os.PathLike"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    PyObject* bytes = nullptr;
    if (!PyUnicode_FSConverter(src.ptr(), &bytes)) {
      PyErr_Clear();
      return false;
    }
    value.value.assign(PyBytes_AS_STRING(bytes),
                       static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
    Py_DECREF(bytes);
    return true;
  }
  static handle from_cpp(const lazypath::binding::FsPath& p, rv_policy,
                         cleanup_list*) noexcept {
    return PyUnicode_DecodeFSDefaultAndSize(
        p.value.data(), static_cast<Py_ssize_t>(p.value.size()));
  }
};

}  // namespace nanobind::detail

namespace lazypath::binding {

namespace nb = nanobind;
using namespace nanobind::literals;

// Carries a Status out of a binding function to the translator that
// RegisterStatus installs.
struct StatusError : std::runtime_error {
  explicit StatusError(const Status& s)
      : std::runtime_error(s.message()),
        code(s.code()),
        size(s.message().size()) {}
  Code code;
  size_t size;  // what() may hold NUL bytes
};

inline void Check(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

// Runs core work `f` (returning Result<T>) without the GIL; returns its value,
// or throws its Status once the GIL is held again.
template <typename F>
auto RunCore(F&& f) {
  auto r = [&] {
    nb::gil_scoped_release nogil;
    return f();
  }();
  return Unwrap(std::move(r));
}

// The same for work that returns a bare Status.
template <typename F>
void RunCoreStatus(F&& f) {
  Status s = [&] {
    nb::gil_scoped_release nogil;
    return f();
  }();
  Check(s);
}

// A Python callable (phase, done, total, unit) as a ProgressFn that takes
// the GIL; an exception it raises is reported as unraisable rather than
// unwinding through core threads. None: no progress.
ProgressFn WrapProgress(nb::object cb);

inline std::string DigestText(const Hash& h) { return h.ToString(); }
inline nb::object OptionalDigest(const std::optional<Hash>& h) {
  return h ? nb::cast(h->ToString()) : nb::none();
}
template <typename C>
std::vector<std::string> DigestList(const C& hashes) {
  std::vector<std::string> out;
  for (const Hash& h : hashes) out.push_back(h.ToString());
  return out;
}

// Converts a bound value for to_dict(): records recursively, sequences to
// lists, anything else as it is.
nb::object Plain(nb::handle value);

// Record's methods, shared by every record class (they read _fields and
// _json_names from the object's type).
nb::object RecordItem(nb::handle self, nb::handle key);
nb::dict RecordToDict(nb::handle self);
std::string RecordRepr(nb::handle self);

template <typename T>
class Record {
 public:
  Record(nb::module_& m, const char* name, const char* doc)
      : cls_(m, name, doc) {}

  // A read-only attribute `name` computed by `get(const T&)`, also item
  // `json` (default: `name`) and key `json` of to_dict(). With
  // `omit_none`, to_dict() leaves the key out when the value is None.
  template <typename Get>
  Record& Field(const char* name, Get get, const char* json = nullptr,
                bool omit_none = false) {
    cls_.def_prop_ro(name, [get](const T& self) { return get(self); });
    fields_.push_back({name, json ? json : name, omit_none});
    return *this;
  }
  template <typename M>
  Record& Member(const char* name, M T::*member) {
    return Field(name, [member](const T& self) { return self.*member; });
  }
  nb::class_<T>& cls() { return cls_; }

  // Installs _fields, __getitem__, keys, to_dict and __repr__.
  void Done() {
    nb::list names;
    nb::dict json_to_attr;
    nb::list omit;
    for (const auto& f : fields_) {
      names.append(nb::str(f.name.c_str()));
      json_to_attr[nb::str(f.json.c_str())] = nb::str(f.name.c_str());
      if (f.omit_none) omit.append(nb::str(f.json.c_str()));
    }
    nb::handle cls = cls_;
    cls.attr("_fields") = nb::tuple(names);
    cls.attr("_json_names") = json_to_attr;
    cls.attr("_omit_none") = nb::frozenset(omit);
    cls_.def("to_dict", &RecordToDict,
             "A plain dict of every field by its JSON name (nested records "
             "and lists converted too).");
    cls_.def("keys", [](nb::handle self) {
      return nb::list(self.type().attr("_json_names"));
    });
    cls_.def("__getitem__", &RecordItem);
    cls_.def("__contains__", [](nb::handle self, nb::handle key) {
      return nb::borrow<nb::dict>(self.type().attr("_json_names"))
          .contains(key);
    });
    cls_.def("__repr__", &RecordRepr);
    // Equal to a record or a dict with the same to_dict() (the API returned
    // dicts before it returned records).
    cls_.def("__eq__", [](nb::handle self, nb::handle other) -> nb::object {
      if (nb::hasattr(other, "_json_names")) {
        return nb::bool_(RecordToDict(self).equal(RecordToDict(other)));
      }
      if (nb::isinstance<nb::dict>(other)) {
        return nb::bool_(RecordToDict(self).equal(other));
      }
      return nb::borrow(Py_NotImplemented);
    });
    cls.attr("__hash__") = nb::none();
  }

 private:
  struct FieldName {
    std::string name, json;
    bool omit_none;
  };
  nb::class_<T> cls_;
  std::vector<FieldName> fields_;
};

// One Register function per public header (see module.cc).
void RegisterStatus(nb::module_& m);    // lazypath/status.h: errors
void RegisterDigest(nb::module_& m);    // lazypath/digest.h
void RegisterSize(nb::module_& m);      // lazypath/size.h
void RegisterTree(nb::module_& m);      // lazypath/tree.h, tree_diff.h
void RegisterScan(nb::module_& m);      // lazypath/scan.h
void RegisterCache(nb::module_& m);     // lazypath/node_cache.h
void RegisterPush(nb::module_& m);      // lazypath/push.h
void RegisterActivate(nb::module_& m);  // lazypath/activate.h
void RegisterLazy(nb::module_& m);      // lazypath/lazy.h
void RegisterProfile(nb::module_& m);   // lazypath/profile.h
void RegisterInspect(nb::module_& m);   // lazypath/inspect.h
void RegisterPrune(nb::module_& m);     // lazypath/prune.h

}  // namespace lazypath::binding

#endif  // LAZYPATH_BINDINGS_BINDING_H_
