#include "core/pack_upload.h"

#include <gtest/gtest.h>

#include <vector>

#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class PackUploadTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/pack_upload_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/tmp").ok());
    auto store = OpenStore("file://" + base_ + "/store", {.create = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  PackUploadOptions Opts() {
    PackUploadOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    o.target_bytes = 100;
    o.on_pack = [this](uint64_t n) { announced_ += n; };
    o.on_finished = [this](const Digest& d) { finished_.push_back(d); };
    return o;
  }
  bool TempEmpty() { return fs::ListDir(base_ + "/tmp")->empty(); }

  std::string base_;
  std::unique_ptr<Store> store_;
  uint64_t announced_ = 0;
  std::vector<Digest> finished_;
};

TEST_F(PackUploadTest, AFullPackGoesToTheStoreBeforeTheNextAppend) {
  PackUpload packs(*store_, Opts());
  EncodedBlob blob{std::string(80, 'x'), Codec::kNone};
  for (int i = 0; i < 3; ++i) {
    auto w = packs.Writer();
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AddEncoded(blob).ok());
  }
  // 8 + 80 bytes stay under the target; a second frame passes it.
  EXPECT_EQ(finished_.size(), 1u);
  ASSERT_TRUE(packs.Finish().ok());
  ASSERT_EQ(finished_.size(), 2u);
  EXPECT_FALSE(packs.open());
  uint64_t total = 0;
  for (const Digest& d : finished_) {
    auto bytes = store_->Get(PackKey(d.hash), 1 << 20);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(HashBytes(*bytes), d);
    total += d.size;
  }
  EXPECT_EQ(finished_[0].size, 8u + 2 * 80);
  EXPECT_EQ(announced_, total);
  EXPECT_TRUE(TempEmpty());
}

TEST_F(PackUploadTest, AnUnfinishedPackLeavesNoTemporaryFile) {
  {
    PackUpload packs(*store_, Opts());
    auto w = packs.Writer();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->AddEncoded({"abc", Codec::kNone}).ok());
    EXPECT_FALSE(TempEmpty());
  }  // a push that failed before Finish
  EXPECT_TRUE(TempEmpty());
  EXPECT_TRUE(finished_.empty());
  EXPECT_TRUE(store_->List("packs/")->empty());
}

TEST_F(PackUploadTest, AStoreThatRefusesThePackLeavesNoTemporaryFile) {
  // A file where the store's packs/ directory should be: every put fails.
  ASSERT_TRUE(
      fs::WriteFileAtomic(base_ + "/store/packs", "not a directory", 0644)
          .ok());
  PackUpload packs(*store_, Opts());
  auto w = packs.Writer();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->AddEncoded({"abc", Codec::kNone}).ok());
  EXPECT_FALSE(packs.Finish().ok());
  EXPECT_TRUE(finished_.empty());
  EXPECT_TRUE(TempEmpty());
}

}  // namespace
}  // namespace lazypath
