#include "core/known_blobs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "lazypath/activate.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class KnownBlobsTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/known_blobs_" +
            testing::UnitTest::GetInstance()->current_test_info()->name() +
            "_" + std::to_string(::getpid());
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = "file://" + base_ + "/store";
    for (int f = 0; f < 30; ++f) {
      Write("pkg/m" + std::to_string(f) + ".py",
            "X = " + std::to_string(f) + "\n");
    }
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  Result<PushResult> PushNow(const std::string& push_cache) {
    PushOptions o;
    o.cache_dir = push_cache;
    o.format = 1;  // the summary of format 1 indexes (format 2: store_objects)
    return Push(src_, store_, o);
  }
  std::string SummaryDir(const std::string& push_cache) {
    return push_cache + "/stores";
  }
  std::string base_, src_, store_;
};

// Each push reads only the indexes added since this machine's last push.
TEST_F(KnownBlobsTest, APushReadsOnlyIndexesItHasNotSeen) {
  std::string cache = base_ + "/push-cache";
  for (int v = 0; v < 4; ++v) {
    Write("pkg/m0.py", "X = 'v" + std::to_string(v) + "'\n");
    auto p = PushNow(cache);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->store_indexes, uint64_t(v));
    // The first push finds no index; each later one reads only the index
    // of the push before it.
    EXPECT_EQ(p->indexes_fetched, v == 0 ? 0u : 1u) << "push " << v;
    // Only the edited file is new to the store.
    EXPECT_EQ(p->blobs_uploaded, v == 0 ? 30u : 1u) << "push " << v;
  }
  // Another machine (another cache) has no summary: it reads all four.
  Write("pkg/m0.py", "X = 'elsewhere'\n");
  auto p = PushNow(base_ + "/other-cache");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->store_indexes, 4u);
  EXPECT_EQ(p->indexes_fetched, 4u);
  EXPECT_EQ(p->blobs_uploaded, 1u);
}

// A pack deleted from the store behind the summary's back is not reused: its
// blobs are uploaded again, and the new tree activates.
TEST_F(KnownBlobsTest, LocationsInADeletedPackAreDropped) {
  std::string cache = base_ + "/push-cache";
  ASSERT_TRUE(PushNow(cache).ok());
  Write("pkg/m0.py", "X = 'second'\n");
  ASSERT_TRUE(PushNow(cache).ok());  // summarises the first index

  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  auto packs = (*store)->List(std::string(kPackPrefix));
  ASSERT_TRUE(packs.ok());
  ASSERT_EQ(packs->size(), 2u);
  // The first push's pack holds the 29 files not edited since.
  std::string first_pack;
  size_t largest = 0;
  for (const auto& k : *packs) {
    auto bytes = (*store)->Get(k, 1 << 20);
    ASSERT_TRUE(bytes.ok());
    if (bytes->size() > largest) {
      largest = bytes->size();
      first_pack = k;
    }
  }
  ASSERT_EQ(::unlink((base_ + "/store/" + first_pack).c_str()), 0);

  auto kb = KnownBlobs(**store, SummaryDir(cache), 4);
  ASSERT_TRUE(kb.ok()) << kb.status().ToString();
  EXPECT_GE(kb->locations_dropped, 29u);
  for (const auto& [h, loc] : kb->blobs) {
    EXPECT_NE(PackKey(loc.pack), first_pack);
  }

  Write("pkg/m1.py", "X = 'third'\n");
  auto p = PushNow(cache);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GE(p->blobs_uploaded, 29u);
  ActivateOptions ao;
  ao.cache_dir = base_ + "/node";
  auto a = Activate(store_, p->tree.hash.ToString(), ao);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*fs::ReadFile(a->path + "/pkg/m1.py"), "X = 'third'\n");
  EXPECT_EQ(*fs::ReadFile(a->path + "/pkg/m29.py"), "X = 29\n");
}

// A damaged summary costs a full read and is then rewritten whole.
TEST_F(KnownBlobsTest, ADamagedSummaryIsRebuilt) {
  std::string cache = base_ + "/push-cache";
  ASSERT_TRUE(PushNow(cache).ok());
  Write("pkg/m0.py", "X = 'b'\n");
  ASSERT_TRUE(PushNow(cache).ok());
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  std::string path = StoreSummaryPath(SummaryDir(cache), (*store)->url());
  auto good = fs::ReadFile(path);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  for (std::string bad :
       {std::string(""), std::string("garbage\n"), good->substr(0, 40),
        good->substr(0, good->size() / 2),
        "lazypath-store-summary 1\n" + (*store)->url() + "\n99999\n"}) {
    ASSERT_TRUE(fs::WriteFileAtomic(path, bad).ok());
    auto kb = KnownBlobs(**store, SummaryDir(cache), 2);
    ASSERT_TRUE(kb.ok()) << kb.status().ToString();
    EXPECT_EQ(kb->indexes, 2u);
    EXPECT_EQ(kb->indexes_fetched, 2u) << bad.size();
    EXPECT_EQ(kb->blobs.size(), 31u);
    auto again = KnownBlobs(**store, SummaryDir(cache), 2);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->indexes_fetched, 0u);
    EXPECT_EQ(again->blobs, kb->blobs);
  }
  // A summary of another store at the same path is not used.
  std::string other = *fs::ReadFile(path);
  other.replace(other.find((*store)->url()), (*store)->url().size(),
                (*store)->url() + "x");
  ASSERT_TRUE(fs::WriteFileAtomic(path, other).ok());
  auto kb = KnownBlobs(**store, SummaryDir(cache), 2);
  ASSERT_TRUE(kb.ok());
  EXPECT_EQ(kb->indexes_fetched, 2u);
}

// An index that can't be parsed is skipped, and tried again next time.
TEST_F(KnownBlobsTest, AnUnreadableIndexIsSkippedAndRetried) {
  std::string cache = base_ + "/push-cache";
  ASSERT_TRUE(PushNow(cache).ok());
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->Put(std::string(kIndexPrefix) + std::string(64, 'a'),
                        "{not an index")
                  .ok());
  for (int round = 0; round < 2; ++round) {
    auto kb = KnownBlobs(**store, SummaryDir(cache), 2);
    ASSERT_TRUE(kb.ok()) << kb.status().ToString();
    EXPECT_EQ(kb->indexes, 2u);
    EXPECT_EQ(kb->indexes_failed, 1u) << "round " << round;
    EXPECT_EQ(kb->indexes_fetched, round == 0 ? 1u : 0u);
    EXPECT_EQ(kb->blobs.size(), 30u);
  }
}

// Without a summary directory every index is read every time.
TEST_F(KnownBlobsTest, NoSummaryDirReadsEverything) {
  ASSERT_TRUE(PushNow(base_ + "/push-cache").ok());
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  for (int round = 0; round < 2; ++round) {
    auto kb = KnownBlobs(**store, "", 2);
    ASSERT_TRUE(kb.ok());
    EXPECT_EQ(kb->indexes_fetched, 1u);
    EXPECT_EQ(kb->blobs.size(), 30u);
  }
}

}  // namespace
}  // namespace lazypath
