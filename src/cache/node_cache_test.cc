#include "lazypath/node_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "util/fs.h"

namespace lazypath {
namespace {

class NodeCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/node_cache_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
    auto c = NodeCache::Open(dir_);
    ASSERT_TRUE(c.ok());
    cache_.emplace(std::move(c).value());
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  Hash AddBlob(const std::string& data) {
    std::string tmp = fs::TempName(cache_->TempDir() + "/b");
    EXPECT_TRUE(fs::WriteFileAtomic(tmp, data).ok());
    Hash h = HashBytes(data).hash;
    EXPECT_TRUE(cache_->AdoptBlob(tmp, h).ok());
    return h;
  }
  std::string dir_;
  std::optional<NodeCache> cache_;
};

TEST_F(NodeCacheTest, DefaultDirFollowsEnvironment) {
  ::setenv("LAZYPATH_CACHE", "/some/where", 1);
  EXPECT_EQ(NodeCache::DefaultDir(), "/some/where");
  ::unsetenv("LAZYPATH_CACHE");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(NodeCache::DefaultDir(), "/xdg/lazypath");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(NodeCache::DefaultDir(), "/home/u/.cache/lazypath");
}

TEST_F(NodeCacheTest, MaterializeHardlinksAndKeepsModes) {
  Hash a = AddBlob("print('a')\n");
  Hash x = AddBlob("#!/bin/sh\necho x\n");
  std::vector<TreeEntry> entries = {
      {"pkg/a.py", EntryKind::kFile, {a, 11}, ""},
      {"pkg/also_a.py", EntryKind::kFile, {a, 11}, ""},
      {"bin/x", EntryKind::kExecutable, {x, 18}, ""},
      {"pkg/empty/__init__.py", EntryKind::kFile, {EmptyHash(), 0}, ""},
      {"pkg/link.py", EntryKind::kSymlink, HashBytes("a.py"), "a.py"},
  };
  Tree t(entries);
  ASSERT_TRUE(t.Validate().ok()) << t.Validate().ToString();
  Hash th = t.digest().hash;
  ASSERT_FALSE(cache_->HasTree(th));
  ASSERT_TRUE(cache_->Materialize(t, th).ok());
  ASSERT_TRUE(cache_->HasTree(th));
  std::string root = cache_->TreeDir(th);
  struct stat st_blob, st_a, st_x, st_e;
  ASSERT_EQ(::stat(cache_->BlobPath(a).c_str(), &st_blob), 0);
  ASSERT_EQ(::stat((root + "/pkg/a.py").c_str(), &st_a), 0);
  EXPECT_EQ(st_a.st_ino, st_blob.st_ino);  // a hardlink, not a copy
  EXPECT_EQ(st_a.st_mode & 0777, 0444u);
  ASSERT_EQ(::stat((root + "/bin/x").c_str(), &st_x), 0);
  EXPECT_EQ(st_x.st_mode & 0111, 0111u);
  ASSERT_EQ(::stat((root + "/pkg/empty/__init__.py").c_str(), &st_e), 0);
  EXPECT_EQ(st_e.st_size, 0);
  char buf[64];
  ssize_t n = ::readlink((root + "/pkg/link.py").c_str(), buf, sizeof buf);
  ASSERT_EQ(std::string(buf, static_cast<size_t>(n)), "a.py");
  EXPECT_EQ(*fs::ReadFile(root + "/pkg/link.py"), "print('a')\n");
  // The staging area is empty afterwards: nothing half-made lingers.
  EXPECT_EQ(::rmdir(cache_->TempDir().c_str()), 0);
}

TEST_F(NodeCacheTest, MetaRoundTrip) {
  Hash h = HashBytes("t").hash;
  EXPECT_EQ(cache_->GetMeta(h, ".tree").status().code(), Code::kNotFound);
  ASSERT_TRUE(cache_->PutMeta(h, ".tree", "bytes").ok());
  EXPECT_EQ(*cache_->GetMeta(h, ".tree"), "bytes");
}

}  // namespace
}  // namespace lazypath
