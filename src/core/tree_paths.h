// Paths inside a tree as lazy activation and import profiles see them:
// '/'-separated, relative, "" for the root.
//
// Pure functions on strings; thread-safe; they never touch the file system.
#ifndef LAZYPATH_CORE_TREE_PATHS_H_
#define LAZYPATH_CORE_TREE_PATHS_H_

#include <string>
#include <string_view>

namespace lazypath::tree_paths {

// A file Python can import from (util/python_name.h owns the rule).
bool IsCode(std::string_view name);
// "a/b/c" -> "a/b"; "a" -> "" (the root).
std::string_view Parent(std::string_view rel);
// "a/b/c" -> "c"; "a" -> "a".
std::string_view Base(std::string_view rel);
// ("a/b", "c") -> "a/b/c"; ("", "c") -> "c".
std::string Child(std::string_view dir, std::string_view name);

}  // namespace lazypath::tree_paths

#endif  // LAZYPATH_CORE_TREE_PATHS_H_
