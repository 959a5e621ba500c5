#include "core/pack_upload.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
  // Neither the node's temporary directory nor the store's staging one
  // holds a file.
  bool TempEmpty() {
    auto staged = fs::ListDir(base_ + "/store/.tmp");
    return fs::ListDir(base_ + "/tmp")->empty() &&
           (!staged.ok() || staged->empty());
  }

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

TEST_F(PackUploadTest, AFileStoresPackIsAssembledInPlaceAndRenamedIn) {
  PackUpload packs(*store_, Opts());
  auto w = packs.Writer();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->AddEncoded({"abc", Codec::kNone}).ok());
  // Assembled on the store's own file system, not in the node's temp dir.
  EXPECT_TRUE(fs::ListDir(base_ + "/tmp")->empty());
  auto staged = fs::ListDir(base_ + "/store/.tmp");
  ASSERT_TRUE(staged.ok());
  ASSERT_EQ(staged->size(), 1u);
  struct stat before;
  ASSERT_EQ(::stat((base_ + "/store/.tmp/" + (*staged)[0]).c_str(), &before),
            0);
  ASSERT_TRUE(packs.Finish().ok());
  ASSERT_EQ(finished_.size(), 1u);
  struct stat after;
  std::string pack = base_ + "/store/" + PackKey(finished_[0].hash);
  ASSERT_EQ(::stat(pack.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // renamed, not copied
  EXPECT_EQ(after.st_mode & 0777, 0644u);
  EXPECT_EQ(HashBytes(*store_->Get(PackKey(finished_[0].hash), 1 << 20)),
            finished_[0]);
  EXPECT_TRUE(TempEmpty());
}

// A store with no staging directory (a remote one) gets a copy of a pack
// assembled in the node's temporary directory.
TEST_F(PackUploadTest, AStoreWithoutStagingGetsACopy) {
  class Remote : public Store {
   public:
    explicit Remote(Store& s) : s_(s) {}
    const std::string& url() const override { return s_.url(); }
    Result<std::string> Get(const std::string& k, uint64_t m) override {
      return s_.Get(k, m);
    }
    Status GetRange(const std::string& k, uint64_t o, uint64_t l,
                    const ByteSink& sink) override {
      return s_.GetRange(k, o, l, sink);
    }
    Status Put(const std::string& k, std::string_view d) override {
      return s_.Put(k, d);
    }
    Status PutFile(const std::string& k, const std::string& p) override {
      staged_in = fs::Dirname(p);
      return s_.PutFile(k, p);
    }
    Result<bool> Exists(const std::string& k) override { return s_.Exists(k); }
    Result<std::vector<std::string>> List(const std::string& p) override {
      return s_.List(p);
    }
    Result<VersionedObject> GetVersioned(const std::string& k,
                                         uint64_t m) override {
      return s_.GetVersioned(k, m);
    }
    Status PutIfVersion(const std::string& k, std::string_view d,
                        const std::string& v) override {
      return s_.PutIfVersion(k, d, v);
    }
    Status Delete(const std::string& k) override { return s_.Delete(k); }
    std::string staged_in;

   private:
    Store& s_;
  } remote(*store_);
  PackUpload packs(remote, Opts());
  auto w = packs.Writer();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->AddEncoded({"abc", Codec::kNone}).ok());
  ASSERT_TRUE(packs.Finish().ok());
  EXPECT_EQ(remote.staged_in, base_ + "/tmp");
  ASSERT_EQ(finished_.size(), 1u);
  EXPECT_TRUE(store_->Exists(PackKey(finished_[0].hash)).value());
  EXPECT_TRUE(TempEmpty());
}

}  // namespace
}  // namespace lazypath
