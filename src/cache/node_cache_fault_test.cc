// Fault injection into the node cache's writes (LevelDB's
// fault_injection_test, in spirit): for every call n that adopting blobs or
// materialising a tree makes, fail call n, then check that the error names
// the path, that readers see nothing half-written, that only tmp/ may hold
// debris, and that a retry with the default Env succeeds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cache/cache_invariants.h"
#include "lazypath/node_cache.h"
#include "util/fault_env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

using Op = FaultInjectionEnv::Op;

// Stops a loop that never runs out of calls to fail.
constexpr uint64_t kMaxCalls = 10000;

class NodeCacheFaultTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/node_cache_fault_" +
           testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
           std::to_string(::getpid());
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  // An empty cache at dir_ (made with the default Env).
  NodeCache Fresh() {
    EXPECT_TRUE(fs::RemoveAll(dir_).ok());
    auto c = NodeCache::Open(dir_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  // Verified temp files in tmp/ holding `contents`, ready for AdoptBlobs.
  std::vector<std::pair<std::string, Hash>> Temps(
      const NodeCache& cache, const std::vector<std::string>& contents) {
    std::vector<std::pair<std::string, Hash>> out;
    for (const auto& c : contents) {
      std::string tmp = fs::TempName(cache.TempDir() + "/b");
      EXPECT_TRUE(fs::WriteFileAtomic(tmp, c).ok());
      out.emplace_back(tmp, HashBytes(c).hash);
    }
    return out;
  }
  // Checks what an operation that failed at the injected call left.
  void ExpectCleanFailure(const Status& s, const FaultInjectionEnv& env,
                          const std::vector<Tree>& trees, uint64_t n) {
    ASSERT_FALSE(s.ok()) << "call " << n << " failed unnoticed";
    EXPECT_NE(s.message().find(env.injected_path()), std::string::npos)
        << "call " << n << ": " << s.ToString();
    EXPECT_EQ(cache_invariants::Problems(dir_, trees),
              std::vector<std::string>())
        << "after call " << n << " (" << s.ToString() << ")";
    EXPECT_EQ(cache_invariants::TempEntries(dir_), std::vector<std::string>())
        << "after call " << n << " (" << s.ToString() << ")";
  }
  std::string dir_;
};

TEST_F(NodeCacheFaultTest, AdoptBlobsFailingAtAnyCallPublishesNoBadBlob) {
  const std::vector<std::string> contents = {"one\n", "two\n", "three\n"};
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  uint64_t n = 1;
  for (; n < kMaxCalls; ++n) {
    NodeCache plain = Fresh();
    auto temps = Temps(plain, contents);
    auto cache = NodeCache::Open(dir_, &env);
    ASSERT_TRUE(cache.ok());
    env.FailNth(n);
    Status s = cache->AdoptBlobs(temps);
    if (!env.injected()) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      break;
    }
    ExpectCleanFailure(s, env, {}, n);
    // Retried with the default Env, the same blobs go in.
    ASSERT_TRUE(plain.AdoptBlobs(Temps(plain, contents)).ok());
    for (const auto& c : contents) {
      EXPECT_EQ(*fs::ReadFile(plain.BlobPath(HashBytes(c).hash)), c);
    }
    EXPECT_EQ(cache_invariants::Problems(dir_, {}), std::vector<std::string>());
  }
  // At least: syncfs (open, syncfs), then for each blob chmod and rename
  // (and a mkdir for each new shard).
  EXPECT_GT(n, 2 + 3 * 2u);
}

class MaterializeFaultTest : public NodeCacheFaultTest {
 protected:
  void SetUp() override {
    NodeCacheFaultTest::SetUp();
    tree_ = Tree({
        {"pkg/__init__.py", EntryKind::kFile, HashBytes(kInit), ""},
        {"pkg/sub/m.py", EntryKind::kFile, HashBytes(kModule), ""},
        {"pkg/also_m.py", EntryKind::kFile, HashBytes(kModule), ""},
        {"bin/tool", EntryKind::kExecutable, HashBytes(kTool), ""},
        {"pkg/empty.txt", EntryKind::kFile, HashBytes(""), ""},
        {"pkg/link.py", EntryKind::kSymlink, HashBytes("sub/m.py"), "sub/m.py"},
    });
    ASSERT_TRUE(tree_.Validate().ok()) << tree_.Validate().ToString();
    digest_ = tree_.digest().hash;
  }
  // A cache holding the tree's blobs (with the default Env).
  NodeCache WithBlobs() {
    NodeCache c = Fresh();
    EXPECT_TRUE(c.AdoptBlobs(Temps(c, {kInit, kModule, kTool})).ok());
    return c;
  }
  static constexpr const char* kInit = "from .sub import m\n";
  static constexpr const char* kModule = "X = 1\n";
  static constexpr const char* kTool = "#!/bin/sh\necho tool\n";
  Tree tree_;
  Hash digest_;
};

