#include "core/tree_fetch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "core/format2_testing.h"
#include "core/tree_view.h"
#include "core/tree_writer.h"
#include "lazypath/store.h"
#include "lazypath/tree_diff.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class TreeFetchTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/tree_fetch_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/tmp").ok());
    auto store = OpenStore("file://" + base_ + "/store", {.create = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = base_ + "/src/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  void WritePackages(int dirs, int files) {
    for (int d = 0; d < dirs; ++d) {
      std::string pkg =
          "app/sub" + std::to_string(d % 7) + "/pkg" + std::to_string(d);
      Write(pkg + "/__init__.py", "");
      for (int f = 0; f < files; ++f) {
        Write(pkg + "/m" + std::to_string(f) + ".py",
              "VALUE = " + std::to_string(d * 1000 + f) + "\n");
      }
    }
  }
  WrittenTree Push() {
    auto b = BuildFormat2(base_ + "/src");
    TreeWriteOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    auto w = WriteTree(*store_, b->input, known_, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? *w : WrittenTree{};
  }
  std::string Record(const Hash& root) {
    auto r = store_->Get(TreeKey(root), 1 << 20);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  std::string base_;
  std::unique_ptr<Store> store_;
  KnownObjects known_;
};

TEST_F(TreeFetchTest, AWholeTreeIsAFewRangeReadsPerLevel) {
  WritePackages(200, 5);
  Write("README", "hello\n");
  ASSERT_EQ(::symlink("README", (base_ + "/src/LINK").c_str()), 0);
  WrittenTree w = Push();
  std::string record = Record(w.root.hash);
  EXPECT_TRUE(IsTreeRecord(record));
  TreeReadStats stats;
  auto files = ReadWholeTree(*store_, w.root.hash, record, 4, &stats);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 200u * 6 + 2);
  EXPECT_EQ(stats.directories.load(), 1u + 7 + 200);
  // app, sub*, pkg*: one read per level, the push's directories being
  // side by side.
  EXPECT_EQ(stats.requests.load(), 3u);
  const FlatFile& link = (*files)[0];
  EXPECT_EQ(link.path, "LINK");
  EXPECT_EQ(link.entry.kind, DirKind::kSymlink);
  EXPECT_EQ(link.entry.target, "README");
  const FlatFile& readme = (*files)[1];
  EXPECT_EQ(readme.path, "README");
  EXPECT_EQ(readme.entry.hash, HashBytes("hello\n").hash);
  EXPECT_GE(readme.location.frame.offset, 8u);

  // After an edit the new tree's directories are in two packs: still a
  // read or two per level.
  Write("app/sub3/pkg10/m1.py", "VALUE = 'edited'\n");
  WrittenTree w2 = Push();
  TreeReadStats stats2;
  auto files2 =
      ReadWholeTree(*store_, w2.root.hash, Record(w2.root.hash), 4, &stats2);
  ASSERT_TRUE(files2.ok()) << files2.status().ToString();
  EXPECT_EQ(files2->size(), files->size());
  EXPECT_LE(stats2.requests.load(), 6u);
}

// Diffing two format 2 trees reads only the directories that differ, and
// finds exactly what diffing the two whole listings finds.
TEST_F(TreeFetchTest, ChangedFilesSkipEqualSubtrees) {
  WritePackages(50, 3);
  Write("data/table.csv", "a,b\n");
  WrittenTree w1 = Push();
  Write("app/sub3/pkg10/m1.py", "VALUE = 'edited'\n");  // modified
  Write("app/sub1/fresh/x.py", "X = 1\n");              // a new directory
  ASSERT_TRUE(fs::RemoveAll(base_ + "/src/app/sub2/pkg2").ok());  // removed
  ASSERT_TRUE(fs::RemoveAll(base_ + "/src/data").ok());
  Write("data", "now a file\n");  // a directory became a file
  WrittenTree w2 = Push();
  const std::string r1 = Record(w1.root.hash), r2 = Record(w2.root.hash);

  TreeReadStats stats;
  auto changed =
      ReadChangedFiles(*store_, w1.root.hash, r1, w2.root.hash, r2, 4, &stats);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  // app, sub1, sub2, sub3 and pkg10 on both sides, fresh, pkg2 and the old
  // data/ on one: 13 of the 2 x 58 directories.
  EXPECT_EQ(stats.directories.load(), 13u);
  auto listing = [](const std::vector<FlatFile>& files) {
    std::vector<TreeEntry> out;
    for (const FlatFile& f : files) out.push_back(ViewEntry(f));
    return Tree(std::move(out));
  };
  TreeDiff got = DiffTrees(listing(changed->from), listing(changed->to));
  auto all1 = ReadWholeTree(*store_, w1.root.hash, r1, 4, nullptr);
  auto all2 = ReadWholeTree(*store_, w2.root.hash, r2, 4, nullptr);
  ASSERT_TRUE(all1.ok() && all2.ok());
  TreeDiff want = DiffTrees(listing(*all1), listing(*all2));
  ASSERT_EQ(got.changes.size(), want.changes.size());
  for (size_t i = 0; i < got.changes.size(); ++i) {
    EXPECT_EQ(got.changes[i].kind, want.changes[i].kind);
    EXPECT_EQ(got.changes[i].path, want.changes[i].path);
    EXPECT_EQ(got.changes[i].before, want.changes[i].before);
    EXPECT_EQ(got.changes[i].after, want.changes[i].after);
  }
  EXPECT_EQ(got.added, 2u);     // fresh/x.py, the file data
  EXPECT_EQ(got.removed, 5u);   // pkg2's four, data/table.csv
  EXPECT_EQ(got.modified, 1u);  // m1.py
  EXPECT_EQ(got.blobs_new, want.blobs_new);
  EXPECT_EQ(got.bytes_new, want.bytes_new);

  // The same tree on both sides reads nothing.
  TreeReadStats none;
  auto same =
      ReadChangedFiles(*store_, w2.root.hash, r2, w2.root.hash, r2, 4, &none);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->from.empty() && same->to.empty());
  EXPECT_EQ(none.directories.load(), 0u);
}

