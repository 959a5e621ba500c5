#include "core/tree_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "core/format2_testing.h"
#include "core/tree_build.h"
#include "core/tree_reader.h"
#include "lazypath/scan.h"
#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class TreeWriterTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/tree_writer_" +
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
    std::ofstream(p, std::ios::binary) << data;
  }
  std::string Read(const std::string& rel) {
    auto data = fs::ReadFile(base_ + "/src/" + rel, 1ull << 30);
    EXPECT_TRUE(data.ok()) << rel;
    return data.ok() ? *data : "";
  }
  // A package tree of `dirs` x `files` modules three levels deep.
  void WritePackages(int dirs, int files) {
    for (int d = 0; d < dirs; ++d) {
      std::string pkg =
          "app/sub" + std::to_string(d % 7) + "/pkg" + std::to_string(d);
      Write(pkg + "/__init__.py", "from . import m0\n");
      for (int f = 0; f < files; ++f) {
        Write(pkg + "/m" + std::to_string(f) + ".py",
              "VALUE = " + std::to_string(d * 1000 + f) + "\n");
      }
    }
  }

  std::unique_ptr<BuiltTree> Build() { return BuildFormat2(base_ + "/src"); }
  TreeWriteOptions Opts() {
    TreeWriteOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    return o;
  }
  Result<WrittenTree> Push(const std::unique_ptr<BuiltTree>& b) {
    return WriteTree(*store_, b->input, known_, Opts());
  }
  // Every file of the tree read back through the store equals the source.
  void ExpectReadsBack(const Hash& root) {
    auto walked = WalkTree(*store_, root);
    ASSERT_TRUE(walked.ok()) << walked.status().ToString();
    auto scanned = ScanDirectory(base_ + "/src", {});
    ASSERT_TRUE(scanned.ok());
    ASSERT_EQ(walked->size(), scanned->tree.entries().size());
    for (size_t i = 0; i < walked->size(); ++i) {
      EXPECT_EQ((*walked)[i].path, scanned->tree.entries()[i].path);
    }
  }
  // The content of `path` read through the store from `root`.
  std::string ReadThroughStore(const Hash& root, const std::string& path) {
    auto dir = ReadRootDirectory(*store_, root);
    EXPECT_TRUE(dir.ok()) << dir.status().ToString();
    if (!dir.ok()) return "";
    LocatedDirectory d = std::move(*dir);
    size_t start = 0;
    for (;;) {
      size_t slash = path.find('/', start);
      std::string name = path.substr(start, slash - start);
      size_t i = 0;
      while (i < d.dir.entries.size() && d.dir.entries[i].name != name) ++i;
      EXPECT_LT(i, d.dir.entries.size()) << path;
      if (i == d.dir.entries.size()) return "";
      if (slash == std::string::npos) {
        auto data = ReadFileContent(*store_, d, i);
        EXPECT_TRUE(data.ok()) << data.status().ToString();
        return data.ok() ? *data : "";
      }
      auto child = ReadChildDirectory(*store_, d, i);
      EXPECT_TRUE(child.ok()) << child.status().ToString();
      if (!child.ok()) return "";
      d = std::move(*child);
      start = slash + 1;
    }
  }

  std::string base_;
  std::unique_ptr<Store> store_;
  KnownObjects known_;
};

TEST_F(TreeWriterTest, WritesATreeThatReadsBackVerified) {
  WritePackages(12, 5);
  Write("top.py", "print('top')\n");
  Write("empty.txt", "");
  Write("app/sub0/pkg0/same.py", "VALUE = 0\n");  // equal to pkg0/m0.py
  auto b = Build();
  auto w = Push(b);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->root, b->dirs.root);
  EXPECT_EQ(w->packs, 1u);
  // app, 7 sub*, 12 pkg*: every directory but the root is a located frame.
  EXPECT_EQ(w->dirs_written, 20u);
  // One shared __init__.py, 60 modules, top.py; same.py is pkg0/m0.py.
  EXPECT_EQ(w->blobs_written, 1u + 12 * 5 + 1);
  EXPECT_FALSE(w->locations_key.empty());
  ExpectReadsBack(w->root.hash);
  for (const char* path : {"top.py", "app/sub3/pkg10/m4.py",
                           "app/sub0/pkg0/same.py", "empty.txt"}) {
    EXPECT_EQ(ReadThroughStore(w->root.hash, path), Read(path)) << path;
  }
  EXPECT_TRUE(fs::ListDir(base_ + "/tmp")->empty());
}

