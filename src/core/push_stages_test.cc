#include "core/push_stages.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/fetch.h"
#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class PushStagesTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/push_stages_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/tmp").ok());
    auto store = OpenStore("file://" + base_ + "/store", {.create = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }

  std::string Write(const std::string& rel, const std::string& data) {
    std::string p = base_ + "/src/" + rel;
    EXPECT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  // A scanned tree of `files` (path -> content), sources in base_/src.
  ScanResult Scanned(
      const std::vector<std::pair<std::string, std::string>>& files) {
    ScanResult r;
    std::vector<TreeEntry> entries;
    for (const auto& [path, data] : files) {
      TreeEntry e;
      e.kind = EntryKind::kFile;
      e.path = path;
      e.blob = HashBytes(data);
      entries.push_back(e);
      r.sources.push_back(Write(path, data));
    }
    r.tree = Tree(std::move(entries));
    EXPECT_TRUE(r.tree.Validate().ok());
    // Tree sorts its entries: put the sources in the same order.
    r.sources.clear();
    for (const auto& e : r.tree.entries()) {
      r.sources.push_back(base_ + "/src/" + e.path);
    }
    return r;
  }
  PackWriteOptions WriteOpts() {
    PackWriteOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    o.threads = 2;
    return o;
  }
  std::vector<std::string> Listing(const std::string& dir) {
    auto names = fs::ListDir(dir);
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    return names.ok() ? *names : std::vector<std::string>{};
  }

  std::string base_;
  std::unique_ptr<Store> store_;
};

TEST_F(PushStagesTest, PlanQueuesEachMissingBlobOnceInDirectoryOrder) {
  ScanResult s = Scanned({{"b/z.py", "z"},
                          {"a/y.py", "y"},
                          {"a/x.py", "x"},
                          {"b/dup.py", "x"},
                          {"c/known.py", "k"},
                          {"c/empty.py", ""}});
  std::map<Hash, BlobLocation> known;
  known[HashBytes("k").hash] = BlobLocation{HashBytes("pack").hash, {8, 2}, 1};
  Hash tree = HashBytes("tree").hash;
  PushPlan plan = PlanPush(s, tree, known, {}, false);
  EXPECT_EQ(plan.index.tree, tree);
  ASSERT_EQ(plan.index.blobs.size(), 1u);  // the known blob stays put
  EXPECT_EQ(plan.index.blobs.at(HashBytes("k").hash), known.begin()->second);
  std::vector<std::string> order;
  for (const auto& b : plan.fresh) order.push_back(b.dir + "/" + b.base);
  // "x" is queued once, under its first path; the empty file has no blob.
  EXPECT_EQ(order, (std::vector<std::string>{"a/x.py", "a/y.py", "b/z.py"}));
  EXPECT_EQ(plan.fresh_bytes, 3u);
  EXPECT_EQ(plan.blobs_first, 0u);
}

TEST_F(PushStagesTest, PlanPutsProfiledBlobsFirstOnlyWhenRepacking) {
  ScanResult s = Scanned({{"a/x.py", "x"}, {"z/hot.py", "hot"}});
  std::map<Hash, BlobLocation> known;
  Hash hot = HashBytes("hot").hash;
  known[hot] = BlobLocation{HashBytes("pack").hash, {8, 3}, 3};
  std::map<Hash, size_t> profiled{{hot, 0}};

  PushPlan keep = PlanPush(s, Hash{}, known, profiled, false);
  ASSERT_EQ(keep.fresh.size(), 1u);
  EXPECT_EQ(keep.fresh[0].base, "x.py");
  EXPECT_EQ(keep.index.blobs.count(hot), 1u);

  PushPlan repack = PlanPush(s, Hash{}, known, profiled, true);
  ASSERT_EQ(repack.fresh.size(), 2u);
  EXPECT_EQ(repack.fresh[0].base, "hot.py");  // rank 0 before unranked
  EXPECT_EQ(repack.fresh[1].base, "x.py");
  EXPECT_EQ(repack.blobs_first, 1u);
  EXPECT_EQ(repack.index.blobs.count(hot), 0u);
}

TEST_F(PushStagesTest, WrittenPacksLocateEveryBlobVerifiably) {
  std::string big(kInMemoryBlobBytes + 1000, 'b');  // streamed, not windowed
  ScanResult s =
      Scanned({{"a/one.py", "print(1)\n"}, {"a/big.bin", big}, {"b/two", "2"}});
  PushPlan plan = PlanPush(s, Hash{}, {}, {}, false);
  ASSERT_EQ(plan.fresh.size(), 3u);
  uint64_t packed = 0, announced = 0;
  PackWriteOptions o = WriteOpts();
  o.on_bytes = [&](uint64_t n) { packed += n; };
  o.on_pack = [&](uint64_t n) { announced += n; };
  auto written = WritePacks(*store_, plan.fresh, o);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->packs, 1u);
  EXPECT_EQ(packed, plan.fresh_bytes);
  EXPECT_EQ(announced, store_->stats().bytes_written.load());
  Index index;
  index.blobs = written->blobs;
  for (const auto& [path, data] :
       std::vector<std::pair<std::string, std::string>>{
           {"a/one.py", "print(1)\n"}, {"a/big.bin", big}, {"b/two", "2"}}) {
    Digest d = HashBytes(data);
    ASSERT_EQ(index.blobs.count(d.hash), 1u) << path;
    EXPECT_EQ(index.blobs.at(d.hash).size, d.size) << path;
    auto read = ReadBlob(*store_, index, d);
    ASSERT_TRUE(read.ok()) << path << ": " << read.status().ToString();
    EXPECT_EQ(*read, data) << path;
  }
  EXPECT_TRUE(Listing(base_ + "/tmp").empty());
}

