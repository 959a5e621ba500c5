// ScanEntry: what one sys.path entry offers, found the way CPython's default
// path hooks find it.
//
// The hooks are tried in CPython's order: zipimporter (the entry, or a parent
// of it, is a regular file that is a zip archive), then FileFinder (the entry
// is a directory). Within a directory FileFinder prefers, for a name N:
//   N/ with __init__<suffix> (suffixes: extension…, .py, .pyc)  — a package
//   N<extension suffix>, in the interpreter's order              — an extension
//   N.py                                                          — source
//   N.pyc                                                         — sourceless
//   N/ without __init__                                           — a namespace
//   portion
// Within a zip archive zipimport prefers N/__init__.pyc, N/__init__.py,
// N.pyc, N.py, then an explicit N/ directory entry (a namespace portion).
// Names are matched exactly (the POSIX, case-sensitive behaviour).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "doctor/names.h"
#include "lazypath/doctor.h"

namespace lazypath::doctor {
namespace {

bool StatFollow(const std::string& p, struct stat* st) {
  return ::stat(p.c_str(), st) == 0;
}

bool IsFile(const std::string& p) {
  struct stat st;
  return StatFollow(p, &st) && S_ISREG(st.st_mode);
}

// Keeps the best candidate per name (lowest rank).
class Best {
 public:
  void Offer(const std::string& name, int rank, ModuleKind kind,
             std::string origin) {
    auto it = best_.find(name);
    if (it != best_.end() && it->second.first <= rank) return;
    best_[name] = {rank, Candidate{name, kind, std::move(origin)}};
  }
  std::vector<Candidate> Take() {
    std::vector<Candidate> out;
    out.reserve(best_.size());
    for (auto& [name, rc] : best_) out.push_back(std::move(rc.second));
    return out;  // std::map keeps them sorted by name
  }

 private:
  std::map<std::string, std::pair<int, Candidate>> best_;
};

void ScanDirectory(EntryScan& scan, const Suffixes& sfx) {
  DIR* d = ::opendir(scan.path.c_str());
  if (d == nullptr) {
    // FileFinder treats an unlistable directory as empty.
    scan.kind = EntryKind::kUnreadable;
    scan.error = std::string("cannot list directory: ") + std::strerror(errno);
    return;
  }
  std::vector<std::string> listing;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") listing.push_back(std::move(n));
  }
  ::closedir(d);

  // Suffixes in FileFinder's loader order, with their kinds.
  std::vector<std::pair<std::string, ModuleKind>> order;
  for (const auto& s : sfx.extension)
    order.emplace_back(s, ModuleKind::kExtension);
  for (const auto& s : sfx.source) order.emplace_back(s, ModuleKind::kSource);
  for (const auto& s : sfx.bytecode)
    order.emplace_back(s, ModuleKind::kBytecode);
  const int namespace_rank = 1 + static_cast<int>(order.size());

