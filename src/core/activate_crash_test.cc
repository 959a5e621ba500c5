// Power loss and the node cache (doc/reliability.md, "Power loss"):
// activations publish without syncing when the boot is known, so a power
// cut may leave cached files named but holding zeros. CrashEnv models that
// (util/crash_env.h); after it, activating again must hand out only correct
// trees, re-hashing what the earlier boot wrote and fetching what it lost.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "cache/cache_invariants.h"
#include "core/tree_view.h"
#include "lazypath/activate.h"
#include "lazypath/lazy.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "lazypath/store.h"
#include "util/crash_env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

// Every case runs on both store formats.
class ActivateCrashTest : public testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string name =
        std::string("activate_crash_") +
        testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    base_ = *fs::Absolute(testing::TempDir() + "/" + name);
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = "file://" + base_ + "/store";
    cache_ = base_ + "/cache";
    Write("app/__init__.py", "from . import m\n");
    Write("app/m.py", "M = 1\n");
    Write("app/sub/__init__.py", "S = 1\n");
    Write("app/sub/deep.py", "D = 1\n");
    Write("app/empty.txt", "");
    Write("bin/tool", "#!/bin/sh\necho tool\n");
    ASSERT_EQ(::chmod((src_ + "/bin/tool").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("m.py", (src_ + "/app/alias.py").c_str()), 0);
    std::string big;
    while (big.size() < (200u << 10)) big += std::to_string(big.size()) + ",";
    Write("app/data/big.txt", big);
    first_ = PushNamed();
    // The second tree shares every blob but one with the first.
    Write("app/m.py", "M = 2\n");
    second_ = PushNamed();
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  std::pair<Hash, Tree> PushNamed() {
    PushOptions po;
    po.cache_dir = base_ + "/push-cache";
    po.format = GetParam();
    auto p = Push(src_, store_, po);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    auto store = OpenStore(store_);
    EXPECT_TRUE(store.ok());
    auto view = LoadTreeView(**store, p->tree.hash);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return {p->tree.hash, view->tree};
  }
  Result<ActivateResult> Eager(const Hash& tree) {
    ActivateOptions o;
    o.cache_dir = cache_;
    o.threads = 1;
    o.env = &env_;
    return Activate(store_, tree.ToString(), o);
  }
  std::vector<std::string> Problems(
      const std::vector<std::pair<Hash, Tree>>& trees) const {
    return cache_invariants::NamedProblems(cache_, trees);
  }
  std::string base_, src_, store_, cache_;
  std::pair<Hash, Tree> first_, second_;
  CrashEnv env_;
};

TEST_P(ActivateCrashTest, EagerActivationSyncsNothingButItsStamp) {
  auto r = Eager(first_.first);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(env_.syncfs_calls(), 0u);
  // The blobs' data is not durable: a power cut now would lose it.
  EXPECT_GT(env_.UnsyncedUnder(cache_ + "/blobs"), 0u);
  // The stamp is (its fsync waits for no other file's data).
  EXPECT_EQ(env_.UnsyncedUnder(cache_ + "/meta"), 0u);
  EXPECT_TRUE(fs::Exists(cache_ + "/meta/" + first_.first.hex() + ".boot"));
}

TEST_P(ActivateCrashTest, WithoutABootIdEveryPublishIsSynced) {
  env_.set_boot_known(false);
  auto r = Eager(first_.first);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(env_.syncfs_calls(), 0u);
  EXPECT_EQ(env_.UnsyncedUnder(cache_), 0u);
  EXPECT_FALSE(fs::Exists(cache_ + "/meta/" + first_.first.hex() + ".boot"));
}

TEST_P(ActivateCrashTest, SameBootReusesTreesAndBlobsWithoutRehashing) {
  ASSERT_TRUE(Eager(first_.first).ok());
  auto again = Eager(first_.first);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->blobs_rechecked, 0u);
  auto second = Eager(second_.first);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->cached);
  EXPECT_EQ(second->blobs_fetched, 1u);  // the one changed file
  EXPECT_EQ(second->blobs_rechecked, 0u);
}