TEST_F(TreeWriterTest, ALocatedPackageWhoseInitBlobIsUnknownIsWrittenAgain) {
  // The store as a push knows it may hold a package's directory object but
  // not its __init__.py (that blob's pack condemned by a prune, say). The
  // parent's locator names the __init__.py too, so the push writes the
  // package again rather than fail.
  WritePackages(3, 2);
  Write("toppkg/__init__.py", "from . import m0\n");  // the root names it
  Write("toppkg/m0.py", "VALUE = 1\n");
  auto b = Build();
  auto w1 = Push(b);
  ASSERT_TRUE(w1.ok()) << w1.status().ToString();
  const Hash init = HashBytes("from . import m0\n").hash;
  ASSERT_NE(known_.Find(init, LocationKind::kBlob), nullptr);
  KnownObjects without_init;
  for (const LocationRecord& r : known_.ToLocations().records) {
    if (r.hash == init && r.kind == LocationKind::kBlob) continue;
    Locations one = known_.ToLocations();
    one.records = {r};
    without_init.Add(one);
  }
  ASSERT_EQ(without_init.Find(init, LocationKind::kBlob), nullptr);
  known_ = std::move(without_init);
  Write("top.py", "print('a new root')\n");
  auto b2 = Build();
  auto w2 = Push(b2);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_EQ(w2->blobs_written, 2u);  // top.py and the __init__.py again
  EXPECT_EQ(ReadThroughStore(w2->root.hash, "toppkg/__init__.py"),
            Read("toppkg/__init__.py"));
  ExpectReadsBack(w2->root.hash);
}

TEST_F(TreeWriterTest, AnEditWritesOnlyItsPathAndAFewKilobytes) {
  WritePackages(200, 10);  // 2,200 files
  auto first = Build();
  auto w1 = Push(first);
  ASSERT_TRUE(w1.ok()) << w1.status().ToString();
  uint64_t before = store_->stats().bytes_written.load();

  Write("app/sub5/pkg12/m3.py", "VALUE = 'edited'\n");
  auto second = Build();
  auto w2 = Push(second);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_NE(w2->root, w1->root);
  EXPECT_EQ(w2->blobs_written, 1u);
  EXPECT_EQ(w2->dirs_written, 3u);  // app, app/sub5, app/sub5/pkg12
  EXPECT_EQ(w2->locations.records.size(), 4u);
  uint64_t written = store_->stats().bytes_written.load() - before;
  EXPECT_LE(written, 16u << 10) << "pack + locations + tree record";
  RecordProperty("edit_bytes_written", static_cast<int>(written));
  EXPECT_EQ(ReadThroughStore(w2->root.hash, "app/sub5/pkg12/m3.py"),
            "VALUE = 'edited'\n");
  EXPECT_EQ(ReadThroughStore(w2->root.hash, "app/sub6/pkg13/m3.py"),
            Read("app/sub6/pkg13/m3.py"));
  // The earlier tree still reads as it was.
  EXPECT_EQ(ReadThroughStore(w1->root.hash, "app/sub5/pkg12/m3.py"),
            "VALUE = 12003\n");

  // Pushing the same tree again adds nothing but its tree record.
  auto w3 = Push(second);
  ASSERT_TRUE(w3.ok());
  EXPECT_EQ(w3->root, w2->root);
  EXPECT_EQ(w3->packs, 0u);
  EXPECT_TRUE(w3->locations_key.empty());
}

TEST_F(TreeWriterTest, AnInsertIntoALargeFileMovesOnlyTheChunksItTouches) {
  std::mt19937_64 rng(7);
  std::string big(24u << 20, '\0');
  for (auto& c : big) c = static_cast<char>(rng());
  Write("model/weights.bin", big);
  auto first = Build();
  auto w1 = Push(first);
  ASSERT_TRUE(w1.ok()) << w1.status().ToString();
  EXPECT_GT(w1->chunks_written, 24u);  // about 512 KiB each
  EXPECT_EQ(w1->chunk_lists_written, 1u);
  uint64_t before = store_->stats().bytes_written.load();

  for (size_t i = 0; i < 4096; ++i) big[(10u << 20) + i] ^= 0x5a;
  big.insert(17u << 20, std::string(100, 'i'));
  Write("model/weights.bin", big);
  auto second = Build();
  auto w2 = Push(second);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_LE(w2->chunks_written, 6u);
  uint64_t written = store_->stats().bytes_written.load() - before;
  EXPECT_LE(written, 2u << 20);
  EXPECT_EQ(ReadThroughStore(w2->root.hash, "model/weights.bin"), big);
}

