#include "lazypath/tree.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace lazypath {
namespace {

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

TEST(TreeTest, VectorsSerialiseAndParseExactly) {
  auto v = LoadVectors("trees.json");
  ASSERT_GE(v["valid"].size(), 3u);
  for (const auto& c : v["valid"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<TreeEntry> entries;
    // Feed entries in reverse order: the constructor must sort.
    for (auto it = c["entries"].rbegin(); it != c["entries"].rend(); ++it) {
      TreeEntry e;
      e.path = (*it)["path"];
      e.kind = static_cast<EntryKind>((*it)["kind"].get<std::string>()[0]);
      e.blob.size = (*it)["size"];
      e.blob.hash = *Hash::Parse((*it)["digest"].get<std::string>());
      if (it->contains("target")) e.target = (*it)["target"];
      entries.push_back(e);
    }
    Tree t(entries);
    ASSERT_TRUE(t.Validate().ok()) << t.Validate().ToString();
    EXPECT_EQ(t.Serialize(), c["bytes"].get<std::string>());
    EXPECT_EQ(t.digest().hash.ToString(), c["digest"].get<std::string>());
    EXPECT_EQ(t.digest().size, c["size"].get<uint64_t>());
    auto parsed = Tree::Parse(c["bytes"].get<std::string>(), "vector");
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->entries(), t.entries());
  }
}

TEST(TreeTest, InvalidVectorsAreRefusedWithTheirReason) {
  auto v = LoadVectors("trees.json");
  ASSERT_GE(v["invalid"].size(), 10u);
  for (const auto& c : v["invalid"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto r = Tree::Parse(c["bytes"].get<std::string>(), "vector-source");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("vector-source"), std::string::npos);
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

TEST(TreeTest, SameEntriesAnyOrderSameDigest) {
  std::vector<TreeEntry> a;
  for (int i = 0; i < 50; ++i) {
    TreeEntry e;
    e.path = "d" + std::to_string(i % 7) + "/f" + std::to_string(i);
    e.blob = HashBytes(e.path);
    a.push_back(e);
  }
  std::vector<TreeEntry> b(a.rbegin(), a.rend());
  EXPECT_EQ(Tree(a).digest(), Tree(b).digest());
  // The executable bit is part of identity.
  b[3].kind = EntryKind::kExecutable;
  EXPECT_NE(Tree(a).digest(), Tree(b).digest());
}

TEST(TreeTest, SymlinkContainment) {
  EXPECT_TRUE(SymlinkStaysInside("a/b/l", "../c"));
  EXPECT_TRUE(SymlinkStaysInside("a/l", "../c"));
  EXPECT_FALSE(SymlinkStaysInside("l", "../c"));
  EXPECT_FALSE(SymlinkStaysInside("a/l", "../../c"));
  EXPECT_FALSE(SymlinkStaysInside("a/l", "/etc"));
  EXPECT_TRUE(SymlinkStaysInside("a/l", "./x/../y"));
  EXPECT_FALSE(SymlinkStaysInside("a/l", "x/../../../y"));
}

TEST(TreeTest, PathRules) {
  EXPECT_TRUE(ValidateTreePath("a/b.py").ok());
  EXPECT_FALSE(ValidateTreePath("").ok());
  EXPECT_FALSE(ValidateTreePath("/a").ok());
  EXPECT_FALSE(ValidateTreePath("a/").ok());
  EXPECT_FALSE(ValidateTreePath("a/../b").ok());
  EXPECT_FALSE(ValidateTreePath(std::string("a\xff", 2)).ok());
  EXPECT_FALSE(ValidateTreePath(std::string(256, 'x')).ok());
  std::string deep;
  for (int i = 0; i < 129; ++i) deep += "d/";
  deep += "f";
  EXPECT_FALSE(ValidateTreePath(deep).ok());
}

TreeEntry File(std::string path) {
  TreeEntry e;
  e.path = std::move(path);
  e.blob = HashBytes("x");
  return e;
}

TreeEntry Link(std::string path, std::string target) {
  TreeEntry e;
  e.path = std::move(path);
  e.kind = EntryKind::kSymlink;
  e.blob = HashBytes(target);
  e.target = std::move(target);
  return e;
}

// Regression: each link stayed inside lexically, but "x/up" resolves to the
// root, so "esc" resolved through it twice climbs out of the tree.
TEST(TreeTest, SymlinkEscapingThroughAnotherSymlinkIsRefused) {
  Tree t({Link("x/up", ".."), Link("esc", "x/up/x/up/.."), File("x/f")});
  Status s = t.Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("'esc' -> 'x/up/x/up/..' escapes the tree"),
            std::string::npos)
      << s.ToString();
  // The same links, used without climbing out, are fine.
  EXPECT_TRUE(Tree({Link("x/up", ".."), Link("in", "x/up/x/f"), File("x/f")})
                  .Validate()
                  .ok());
  // A loop never resolves: refused rather than followed forever.
  EXPECT_FALSE(Tree({Link("a", "b/c"), Link("b", "a")}).Validate().ok());
}

TEST(TreeTest, PathsCollidingByCaseOrNormalisationAreRefused) {
  Status s = Tree({File("pkg/Mod.py"), File("pkg/mod.py")}).Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("'pkg/Mod.py' and 'pkg/mod.py' collide"),
            std::string::npos)
      << s.ToString();
  // Directories implied by paths collide too.
  EXPECT_FALSE(Tree({File("Pkg/a.py"), File("pkg/b.py")}).Validate().ok());
  // "é" composed (U+00E9) and decomposed (e + U+0301).
  s = Tree({File("caf\xc3\xa9.py"), File("cafe\xcc\x81.py")}).Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("case or Unicode normalisation"),
            std::string::npos);
  // The message tells the two spellings apart.
  EXPECT_NE(s.ToString().find("(caf<U+00E9>.py)"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.ToString().find("(cafe<U+0301>.py)"), std::string::npos);
  EXPECT_FALSE(Tree({File("\xc3\x89/a"), File("e\xcc\x81/b")}).Validate().ok());
  // Two spellings that both change under folding, to a name the tree lacks.
  s = Tree({File("pkg/MOD.py"), File("pkg/Mod.py")}).Validate();
  EXPECT_NE(s.ToString().find("'pkg/MOD.py' and 'pkg/Mod.py' collide"),
            std::string::npos)
      << s.ToString();
  // A file and a directory the tree implies.
  s = Tree({File("pkg/Mod"), File("pkg/mod/x.py")}).Validate();
  EXPECT_NE(s.ToString().find("'pkg/Mod' and 'pkg/mod' collide"),
            std::string::npos)
      << s.ToString();
  EXPECT_FALSE(Tree({File("pkg/MOD/a"), File("pkg/mod.py"), File("pkg/mod/b")})
                   .Validate()
                   .ok());
  // Distinct names stay distinct.
  EXPECT_TRUE(
      Tree({File("caf\xc3\xa9.py"), File("cafe.py"), File("A/b"), File("B/a")})
          .Validate()
          .ok());
}

}  // namespace
}  // namespace lazypath
