// What Python accepts as a module name in `import NAME`.
//
// Shared by lazy activation (which directories can be imported, and so may
// stay placeholders) and the doctor (which names an entry provides).
// Thread-safe: a pure function.
#ifndef LAZYPATH_UTIL_PYTHON_NAME_H_
#define LAZYPATH_UTIL_PYTHON_NAME_H_

#include <string_view>

namespace lazypath {

// ASCII letters, digits and '_' (not a digit first); bytes beyond ASCII are
// let through, as Python identifiers may be UTF-8.
bool IsModuleName(std::string_view name);

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_PYTHON_NAME_H_