TEST_F(TreeWriterTest, EqualSubtreesAreStoredOnce) {
  for (const char* d : {"a", "b", "c"}) {
    Write(std::string(d) + "/lib/x.py", "x = 1\n");
    Write(std::string(d) + "/lib/y.py", "y = 2\n");
  }
  auto b = Build();
  auto w = Push(b);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // a, b and c are one object, as are their lib/ directories.
  EXPECT_EQ(w->dirs_written, 2u);
  EXPECT_EQ(w->blobs_written, 2u);
  EXPECT_EQ(ReadThroughStore(w->root.hash, "c/lib/y.py"), "y = 2\n");
}

TEST_F(TreeWriterTest, ASourceEditedDuringThePushPublishesNoTree) {
  WritePackages(3, 3);
  auto b = Build();
  Write("app/sub1/pkg1/m2.py", "VALUE = 'changed after the scan'\n");
  auto w = Push(b);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().ToString().find("pkg1/m2.py"), std::string::npos)
      << w.status().ToString();
  EXPECT_FALSE(*store_->Exists(TreeKey(b->dirs.root.hash)));
  EXPECT_TRUE(store_->List("locs/")->empty());
  EXPECT_TRUE(fs::ListDir(base_ + "/tmp")->empty());
  EXPECT_TRUE(fs::ListDir(base_ + "/store/.tmp")->empty());
}

// A file the scan stamped is not hashed again while its stamp holds; an
// edit after the scan moves the stamp, even one keeping the size, and the
// file is hashed and refused. Small files and chunks of large ones alike.
TEST_F(TreeWriterTest, AnEditAfterAStampedScanIsStillRefused) {
  std::mt19937_64 rng(5);
  std::string big(5u << 20, '\0');
  for (auto& c : big) c = static_cast<char>(rng());
  for (const char* edited : {"app/m.py", "data/big.bin"}) {
    SCOPED_TRACE(edited);
    ASSERT_TRUE(fs::RemoveAll(base_ + "/src").ok());
    Write("app/m.py", "VALUE = 1\n");
    Write("data/big.bin", big);
    ::usleep(1'100'000);  // settled: the scan stamps both
    auto b = Build();
    ASSERT_EQ(b->input.stamps.size(), 2u);
    if (std::string(edited) == "app/m.py") {
      Write(edited, "VALUE = 2\n");
    } else {
      std::string other = big;
      other[3u << 20] ^= 1;
      Write(edited, other);
    }
    KnownObjects known;
    auto store = OpenStore(
        "file://" + base_ + "/store_" + std::string(edited).substr(0, 3),
        {.create = true});
    ASSERT_TRUE(store.ok());
    auto w = WriteTree(**store, b->input, known, Opts());
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.status().ToString().find(edited), std::string::npos)
        << w.status().ToString();
    EXPECT_FALSE(*(*store)->Exists(TreeKey(b->dirs.root.hash)));
  }
  // Unedited, the stamped push goes through and reads back.
  Write("data/big.bin", big);
  Write("app/m.py", "VALUE = 1\n");
  ::usleep(1'100'000);
  auto b = Build();
  ASSERT_EQ(b->input.stamps.size(), 2u);
  auto w = Push(b);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(ReadThroughStore(w->root.hash, "data/big.bin"), big);
  EXPECT_EQ(ReadThroughStore(w->root.hash, "app/m.py"), "VALUE = 1\n");
}

