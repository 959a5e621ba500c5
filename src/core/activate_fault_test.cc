// Fault injection into activation's writes: fetching blobs into the node
// cache (FetchBlobs' temp files, then AdoptBlobs), eager activation
// (Activate: metadata, fetch, Materialize) and lazy activation (LazyTree:
// each directory staged, then published by rename or RENAME_EXCHANGE). For
// every call n the operation makes, fail call n, then check that the error
// names the path, that readers see nothing half-written, that only tmp/ may
// hold debris, and that a retry with the default Env succeeds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cache/cache_invariants.h"
#include "core/fetch.h"
#include "core/tree_view.h"
#include "lazypath/activate.h"
#include "lazypath/lazy.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "lazypath/store.h"
#include "util/fault_env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

using Op = FaultInjectionEnv::Op;

// Stops a loop that never runs out of calls to fail.
constexpr uint64_t kMaxCalls = 10000;

// Every case runs on both store formats.
class ActivateFaultTest : public testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string name =
        std::string("activate_fault_") +
        testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    base_ = *fs::Absolute(testing::TempDir() + "/" + name);
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = "file://" + base_ + "/store";
    cache_ = base_ + "/cache";
    Write("app/__init__.py", "from . import m\n");
    Write("app/m.py", "M = 1\n");
    Write("app/same.py", "M = 1\n");  // the same blob twice
    Write("app/sub/__init__.py", "S = 1\n");
    Write("app/sub/deep.py", "D = 1\n");
    Write("app/data/table.csv", "a,b\n1,2\n");  // no code: comes with app/
    Write("app/empty.txt", "");
    Write("bin/tool", "#!/bin/sh\necho tool\n");
    ASSERT_EQ(::chmod((src_ + "/bin/tool").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("m.py", (src_ + "/app/alias.py").c_str()), 0);
    std::string big;  // several frames' worth, to stream through the decoder
    while (big.size() < (200u << 10)) big += std::to_string(big.size()) + ",";
    Write("app/data/big.txt", big);
    PushOptions po;
    po.cache_dir = base_ + "/push-cache";
    po.format = GetParam();
    auto p = Push(src_, store_, po);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    digest_ = p->tree.hash;
    auto store = OpenStore(store_);
    ASSERT_TRUE(store.ok());
    // No file here is chunked: each entry's digest is its content's.
    auto view = LoadTreeView(**store, digest_);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    tree_ = view->tree;
    index_.tree = digest_;
    if (GetParam() == 1) {
      auto index = FetchIndex(**store, digest_);
      ASSERT_TRUE(index.ok());
      index_ = *index;
    } else {
      for (const auto& [path, f] : view->files) {
        index_.blobs.emplace(f.entry.hash, f.location);
      }
    }
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
  }
  // The tree by its name (format 2: the root directory object's digest).
  std::vector<std::pair<Hash, Tree>> Named() const {
    return {{digest_, tree_}};
  }
  std::vector<Hash> Blobs() const {
    std::set<Hash> out;
    for (const TreeEntry& e : tree_.entries()) {
      if (e.kind != EntryKind::kSymlink && e.blob.size > 0) {
        out.insert(e.blob.hash);
      }
    }
    return {out.begin(), out.end()};
  }
  // What an operation that failed at the injected call must leave.
  void ExpectCleanFailure(const Status& s, const FaultInjectionEnv& env,
                          uint64_t n) {
    ASSERT_FALSE(s.ok()) << "call " << n << " ("
                         << FaultInjectionEnv::OpName(env.injected_op()) << " "
                         << env.injected_path() << ") failed unnoticed";
    EXPECT_NE(s.message().find(env.injected_path()), std::string::npos)
        << "call " << n << ": " << s.ToString();
    EXPECT_EQ(cache_invariants::NamedProblems(cache_, Named()),
              std::vector<std::string>())
        << "after call " << n << " (" << s.ToString() << ")";
    EXPECT_EQ(cache_invariants::TempEntries(cache_), std::vector<std::string>())
        << "after call " << n << " (" << s.ToString() << ")";
  }
  // Whether the injected call is one whose failure the operation may
  // survive: an empty file's fchmod (it was created with its mode), a read
  // of cached metadata (absent or unreadable, it comes from the store
  // again), or removing a lazy directory's old placeholder after the
  // exchange (what is left of it is in tmp/, for gc).
  bool BestEffort(const FaultInjectionEnv& env) const {
    std::string p = env.injected_path();
    // Format 2 also keeps hints in meta/, written best effort: a directory
    // object read (.ldir) and the all-done stamp (.lazyall); without them
    // a later process reads the store again or installs the import hook.
    // (Their rename's directory sync opens meta/ itself.)
    const bool hint = p.rfind(cache_ + "/meta/", 0) == 0 &&
                      (p.find(".ldir") != std::string::npos ||
                       p.find(".lazyall") != std::string::npos);
    // The boot's mark (cache/boot_trust.cc) is best effort too: without it
    // a later process computes its own.
    const bool mark =
        p == cache_ + "/locks/boot" || p.rfind(cache_ + "/meta/boot", 0) == 0;
    return env.injected_op() == Op::kChmod || mark ||
           (env.injected_op() == Op::kOpen &&
            p.rfind(cache_ + "/meta/", 0) == 0) ||
           hint || p == cache_ + "/meta" || p.rfind(cache_ + "/tmp/", 0) == 0;
  }
  std::string base_, src_, store_, cache_;
  Hash digest_;
  Tree tree_;
  Index index_;  // where each blob is (format 2: from the directories)
};

