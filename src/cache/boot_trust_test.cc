// The node cache's trust across boots (boot_trust.cc): the boot's mark, the
// blob check and the tree stamps and check, with the boot id and power cuts
// from CrashEnv.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "lazypath/node_cache.h"
#include "util/crash_env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class BootTrustTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/boot_trust_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  NodeCache Open() {
    auto c = NodeCache::Open(dir_, &env_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  Hash AddBlob(const NodeCache& cache, const std::string& data) {
    // Written as a fetch writes it: not synced.
    std::string tmp = fs::TempName(cache.TempDir() + "/b");
    auto fd = env_.Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    EXPECT_TRUE(fd.ok());
    EXPECT_TRUE(env_.Write(fd->get(), data, tmp).ok());
    Hash h = HashBytes(data).hash;
    EXPECT_TRUE(cache.AdoptBlob(tmp, h).ok());
    return h;
  }
  // Moves `path`'s mtime by `delta_s` seconds.
  static void Age(const std::string& path, int64_t delta_s) {
    struct stat st;
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    times[1].tv_sec += delta_s;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW),
              0);
  }
  std::string dir_;
  CrashEnv env_;
};

TEST_F(BootTrustTest, ABlobOfThisBootIsTrustedWithoutRehashing) {
  NodeCache c = Open();
  Hash h = AddBlob(c, "x = 1\n");
  EXPECT_TRUE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_rechecked(), 0u);
  // Another process of the same boot reads the same mark.
  NodeCache other = Open();
  EXPECT_TRUE(other.HasBlob(h));
  EXPECT_EQ(other.blobs_rechecked(), 0u);
}

TEST_F(BootTrustTest, AnEarlierBootsBlobIsRehashedOnceThenTrusted) {
  Hash h = AddBlob(Open(), "x = 1\n");
  env_.Reboot();
  NodeCache c = Open();
  EXPECT_TRUE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_rechecked(), 1u);
  EXPECT_TRUE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_rechecked(), 1u);  // its mtime now says: checked
  NodeCache later = Open();
  EXPECT_TRUE(later.HasBlob(h));
  EXPECT_EQ(later.blobs_rechecked(), 0u);
}

TEST_F(BootTrustTest, ADamagedBlobIsRefusedAndLeftForAFetchToReplace) {
  NodeCache first = Open();
  Hash h = AddBlob(first, "x = 1\n");
  ASSERT_EQ(env_.PowerCut(dir_), 1u);
  NodeCache c = Open();
  EXPECT_FALSE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_damaged(), 1u);
  EXPECT_TRUE(fs::Exists(c.BlobPath(h)));  // renamed over, never unlinked
  Hash again = AddBlob(c, "x = 1\n");
  ASSERT_EQ(again, h);
  EXPECT_TRUE(c.HasBlob(h));
  EXPECT_EQ(*fs::ReadFile(c.BlobPath(h)), "x = 1\n");
}

TEST_F(BootTrustTest, AnEarlierBootWithItsClockAheadStillGetsChecked) {
  // The earlier boot's clock ran an hour ahead: its blob's mtime is later
  // than anything this boot writes for an hour. The mark covers it, since
  // the shard's mtime is at least as late.
  NodeCache first = Open();
  Hash h = AddBlob(first, "x = 1\n");
  Age(first.BlobPath(h), 3600);
  Age(fs::Dirname(first.BlobPath(h)), 3600);
  ASSERT_EQ(env_.PowerCut(dir_), 1u);
  NodeCache c = Open();
  EXPECT_FALSE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_damaged(), 1u);
}

TEST_F(BootTrustTest, AGarbledMarkIsComputedAgain) {
  Hash h = AddBlob(Open(), "x = 1\n");
  env_.Reboot();
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/meta/boot",
                                  "lazypath-boot 1 " + env_.BootId() + " 12x\n")
                  .ok());
  NodeCache c = Open();
  EXPECT_TRUE(c.HasBlob(h));
  EXPECT_EQ(c.blobs_rechecked(), 1u);
  auto record = fs::ReadFile(dir_ + "/meta/boot");
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->rfind("lazypath-boot 1 " + env_.BootId() + " ", 0), 0u);
  EXPECT_EQ(record->find("12x"), std::string::npos);
}

TEST_F(BootTrustTest, TreeStampsNameTheBootThatBuiltTheCopy) {
  NodeCache c = Open();
  Hash a = AddBlob(c, "a = 1\n");
  Tree t({{"pkg/a.py", EntryKind::kFile, {a, 6}, ""},
          {"pkg/link.py", EntryKind::kSymlink, HashBytes("a.py"), "a.py"},
          {"pkg/empty.py", EntryKind::kFile, {EmptyHash(), 0}, ""}});
  ASSERT_TRUE(t.Validate().ok());
  Hash th = t.digest().hash;
  ASSERT_TRUE(c.Materialize(t, th).ok());
  EXPECT_TRUE(c.TreeTrusted(th, false));
  EXPECT_TRUE(c.TreeTrusted(th, true));  // no lazy copy, no stamp
  env_.Reboot();
  NodeCache next = Open();
  EXPECT_FALSE(next.TreeTrusted(th, false));
  auto good = next.CheckTree(th, t);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(*good);
  EXPECT_TRUE(next.TreeTrusted(th, false));
  // A copy without a stamp was built by a version that synced every
  // publish: trusted as it is.
  ASSERT_EQ(::unlink((dir_ + "/meta/" + th.hex() + ".boot").c_str()), 0);
  env_.Reboot();
  EXPECT_TRUE(Open().TreeTrusted(th, false));
}

TEST_F(BootTrustTest, CheckTreeFindsWhatAPowerCutBroke) {
  NodeCache c = Open();
  Hash a = AddBlob(c, "a = 1\n");
  Tree t({{"pkg/a.py", EntryKind::kFile, {a, 6}, ""},
          {"pkg/link.py", EntryKind::kSymlink, HashBytes("a.py"), "a.py"}});
  ASSERT_TRUE(t.Validate().ok());
  Hash th = t.digest().hash;
  ASSERT_TRUE(c.Materialize(t, th).ok());
  ASSERT_GT(env_.PowerCut(dir_, CrashEnv::Damage::kEmpty), 0u);
  NodeCache next = Open();
  EXPECT_FALSE(next.TreeTrusted(th, false));
  auto good = next.CheckTree(th, t);
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(*good);
  EXPECT_FALSE(next.TreeTrusted(th, false));
  ASSERT_TRUE(next.DiscardTree(th, false).ok());
  EXPECT_FALSE(next.HasTree(th));
  EXPECT_TRUE(next.DiscardTree(th, false).ok());  // gone already: fine
}

}  // namespace
}  // namespace lazypath
