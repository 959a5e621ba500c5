#include "lazypath/tree_diff.h"

#include <set>

namespace lazypath {

TreeDiff DiffTrees(const Tree& from, const Tree& to) {
  TreeDiff d;
  const auto& a = from.entries();
  const auto& b = to.entries();
  // Both are sorted by path bytes (Tree's invariant): one merge pass.
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      d.changes.push_back({ChangeKind::kRemoved, a[i].path, a[i], {}});
      d.removed++;
      ++i;
    } else if (i == a.size() || b[j].path < a[i].path) {
      d.changes.push_back({ChangeKind::kAdded, b[j].path, {}, b[j]});
      d.added++;
      ++j;
    } else {
      if (!(a[i] == b[j])) {
        d.changes.push_back({ChangeKind::kModified, a[i].path, a[i], b[j]});
        d.modified++;
      }
      ++i;
      ++j;
    }
  }
  std::set<Hash> have;
  for (const auto& e : a) {
    if (e.kind != EntryKind::kSymlink) have.insert(e.blob.hash);
  }
  std::set<Hash> counted;
  for (const auto& e : b) {
    if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
    if (have.count(e.blob.hash) || !counted.insert(e.blob.hash).second) {
      continue;
    }
    d.blobs_new++;
    d.bytes_new += e.blob.size;
  }
  return d;
}

}  // namespace lazypath
