#include "util/python_name.h"

namespace lazypath {

bool IsModuleName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool ok = c >= 0x80 || c == '_' || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsCodeFileName(std::string_view name) {
  for (std::string_view ext : {".py", ".pyc", ".so", ".pyd"}) {
    if (name.size() > ext.size() &&
        name.substr(name.size() - ext.size()) == ext) {
      return true;
    }
  }
  return false;
}

}  // namespace lazypath