TEST_P(ActivateFaultTest, FetchBlobsFailingAtAnyCallAdoptsOnlyGoodBlobs) {
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  const Index* index = &index_;
  const std::vector<Hash> blobs = Blobs();
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  uint64_t n = 1;
  for (; n < kMaxCalls; ++n) {
    ASSERT_TRUE(fs::RemoveAll(cache_).ok());
    auto cache = NodeCache::Open(cache_, &env);
    ASSERT_TRUE(cache.ok());
    env.FailNth(n);
    FetchCounters counters;
    Status s = FetchBlobs(**store, *index, blobs, *cache, /*threads=*/1, {},
                          &counters);
    if (!env.injected()) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      break;
    }
    ExpectCleanFailure(s, env, n);
    auto plain = NodeCache::Open(cache_);
    FetchCounters again;
    Status retry = FetchBlobs(**store, *index, blobs, *plain, 1, {}, &again);
    ASSERT_TRUE(retry.ok())
        << "retry after call " << n << ": " << retry.ToString();
    for (const Hash& h : blobs) EXPECT_TRUE(plain->HasBlob(h));
    EXPECT_EQ(cache_invariants::Problems(cache_, {}),
              std::vector<std::string>());
  }
  // Each blob's temp file: create and at least one write; then adoption.
  EXPECT_GT(n, 2 * blobs.size());
  auto cache = NodeCache::Open(cache_);
  for (const Hash& h : blobs) EXPECT_TRUE(cache->HasBlob(h));
}

