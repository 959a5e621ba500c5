#include "lazypath/tree_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lazypath {
namespace {

TreeEntry File(const std::string& path, const std::string& content,
               EntryKind kind = EntryKind::kFile) {
  TreeEntry e;
  e.path = path;
  e.kind = kind;
  e.blob = HashBytes(content);
  return e;
}

TreeEntry Link(const std::string& path, const std::string& target) {
  TreeEntry e;
  e.path = path;
  e.kind = EntryKind::kSymlink;
  e.target = target;
  e.blob = HashBytes(target);
  return e;
}

std::string Summary(const TreeDiff& d) {
  std::string out;
  for (const auto& c : d.changes) {
    out += static_cast<char>(c.kind);
    out += " " + c.path + "\n";
  }
  return out;
}

TEST(TreeDiffTest, IdenticalTreesHaveNoChanges) {
  Tree t({File("a.py", "A"), File("pkg/b.py", "B"), Link("l", "a.py")});
  TreeDiff d = DiffTrees(t, t);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.added + d.removed + d.modified, 0u);
  EXPECT_EQ(d.blobs_new, 0u);
  EXPECT_EQ(d.bytes_new, 0u);
}

TEST(TreeDiffTest, AddedRemovedModifiedInPathOrder) {
  Tree from({File("a.py", "A"), File("gone.py", "G"), File("pkg/b.py", "B"),
             File("run.sh", "#!"), Link("l", "a.py"), File("z.py", "Z")});
  Tree to({File("a.py", "A"), File("new/c.py", "CCCC"), File("pkg/b.py", "B2"),
           File("run.sh", "#!", EntryKind::kExecutable), Link("l", "z.py"),
           File("z.py", "Z"), File("zz.py", "B2")});
  TreeDiff d = DiffTrees(from, to);
  EXPECT_EQ(Summary(d),
            "D gone.py\nM l\nA new/c.py\nM pkg/b.py\nM run.sh\nA zz.py\n");
  EXPECT_EQ(d.added, 2u);
  EXPECT_EQ(d.removed, 1u);
  EXPECT_EQ(d.modified, 3u);
  // New blobs: "CCCC" and "B2" (zz.py shares b.py's new blob): 6 bytes.
  EXPECT_EQ(d.blobs_new, 2u);
  EXPECT_EQ(d.bytes_new, 6u);
  const TreeChange& m = d.changes[3];
  ASSERT_EQ(m.path, "pkg/b.py");
  ASSERT_TRUE(m.before && m.after);
  EXPECT_EQ(m.before->blob, HashBytes("B"));
  EXPECT_EQ(m.after->blob, HashBytes("B2"));
  EXPECT_FALSE(d.changes[0].after);   // removed
  EXPECT_FALSE(d.changes[2].before);  // added
}

TEST(TreeDiffTest, EmptyTreesAndReversal) {
  Tree empty;
  Tree t({File("a", "1"), File("b", ""), File("c", "1")});
  TreeDiff up = DiffTrees(empty, t);
  EXPECT_EQ(up.added, 3u);
  EXPECT_EQ(up.blobs_new, 1u);  // "1" once; the empty file has no blob
  EXPECT_EQ(up.bytes_new, 1u);
  TreeDiff down = DiffTrees(t, empty);
  EXPECT_EQ(down.removed, 3u);
  EXPECT_EQ(down.bytes_new, 0u);
}

}  // namespace
}  // namespace lazypath
