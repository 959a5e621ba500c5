#include "core/materialization.h"

#include "core/tree_paths.h"
#include "util/python_name.h"

namespace lazypath {

using tree_paths::Base;
using tree_paths::Child;
using tree_paths::IsCode;
using tree_paths::Parent;

Materialization::Materialization(const Tree& tree) : tree_(&tree) {
  const auto& entries = tree.entries();
  subdirs_[""];
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view dir = Parent(entries[i].path);
    files_[std::string(dir)].push_back(i);
    if (IsCode(Base(entries[i].path))) {
      for (std::string_view d = dir; !has_code_.count(d); d = Parent(d)) {
        has_code_.emplace(d);
        if (d.empty()) break;
      }
    }
    // Register each directory with its parent the first time it is seen,
    // top-down, so that a parent is always registered before its children.
    for (size_t slash = 0; slash != std::string_view::npos && !dir.empty();) {
      slash = dir.find('/', slash + (slash ? 1 : 0));
      std::string_view d = dir.substr(0, slash);
      if (subdirs_.try_emplace(std::string(d)).second) {
        subdirs_[std::string(Parent(d))].push_back(std::string(Base(d)));
      }
    }
  }
}

Status Materialization::SetOnDemand(const std::vector<std::string>& dirs,
                                    std::string_view tree_name) {
  std::set<std::string, std::less<>> out;
  for (std::string d : dirs) {
    while (!d.empty() && d.back() == '/') d.pop_back();
    if (d.empty() || !IsDirectory(d)) continue;
    if (!ComesWithParent(d)) {
      return Status::InvalidArgument(
          "on-demand directory '" + d + "' of tree " + std::string(tree_name) +
          " holds Python code: it is fetched when imported already");
    }
    out.insert(std::move(d));
  }
  on_demand_ = std::move(out);
  return Status::OK();
}

bool Materialization::ComesWithParent(const std::string& rel) const {
  return !IsModuleName(Base(rel)) || !has_code_.count(rel);
}

std::vector<std::string> Materialization::Directories() const {
  std::vector<std::string> out;
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string d = std::move(stack.back());
    stack.pop_back();
    const auto& subs = Subdirs(d);
    for (auto it = subs.rbegin(); it != subs.rend(); ++it) {
      stack.push_back(Child(d, *it));
    }
    out.push_back(std::move(d));
  }
  return out;
}

const std::vector<std::string>& Materialization::Subdirs(
    std::string_view rel) const {
  static const std::vector<std::string> kNone;
  auto it = subdirs_.find(rel);
  return it == subdirs_.end() ? kNone : it->second;
}

std::vector<std::string> Materialization::InTree(
    const std::vector<std::string>& dirs) const {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    if (IsDirectory(d)) out.push_back(d);
  }
  return out;
}

DirectoryPlan Materialization::Plan(std::string_view rel_view) const {
  DirectoryPlan plan;
  std::string rel(rel_view);
  if (!IsDirectory(rel)) return plan;
  const auto& entries = tree_->entries();
  auto add_files = [&](const std::string& d, const std::string& out) {
    if (auto f = files_.find(d); f != files_.end()) {
      for (size_t i : f->second) {
        std::string name(Base(entries[i].path));
        plan.files.push_back(
            {&entries[i], out.empty() ? name : out + "/" + name});
      }
    }
  };
  // Every directory and entry below `sub` (shown as `as`), in full, bar
  // on-demand directories; depth first, in the tree's order.
  auto add_subtree = [&](const std::string& sub, const std::string& as) {
    std::vector<std::pair<std::string, std::string>> stack{{sub, as}};
    while (!stack.empty()) {
      auto [d, out] = std::move(stack.back());
      stack.pop_back();
      plan.dirs.push_back({out, /*placeholder=*/false});
      add_files(d, out);
      const auto& subs = Subdirs(d);
      for (auto it = subs.rbegin(); it != subs.rend(); ++it) {
        std::string child = Child(d, *it);
        if (on_demand_.count(child)) {
          plan.dirs.push_back({out + "/" + *it, /*placeholder=*/true});
        } else {
          stack.emplace_back(std::move(child), out + "/" + *it);
        }
      }
    }
  };
  add_files(rel, "");
  for (const auto& name : Subdirs(rel)) {
    std::string sub = Child(rel, name);
    if (on_demand_.count(sub)) {
      plan.dirs.push_back({name, /*placeholder=*/true});  // until asked for
    } else if (ComesWithParent(sub)) {
      add_subtree(sub, name);  // reachable only by path: comes with `rel`
    } else {
      plan.dirs.push_back({name, /*placeholder=*/true});  // until imported
      if (auto f = files_.find(sub); f != files_.end()) {
        for (size_t i : f->second) {
          if (Base(entries[i].path) == "__init__.py") {
            plan.files.push_back({&entries[i], name + "/__init__.py"});
          }
        }
      }
    }
  }
  return plan;
}

std::vector<Digest> Materialization::Blobs(
    const std::vector<std::string>& dirs) const {
  std::vector<Digest> out;
  std::set<Hash> seen;
  for (const auto& d : dirs) {
    for (const auto& f : Plan(d).files) {
      const TreeEntry& e = *f.entry;
      if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
      if (seen.insert(e.blob.hash).second) out.push_back(e.blob);
    }
  }
  return out;
}

}  // namespace lazypath