TEST_P(ActivateCrashTest, PowerCutThenActivationRebuildsTheTornTree) {
  for (auto how : {CrashEnv::Damage::kZeros, CrashEnv::Damage::kEmpty}) {
    SCOPED_TRACE(how == CrashEnv::Damage::kZeros ? "zeros" : "empty");
    ASSERT_TRUE(fs::RemoveAll(cache_).ok());
    ASSERT_TRUE(Eager(first_.first).ok());
    ASSERT_GT(env_.PowerCut(cache_, how), 0u);
    // What the cache holds now is wrong, under the right names.
    ASSERT_NE(Problems({first_}), std::vector<std::string>());
    auto r = Eager(first_.first);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->cached);
    EXPECT_GT(r->blobs_damaged, 0u);
    EXPECT_GT(r->blobs_fetched, 0u);
    EXPECT_EQ(Problems({first_}), std::vector<std::string>());
    EXPECT_EQ(*fs::ReadFile(r->path + "/app/data/big.txt"),
              *fs::ReadFile(src_ + "/app/data/big.txt"));
    EXPECT_EQ(cache_invariants::TempEntries(cache_),
              std::vector<std::string>());
  }
}

TEST_P(ActivateCrashTest, PowerCutThenAnotherTreeFetchesTheLostSharedBlobs) {
  ASSERT_TRUE(Eager(first_.first).ok());
  ASSERT_GT(env_.PowerCut(cache_), 0u);
  auto r = Eager(second_.first);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->blobs_damaged, 0u);
  // Every file of the second tree is right (the first one, still torn,
  // is checked when it is next activated).
  std::vector<std::string> bad;
  cache_invariants::internal::CheckTree(r->path, second_.second, false, &bad);
  EXPECT_EQ(bad, std::vector<std::string>());
  auto first = Eager(first_.first);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Problems({first_, second_}), std::vector<std::string>());
}

TEST_P(ActivateCrashTest, CleanRebootChecksTheTreeOnceAndKeepsIt) {
  auto built = Eager(first_.first);
  ASSERT_TRUE(built.ok());
  env_.Reboot();
  auto r = Eager(first_.first);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cached);  // checked in place, not built again
  EXPECT_GT(r->blobs_rechecked, 0u);
  EXPECT_EQ(r->blobs_damaged, 0u);
  EXPECT_EQ(r->blobs_fetched, 0u);
  // Checked once per boot: the next activation trusts the stamp, and a
  // tree sharing the blobs trusts their marks, all but one: bin/tool's
  // plain blob, which the tree links only through its executable copy.
  auto again = Eager(first_.first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->blobs_rechecked, 0u);
  auto second = Eager(second_.first);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->blobs_rechecked, 1u);
  EXPECT_EQ(second->blobs_damaged, 0u);
  EXPECT_EQ(Problems({first_, second_}), std::vector<std::string>());
}

TEST_P(ActivateCrashTest, PowerCutThenLazyActivationStartsAfresh) {
  LazyOptions o;
  o.cache_dir = cache_;
  o.threads = 1;
  o.env = &env_;
  {
    auto t = LazyTree::Open(store_, first_.first.ToString(), o);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE((*t)->MaterializePath("app/sub").ok());
  }
  EXPECT_EQ(env_.syncfs_calls(), 0u);
  ASSERT_GT(env_.PowerCut(cache_), 0u);
  ASSERT_NE(Problems({first_}), std::vector<std::string>());
  auto t = LazyTree::Open(store_, first_.first.ToString(), o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE((*t)->MaterializePath("").ok());
  EXPECT_GT((*t)->Snapshot().blobs_damaged, 0u);
  EXPECT_EQ(*fs::ReadFile((*t)->root() + "/app/sub/deep.py"), "D = 1\n");
  EXPECT_EQ(*fs::ReadFile((*t)->root() + "/app/data/big.txt"),
            *fs::ReadFile(src_ + "/app/data/big.txt"));
  EXPECT_EQ(Problems({first_}), std::vector<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Formats, ActivateCrashTest, testing::Values(1, 2),
                         [](const auto& info) {
                           return "Format" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace lazypath
