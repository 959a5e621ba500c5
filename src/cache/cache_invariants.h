// Test-only: checks what a node cache directory shows its readers.
//
// The fault-injection tests (node_cache_fault_test.cc,
// core/activate_fault_test.cc) call Problems() after every injected failure
// to assert invariant 2 of ARCHITECTURE.md: nothing is visible before it is
// complete and verified. Header-only; reads the directory with plain system
// calls (never through an Env). Not thread-safe against writers: call it
// when no operation is running on the cache.
#ifndef LAZYPATH_CACHE_CACHE_INVARIANTS_H_
#define LAZYPATH_CACHE_CACHE_INVARIANTS_H_

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/tree.h"
#include "util/fs.h"

namespace lazypath::cache_invariants {

namespace internal {

// The names in `dir`; none if it cannot be listed.
inline std::vector<std::string> Names(const std::string& dir) {
  auto names = fs::ListDir(dir);
  return names.ok() ? *names : std::vector<std::string>();
}

inline std::string Parent(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? "" : std::string(p.substr(0, slash));
}

// Every path below `root` (relative, without "" for the root), with its lstat.
inline void Walk(const std::string& root, const std::string& rel,
                 std::map<std::string, struct stat>* out) {
  for (const auto& n : Names(rel.empty() ? root : fs::Join(root, rel))) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::lstat(fs::Join(root, r).c_str(), &st) != 0) continue;
    (*out)[r] = st;
    if (S_ISDIR(st.st_mode)) Walk(root, r, out);
  }
}

// What is wrong with the file or symlink `rel` under `root` as entry `e`.
inline std::string CheckEntry(const std::string& root, const std::string& rel,
                              const struct stat& st, const TreeEntry& e) {
  std::string p = fs::Join(root, rel);
  if (e.kind == EntryKind::kSymlink) {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    if (!S_ISLNK(st.st_mode) || n < 0 ||
        std::string(buf, static_cast<size_t>(n)) != e.target) {
      return p + ": not the symlink to " + e.target;
    }
    return "";
  }
  mode_t want = e.kind == EntryKind::kExecutable ? 0555 : 0444;
  if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != want) {
    return p + ": not a regular file of mode " + std::to_string(want);
  }
  auto got = HashFile(p);
  if (!got.ok() || got->hash != e.blob.hash || got->size != e.blob.size) {
    return p + ": content does not match " + e.blob.hash.ToString();
  }
  return "";
}

// A materialised tree (trees/<hex>): exactly `t`, every file correct.
// A lazy one (lazy/<hex>): whatever is there is part of `t`, and every
// finished directory (mode 0755) holds all its entries.
inline void CheckTree(const std::string& root, const Tree& t, bool lazy,
                      std::vector<std::string>* out) {
  std::map<std::string, const TreeEntry*> files;
  std::map<std::string, std::set<std::string>> children;  // dir -> names
  for (const TreeEntry& e : t.entries()) {
    files[e.path] = &e;
    for (std::string c = e.path; !c.empty();) {
      std::string dir = Parent(c);
      children[dir].insert(c.substr(dir.empty() ? 0 : dir.size() + 1));
      c = dir;
    }
  }
  std::map<std::string, struct stat> found;
  Walk(root, "", &found);
  for (const auto& [rel, st] : found) {
    if (S_ISDIR(st.st_mode)) {
      if (!children.count(rel)) out->push_back(root + "/" + rel + ": extra");
      continue;
    }
    auto it = files.find(rel);
    if (it == files.end()) {
      out->push_back(root + "/" + rel + ": not in tree");
      continue;
    }
    std::string bad = CheckEntry(root, rel, st, *it->second);
    if (!bad.empty()) out->push_back(bad);
  }
  struct stat root_st;
  if (::lstat(root.c_str(), &root_st) != 0) return;
  for (const auto& [dir, names] : children) {
    mode_t mode;
    if (dir.empty()) {
      mode = root_st.st_mode & 07777;
    } else if (auto it = found.find(dir); it != found.end()) {
      mode = it->second.st_mode & 07777;
    } else {
      if (!lazy) out->push_back(root + "/" + dir + ": missing");
      continue;
    }
    if (lazy && mode != 0755) continue;  // a placeholder, or unfinished
    for (const auto& n : names) {
      std::string rel = dir.empty() ? n : dir + "/" + n;
      if (!found.count(rel)) out->push_back(root + "/" + rel + ": missing");
    }
  }
}

}  // namespace internal

