// TreeDiff: what changed between two trees, path by path.
//
// A pure function of two validated trees: no I/O. A path present in both
// whose kind (file, executable, symlink) or content (blob digest, symlink
// target) differs is modified; a mode change alone (file <-> executable)
// counts too, since activation materialises it differently.
//
// Thread safety: values; DiffTrees may run concurrently.
#ifndef LAZYPATH_TREE_DIFF_H_
#define LAZYPATH_TREE_DIFF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lazypath/tree.h"

namespace lazypath {

enum class ChangeKind : char {
  kAdded = 'A',
  kRemoved = 'D',
  kModified = 'M',
};

struct TreeChange {
  ChangeKind kind;
  std::string path;
  std::optional<TreeEntry> before;  // absent when added
  std::optional<TreeEntry> after;   // absent when removed
};

struct TreeDiff {
  std::vector<TreeChange> changes;  // by path
  uint64_t added = 0, removed = 0, modified = 0;
  // Distinct non-empty blobs of the second tree that the first lacks, and
  // their bytes: what a node holding the first fetches to activate the
  // second (before compression).
  uint64_t blobs_new = 0;
  uint64_t bytes_new = 0;
};

TreeDiff DiffTrees(const Tree& from, const Tree& to);

}  // namespace lazypath

#endif  // LAZYPATH_TREE_DIFF_H_
