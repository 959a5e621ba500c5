#include "tree/directory.h"

#include <gtest/gtest.h>

#include "util/test_vectors.h"

namespace lazypath {
namespace {

using testing_vectors::FromHex;
using testing_vectors::Hex;
using testing_vectors::Load;

const nlohmann::json& Vectors() {
  static const nlohmann::json v = Load("format2.json");
  return v;
}

std::vector<FlatEntry> FlatEntries(const nlohmann::json& list) {
  std::vector<FlatEntry> out;
  for (const auto& j : list) {
    FlatEntry f;
    TreeEntry& e = f.entry;
    e.path = j["path"];
    e.kind = static_cast<EntryKind>(j["kind"].get<std::string>()[0]);
    if (e.kind == EntryKind::kSymlink) {
      e.target = j["target"];
      e.blob = HashBytes(e.target);
    } else {
      e.blob.size = j["size"];
      e.blob.hash = *Hash::Parse(j["digest"].get<std::string>());
    }
    if (j.contains("chunk_list")) {
      f.chunk_list.hash =
          *Hash::Parse(j["chunk_list"]["digest"].get<std::string>());
      f.chunk_list.size = j["chunk_list"]["size"];
    }
    out.push_back(f);
  }
  return out;
}

std::vector<SlotShape> Shapes(const nlohmann::json& list) {
  std::vector<SlotShape> out;
  for (const auto& s : list) {
    out.push_back({static_cast<SlotType>(s[0].get<int>()), s[1], s[2]});
  }
  return out;
}

TEST(DirectoryTest, VectorTreesBuildToExactlyTheirObjects) {
  const auto& trees = Vectors()["trees"];
  ASSERT_GE(trees.size(), 4u);
  for (const auto& t : trees) {
    SCOPED_TRACE(t["name"].get<std::string>());
    std::vector<FlatEntry> flat = FlatEntries(t["entries"]);
    std::reverse(flat.begin(), flat.end());  // the builder must sort
    auto set = BuildDirectories(flat);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    EXPECT_EQ(set->root.hash.ToString(),
              t["root"]["digest"].get<std::string>());
    EXPECT_EQ(set->root.size, t["root"]["size"].get<uint64_t>());
    ASSERT_EQ(set->dirs.size(), t["directories"].size());
    for (const auto& d : t["directories"]) {
      SCOPED_TRACE(d["path"].get<std::string>());
      const BuiltDirectory& b = set->dirs.at(d["path"]);
      EXPECT_EQ(Hex(b.bytes), d["hex"].get<std::string>());
      EXPECT_EQ(b.digest.hash.ToString(), d["digest"].get<std::string>());
      EXPECT_EQ(b.digest.size, d["size"].get<uint64_t>());
      EXPECT_EQ(b.depth, d["depth"].get<size_t>());
      EXPECT_EQ(b.dir.SlotShapes(), Shapes(d["slots"]));
      auto parsed = Directory::Parse(FromHex(d["hex"]), d["depth"], "vector");
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(parsed->entries, b.dir.entries);
      EXPECT_EQ(parsed->Serialize(), b.bytes);
    }
    // Every child agrees with its parent's claims.
    for (const auto& [path, b] : set->dirs) {
      for (const DirEntry& e : b.dir.entries) {
        if (e.kind != DirKind::kDirectory) continue;
        std::string child_path = path.empty() ? e.name : path + "/" + e.name;
        const BuiltDirectory& child = set->dirs.at(child_path);
        auto c = Directory::ParseChild(e, child.bytes, child.depth);
        ASSERT_TRUE(c.ok()) << c.status().ToString();
      }
    }
  }
}

TEST(DirectoryTest, EmptyTreeIsTheEmptyDirectoryObject) {
  auto set = BuildDirectories(std::vector<TreeEntry>{});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->dirs.at("").bytes, std::string("LZD2\0", 5));
  EXPECT_EQ(set->root, HashBytes(std::string("LZD2\0", 5)));
}

TEST(DirectoryTest, InvalidVectorsAreRefusedWithTheirReason) {
  const auto& cases = Vectors()["invalid"]["directories"];
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto r = Directory::Parse(FromHex(c["hex"]), c["depth"], "vector-source");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().rfind("vector-source: ", 0), 0u);
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

TEST(DirectoryTest, ChildrenDisagreeingWithTheirParentAreRefused) {
  const auto& cases = Vectors()["invalid"]["children"];
  ASSERT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto parent = Directory::Parse(FromHex(c["parent_hex"]), c["depth"], "p");
    ASSERT_TRUE(parent.ok()) << parent.status().ToString();
    const DirEntry* claim = nullptr;
    for (const DirEntry& e : parent->entries) {
      if (e.name == c["entry"]) claim = &e;
    }
    ASSERT_NE(claim, nullptr);
    auto r = Directory::ParseChild(*claim, FromHex(c["child_hex"]),
                                   c["child_depth"]);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(claim->hash.ToString()),
              std::string::npos);
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

TreeEntry File(std::string path, std::string content = "x") {
  TreeEntry e;
  e.path = std::move(path);
  e.blob = HashBytes(content);
  return e;
}

TreeEntry Link(std::string path, std::string target) {
  TreeEntry e;
  e.path = std::move(path);
  e.kind = EntryKind::kSymlink;
  e.target = std::move(target);
  e.blob = HashBytes(e.target);
  return e;
}

Status Build(const std::vector<TreeEntry>& entries) {
  return BuildDirectories(entries).status();
}

TEST(DirectoryTest, BuilderRefusesWhatReadersRefuse) {
  EXPECT_TRUE(Build({File("a/b.py"), File("a/c.py"), File("d")}).ok());
  Status s = Build({File("a"), File("a/b")});
  EXPECT_NE(s.message().find("'a' and 'a/...' collide"), std::string::npos)
      << s.message();
  s = Build({File("pkg/Mod.py"), File("pkg/mod.py")});
  EXPECT_NE(s.message().find("tree directory 'pkg': entries 'Mod.py' and "
                             "'mod.py' collide"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(Build({File("Pkg/a.py"), File("pkg/b.py")}).ok());
  EXPECT_FALSE(Build({File("a/../b")}).ok());
  s = Build({Link("a/l", "../../x")});
  EXPECT_NE(s.message().find("climbs above the tree root"), std::string::npos);
  EXPECT_TRUE(Build({Link("a/l", "../x"), File("x")}).ok());
  // Format 1 allowed climbing back down after a name; format 2 does not.
  EXPECT_FALSE(Build({Link("a/b/l", "c/../../x")}).ok());
  FlatEntry big{File("big.bin"), {}};
  big.entry.blob.size = kChunkThreshold + 1;
  s = BuildDirectories(std::vector<FlatEntry>{big}).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("needs its chunk list"), std::string::npos);
  big.chunk_list = HashBytes("a chunk list");
  EXPECT_TRUE(BuildDirectories(std::vector<FlatEntry>{big}).ok());
  FlatEntry small{File("small.bin"), HashBytes("a chunk list")};
  EXPECT_EQ(BuildDirectories(std::vector<FlatEntry>{small}).status().code(),
            Code::kInvalidArgument);
}

TEST(DirectoryTest, AggregatesCoverTheWholeSubtree) {
  FlatEntry big{File("pkg/data/big.bin"), HashBytes("list")};
  big.entry.blob.size = kChunkThreshold + 10;
  auto set = BuildDirectories(
      std::vector<FlatEntry>{{File("pkg/__init__.py", "init"), {}},
                             big,
                             {File("pkg/sub/m.py", "mm"), {}},
                             {Link("pkg/sub/l", "m.py"), {}},
                             {File("top.txt"), {}}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const Directory& root = set->dirs.at("").dir;
  ASSERT_EQ(root.entries.size(), 2u);
  const DirEntry& pkg = root.entries[0];
  EXPECT_EQ(pkg.name, "pkg");
  EXPECT_EQ(pkg.entries, 4u);  // __init__.py, big.bin, m.py, l
  EXPECT_EQ(pkg.bytes, 4 + kChunkThreshold + 10 + 2);
  EXPECT_EQ(pkg.flags, kDirCode | kDirInit);
  EXPECT_EQ(pkg.init_size, 4u);
  EXPECT_EQ(pkg.init_hash, HashBytes("init").hash);
  const DirEntry& data = set->dirs.at("pkg").dir.entries[1];
  EXPECT_EQ(data.name, "data");
  EXPECT_EQ(data.flags, 0);  // no code beneath
  const DirEntry& bin = set->dirs.at("pkg/data").dir.entries[0];
  EXPECT_TRUE(bin.chunked());
  EXPECT_EQ(bin.hash, HashBytes("list").hash);
  EXPECT_EQ(bin.list_size, HashBytes("list").size);
}

TEST(DirectoryTest, SymlinkRule) {
  auto check = [](std::string target, size_t depth) {
    Directory d;
    DirEntry e;
    e.kind = DirKind::kSymlink;
    e.name = "l";
    e.target = std::move(target);
    d.entries.push_back(e);
    return d.Validate(depth, "t").ok();
  };
  EXPECT_TRUE(check("x", 0));
  EXPECT_TRUE(check(".", 0));
  EXPECT_TRUE(check("./x//y/", 0));
  EXPECT_TRUE(check("..", 1));
  EXPECT_TRUE(check("../../a/b", 2));
  EXPECT_TRUE(check(".././..//./a", 2));
  EXPECT_FALSE(check("..", 0));
  EXPECT_FALSE(check("../../../a", 2));
  EXPECT_FALSE(check("a/..", 5));
  EXPECT_FALSE(check("../a/../b", 5));
  EXPECT_FALSE(check("/a", 5));
  EXPECT_FALSE(check("", 5));
  EXPECT_TRUE(check(std::string(kMaxSymlinkTargetBytes, 'a'), 0));
  EXPECT_FALSE(check(std::string(kMaxSymlinkTargetBytes + 1, 'a'), 0));
}

TEST(DirectoryTest, LimitsAreCheckedBeforeWork) {
  std::string big = "LZD2" + std::string(kMaxDirectoryBytes, '\0');
  auto r = Directory::Parse(big, 0, "big");
  EXPECT_NE(r.status().message().find("larger than 64 MiB"), std::string::npos);
  // (A count over 1,000,000 is an invalid vector: refused before any
  // entry is read.)
  // The largest count still parses when the bytes are there.
  Directory wide;
  for (int i = 0; i < 1000; ++i) {
    DirEntry e;
    e.name = "f" + std::to_string(100000 + i);
    wide.entries.push_back(e);
  }
  auto again = Directory::Parse(wide.Serialize(), 0, "wide");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->entries, wide.entries);
}

TEST(DirectoryTest, ChildPathLimits) {
  EXPECT_EQ(*ChildPath("", "a"), "a");
  EXPECT_EQ(*ChildPath("a/b", "c"), "a/b/c");
  std::string deep = "d";
  for (int i = 1; i < 127; ++i) deep += "/d";
  EXPECT_TRUE(ChildPath(deep, "f").ok());  // 128 components
  auto r = ChildPath(deep + "/d", "f");
  EXPECT_NE(r.status().message().find("deeper than 128"), std::string::npos);
  r = ChildPath(std::string(4000, 'a'), std::string(100, 'b'));
  EXPECT_NE(r.status().message().find("longer than 4096"), std::string::npos);
}

TEST(DirectoryTest, CheckChildOverflowIsRefused) {
  Directory child;
  for (const char* n : {"a", "b"}) {
    DirEntry d;
    d.kind = DirKind::kDirectory;
    d.name = n;
    d.entries = UINT64_MAX;
    d.bytes = 1;
    d.size = 9;
    child.entries.push_back(d);
  }
  DirEntry claim;
  claim.kind = DirKind::kDirectory;
  claim.name = "c";
  Status s = Directory::CheckChild(claim, child);
  EXPECT_NE(s.message().find("overflow"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace lazypath