  Best best;
  for (const std::string& n : listing) {
    std::string full = JoinLikeImportlib(scan.path, n);
    struct stat st;
    if (!StatFollow(full, &st)) continue;
    if (S_ISDIR(st.st_mode)) {
      if (!IsModuleName(n) || n == "__pycache__") continue;
      bool package = false;
      for (const auto& [suffix, kind] : order) {
        std::string init = JoinLikeImportlib(full, "__init__" + suffix);
        if (IsFile(init)) {
          best.Offer(n, 0, ModuleKind::kPackage, init);
          package = true;
          break;
        }
      }
      if (!package) best.Offer(n, namespace_rank, ModuleKind::kNamespace, full);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    for (size_t i = 0; i < order.size(); ++i) {
      const std::string& suffix = order[i].first;
      if (n.size() <= suffix.size() ||
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      std::string stem = n.substr(0, n.size() - suffix.size());
      if (!IsModuleName(stem)) continue;
      best.Offer(stem, 1 + static_cast<int>(i), order[i].second, full);
    }
  }
  scan.candidates = best.Take();
}

// zipimporter's constructor: walk up from `path` while stat fails; the first
// existing ancestor must be a regular file. Returns false when the entry is
// not handled by zipimporter.
bool FindArchive(const std::string& path, std::string* archive,
                 std::string* prefix) {
  std::string p = path;
  std::vector<std::string> parts;
  struct stat st;
  while (!StatFollow(p, &st)) {
    size_t i = p.rfind('/');
    std::string dir = i == std::string::npos ? "" : p.substr(0, i);
    std::string base = i == std::string::npos ? p : p.substr(i + 1);
    if (dir == p) return false;
    p = dir;
    parts.push_back(base);
  }
  if (!S_ISREG(st.st_mode)) return false;
  *archive = p;
  prefix->clear();
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    *prefix += *it;
    *prefix += '/';
  }
  return true;
}

void ScanZip(EntryScan& scan, const std::string& archive,
             const std::string& prefix, const std::vector<std::string>& files) {
  std::set<std::string> have(files.begin(), files.end());
  std::set<std::string> firsts;
  for (const std::string& f : files) {
    if (f.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rel = f.substr(prefix.size());
    size_t slash = rel.find('/');
    if (slash != std::string::npos) {
      firsts.insert(rel.substr(0, slash));
    } else if (rel.size() > 3 && rel.ends_with(".py")) {
      firsts.insert(rel.substr(0, rel.size() - 3));
    } else if (rel.size() > 4 && rel.ends_with(".pyc")) {
      firsts.insert(rel.substr(0, rel.size() - 4));
    }
  }
  auto origin = [&](const std::string& member) {
    return archive + "/" + member;
  };
  for (const std::string& n : firsts) {
    if (!IsModuleName(n)) continue;
    std::string base = prefix + n;
    Candidate c{n, ModuleKind::kSource, ""};
    if (have.count(base + "/__init__.pyc")) {
      c = {n, ModuleKind::kPackage, origin(base + "/__init__.pyc")};
    } else if (have.count(base + "/__init__.py")) {
      c = {n, ModuleKind::kPackage, origin(base + "/__init__.py")};
    } else if (have.count(base + ".pyc")) {
      c = {n, ModuleKind::kBytecode, origin(base + ".pyc")};
    } else if (have.count(base + ".py")) {
      c = {n, ModuleKind::kSource, origin(base + ".py")};
    } else if (have.count(base + "/")) {
      c = {n, ModuleKind::kNamespace, origin(base)};
    } else {
      continue;  // a directory only implied by its members: zipimport misses it
    }
    scan.candidates.push_back(std::move(c));
  }
}

}  // namespace

const char* ModuleKindName(ModuleKind k) {
  switch (k) {
    case ModuleKind::kPackage:
      return "package";
    case ModuleKind::kExtension:
      return "extension";
    case ModuleKind::kSource:
      return "source";
    case ModuleKind::kBytecode:
      return "bytecode";
    case ModuleKind::kNamespace:
      return "namespace";
    case ModuleKind::kBuiltin:
      return "builtin";
    case ModuleKind::kFrozen:
      return "frozen";
  }
  return "?";
}

const char* EntryKindName(EntryKind k) {
  switch (k) {
    case EntryKind::kDirectory:
      return "directory";
    case EntryKind::kZip:
      return "zip";
    case EntryKind::kMissing:
      return "missing";
    case EntryKind::kNotImportable:
      return "not-importable";
    case EntryKind::kUnreadable:
      return "unreadable";
  }
  return "?";
}

EntryScan ScanEntry(const std::string& entry, const std::string& cwd,
                    const Suffixes& suffixes) {
  EntryScan scan;
  scan.entry = entry;
  // PathFinder maps '' to the cwd before calling the hooks; FileFinder also
  // maps '.' and makes other relative paths absolute with the cwd.
  scan.path = (entry.empty() || entry == ".") ? cwd
              : entry[0] == '/'               ? entry
                                              : JoinLikeImportlib(cwd, entry);
  struct stat st;
  if (StatFollow(scan.path, &st)) scan.mode = st.st_mode;

  std::string archive, prefix;
  if (FindArchive(scan.path, &archive, &prefix)) {
    auto files = ListZip(archive);
    if (files.ok()) {
      scan.kind = EntryKind::kZip;
      scan.path =
          archive +
          (prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1));
      if (StatFollow(archive, &st)) scan.mode = st.st_mode;
      ScanZip(scan, archive, prefix, *files);
      return scan;
    }
    scan.error = files.status().message();
  }
  if (scan.mode == 0) {
    scan.kind = EntryKind::kMissing;
    scan.error = "does not exist";
    return scan;
  }
  if (!S_ISDIR(scan.mode)) {
    scan.kind = EntryKind::kNotImportable;
    if (scan.error.empty())
      scan.error = "neither a directory nor a zip archive";
    return scan;
  }
  scan.kind = EntryKind::kDirectory;
  ScanDirectory(scan, suffixes);
  return scan;
}

}  // namespace lazypath::doctor
