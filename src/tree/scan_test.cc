#include "lazypath/scan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utime.h>

#include <cstring>
#include <fstream>
#include <map>

#include "util/fd.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class ScanTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = *fs::Absolute(
        testing::TempDir() + "/scan_test_" +
        testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(fs::RemoveAll(root_).ok());
    ASSERT_TRUE(fs::MakeDirs(root_).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(root_); }
  void Write(const std::string& rel, const std::string& data, int mode = 0644) {
    std::string p = root_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
    ::chmod(p.c_str(), static_cast<mode_t>(mode));
  }
  std::vector<std::string> Paths(const ScanResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.tree.entries()) out.push_back(e.path);
    return out;
  }
  std::string root_;
};

TEST_F(ScanTest, DefaultExcludesAndOverride) {
  Write("app/main.py", "x");
  Write(".git/HEAD", "ref");
  Write("app/__pycache__/main.cpython-311.pyc", "pyc");
  Write(".venv/bin/python", "py");
  auto r = ScanDirectory(root_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Paths(*r), std::vector<std::string>{"app/main.py"});
  ScanOptions all;
  all.default_excludes = false;
  auto r2 = ScanDirectory(root_, all);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->tree.entries().size(), 4u);
  ScanOptions one;
  one.excludes = {"!.git"};
  auto r3 = ScanDirectory(root_, one);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(Paths(*r3), (std::vector<std::string>{".git/HEAD", "app/main.py"}));
}

TEST_F(ScanTest, GitignoreFilesAndExcludeFlagsWin) {
  Write(".gitignore", "*.log\nbuild/\n");
  Write("a.log", "l");
  Write("keep.log", "k");
  Write("build/out.o", "o");
  Write("src/.gitignore", "secret.py\n");
  Write("src/secret.py", "s");
  Write("src/ok.py", "o");
  Write("secret.py", "top-level: not matched by src/.gitignore");
  ScanOptions o;
  o.excludes = {"!keep.log", "src/ok.py"};
  auto r = ScanDirectory(root_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Paths(*r),
            (std::vector<std::string>{".gitignore", "keep.log", "secret.py",
                                      "src/.gitignore"}));
  ScanOptions no_gi;
  no_gi.gitignore = false;
  auto r2 = ScanDirectory(root_, no_gi);
  EXPECT_EQ(r2->tree.entries().size(), 8u);
}

TEST_F(ScanTest, ExecutableBitAndSymlinksInside) {
  Write("bin/tool", "#!/bin/sh\n", 0755);
  Write("lib/real.py", "R = 1\n");
  ASSERT_EQ(::symlink("../lib/real.py", (root_ + "/bin/alias.py").c_str()), 0);
  ASSERT_EQ(::symlink("lib", (root_ + "/libdir").c_str()), 0);
  auto r = ScanDirectory(root_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& e = r->tree.entries();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].path, "bin/alias.py");
  EXPECT_EQ(e[0].kind, EntryKind::kSymlink);
  EXPECT_EQ(e[0].target, "../lib/real.py");
  EXPECT_EQ(e[1].kind, EntryKind::kExecutable);
  EXPECT_EQ(e[3].path, "libdir");
  EXPECT_EQ(e[3].kind, EntryKind::kSymlink);
}

TEST_F(ScanTest, EscapingSymlinkIsRefusedByName) {
  Write("a.py", "a");
  ASSERT_EQ(::symlink("../../etc/passwd", (root_ + "/evil").c_str()), 0);
  auto r = ScanDirectory(root_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupported);
  EXPECT_NE(r.status().message().find(root_ + "/evil"), std::string::npos);
  EXPECT_NE(r.status().message().find("leaves the tree"), std::string::npos);
  ASSERT_EQ(::unlink((root_ + "/evil").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (root_ + "/abs").c_str()), 0);
  EXPECT_FALSE(ScanDirectory(root_, {}).ok());
  // Excluding it makes the tree shippable again.
  ScanOptions o;
  o.excludes = {"abs"};
  EXPECT_TRUE(ScanDirectory(root_, o).ok());
}

TEST_F(ScanTest, SocketsAndFifosAreRefusedByName) {
  Write("a.py", "a");
  std::string fifo = root_ + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = ScanDirectory(root_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(fifo), std::string::npos);
  EXPECT_NE(r.status().message().find("FIFO"), std::string::npos);
  ::unlink(fifo.c_str());
  std::string sock_path = root_ + "/sock";
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto r2 = ScanDirectory(root_, {});
  ::close(s);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("socket"), std::string::npos);
}

TEST_F(ScanTest, UnreadableFileIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  Write("secret", "s", 0000);
  auto r = ScanDirectory(root_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unreadable"), std::string::npos);
}

TEST_F(ScanTest, UnreadableDirectoryIsRefusedByName) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every directory";
  Write("locked/inner.py", "x");
  Write("open/ok.py", "y");
  ASSERT_EQ(::chmod((root_ + "/locked").c_str(), 0300), 0);  // no read
  auto r = ScanDirectory(root_, {});
  ::chmod((root_ + "/locked").c_str(), 0700);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unreadable directory"),
            std::string::npos);
  EXPECT_NE(r.status().message().find(root_ + "/locked"), std::string::npos);
}

TEST_F(ScanTest, MissingDirectoryIsNotFound) {
  auto r = ScanDirectory(root_ + "/nope", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(root_ + "/nope"), std::string::npos);
}

