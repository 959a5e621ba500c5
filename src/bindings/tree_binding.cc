// lazypath/tree.h and lazypath/tree_diff.h: entries and diffs of trees.
#include <nanobind/stl/optional.h>

#include "bindings/binding.h"
#include "lazypath/tree.h"
#include "lazypath/tree_diff.h"

namespace lazypath::binding {

namespace {

const char* KindName(EntryKind k) {
  switch (k) {
    case EntryKind::kFile:
      return "file";
    case EntryKind::kExecutable:
      return "executable";
    case EntryKind::kSymlink:
      return "symlink";
  }
  return "file";
}

}  // namespace

void RegisterTree(nb::module_& m) {
  Record<TreeEntry>(m, "Entry",
                    "One entry of a tree: path, kind (file, executable, "
                    "symlink), size, digest and, for symlinks, target.")
      .Member("path", &TreeEntry::path)
      .Field("kind", [](const TreeEntry& e) { return KindName(e.kind); })
      .Field("size", [](const TreeEntry& e) { return e.blob.size; })
      .Field("digest",
             [](const TreeEntry& e) { return e.blob.hash.ToString(); })
      .Field(
          "target",
          [](const TreeEntry& e) -> nb::object {
            if (e.kind != EntryKind::kSymlink) return nb::none();
            return nb::cast(e.target);
          },
          nullptr, /*omit_none=*/true)
      .Done();

  Record<TreeChange>(m, "Change",
                     "One path that differs between two trees: change is "
                     "'A' (added), 'D' (removed) or 'M' (modified).")
      .Member("path", &TreeChange::path)
      .Field("change",
             [](const TreeChange& c) {
               return std::string(1, static_cast<char>(c.kind));
             })
      .Member("before", &TreeChange::before)
      .Member("after", &TreeChange::after)
      .Done();
}

}  // namespace lazypath::binding