TEST_F(TreeFetchTest, AChunkedFileStreamsBackVerified) {
  std::mt19937_64 rng(3);
  std::string big(6u << 20, '\0');
  for (auto& c : big) c = static_cast<char>(rng() % 7);  // compressible
  Write("data/big.bin", big);
  WrittenTree w = Push();
  auto files =
      ReadWholeTree(*store_, w.root.hash, Record(w.root.hash), 2, nullptr);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 1u);
  ASSERT_TRUE((*files)[0].entry.chunked());
  std::string back;
  Status s = ReadChunkedFile(*store_, (*files)[0], [&](std::string_view b) {
    back.append(b);
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(back, big);
}

TEST_F(TreeFetchTest, ADamagedDirectoryIsRefusedNamingIt) {
  WritePackages(3, 2);
  WrittenTree w = Push();
  ASSERT_EQ(w.locations.packs.size(), 1u);
  // The last located frame in the pack is the shallowest new directory
  // (app); damage the pack's last byte.
  std::string pack_path = base_ + "/store/" + PackKey(w.locations.packs[0]);
  auto bytes = fs::ReadFile(pack_path, 1 << 30);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged.back() ^= 0x40;
  ASSERT_TRUE(fs::RemoveAll(pack_path).ok());
  std::ofstream(pack_path, std::ios::binary) << damaged;
  auto files =
      ReadWholeTree(*store_, w.root.hash, Record(w.root.hash), 2, nullptr);
  ASSERT_FALSE(files.ok());
  std::string msg = files.status().ToString();
  EXPECT_NE(msg.find("directory sha256:"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  // A record under the wrong key is refused before anything is read.
  auto wrong = ReadWholeTree(*store_, HashBytes("x").hash, Record(w.root.hash),
                             2, nullptr);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().ToString().find(HashBytes("x").hash.ToString()),
            std::string::npos)
      << wrong.status().ToString();
}

}  // namespace
}  // namespace lazypath