// One line for each thing wrong under cache directory `dir`; none when:
// every file in blobs/ is blobs/<hh>/<hex> (0444) or <hex>.x (0555) whose
// content hashes to <hex>; every trees/<hex> is a tree of `trees`, complete
// and correct; every lazy/<hex> is one of `trees` and holds only correct
// entries, with every finished directory complete; meta/ holds only
// <hex>.tree (whose bytes are the tree named <hex>), <hex>.index and format
// 2's <hex>.record, .ldir, .lazyall, .chunks and .content; and no temp name
// (".tmp.") appears outside tmp/. `trees` maps each tree's name (its
// digest: for format 2 the root directory object's) to its flat listing.
inline std::vector<std::string> NamedProblems(
    const std::string& dir, const std::vector<std::pair<Hash, Tree>>& trees) {
  std::vector<std::string> out;
  std::map<std::string, const Tree*> by_hex;
  for (const auto& [name, t] : trees) by_hex[name.hex()] = &t;
  // blobs/
  std::string blobs = fs::Join(dir, "blobs");
  for (const auto& shard : internal::Names(blobs)) {
    std::string sdir = fs::Join(blobs, shard);
    for (const auto& name : internal::Names(sdir)) {
      std::string p = fs::Join(sdir, name);
      bool exec = name.size() > 2 && name.substr(name.size() - 2) == ".x";
      std::string hex = exec ? name.substr(0, name.size() - 2) : name;
      auto want = Hash::FromHex(hex);
      struct stat st;
      if (!want.ok() || hex.substr(0, 2) != shard || ::lstat(p.c_str(), &st) ||
          !S_ISREG(st.st_mode)) {
        out.push_back(p + ": not a blob name");
        continue;
      }
      if ((st.st_mode & 07777) != (exec ? 0555u : 0444u)) {
        out.push_back(p + ": writable");
      }
      auto got = HashFile(p);
      if (!got.ok() || got->hash != *want) {
        out.push_back(p + ": content does not match its name");
      }
    }
  }
  // trees/ and lazy/
  for (const char* kind : {"trees", "lazy"}) {
    std::string kdir = fs::Join(dir, kind);
    for (const auto& name : internal::Names(kdir)) {
      auto it = by_hex.find(name);
      if (it == by_hex.end()) {
        out.push_back(fs::Join(kdir, name) + ": no such tree");
        continue;
      }
      internal::CheckTree(fs::Join(kdir, name), *it->second,
                          std::string_view(kind) == "lazy", &out);
    }
  }
  // meta/
  std::string meta = fs::Join(dir, "meta");
  for (const auto& name : internal::Names(meta)) {
    std::string p = fs::Join(meta, name);
    size_t dot = name.find('.');
    std::string suffix = dot == std::string::npos ? "" : name.substr(dot);
    static const std::set<std::string> kSuffixes = {
        ".tree",    ".index", ".record", ".ldir", ".lazyall", ".chunks",
        ".content", ".clist", ".f2root", ".boot", ".lazyboot"};
    if (name == "boot") continue;  // this boot's mark (boot_trust.cc)
    if (dot != 64 || !Hash::FromHex(name.substr(0, 64)).ok() ||
        !kSuffixes.count(suffix)) {
      out.push_back(p + ": not a metadata name");
      continue;
    }
    if (suffix == ".tree") {
      // Format 1: the tree's own bytes. Format 2: the flat listing the
      // tree was materialised from.
      auto bytes = fs::ReadFile(p);
      auto named = by_hex.find(name.substr(0, 64));
      Hash got = bytes.ok() ? HashBytes(*bytes).hash : Hash{};
      if (!bytes.ok() ||
          (got.hex() != name.substr(0, 64) &&
           (named == by_hex.end() || got != named->second->digest().hash))) {
        out.push_back(p + ": content does not match its name");
      }
    }
  }
  // Temp names anywhere but tmp/.
  std::map<std::string, struct stat> all;
  internal::Walk(dir, "", &all);
  for (const auto& [rel, st] : all) {
    if (rel.rfind("tmp/", 0) == 0) continue;
    if (rel.find(".tmp.") != std::string::npos) {
      out.push_back(fs::Join(dir, rel) + ": temp debris outside tmp/");
    }
  }
  return out;
}

// The names in `dir`/tmp.
inline std::vector<std::string> TempEntries(const std::string& dir) {
  return internal::Names(fs::Join(dir, "tmp"));
}

// Format 1 trees, each named by its own digest.
inline std::vector<std::string> Problems(const std::string& dir,
                                         const std::vector<Tree>& trees) {
  std::vector<std::pair<Hash, Tree>> named;
  for (const Tree& t : trees) named.emplace_back(t.digest().hash, t);
  return NamedProblems(dir, named);
}

}  // namespace lazypath::cache_invariants

#endif  // LAZYPATH_CACHE_CACHE_INVARIANTS_H_
