#include "util/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "util/parallel.h"

namespace lazypath {
namespace {

TEST(FsTest, AbsoluteNormalises) {
  EXPECT_EQ(*fs::Absolute("/a/./b//c/../d"), "/a/b/d");
  EXPECT_EQ(*fs::Absolute("/.."), "/");
  EXPECT_EQ(fs::Dirname("/a/b/"), "/a");
  EXPECT_EQ(fs::Dirname("a"), ".");
  EXPECT_EQ(fs::Join("a/", "b"), "a/b");
}

TEST(FsTest, WriteFileAtomicReplacesWholeFile) {
  std::string dir = testing::TempDir() + "/fs_test_atomic";
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
  ASSERT_TRUE(fs::MakeDirs(dir + "/x/y").ok());
  std::string p = dir + "/x/y/f";
  ASSERT_TRUE(fs::WriteFileAtomic(p, "one", 0600).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(p, "two!", 0644).ok());
  EXPECT_EQ(*fs::ReadFile(p), "two!");
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  // A size cap is enforced.
  EXPECT_EQ(fs::ReadFile(p, 2).status().code(), Code::kCorrupt);
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
  EXPECT_FALSE(fs::Exists(dir));
}

TEST(FsTest, ReadFileReadsWhatTheSizeDoesNotTell) {
  std::string dir = testing::TempDir() + "/fs_test_read";
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
  ASSERT_TRUE(fs::MakeDirs(dir).ok());
  // Empty, exactly at the cap, one past it, and larger than one read.
  const std::string big(3 * 65536 + 7, 'x');
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/empty", "", 0600).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/big", big, 0600).ok());
  EXPECT_EQ(*fs::ReadFile(dir + "/empty"), "");
  EXPECT_EQ(*fs::ReadFile(dir + "/big"), big);
  EXPECT_EQ(*fs::ReadFile(dir + "/big", big.size()), big);
  EXPECT_EQ(fs::ReadFile(dir + "/big", big.size() - 1).status().code(),
            Code::kCorrupt);
  // Files whose size stat(2) does not give: /proc.
  auto status = fs::ReadFile("/proc/self/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("Pid:"), std::string::npos);
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
}

TEST(FsTest, ReadRangeFailsWhenFileEndsEarly) {
  std::string p = testing::TempDir() + "/fs_test_range";
  ASSERT_TRUE(fs::WriteFileAtomic(p, "0123456789").ok());
  std::string got;
  auto sink = [&](std::string_view b) {
    got.append(b);
    return Status::OK();
  };
  ASSERT_TRUE(fs::ReadRange(p, 2, 5, sink).ok());
  EXPECT_EQ(got, "23456");
  Status s = fs::ReadRange(p, 8, 5, sink);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find(p), std::string::npos);
  EXPECT_EQ(fs::ReadRange(p + ".missing", 0, 1, sink).code(), Code::kNotFound);
}

TEST(ParallelTest, RunsEveryIndexAndReportsLowestFailure) {
  std::vector<int> hit(1000, 0);
  ASSERT_TRUE(ParallelFor(hit.size(), 4, [&](size_t i) {
                hit[i]++;
                return Status::OK();
              }).ok());
  for (int h : hit) EXPECT_EQ(h, 1);
  Status s = ParallelFor(10, 1, [&](size_t i) {
    return i >= 3 ? Status::IoError("fail " + std::to_string(i)) : Status::OK();
  });
  EXPECT_EQ(s.message(), "fail 3");
}

TEST(StatusTest, ErrnoNamesPathAndCause) {
  Status s = Status::FromErrno("open", "/no/such", ENOENT);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "/no/such: open: No such file or directory");
  EXPECT_EQ(s.WithContext("store x").message(),
            "store x: /no/such: open: No such file or directory");
}

TEST(StatusTest, FromErrnoKeepsTheErrnoThroughContext) {
  Status s = Status::FromErrno("rename a", "/x/b", ENOSPC);
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ(s.message(),
            "/x/b: rename a: " + std::string(std::strerror(ENOSPC)));
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(s.WithContext("fetch").sys_errno(), ENOSPC);
  EXPECT_EQ(Status::FromErrno("open", "/y", ENOENT).code(), Code::kNotFound);
  EXPECT_EQ(Status::IoError("no errno").sys_errno(), 0);
}

}  // namespace
}  // namespace lazypath