TEST_F(MaterializeFaultTest, FailingAtAnyCallPublishesNothingHalfMade) {
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  uint64_t n = 1, swallowed = 0;
  for (; n < kMaxCalls; ++n) {
    NodeCache plain = WithBlobs();
    auto cache = NodeCache::Open(dir_, &env);
    ASSERT_TRUE(cache.ok());
    env.FailNth(n);
    Status s = cache->Materialize(tree_, digest_);
    if (!env.injected()) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      break;
    }
    if (s.ok()) {
      // Only a best-effort call may fail unreported (the empty file's
      // fchmod: it was created with its mode already).
      EXPECT_EQ(env.injected_op(), Op::kChmod) << "call " << n;
      ++swallowed;
    } else {
      ExpectCleanFailure(s, env, {tree_}, n);
    }
    // The tree is published only whole: either absent or complete (the
    // directory fsync after the rename can fail with the tree in place).
    EXPECT_EQ(cache_invariants::Problems(dir_, {tree_}),
              std::vector<std::string>());
    Status retry = plain.Materialize(tree_, digest_);
    ASSERT_TRUE(retry.ok())
        << "retry after call " << n << ": " << retry.ToString();
    EXPECT_TRUE(plain.HasTree(digest_));
    EXPECT_EQ(cache_invariants::Problems(dir_, {tree_}),
              std::vector<std::string>());
    EXPECT_EQ(cache_invariants::TempEntries(dir_), std::vector<std::string>());
  }
  EXPECT_GT(n, 20u);  // every call of a real materialisation was failed
  EXPECT_EQ(swallowed, 1u);
  EXPECT_TRUE(NodeCache::Open(dir_)->HasTree(digest_));
}

TEST_F(MaterializeFaultTest, ALinkThatCannotBeMadeFallsBackToACopy) {
  for (int err : {EXDEV, EMLINK, EPERM}) {
    NodeCache plain = WithBlobs();
    NoSyncEnv nosync;
    FaultInjectionEnv env(&nosync);
    auto cache = NodeCache::Open(dir_, &env);
    ASSERT_TRUE(cache.ok());
    env.FailNth(1, err, Op::kLink);
    ASSERT_TRUE(cache->Materialize(tree_, digest_).ok());
    ASSERT_TRUE(env.injected());
    EXPECT_EQ(cache_invariants::Problems(dir_, {tree_}),
              std::vector<std::string>());
    // Every file is a hardlink to its blob but the one whose link failed,
    // which is a copy.
    int linked = 0, files = 0;
    for (const TreeEntry& e : tree_.entries()) {
      if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
      std::string blob = plain.BlobPath(e.blob.hash);
      if (e.kind == EntryKind::kExecutable) blob += ".x";
      struct stat b, f;
      ASSERT_EQ(::stat(blob.c_str(), &b), 0);
      ASSERT_EQ(::stat((plain.TreeDir(digest_) + "/" + e.path).c_str(), &f), 0);
      ++files;
      linked += b.st_ino == f.st_ino;
    }
    EXPECT_EQ(linked, files - 1) << strerror(err);
  }
}

TEST_F(MaterializeFaultTest, AnyOtherLinkErrorFailsAndNamesTheEntry) {
  NodeCache plain = WithBlobs();
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  auto cache = NodeCache::Open(dir_, &env);
  ASSERT_TRUE(cache.ok());
  env.FailNth(1, ENOSPC, Op::kLink);
  Status s = cache->Materialize(tree_, digest_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(env.injected_path()), std::string::npos);
  EXPECT_NE(s.message().find(digest_.ToString()), std::string::npos);
  EXPECT_NE(s.message().find(strerror(ENOSPC)), std::string::npos);
  EXPECT_FALSE(plain.HasTree(digest_));
  EXPECT_EQ(cache_invariants::TempEntries(dir_), std::vector<std::string>());
}

}  // namespace
}  // namespace lazypath