// A scan that cuts large files as it hashes them (a push's) builds the same
// tree as chunking them afterwards, and keeps their stamps.
TEST_F(TreeWriterTest, LargeFilesCutDuringTheScanBuildTheSameTree) {
  std::mt19937_64 rng(3);
  std::string big(5u << 20, '\0');
  for (auto& c : big) c = static_cast<char>(rng());
  Write("data/big.bin", big);
  Write("app/m.py", "VALUE = 1\n");
  ::usleep(1'100'000);  // settled: stamped
  PrecutChunks precut;
  ScanOptions so;
  so.default_excludes = false;
  so.large_file_bytes = kChunkThreshold;
  so.hash_large = precut.Hook();
  auto scanned = ScanDirectory(base_ + "/src", so);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  auto cut = BuildTree(*scanned, nullptr, 0, &precut);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  std::map<std::string, std::string> source;
  for (size_t i = 0; i < scanned->sources.size(); ++i) {
    source[scanned->tree.entries()[i].path] = scanned->sources[i];
  }
  ASSERT_NE(precut.Find(source.at("data/big.bin")), nullptr);
  EXPECT_EQ(precut.Find(source.at("app/m.py")), nullptr);  // small
  auto apart = Build();
  EXPECT_EQ((*cut)->dirs.root, apart->dirs.root);
  EXPECT_EQ((*cut)->input.stamps.size(), 2u);
  auto w = Push(*cut);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(ReadThroughStore(w->root.hash, "data/big.bin"), big);
}

// Files and chunks are encoded on many threads but appended in order: the
// packs, the locations and the tree record are the same bytes whatever the
// thread count.
TEST_F(TreeWriterTest, PacksAreTheSameBytesWhateverTheThreadCount) {
  WritePackages(6, 5);
  std::mt19937_64 rng(11);
  std::string big(6u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i % 3 ? rng() : i);  // partly compressible
  }
  Write("data/a.bin", big);
  Write("data/copy_of_a.bin", big);  // the same chunks again
  Write("data/small.bin", big.substr(0, 100000));
  auto b = Build();
  std::map<std::string, std::string> first;
  for (int threads : {1, 4}) {
    auto store =
        OpenStore("file://" + base_ + "/store" + std::to_string(threads),
                  {.create = true});
    ASSERT_TRUE(store.ok());
    KnownObjects known;
    TreeWriteOptions o = Opts();
    o.threads = threads;
    auto w = WriteTree(**store, b->input, known, o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_GT(w->chunks_written, 6u);
    std::map<std::string, std::string> objects;
    for (const char* prefix : {"packs/", "locs/", "trees/"}) {
      auto keys = (*store)->List(prefix);
      ASSERT_TRUE(keys.ok());
      for (const std::string& key : *keys) {
        auto bytes = (*store)->Get(key, 1ull << 30);
        ASSERT_TRUE(bytes.ok()) << key;
        objects[key] = std::move(*bytes);
      }
    }
    ASSERT_FALSE(objects.empty());
    if (first.empty()) {
      first = std::move(objects);
    } else {
      EXPECT_TRUE(objects == first);
      EXPECT_EQ(objects.size(), first.size());
    }
  }
}

TEST_F(TreeWriterTest, DamagedObjectsAreRefusedNamingTheirDigest) {
  WritePackages(2, 2);
  auto b = Build();
  auto w = Push(b);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto root = ReadRootDirectory(*store_, w->root.hash);
  ASSERT_TRUE(root.ok());
  const DirEntry& app = root->dir.entries[0];
  ASSERT_EQ(app.name, "app");

  // A record read under another tree's key is refused.
  Hash other = HashBytes("another tree").hash;
  auto record = store_->Get(TreeKey(w->root.hash), 1 << 20);
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(store_->Put(TreeKey(other), *record).ok());
  auto wrong = ReadRootDirectory(*store_, other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().ToString().find(other.hex()), std::string::npos)
      << wrong.status().ToString();

  // Flip one byte of the located frame of app/: its read fails naming it.
  const Slot& slot = root->locator.slots[0];
  Hash pack = root->locator.PackOf(slot.frame, root->holding);
  std::string pack_path = base_ + "/store/" + PackKey(pack);
  auto bytes = fs::ReadFile(pack_path, 1 << 30);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[slot.frame.offset + slot.frame.length / 2] ^= 1;
  ASSERT_TRUE(fs::RemoveAll(pack_path).ok());
  std::ofstream(pack_path, std::ios::binary) << damaged;
  auto child = ReadChildDirectory(*store_, *root, 0);
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().ToString().find(app.hash.hex()), std::string::npos)
      << child.status().ToString();
}

}  // namespace
}  // namespace lazypath
