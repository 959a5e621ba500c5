#include "util/dir_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace lazypath {
namespace {

class DirWriterTest : public testing::Test {
 protected:
  void SetUp() override {
    // One directory per test and process: ctest runs tests in parallel.
    base_ = testing::TempDir() + "/dir_writer_" +
            testing::UnitTest::GetInstance()->current_test_info()->name() +
            "_" + std::to_string(::getpid());
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/root").ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/outside").ok());
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  std::string base_;
};

TEST_F(DirWriterTest, MakesDirectoriesWithExactModes) {
  auto w = fs::DirWriter::Open(base_ + "/root");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ::umask(022);
  ASSERT_TRUE(w->MakeDir("a", 0777).ok());
  ASSERT_TRUE(w->MakeDir("a/b", 0700).ok());
  ASSERT_TRUE(w->MakeDir("c", 0755).ok());
  struct stat st;
  ASSERT_EQ(::stat((base_ + "/root/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777u);  // umask does not apply
  ASSERT_EQ(::stat((base_ + "/root/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  // Going back up and down again reuses or reopens descriptors correctly.
  auto ab = w->Dir("a/b");
  ASSERT_TRUE(ab.ok());
  ASSERT_EQ(::mkdirat(*ab, "d", 0755), 0);
  EXPECT_TRUE(fs::Exists(base_ + "/root/a/b/d"));
  EXPECT_FALSE(w->MakeDir("a", 0755).ok());  // exists already
}

// Nothing is ever written through a symlink, wherever it sits on the path.
TEST_F(DirWriterTest, NeverFollowsASymlink) {
  ASSERT_EQ(
      ::symlink((base_ + "/outside").c_str(), (base_ + "/root/link").c_str()),
      0);
  auto w = fs::DirWriter::Open(base_ + "/root");
  ASSERT_TRUE(w.ok());
  auto d = w->Dir("link");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().ToString().find(base_ + "/root/link"), std::string::npos)
      << d.status().ToString();
  EXPECT_FALSE(w->MakeDir("link/evil", 0755).ok());
  EXPECT_FALSE(w->MakeDir("link", 0755).ok());
  EXPECT_FALSE(fs::Exists(base_ + "/outside/evil"));
  // The root itself may not be a symlink either.
  ASSERT_EQ(::symlink("root", (base_ + "/rootlink").c_str()), 0);
  EXPECT_FALSE(fs::DirWriter::Open(base_ + "/rootlink").ok());
}

TEST_F(DirWriterTest, CopyFileAtRefusesToWriteThroughASymlink) {
  std::string src = base_ + "/src";
  ASSERT_TRUE(fs::WriteFileAtomic(src, "data").ok());
  ASSERT_EQ(::symlink((base_ + "/outside/target").c_str(),
                      (base_ + "/root/f").c_str()),
            0);
  auto w = fs::DirWriter::Open(base_ + "/root");
  ASSERT_TRUE(w.ok());
  auto root = w->Dir("");
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE(fs::CopyFileAt(src, *root, "f", 0444, base_ + "/root/f").ok());
  EXPECT_FALSE(fs::Exists(base_ + "/outside/target"));
  EXPECT_TRUE(fs::CopyFileAt(src, *root, "g", 0444, base_ + "/root/g").ok());
  EXPECT_EQ(*fs::ReadFile(base_ + "/root/g"), "data");
}

}  // namespace
}  // namespace lazypath
