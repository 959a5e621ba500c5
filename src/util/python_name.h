// What Python accepts as a module name in `import NAME`, and which file names
// hold code Python can import.
//
// Shared by lazy activation (which directories can be imported, and so may
// stay placeholders), the doctor (which names an entry provides) and format 2
// directory objects (their CODE flag). Thread-safe: pure functions.
#ifndef LAZYPATH_UTIL_PYTHON_NAME_H_
#define LAZYPATH_UTIL_PYTHON_NAME_H_

#include <string_view>

namespace lazypath {

// ASCII letters, digits and '_' (not a digit first); bytes beyond ASCII are
// let through, as Python identifiers may be UTF-8.
bool IsModuleName(std::string_view name);
// A file Python can import from: a name longer than, and ending in, .py,
// .pyc, .so or .pyd. A directory with none beneath it holds only data.
bool IsCodeFileName(std::string_view name);

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_PYTHON_NAME_H_