TEST_P(ActivateFaultTest, ActivateFailingAtAnyCallPublishesNothingHalfMade) {
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  uint64_t n = 1;
  int swallowed = 0;
  for (; n < kMaxCalls; ++n) {
    ASSERT_TRUE(fs::RemoveAll(cache_).ok());
    ActivateOptions o;
    o.cache_dir = cache_;
    o.threads = 1;
    o.env = &env;
    env.FailNth(n);
    auto r = Activate(store_, digest_.ToString(), o);
    if (!env.injected()) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      break;
    }
    if (r.ok()) {
      EXPECT_TRUE(BestEffort(env))
          << "call " << n << " ("
          << FaultInjectionEnv::OpName(env.injected_op()) << " "
          << env.injected_path() << ") failed unreported";
      ++swallowed;
      EXPECT_EQ(cache_invariants::NamedProblems(cache_, Named()),
                std::vector<std::string>());
    } else {
      ExpectCleanFailure(r.status(), env, n);
    }
    o.env = nullptr;
    auto retry = Activate(store_, digest_.ToString(), o);
    ASSERT_TRUE(retry.ok())
        << "retry after call " << n << ": " << retry.status().ToString();
    EXPECT_TRUE(fs::Exists(retry->path + "/app/sub/deep.py"));
    EXPECT_EQ(cache_invariants::NamedProblems(cache_, Named()),
              std::vector<std::string>());
    EXPECT_EQ(cache_invariants::TempEntries(cache_),
              std::vector<std::string>());
  }
  EXPECT_GT(n, 40u);
  EXPECT_GT(swallowed, 0);
}

TEST_P(ActivateFaultTest, LazyTreeFailingAtAnyCallPublishesNoHalfDirectory) {
  NoSyncEnv nosync;
  FaultInjectionEnv env(&nosync);
  uint64_t n = 1;
  int swallowed = 0;
  std::set<std::string> publishes;  // the publishing calls that were failed
  for (; n < kMaxCalls; ++n) {
    ASSERT_TRUE(fs::RemoveAll(cache_).ok());
    LazyOptions o;
    o.cache_dir = cache_;
    o.threads = 1;
    o.env = &env;
    env.FailNth(n);
    // The root at Open, then app/ (a package: one directory), then the
    // rest (app/sub, whose parent is already published: RENAME_EXCHANGE).
    Status s;
    {
      auto t = LazyTree::Open(store_, digest_.ToString(), o);
      s = t.status();
      if (s.ok()) s = (*t)->MaterializeDir("app").status();
      if (s.ok()) s = (*t)->MaterializePath("");
    }
    if (!env.injected()) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      break;
    }
    if (s.ok()) {
      EXPECT_TRUE(BestEffort(env))
          << "call " << n << " ("
          << FaultInjectionEnv::OpName(env.injected_op()) << " "
          << env.injected_path() << ") failed unreported";
      ++swallowed;
      EXPECT_EQ(cache_invariants::NamedProblems(cache_, Named()),
                std::vector<std::string>());
    } else {
      ExpectCleanFailure(s, env, n);
      if (env.injected_op() == Op::kRename) {
        publishes.insert(env.injected_path());
      }
    }
    o.env = nullptr;
    auto retry = LazyTree::Open(store_, digest_.ToString(), o);
    ASSERT_TRUE(retry.ok())
        << "retry after call " << n << ": " << retry.status().ToString();
    Status all = (*retry)->MaterializePath("");
    ASSERT_TRUE(all.ok()) << all.ToString();
    std::string root = (*retry)->root();
    EXPECT_EQ(*fs::ReadFile(root + "/app/sub/deep.py"), "D = 1\n");
    EXPECT_EQ(cache_invariants::NamedProblems(cache_, Named()),
              std::vector<std::string>());
  }
  EXPECT_GT(n, 40u);
  EXPECT_GT(swallowed, 0);
  // The root's publish (rename) and each package's (RENAME_EXCHANGE) were
  // among the calls failed.
  const std::string lazy = NodeCache::Open(cache_)->LazyDir(digest_);
  EXPECT_TRUE(publishes.count(lazy)) << lazy;
  EXPECT_TRUE(publishes.count(lazy + "/app"));
  EXPECT_TRUE(publishes.count(lazy + "/app/sub"));
}

}  // namespace
}  // namespace lazypath

namespace lazypath {
namespace {

INSTANTIATE_TEST_SUITE_P(Formats, ActivateFaultTest, testing::Values(1, 2),
                         [](const auto& info) {
                           return "Format" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace lazypath