TEST_F(ScanTest, DigestIgnoresMtimeUmaskAndCreationOrder) {
  std::string a = root_ + "/a", b = root_ + "/b";
  ::umask(022);
  root_ = a;
  Write("p/x.py", "X");
  Write("p/y.py", "Y");
  Write("z.txt", "Z", 0600);
  root_ = b;
  ::umask(077);
  Write("z.txt", "Z", 0644);
  Write("p/y.py", "Y");
  Write("p/x.py", "X");
  ::umask(022);
  struct utimbuf old {
    1000, 1000
  };
  ::utime((b + "/p/x.py").c_str(), &old);
  root_ =
      testing::TempDir() + "/scan_test_DigestIgnoresMtimeUmaskAndCreationOrder";
  auto ra = ScanDirectory(a, {});
  auto rb = ScanDirectory(b, {});
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->tree.digest(), rb->tree.digest());
}

TEST_F(ScanTest, StatCacheSkipsUnchangedFilesAndCatchesEdits) {
  for (int i = 0; i < 50; ++i)
    Write("m/f" + std::to_string(i) + ".py", std::string(100 + i, 'a'));
  struct utimbuf old {
    1000000, 1000000
  };
  for (int i = 0; i < 50; ++i)
    ::utime((root_ + "/m/f" + std::to_string(i) + ".py").c_str(), &old);
  ScanOptions o;
  o.stat_cache_dir = root_ + ".statcache";
  auto first = ScanDirectory(root_, o);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->stats.files_hashed, 50u);
  auto second = ScanDirectory(root_, o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->stats.files_hashed, 0u);
  EXPECT_EQ(second->stats.bytes_hashed, 0u);
  EXPECT_EQ(first->tree.digest(), second->tree.digest());
  // Same size, new content: the mtime change is caught.
  Write("m/f7.py", std::string(107, 'b'));
  auto third = ScanDirectory(root_, o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->stats.files_hashed, 1u);
  EXPECT_NE(third->tree.digest(), first->tree.digest());
  (void)fs::RemoveAll(o.stat_cache_dir);
}

// A file the scan hashed gets a stamp unless it changed within a second of
// the scan; stat cache hits and symlinks get none; the stamp is the file's.
TEST_F(ScanTest, StampsOnlyFilesHashedHereAndSettled) {
  Write("old.py", "x = 1\n");
  Write("cached.py", "y = 2\n");
  ASSERT_EQ(::symlink("old.py", (root_ + "/link.py").c_str()), 0);
  ScanOptions o;
  o.stat_cache_dir = root_ + ".statcache";
  ::usleep(1'100'000);  // ctime can't be set back: let the files settle
  ASSERT_TRUE(ScanDirectory(root_, o).ok());  // caches old.py, cached.py
  Write("old.py", "x = 3\n");                 // hashed again below
  ::usleep(1'100'000);
  Write("new.py", "z = 3\n");  // written just now: racy
  auto r = ScanDirectory(root_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->stamps.size(), r->tree.entries().size());
  std::map<std::string, FileStamp> by_path;
  for (size_t i = 0; i < r->stamps.size(); ++i) {
    by_path[r->tree.entries()[i].path] = r->stamps[i];
  }
  EXPECT_TRUE(by_path.at("cached.py").empty());
  EXPECT_TRUE(by_path.at("link.py").empty());
  EXPECT_TRUE(by_path.at("new.py").empty());
  ASSERT_FALSE(by_path.at("old.py").empty());
  fs::Fd fd(::open((root_ + "/old.py").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(StampOf(fd.get()), by_path.at("old.py"));
  (void)fs::RemoveAll(o.stat_cache_dir);
}

TEST_F(ScanTest, UnchangedRescanLeavesTheStatCacheFileAlone) {
  Write("m/a.py", "a");
  Write("m/b.py", "b");
  struct utimbuf old {
    1000000, 1000000
  };
  ::utime((root_ + "/m/a.py").c_str(), &old);
  ::utime((root_ + "/m/b.py").c_str(), &old);
  ScanOptions o;
  o.stat_cache_dir = root_ + ".statcache";
  ASSERT_TRUE(ScanDirectory(root_, o).ok());
  auto names = fs::ListDir(o.stat_cache_dir);
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 1u);
  const std::string file = o.stat_cache_dir + "/" + names->front();
  struct stat before, after;
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  ASSERT_TRUE(ScanDirectory(root_, o).ok());
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not replaced by a rename
  // A removed file changes the cache, which is then rewritten.
  ASSERT_EQ(::unlink((root_ + "/m/b.py").c_str()), 0);
  auto third = ScanDirectory(root_, o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->tree.entries().size(), 1u);
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  (void)fs::RemoveAll(o.stat_cache_dir);
}

TEST_F(ScanTest, ATreeAtTheDepthLimitScans) {
  // The walk holds one directory open per level: 128 at the deepest.
  std::string rel;
  for (int i = 0; i < 127; ++i) {
    rel += (i ? "/" : "") + std::string("d") + std::to_string(i % 10);
    if (i % 20 == 0) Write(rel + "/f.py", std::to_string(i));
  }
  Write(rel + "/leaf.py", "leaf");
  ASSERT_EQ(::symlink("leaf.py", (root_ + "/" + rel + "/link.py").c_str()), 0);
  auto r = ScanDirectory(root_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tree.entries().size(), 7u + 2u);  // f.py at 0, 20, ..., 120
  const auto& last = r->tree.entries();
  bool saw_link = false;
  for (const auto& e : last) {
    if (e.path == rel + "/link.py") {
      saw_link = true;
      EXPECT_EQ(e.kind, EntryKind::kSymlink);
      EXPECT_EQ(e.target, "leaf.py");
    }
  }
  EXPECT_TRUE(saw_link);
  for (size_t i = 0; i < r->sources.size(); ++i) {
    EXPECT_EQ(r->sources[i], root_ + "/" + last[i].path);
  }
}

}  // namespace
}  // namespace lazypath
