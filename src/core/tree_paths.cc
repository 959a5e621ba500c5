#include "core/tree_paths.h"

#include "util/python_name.h"

namespace lazypath::tree_paths {

bool IsCode(std::string_view name) { return IsCodeFileName(name); }

std::string_view Parent(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view()
                                         : rel.substr(0, slash);
}

std::string_view Base(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

std::string Child(std::string_view dir, std::string_view name) {
  return dir.empty() ? std::string(name)
                     : std::string(dir) + "/" + std::string(name);
}

}  // namespace lazypath::tree_paths
