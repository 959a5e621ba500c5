#include "util/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "util/fault_env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class EnvTest : public testing::Test {
 protected:
  void SetUp() override {
    // One directory per test and process: ctest runs tests in parallel.
    dir_ = testing::TempDir() + "/env_" +
           testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
           std::to_string(::getpid());
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
    ASSERT_TRUE(fs::MakeDirs(dir_).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  static bool Names(const Status& s, const std::string& path, int err) {
    return !s.ok() && s.sys_errno() == err &&
           s.message().find(path) != std::string::npos &&
           s.message().find(std::strerror(err)) != std::string::npos;
  }
  std::string dir_;
};

TEST_F(EnvTest, DefaultIsOneObjectForEveryThread) {
  Env* first = Env::Default();
  std::vector<Env*> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = Env::Default(); });
  }
  for (auto& t : threads) t.join();
  for (Env* e : seen) EXPECT_EQ(e, first);
}

TEST_F(EnvTest, DefaultMakesEachCallAndNamesThePathOnFailure) {
  Env* env = Env::Default();
  // open / write / fchmod / fsync / syncfs on a new file.
  auto fd = env->Open(P("f"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ASSERT_TRUE(env->Write(fd->get(), "hello", P("f")).ok());
  ASSERT_TRUE(env->Fchmod(fd->get(), 0640, P("f")).ok());
  ASSERT_TRUE(env->Fsync(fd->get(), P("f")).ok());
  ASSERT_TRUE(env->SyncFs(fd->get(), P("f")).ok());
  *fd = fs::Fd();
  EXPECT_EQ(*fs::ReadFile(P("f")), "hello");
  struct stat st;
  ASSERT_EQ(::stat(P("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto again = env->Open(P("f"), O_WRONLY | O_CREAT | O_EXCL, 0600);
  EXPECT_TRUE(Names(again.status(), P("f"), EEXIST));
  EXPECT_NE(again.status().message().find("create"), std::string::npos);
  auto missing = env->Open(P("nope"), O_RDONLY);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_TRUE(Names(missing.status(), P("nope"), ENOENT));
  EXPECT_TRUE(Names(env->Write(-1, "x", P("f")), P("f"), EBADF));

  // chmod, link, symlink, rename, unlink.
  ASSERT_TRUE(env->Chmod(P("f"), 0600).ok());
  EXPECT_TRUE(Names(env->Chmod(P("nope"), 0600), P("nope"), ENOENT));
  ASSERT_TRUE(env->LinkAt(AT_FDCWD, P("f"), AT_FDCWD, P("g"), 0, P("g")).ok());
  Status link = env->LinkAt(AT_FDCWD, P("f"), AT_FDCWD, P("g"), 0, P("g"));
  EXPECT_TRUE(Names(link, P("g"), EEXIST));
  EXPECT_NE(link.message().find("link " + P("f")), std::string::npos);
  ASSERT_TRUE(env->SymlinkAt("f", AT_FDCWD, P("s"), P("s")).ok());
  EXPECT_TRUE(
      Names(env->SymlinkAt("f", AT_FDCWD, P("s"), P("s")), P("s"), EEXIST));
  ASSERT_TRUE(env->Rename(P("g"), P("h")).ok());
  Status rename = env->Rename(P("g"), P("h"));
  EXPECT_TRUE(Names(rename, P("h"), ENOENT));
  EXPECT_NE(rename.message().find("rename " + P("g")), std::string::npos);
  ASSERT_TRUE(env->Unlink(P("h")).ok());
  EXPECT_TRUE(Names(env->Unlink(P("h")), P("h"), ENOENT));

  // mkdir, rmdir, and renameat2's flags.
  ASSERT_TRUE(env->Mkdir(P("d"), 0755).ok());
  EXPECT_TRUE(Names(env->Mkdir(P("d"), 0755), P("d"), EEXIST));
  ASSERT_TRUE(env->Mkdir(P("e"), 0700).ok());
  ASSERT_TRUE(env->Mkdir(P("d/inner"), 0700).ok());
  EXPECT_TRUE(Names(env->Rmdir(P("d")), P("d"), ENOTEMPTY));
  EXPECT_TRUE(Names(env->RenameAt(AT_FDCWD, P("d"), AT_FDCWD, P("e"),
                                  RENAME_NOREPLACE, P("e")),
                    P("e"), EEXIST));
  ASSERT_TRUE(
      env->RenameAt(AT_FDCWD, P("d"), AT_FDCWD, P("e"), RENAME_EXCHANGE, P("e"))
          .ok());
  EXPECT_TRUE(fs::Exists(P("e/inner")));  // swapped
  EXPECT_FALSE(fs::Exists(P("d/inner")));
  ASSERT_TRUE(env->Rmdir(P("d")).ok());

  // *At calls resolve names against the descriptor, and show `shown`.
  auto dir = env->Open(P("e"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(env->MkdirAt(dir->get(), "sub", 0755, "shown/sub").ok());
  EXPECT_TRUE(fs::Exists(P("e/sub")));
  EXPECT_TRUE(Names(env->MkdirAt(dir->get(), "sub", 0755, "shown/sub"),
                    "shown/sub", EEXIST));
  auto in = env->OpenAt(dir->get(), "sub", O_RDONLY | O_DIRECTORY, 0, "x");
  ASSERT_TRUE(in.ok());
  auto none =
      env->OpenAt(dir->get(), "none", O_RDONLY | O_DIRECTORY, 0, "shown/none");
  EXPECT_TRUE(Names(none.status(), "shown/none", ENOENT));
  EXPECT_NE(none.status().message().find("open directory"), std::string::npos);
  ASSERT_TRUE(env->UnlinkAt(dir->get(), "sub", AT_REMOVEDIR, "shown/sub").ok());
  EXPECT_TRUE(Names(env->UnlinkAt(dir->get(), "sub", 0, "shown/sub"),
                    "shown/sub", ENOENT));

  auto vfs = env->StatVfs(dir_);
  ASSERT_TRUE(vfs.ok());
  EXPECT_GT(vfs->f_bsize, 0u);
  EXPECT_TRUE(Names(env->StatVfs(P("nope")).status(), P("nope"), ENOENT));
}

// Records the name of every call that reaches it, and fails none.
class RecordingEnv : public Env {
 public:
  std::vector<std::string> calls;
  Result<fs::Fd> OpenAt(int, const std::string& name, int, mode_t,
                        const std::string&) override {
    calls.push_back("open " + name);
    return fs::Fd();
  }
  Status RenameAt(int, const std::string& from, int, const std::string& to,
                  unsigned flags, const std::string&) override {
    calls.push_back("rename " + from + " " + to + " " + std::to_string(flags));
    return Status::OK();
  }
  Status LinkAt(int, const std::string& from, int, const std::string& to, int,
                const std::string&) override {
    calls.push_back("link " + from + " " + to);
    return Status::OK();
  }
  Status SymlinkAt(const std::string& target, int, const std::string& name,
                   const std::string&) override {
    calls.push_back("symlink " + target + " " + name);
    return Status::OK();
  }
  Status MkdirAt(int, const std::string& name, mode_t mode,
                 const std::string&) override {
    calls.push_back("mkdir " + name + " " + std::to_string(mode));
    return Status::OK();
  }
  Status UnlinkAt(int, const std::string& name, int flags,
                  const std::string&) override {
    calls.push_back("unlink " + name + " " + std::to_string(flags));
    return Status::OK();
  }
  Status Chmod(const std::string& path, mode_t) override {
    calls.push_back("chmod " + path);
    return Status::OK();
  }
  Status Fchmod(int fd, mode_t, const std::string&) override {
    calls.push_back("fchmod " + std::to_string(fd));
    return Status::OK();
  }
  Status Write(int, std::string_view data, const std::string&) override {
    calls.push_back("write " + std::string(data));
    return Status::OK();
  }
  Status Fsync(int fd, const std::string&) override {
    calls.push_back("fsync " + std::to_string(fd));
    return Status::OK();
  }
  Status SyncFs(int fd, const std::string&) override {
    calls.push_back("syncfs " + std::to_string(fd));
    return Status::OK();
  }
  Result<struct statvfs> StatVfs(const std::string& path) override {
    calls.push_back("statvfs " + path);
    struct statvfs none {};
    return none;
  }
};

TEST(EnvWrapperTest, ForwardsEveryCall) {
  RecordingEnv target;
  EnvWrapper env(&target);
  EXPECT_EQ(env.target(), &target);
  (void)env.Open("a", O_RDONLY);
  (void)env.Rename("a", "b");
  (void)env.RenameAt(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE, "b");
  (void)env.LinkAt(AT_FDCWD, "a", AT_FDCWD, "c", 0, "c");
  (void)env.SymlinkAt("t", AT_FDCWD, "l", "l");
  (void)env.Mkdir("d", 0700);
  (void)env.Unlink("u");
  (void)env.Rmdir("r");
  (void)env.Chmod("m", 0644);
  (void)env.Fchmod(7, 0644, "m");
  (void)env.Write(7, "bytes", "w");
  (void)env.Fsync(7, "w");
  (void)env.SyncFs(7, "w");
  (void)env.StatVfs("v");
  std::vector<std::string> want = {
      "open a",
      "rename a b 0",
      "rename a b " + std::to_string(RENAME_EXCHANGE),
      "link a c",
      "symlink t l",
      "mkdir d " + std::to_string(0700),
      "unlink u 0",
      "unlink r " + std::to_string(AT_REMOVEDIR),
      "chmod m",
      "fchmod 7",
      "write bytes",
      "fsync 7",
      "syncfs 7",
      "statvfs v",
  };
  EXPECT_EQ(target.calls, want);
}

TEST_F(EnvTest, FaultInjectionFailsOnlyTheNthCall) {
  FaultInjectionEnv env;
  env.FailNth(2, ENOSPC);
  EXPECT_TRUE(env.Mkdir(P("a"), 0755).ok());
  Status second = env.Mkdir(P("b"), 0755);
  EXPECT_TRUE(Names(second, P("b"), ENOSPC));
  EXPECT_NE(second.message().find("(injected)"), std::string::npos);
  EXPECT_FALSE(fs::Exists(P("b")));  // not passed on
  EXPECT_TRUE(env.Mkdir(P("c"), 0755).ok());
  EXPECT_TRUE(env.injected());
  EXPECT_EQ(env.injected_path(), P("b"));
  EXPECT_EQ(env.injected_op(), FaultInjectionEnv::Op::kMkdir);
  EXPECT_EQ(env.calls(), 3u);
  env.Disarm();
  EXPECT_FALSE(env.injected());
  EXPECT_TRUE(env.Mkdir(P("d"), 0755).ok());
  EXPECT_EQ(env.calls(), 1u);
}

TEST_F(EnvTest, FaultInjectionCanPickOneKindOfCall) {
  FaultInjectionEnv env;
  env.FailNth(2, EXDEV, FaultInjectionEnv::Op::kRename);
  ASSERT_TRUE(env.Mkdir(P("a"), 0755).ok());  // not a rename: not counted
  ASSERT_TRUE(env.Rename(P("a"), P("b")).ok());
  ASSERT_TRUE(env.Mkdir(P("c"), 0755).ok());
  EXPECT_TRUE(Names(env.Rename(P("b"), P("d")), P("d"), EXDEV));
  EXPECT_TRUE(fs::Exists(P("b")));
  EXPECT_EQ(env.calls(), 2u);
  EXPECT_TRUE(env.Rename(P("b"), P("d")).ok());
}

// The loop every fault test runs, here over WriteFileAtomic: fail each of
// its calls in turn, then check it leaves the old content or the new and no
// temp file.
TEST_F(EnvTest, FailingEachCallOfWriteFileAtomicLeavesNoHalfFile) {
  FaultInjectionEnv env;
  std::set<std::string> failed_calls;
  uint64_t n = 1;
  for (;; ++n) {
    ASSERT_TRUE(fs::WriteFileAtomic(P("f"), "old").ok());
    env.FailNth(n);
    Status s = fs::WriteFileAtomic(P("f"), "new content", 0644, &env);
    if (!env.injected()) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      break;
    }
    failed_calls.insert(FaultInjectionEnv::OpName(env.injected_op()));
    ASSERT_FALSE(s.ok()) << "call " << n << " failed unnoticed";
    EXPECT_NE(s.message().find(env.injected_path()), std::string::npos)
        << s.ToString();
    // The old content or the new (when only the directory's fsync failed,
    // after the rename), never a mix.
    std::string content = *fs::ReadFile(P("f"));
    EXPECT_TRUE(content == "old" || content == "new content")
        << "after call " << n << ": " << content;
    EXPECT_EQ(*fs::ListDir(dir_), std::vector<std::string>{"f"});
  }
  EXPECT_EQ(*fs::ReadFile(P("f")), "new content");
  // create, write, chmod, fsync, rename, open and fsync of the directory.
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(failed_calls, (std::set<std::string>{"open", "write", "chmod",
                                                 "fsync", "rename"}));
}

}  // namespace
}  // namespace lazypath