TEST_F(PushStagesTest, SourceChangedSinceScanFailsAndLeavesNothingBehind) {
  for (bool streamed : {false, true}) {
    SCOPED_TRACE(streamed ? "streamed" : "windowed");
    std::string data = streamed ? std::string(kInMemoryBlobBytes + 1, 's')
                                : std::string("small\n");
    ScanResult s = Scanned({{"m.py", data}});
    PushPlan plan = PlanPush(s, Hash{}, {}, {}, false);
    Write("m.py", data + "edited");
    auto written = WritePacks(*store_, plan.fresh, WriteOpts());
    ASSERT_FALSE(written.ok());
    EXPECT_NE(written.status().ToString().find("m.py"), std::string::npos)
        << written.status().ToString();
    EXPECT_TRUE(Listing(base_ + "/tmp").empty());
    auto packs = store_->List("packs/");
    ASSERT_TRUE(packs.ok());
    EXPECT_TRUE(packs->empty());
  }
}

TEST_F(PushStagesTest, PublishWritesIndexThenTreeUnlessTheStoreHasIt) {
  Index index;
  index.tree = HashBytes("tree bytes").hash;
  uint64_t announced = 0;
  auto on_put = [&](uint64_t n) { announced += n; };
  ASSERT_TRUE(PublishTree(*store_, index, "tree bytes", false, on_put).ok());
  EXPECT_EQ(*store_->Get(TreeKey(index.tree), 1 << 20), "tree bytes");
  EXPECT_EQ(*store_->Get(IndexKey(index.tree), 1 << 20), index.Serialize());
  EXPECT_EQ(announced, store_->stats().bytes_written.load());

  // A tree the store has gets only a new index.
  uint64_t before = store_->stats().bytes_written.load();
  index.blobs[HashBytes("x").hash] = BlobLocation{Hash{}, {8, 1}, 1};
  ASSERT_TRUE(PublishTree(*store_, index, "other", true, on_put).ok());
  EXPECT_EQ(*store_->Get(TreeKey(index.tree), 1 << 20), "tree bytes");
  EXPECT_EQ(store_->stats().bytes_written.load() - before,
            index.Serialize().size());
}

}  // namespace
}  // namespace lazypath
