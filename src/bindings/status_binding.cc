// lazypath/status.h: a non-OK Status becomes the lazypath.errors exception
// its code names, with a one-line message.
#include <string>
#include <string_view>

#include "bindings/binding.h"

namespace lazypath::binding {

void RegisterStatus(nb::module_& m) {
  nb::module_ errors = nb::module_::import_("lazypath.errors");
  static nb::object not_found = errors.attr("NotFoundError");
  static nb::object invalid = errors.attr("InvalidInputError");
  static nb::object corrupt = errors.attr("CorruptError");
  static nb::object io = errors.attr("StorageError");
  static nb::object unsupported = errors.attr("UnsupportedError");
  static nb::object unavailable = errors.attr("UnavailableError");
  static nb::object conflict = errors.attr("ConflictError");
  (void)m;
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      nb::handle cls;
      switch (e.code) {
        case Code::kNotFound:
          cls = not_found;
          break;
        case Code::kInvalidArgument:
          cls = invalid;
          break;
        case Code::kCorrupt:
          cls = corrupt;
          break;
        case Code::kUnsupported:
          cls = unsupported;
          break;
        case Code::kUnavailable:
          cls = unavailable;
          break;
        case Code::kConflict:
          cls = conflict;
          break;
        default:
          cls = io;
          break;
      }
      // One line, whatever the message names: control bytes (a newline or
      // NUL in a path) are escaped, invalid UTF-8 is backslash-escaped.
      std::string msg;
      for (unsigned char c : std::string_view(e.what(), e.size)) {
        if (c < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          msg += "\\x";
          msg += kHex[c >> 4];
          msg += kHex[c & 0xf];
        } else {
          msg += static_cast<char>(c);
        }
      }
      PyObject* text = PyUnicode_DecodeUTF8(
          msg.data(), static_cast<Py_ssize_t>(msg.size()), "backslashreplace");
      PyErr_SetObject(cls.ptr(), text);
      Py_XDECREF(text);
    }
  });
}

}  // namespace lazypath::binding
