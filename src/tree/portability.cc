#include "lazypath/portability.h"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <set>

namespace lazypath {

namespace {

std::string Lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The module name `import` uses for a top-level component: a directory's
// name, a file's name up to its first '.'.
std::string ModuleName(const std::string& component, bool is_dir) {
  if (is_dir) return component;
  return component.substr(0, component.find('.'));
}

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

std::vector<std::string> CheckPortability(const Tree& tree,
                                          const std::vector<uint32_t>& modes,
                                          const PortabilityOptions& options) {
  std::vector<std::string> out;
  std::map<std::string, std::string> stdlib, target;  // lower -> name
  for (const auto& n : options.stdlib_names) stdlib.emplace(Lower(n), n);
  for (const auto& n : options.target_names) target.emplace(Lower(n), n);
  std::set<std::string> seen_top;
  const auto& entries = tree.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const TreeEntry& e = entries[i];
    size_t slash = e.path.find('/');
    std::string top = e.path.substr(0, slash);
    std::string name = ModuleName(top, slash != std::string::npos);
    if (!name.empty() && seen_top.insert(name).second) {
      std::string key = Lower(name);
      auto s = stdlib.find(key);
      auto t = target.find(key);
      if (s != stdlib.end() && s->second != name) {
        out.push_back(top + ": top-level name '" + name +
                      "' differs only in case from the standard-library "
                      "module '" +
                      s->second + "'");
      } else if (t != target.end() && t->second != name) {
        out.push_back(top + ": top-level name '" + name +
                      "' differs only in case from '" + t->second +
                      "' on the target's sys.path");
      }
    }
    size_t start = 0;
    while (start <= e.path.size()) {
      size_t end = e.path.find('/', start);
      if (end == std::string::npos) end = e.path.size();
      if (end - start > kEcryptfsNameMax) {
        out.push_back(e.path + ": a name of " + std::to_string(end - start) +
                      " bytes (eCryptfs allows " +
                      std::to_string(kEcryptfsNameMax) + ")");
        break;
      }
      start = end + 1;
    }
    if (e.path.size() > kPortablePathMax) {
      // cache + "/trees/" + 64 hex + "/" + path + NUL <= 4096
      size_t room = 4096 - 1 - 7 - 64 - 1 - e.path.size();
      out.push_back(e.path.substr(0, 60) + "...: a path of " +
                    std::to_string(e.path.size()) +
                    " bytes passes PATH_MAX (4096) under "
                    "<node cache>/trees/<64 hex>/ when the node cache "
                    "directory is longer than " +
                    std::to_string(room) + " bytes");
    }
    if (e.kind != EntryKind::kSymlink && i < modes.size()) {
      if (!(modes[i] & S_IROTH)) {
        out.push_back(e.path + ": not readable by others (mode " +
                      Octal(modes[i]) +
                      "); the node cache makes it readable by every user "
                      "of every node");
      }
    }
  }
  return out;
}

std::string PortabilityRefusal(const std::vector<std::string>& problems) {
  return "push --strict: " + problems.front() + " (" +
         std::to_string(problems.size()) +
         " portability problem(s); nothing was uploaded)";
}

}  // namespace lazypath
