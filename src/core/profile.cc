#include "lazypath/profile.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/tree_paths.h"
#include "util/python_name.h"

namespace lazypath {

using json = nlohmann::json;

namespace {

constexpr std::string_view kFormat = "lazypath-profile/1";

using tree_paths::Base;
using tree_paths::Child;
using tree_paths::IsCode;
using tree_paths::Parent;

// The directory structure of a tree, as lazy activation sees it.
struct Layout {
  std::map<std::string, std::vector<size_t>, std::less<>> files;
  std::map<std::string, std::vector<std::string>, std::less<>> subdirs;
  std::set<std::string, std::less<>> has_code;

  explicit Layout(const Tree& tree) {
    const auto& entries = tree.entries();
    subdirs[""];
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string_view dir = Parent(entries[i].path);
      files[std::string(dir)].push_back(i);
      if (IsCode(Base(entries[i].path))) {
        for (std::string_view d = dir; !has_code.count(d); d = Parent(d)) {
          has_code.emplace(d);
          if (d.empty()) break;
        }
      }
      std::string d(dir);
      while (!d.empty() && subdirs.try_emplace(d).second) {
        std::string parent(Parent(d));
        subdirs[parent].push_back(std::string(Base(d)));
        d = parent;
      }
    }
  }
};

}  // namespace

Status ValidateProfile(const Profile& profile) {
  std::string what = "profile of " + profile.tree.ToString();
  if (profile.dirs.size() > kMaxProfileDirs) {
    return Status::Corrupt(what + ": more than " +
                           std::to_string(kMaxProfileDirs) + " directories");
  }
  std::set<std::string_view> seen;
  for (const auto& d : profile.dirs) {
    if (!d.empty()) {
      Status s = ValidateTreePath(d);
      if (!s.ok()) {
        return Status::Corrupt(what + ": bad directory: " + s.message());
      }
    }
    if (!seen.insert(d).second) {
      return Status::Corrupt(what + ": directory '" + d + "' listed twice");
    }
  }
  return Status::OK();
}

std::string SerializeProfile(const Profile& profile) {
  json doc = {{"format", kFormat},
              {"tree", profile.tree.ToString()},
              {"dirs", profile.dirs}};
  return doc.dump() + "\n";
}

Result<Profile> ParseProfile(std::string_view bytes, std::string_view what) {
  std::string w(what);
  if (bytes.size() > kMaxProfileBytes) {
    return Status::Corrupt(w + ": profile larger than 16 MiB");
  }
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Corrupt(w + ": profile is not valid JSON");
  }
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(w + ": profile " + std::string(why));
  };
  auto fmt = doc.find("format");
  if (fmt == doc.end() || !fmt->is_string() || *fmt != kFormat) {
    return bad("has an unknown format (want lazypath-profile/1)");
  }
  auto tree = doc.find("tree");
  auto dirs = doc.find("dirs");
  if (tree == doc.end() || !tree->is_string() || dirs == doc.end() ||
      !dirs->is_array()) {
    return bad("lacks tree or dirs");
  }
  Profile p;
  auto th = Hash::Parse(tree->get<std::string>());
  if (!th.ok()) return bad("has a bad tree digest");
  p.tree = *th;
  if (dirs->size() > kMaxProfileDirs) {
    return bad("lists more than " + std::to_string(kMaxProfileDirs) +
               " directories");
  }
  for (const auto& d : *dirs) {
    if (!d.is_string()) return bad("has a directory that is not a string");
    p.dirs.push_back(d.get<std::string>());
  }
  Status s = ValidateProfile(p);
  if (!s.ok()) return Status::Corrupt(w + ": " + s.message());
  return p;
}

std::string ProfileKey(const Hash& tree) {
  return std::string(kProfilePrefix) + tree.hex();
}

Status WriteProfile(Store& store, const Profile& profile) {
  Status s = ValidateProfile(profile);
  if (!s.ok()) return Status::InvalidArgument(s.message());
  std::string bytes = SerializeProfile(profile);
  if (bytes.size() > kMaxProfileBytes) {
    return Status::InvalidArgument("profile of " + profile.tree.ToString() +
                                   " is larger than 16 MiB");
  }
  return store.Put(ProfileKey(profile.tree), bytes);
}

Result<std::optional<Profile>> ReadProfile(Store& store, const Hash& tree) {
  std::string key = ProfileKey(tree);
  auto bytes = store.Get(key, kMaxProfileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound)
      return std::optional<Profile>();
    return bytes.status();
  }
  LP_ASSIGN_OR_RETURN(Profile p, ParseProfile(*bytes, store.url() + "/" + key));
  if (p.tree != tree) {
    return Status::Corrupt(store.url() + "/" + key +
                           ": profile describes another tree (" +
                           p.tree.ToString() + ")");
  }
  return std::optional<Profile>(std::move(p));
}

std::vector<std::string> DirsInTree(const Tree& tree,
                                    const std::vector<std::string>& dirs) {
  Layout layout(tree);
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    if (layout.subdirs.count(d)) out.push_back(d);
  }
  return out;
}

std::vector<Digest> DirectoryBlobs(const Tree& tree,
                                   const std::vector<std::string>& dirs) {
  Layout layout(tree);
  const auto& entries = tree.entries();
  std::vector<Digest> out;
  std::set<Hash> seen;
  auto add = [&](size_t i) {
    const TreeEntry& e = entries[i];
    if (e.kind == EntryKind::kSymlink || e.blob.size == 0) return;
    if (seen.insert(e.blob.hash).second) out.push_back(e.blob);
  };
  auto add_subtree = [&](const std::string& root) {
    std::vector<std::string> stack{root};
    while (!stack.empty()) {
      std::string d = std::move(stack.back());
      stack.pop_back();
      if (auto f = layout.files.find(d); f != layout.files.end()) {
        for (size_t i : f->second) add(i);
      }
      if (auto s = layout.subdirs.find(d); s != layout.subdirs.end()) {
        for (auto it = s->second.rbegin(); it != s->second.rend(); ++it) {
          stack.push_back(Child(d, *it));
        }
      }
    }
  };
  for (const auto& rel : dirs) {
    auto s = layout.subdirs.find(rel);
    if (s == layout.subdirs.end()) continue;
    if (auto f = layout.files.find(rel); f != layout.files.end()) {
      for (size_t i : f->second) add(i);
    }
    for (const auto& name : s->second) {
      std::string sub = Child(rel, name);
      if (!IsModuleName(name) || !layout.has_code.count(sub)) {
        add_subtree(sub);
        continue;
      }
      if (auto f = layout.files.find(sub); f != layout.files.end()) {
        for (size_t i : f->second) {
          if (Base(entries[i].path) == "__init__.py") add(i);
        }
      }
    }
  }
  return out;
}

}  // namespace lazypath
