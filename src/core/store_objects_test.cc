#include "core/store_objects.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/format2_testing.h"
#include "core/tree_reader.h"
#include "core/tree_writer.h"
#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class StoreObjectsTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/store_objects_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/tmp").ok());
    auto store = OpenStore("file://" + base_ + "/store", {.create = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    for (int f = 0; f < 30; ++f) {
      Write("pkg/m" + std::to_string(f) + ".py",
            "X = " + std::to_string(f) + "\n");
    }
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = base_ + "/src/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  // Pushes the source as a machine with summaries in `summary_dir` would:
  // learn what the store holds, then write what it lacks.
  WrittenTree Push(const std::string& summary_dir,
                   StoreObjectsResult* seen = nullptr) {
    auto known = StoreObjects(*store_, summary_dir, 4);
    EXPECT_TRUE(known.ok()) << known.status().ToString();
    auto b = BuildFormat2(base_ + "/src");
    TreeWriteOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    auto w = WriteTree(*store_, b->input, known->objects, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (seen) *seen = std::move(*known);
    return w.ok() ? *w : WrittenTree{};
  }
  std::string base_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreObjectsTest, APushReadsOnlyTheLocationsItHasNotSeen) {
  std::string summary = base_ + "/machine-a";
  for (int v = 0; v < 4; ++v) {
    Write("pkg/m0.py", "X = 'v" + std::to_string(v) + "'\n");
    StoreObjectsResult seen;
    WrittenTree w = Push(summary, &seen);
    EXPECT_EQ(seen.locations, uint64_t(v));
    // Each push after the first reads only the previous push's locations.
    EXPECT_EQ(seen.locations_fetched, v == 0 ? 0u : 1u) << "push " << v;
    EXPECT_EQ(w.blobs_written, v == 0 ? 30u : 1u) << "push " << v;
  }
  // Another machine has no summary: it reads all four, and still writes
  // only the edit.
  Write("pkg/m0.py", "X = 'elsewhere'\n");
  StoreObjectsResult seen;
  WrittenTree w = Push(base_ + "/machine-b", &seen);
  EXPECT_EQ(seen.locations, 4u);
  EXPECT_EQ(seen.locations_fetched, 4u);
  EXPECT_EQ(w.blobs_written, 1u);
}

TEST_F(StoreObjectsTest, ObjectsInADeletedPackAreWrittenAgain) {
  std::string summary = base_ + "/machine-a";
  WrittenTree first = Push(summary);
  Write("pkg/m0.py", "X = 'second'\n");
  Push(summary);  // summarises the first push's locations
  ASSERT_EQ(first.locations.packs.size(), 1u);
  ASSERT_TRUE(
      fs::RemoveAll(base_ + "/store/" + PackKey(first.locations.packs[0]))
          .ok());
  Write("pkg/m0.py", "X = 'third'\n");
  StoreObjectsResult seen;
  WrittenTree third = Push(summary, &seen);
  EXPECT_GT(seen.objects_dropped, 0u);
  EXPECT_EQ(third.blobs_written, 30u);  // 29 were in the deleted pack
  auto walked = WalkTree(*store_, third.root.hash);
  ASSERT_TRUE(walked.ok()) << walked.status().ToString();
  EXPECT_EQ(walked->size(), 30u);
}

TEST_F(StoreObjectsTest, ADamagedSummaryOrLocationsObjectCostsOnlyReads) {
  std::string summary = base_ + "/machine-a";
  Push(summary);
  Write("pkg/m0.py", "X = 'second'\n");
  Push(summary);
  std::string path = LocationsSummaryPath(summary, store_->url());
  ASSERT_TRUE(fs::Exists(path));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "garbage\n";
  StoreObjectsResult seen;
  Write("pkg/m0.py", "X = 'third'\n");
  WrittenTree w = Push(summary, &seen);
  EXPECT_EQ(seen.locations_fetched, 2u);  // rebuilt from the store
  EXPECT_EQ(w.blobs_written, 1u);

  // A locations object that does not match its key is skipped, not
  // covered: what it listed is written again, and the next look retries.
  auto keys = store_->List("locs/");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  std::string bad = "locs/" + std::string(64, 'a');
  ASSERT_TRUE(store_->Put(bad, "LZX2 not really").ok());
  auto again = StoreObjects(*store_, base_ + "/machine-c", 2);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->locations, 4u);
  EXPECT_EQ(again->locations_failed, 1u);
  EXPECT_EQ(again->locations_fetched, 3u);
  auto retry = StoreObjects(*store_, base_ + "/machine-c", 2);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->locations_fetched, 0u);
  EXPECT_EQ(retry->locations_failed, 1u);
}

}  // namespace
}  // namespace lazypath
