#include "lazypath/prune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <utility>

#include "core/condemned.h"
#include "lazypath/activate.h"
#include "lazypath/lazy.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "lazypath/ref_history.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

// Forwards to a store; with `fail_delete_at` N, the Nth Delete fails, as if
// the prune was killed there.
class WrappedStore : public Store {
 public:
  explicit WrappedStore(Store& base) : base_(base) {}
  int fail_delete_at = 0;
  int deletes = 0;
  // Called after each successful Delete (a writer racing the prune).
  std::function<void(const std::string& key)> after_delete;
  const std::string& url() const override { return base_.url(); }
  Result<std::string> Get(const std::string& k, uint64_t m) override {
    return base_.Get(k, m);
  }
  Status GetRange(const std::string& k, uint64_t o, uint64_t l,
                  const ByteSink& s) override {
    return base_.GetRange(k, o, l, s);
  }
  Status Put(const std::string& k, std::string_view d) override {
    return base_.Put(k, d);
  }
  Status PutFile(const std::string& k, const std::string& p) override {
    return base_.PutFile(k, p);
  }
  Result<bool> Exists(const std::string& k) override { return base_.Exists(k); }
  Result<std::vector<std::string>> List(const std::string& p) override {
    return base_.List(p);
  }
  Result<VersionedObject> GetVersioned(const std::string& k,
                                       uint64_t m) override {
    return base_.GetVersioned(k, m);
  }
  Status PutIfVersion(const std::string& k, std::string_view d,
                      const std::string& v) override {
    return base_.PutIfVersion(k, d, v);
  }
  Status Delete(const std::string& k) override {
    if (++deletes == fail_delete_at) return Status::IoError("killed");
    Status s = base_.Delete(k);
    if (s.ok() && after_delete) after_delete(k);
    return s;
  }
  Status DeleteIfVersion(const std::string& k, const std::string& v) override {
    return base_.DeleteIfVersion(k, v);
  }

 private:
  Store& base_;
};

class PruneTest : public testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string name =
        testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    base_ = testing::TempDir() + "/prune_" + name;
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    url_ = "file://" + base_ + "/store";
    StoreOptions so;
    so.create = true;
    auto s = OpenStore(url_, so);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }

  // Pushes a tree of `n` versions of a small package, tagged `tag`.
  // Versions from 100 on share no file with the others; `extra` adds one
  // file, for a new tree of an old tree's files.
  Hash PushVersion(int version, const std::string& tag = "prod",
                   bool extra = false) {
    std::string src = base_ + "/src" + std::to_string(version);
    for (int d = 0; d < 3; ++d) {
      for (int f = 0; f < 4; ++f) {
        std::string p = src + "/pkg" + std::to_string(d) + "/sub/m" +
                        std::to_string(f) + ".py";
        EXPECT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
        // Only pkg0 changes between versions: the rest is reused.
        int v = d == 0 || version >= 100 ? version : 0;
        std::ofstream(p) << "x = " << v * 1000 + d * 10 + f << "\n";
      }
    }
    if (extra) std::ofstream(src + "/extra.py") << "extra = 1\n";
    PushOptions o;
    o.cache_dir = base_ + "/push-cache";
    o.format = GetParam();
    o.tag = tag;
    o.actor = "test";
    auto r = Push(src, url_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->tree.hash : Hash{};
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    for (const char* p : {"trees/", "indexes/", "locs/", "packs/", "refs/",
                          "history/", "prune/", "profiles/"}) {
      auto k = store_->List(p);
      EXPECT_TRUE(k.ok());
      out.insert(out.end(), k->begin(), k->end());
    }
    return out;
  }
  size_t Count(const std::string& prefix) {
    return store_->List(prefix)->size();
  }
  void ExpectActivates(const Hash& tree) {
    ActivateOptions o;
    o.cache_dir = base_ + "/cache-" + std::to_string(++caches_);
    auto a = Activate(url_, tree.ToString(), o);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
  }
  PruneOptions Strict() {
    PruneOptions o;
    o.keep_last = 0;
    o.keep_within = 0;
    o.grace = 0;
    o.actor = "test";
    return o;
  }

  std::string base_, url_;
  std::unique_ptr<Store> store_;
  int caches_ = 0;
};

TEST_P(PruneTest, StrictRulesKeepExactlyTheCurrentRefs) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  Hash v3 = PushVersion(3);
  Hash other = PushVersion(4, "other");
  ASSERT_EQ(Count("trees/"), 4u);
  auto r = Prune(*store_, Strict());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trees, 4u);
  EXPECT_EQ(r->trees_deleted, 2u);
  EXPECT_GT(r->packs_deleted, 0u);
  EXPECT_LT(r->bytes_after, r->bytes_before);
  EXPECT_FALSE(store_->Exists(TreeKey(v1)).value());
  EXPECT_FALSE(store_->Exists(TreeKey(v2)).value());
  EXPECT_EQ(Count("prune/"), 0u);  // marks done, lock released
  ExpectActivates(v3);
  ExpectActivates(other);
  // A second run finds nothing more.
  auto again = Prune(*store_, Strict());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->deleted.empty());
}

TEST_P(PruneTest, KeepLastKeepsTheLastMovesTargets) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  Hash v3 = PushVersion(3);
  PruneOptions o = Strict();
  o.keep_last = 2;
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(store_->Exists(TreeKey(v1)).value());
  ExpectActivates(v2);
  ExpectActivates(v3);
}

TEST_P(PruneTest, KeepWithinKeepsRecentMoves) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  PruneOptions o = Strict();
  o.keep_within = 3600;  // the moves happened just now
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->deleted.empty());
  ExpectActivates(v1);
  o.now = static_cast<int64_t>(std::time(nullptr)) + 7200;
  r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(store_->Exists(TreeKey(v1)).value());
  ExpectActivates(v2);
}

TEST_P(PruneTest, DryRunChangesNothing) {
  PushVersion(1);
  PushVersion(2);
  auto before = Keys();
  PruneOptions o = Strict();
  o.dry_run = true;
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->deleted.empty());
  EXPECT_EQ(r->trees_deleted, 1u);
  EXPECT_EQ(Keys(), before);
}

TEST_P(PruneTest, GraceDeletesOnlyWhatWasCondemnedLongEnoughAgo) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  PruneOptions o = Strict();
  o.grace = 100;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_FALSE(r->condemned.empty());
  EXPECT_EQ(Count("prune/condemned-"), 1u);
  ExpectActivates(v1);
  // Not yet: the mark is 50s old.
  o.now = now + 50;
  r = Prune(*store_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_TRUE(r->condemned.empty());  // already condemned
  o.now = now + 100;
  r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trees_deleted, 1u);
  EXPECT_FALSE(store_->Exists(TreeKey(v1)).value());
  EXPECT_EQ(Count("prune/condemned-"), 0u);
  ExpectActivates(v2);
}

TEST_P(PruneTest, ATreeMovedBackToBeforePhaseTwoIsSpared) {
  Hash v1 = PushVersion(1);
  PushVersion(2);
  PruneOptions o = Strict();
  o.grace = 100;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  ASSERT_TRUE(Prune(*store_, o).ok());
  // The ref goes back to v1 (a rollback) while v1 stands condemned.
  auto seen = ReadRefState(*store_, "prod");
  ASSERT_TRUE(seen.ok());
  ASSERT_TRUE(
      MoveRef(*store_, "prod", v1, *seen, RefOp::kRollback, "test", now).ok());
  o.now = now + 100;
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(store_->Exists(TreeKey(v1)).value());
  ExpectActivates(v1);
}

TEST_P(PruneTest, PushesDoNotReuseCondemnedPacks) {
  PushVersion(1);
  PushVersion(100);
  PruneOptions o = Strict();
  o.grace = 100;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  ASSERT_TRUE(Prune(*store_, o).ok());
  auto condemned = CondemnedPacks(*store_);
  ASSERT_TRUE(condemned.ok());
  ASSERT_FALSE(condemned->empty());
  // A push of v1's content again (its blobs sit in condemned packs) must
  // not lean on them: the tree survives phase 2 deleting them.
  Hash again = PushVersion(1, "again", true);
  o.now = now + 100;
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Had the push used them, they would be live now and spared.
  for (const auto& pack : *condemned) {
    EXPECT_FALSE(store_->Exists(pack).value()) << pack;
  }
  ExpectActivates(again);
}

TEST_P(PruneTest, AnUnnamedTreeSurvivesItsGracePeriod) {
  PushVersion(1);
  Hash loose = PushVersion(5, "");
  PruneOptions o = Strict();
  o.grace = 100;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  ASSERT_TRUE(Prune(*store_, o).ok());
  ExpectActivates(loose);
  o.now = now + 100;
  ASSERT_TRUE(Prune(*store_, o).ok());
  EXPECT_FALSE(store_->Exists(TreeKey(loose)).value());
}

TEST_P(PruneTest, AKilledPruneLeavesAUsableStoreTheNextRunCleans) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  Hash v3 = PushVersion(3);
  (void)v1;
  (void)v2;
  PruneOptions o = Strict();
  auto dry = o;
  dry.dry_run = true;
  auto plan = Prune(*store_, dry);
  ASSERT_TRUE(plan.ok());
  const size_t n = plan->deleted.size() + plan->rewritten.size();
  ASSERT_GT(n, 3u);
  for (size_t k = 1; k <= n; ++k) {
    // Each run dies at its first deletion after the previous runs' work:
    // the kept tree activates after every one.
    WrappedStore w(*store_);
    w.fail_delete_at = 1;
    auto r = Prune(w, o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("deleting"), std::string::npos);
    ExpectActivates(v3);
  }
  auto r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Count("trees/"), 1u);
  EXPECT_EQ(Count("prune/"), 0u);
  auto rest = Prune(*store_, dry);
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->deleted.empty());
  ExpectActivates(v3);
}

TEST_P(PruneTest, ARefMovedToATreeBeingDeletedGetsItBack) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  WrappedStore w(*store_);
  bool moved = false;
  // A tag of v1 lands just after the prune deleted v1's record.
  w.after_delete = [&](const std::string& key) {
    if (moved || key != TreeKey(v1)) return;
    moved = true;
    auto seen = ReadRefState(*store_, "back");
    ASSERT_TRUE(seen.ok());
    ASSERT_TRUE(
        MoveRef(*store_, "back", v1, *seen, RefOp::kTag, "test", 1).ok());
  };
  auto r = Prune(w, Strict());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(moved);
  ASSERT_EQ(r->restored.size(), 1u);
  EXPECT_EQ(r->restored[0], v1.ToString());
  EXPECT_EQ(r->trees_deleted, 0u);
  EXPECT_EQ(r->packs_deleted, 0u);
  ExpectActivates(v1);
  // The next run sees the ref and keeps v1.
  auto again = Prune(*store_, Strict());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->restored.empty());
  ExpectActivates(v1);
  ExpectActivates(v2);
}

TEST_P(PruneTest, AnUnreadableUnkeptTreeIsCondemnedThenDeleted) {
  Hash v1 = PushVersion(1);
  Hash v2 = PushVersion(2);
  // v1's record (format 1: its index) damaged: what it reaches is unknown
  // while it is young.
  const std::string key = GetParam() == 1 ? IndexKey(v1) : TreeKey(v1);
  auto bytes = store_->Get(key, 1 << 20);
  ASSERT_TRUE(bytes.ok());
  std::string broken = *bytes;
  broken[broken.size() / 2] ^= 0x55;
  ASSERT_TRUE(store_->Put(key, broken).ok());
  // Junk beside the objects is never judged.
  ASSERT_TRUE(store_->Put("packs/README", "not a pack").ok());
  PruneOptions o = Strict();
  o.grace = 100;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  auto r = Prune(*store_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nothing was deleted"),
            std::string::npos);
  EXPECT_EQ(Count("prune/condemned-"), 1u);
  o.now = now + 100;
  r = Prune(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(store_->Exists(TreeKey(v1)).value());
  EXPECT_TRUE(store_->Exists("packs/README").value());
  ExpectActivates(v2);
}

TEST_P(PruneTest, TwoPrunesExcludeEachOther) {
  PushVersion(1);
  // A live lock (this process's pid, now) stops a second prune.
  std::string lock = std::string("lazypath-prune-lock 1\ntime ") +
                     std::to_string(std::time(nullptr)) +
                     "\nactor other\nhost elsewhere\npid 1\nid x\n";
  ASSERT_TRUE(store_->PutIfVersion("prune/lock", lock, "").ok());
  auto r = Prune(*store_, Strict());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_NE(r.status().message().find("another prune holds prune/lock"),
            std::string::npos);
  EXPECT_NE(r.status().message().find("other"), std::string::npos);
  // Once stale, it is broken.
  PruneOptions o = Strict();
  o.now = static_cast<int64_t>(std::time(nullptr)) + kDefaultLockTimeout + 10;
  auto ok = Prune(*store_, o);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(store_->Exists("prune/lock").value());
}

INSTANTIATE_TEST_SUITE_P(Formats, PruneTest, testing::Values(1, 2));

// A format 1 pack mostly unused is copied down to what kept trees use; the
// old pack goes with the next run.
TEST(PruneRepackTest, MostlyUnusedFormat1PackIsRepacked) {
  const std::string base = testing::TempDir() + "/prune_repack";
  ASSERT_TRUE(fs::RemoveAll(base).ok());
  const std::string url = "file://" + base + "/store";
  auto push = [&](const std::string& dir, int changed) {
    for (int d = 0; d < 3; ++d) {
      for (int f = 0; f < 4; ++f) {
        std::string p = base + "/" + dir + "/p" + std::to_string(d) + "/m" +
                        std::to_string(f) + ".py";
        EXPECT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
        std::string body;
        for (int k = 0; k < 40; ++k) {
          body += "v" + std::to_string(d < changed ? changed : 0) + "_" +
                  std::to_string(d * 10 + f) + " = " + std::to_string(k) + "\n";
        }
        std::ofstream(p) << body;
      }
    }
    PushOptions o;
    o.cache_dir = base + "/push-cache";
    o.format = 1;  // what is repacked
    o.tag = "prod";
    o.actor = "test";
    auto r = Push(base + "/" + dir, url, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->tree.hash : Hash{};
  };
  push("v1", 0);
  Hash v2 = push("v2", 2);  // p0 and p1 new; p2 reused from v1's pack
  auto store = OpenStore(url);
  ASSERT_TRUE(store.ok());
  auto packs_before = (*store)->List("packs/");
  ASSERT_TRUE(packs_before.ok());
  ASSERT_EQ(packs_before->size(), 2u);
  PruneOptions o;
  o.keep_last = 0;
  o.keep_within = 0;
  o.grace = 0;
  o.actor = "test";
  auto dry = o;
  dry.dry_run = true;
  auto plan = Prune(**store, dry);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->packs_repacked, 1u);
  auto r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_repacked, 1u);
  EXPECT_EQ(r->packs_deleted, 0u);
  auto index = (*store)->Get(IndexKey(v2), 1 << 20);
  ASSERT_TRUE(index.ok());
  for (const auto& p : *packs_before) {
    EXPECT_TRUE((*store)->Exists(p).value()) << p;  // both still there
  }
  EXPECT_EQ((*store)->List("packs/")->size(), 3u);
  ActivateOptions ao;
  ao.cache_dir = base + "/fresh1";
  auto a = Activate(url, v2.ToString(), ao);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  // The next run deletes v1's old pack: nothing names it any more.
  auto again = Prune(**store, o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->packs_deleted, 1u);
  EXPECT_EQ(again->packs_repacked, 0u);
  EXPECT_EQ((*store)->List("packs/")->size(), 2u);
  ao.cache_dir = base + "/fresh2";
  a = Activate(url, v2.ToString(), ao);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  (void)fs::RemoveAll(base);
}

// Format 2 pushes reuse a located directory without reading it, so a
// directory no kept tree reaches, whose frame sits in a pack a kept tree
// uses, must not keep the packs below it: prune withdraws its location
// before condemning them, and a push after that writes it anew.
class PruneFormat2Test : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/prune_f2_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    url_ = "file://" + base_ + "/store";
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& dir, const std::string& rel,
             const std::string& data) {
    std::string p = base_ + "/" + dir + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p) << data;
  }
  Hash Push(const std::string& dir, const std::string& tag) {
    PushOptions o;
    o.cache_dir = base_ + "/push-cache";
    o.format = 2;
    o.tag = tag;
    o.actor = "test";
    auto r = lazypath::Push(base_ + "/" + dir, url_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->tree.hash : Hash{};
  }
  std::vector<std::string> Packs(Store& store) {
    auto k = store.List("packs/");
    EXPECT_TRUE(k.ok());
    return k.ok() ? *k : std::vector<std::string>{};
  }
  // t0: d/sub (pack P0, returned). t1: d/sub reused from P0, d itself new,
  // and e (both in P1). t2: e only, reused from P1; the ref names t2 alone.
  std::string PushHistory(Store& store) {
    Write("t0", "d/sub/s.py", "s = 0\n");
    Push("t0", "prod");
    auto p0 = Packs(store);
    EXPECT_EQ(p0.size(), 1u);
    Write("t1", "d/sub/s.py", "s = 0\n");
    Write("t1", "d/x.py", "x = 1\n");
    Write("t1", "e/e.py", "e = 1\n");
    Push("t1", "prod");
    Write("t2", "e/e.py", "e = 1\n");
    Write("t2", "top.py", "top = 2\n");
    Push("t2", "prod");
    return p0.empty() ? "" : p0[0];
  }
  // t1's d again: it would reuse d's located frame in P1, and through it
  // d/sub in P0, if prune had left d located.
  Hash PushT1sDirAgain() {
    Write("t3", "d/sub/s.py", "s = 0\n");
    Write("t3", "d/x.py", "x = 1\n");
    return Push("t3", "again");
  }
  void ExpectActivates(const Hash& tree, const std::string& cache) {
    ActivateOptions ao;
    ao.cache_dir = base_ + "/" + cache;
    auto a = Activate(url_, tree.ToString(), ao);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
  }
  PruneOptions Strict(int64_t grace) {
    PruneOptions o;
    o.keep_last = 0;
    o.keep_within = 0;
    o.grace = grace;
    o.actor = "test";
    return o;
  }

  std::string base_, url_;
};

TEST_F(PruneFormat2Test, ADirectoryNoKeptTreeReachesIsWithdrawnWithItsPacks) {
  StoreOptions so;
  so.create = true;
  auto store = OpenStore(url_, so);
  ASSERT_TRUE(store.ok());
  const std::string p0 = PushHistory(**store);
  auto r = Prune(**store, Strict(0));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trees_deleted, 2u);
  EXPECT_GE(r->objects_withdrawn, 2u);  // t1's d and t0's d/sub at least
  EXPECT_FALSE(r->rewritten.empty());
  EXPECT_FALSE((*store)->Exists(p0).value()) << p0 << " kept";
  // t1's pack P1 holds e, which t2 uses, and d, which nothing does: it is
  // repacked, and the next run deletes it; after that nothing changes.
  EXPECT_EQ(r->packs_repacked, 1u);
  auto again = Prune(**store, Strict(0));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->packs_deleted, 1u);
  EXPECT_EQ(again->packs_repacked, 0u);
  EXPECT_TRUE(again->rewritten.empty());
  auto third = Prune(**store, Strict(0));
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->deleted.empty());
  EXPECT_TRUE(third->rewritten.empty());
  Hash t3 = PushT1sDirAgain();
  ExpectActivates(t3, "fresh");
}

// The order that makes this safe: the withdrawal comes with the
// condemnation, so a push between the two runs already writes d anew and
// the second run deletes P0 under a tree that a ref names.
TEST_F(PruneFormat2Test,
       APushBetweenCondemnationAndDeletionNeedsNoCondemnedPack) {
  StoreOptions so;
  so.create = true;
  auto store = OpenStore(url_, so);
  ASSERT_TRUE(store.ok());
  const std::string p0 = PushHistory(**store);
  PruneOptions o = Strict(100);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  auto r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_NE(std::find(r->condemned.begin(), r->condemned.end(), p0),
            r->condemned.end());
  Hash t3 = PushT1sDirAgain();  // kept: the ref "again" names it
  o.now = now + 100;
  r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(std::find(r->deleted.begin(), r->deleted.end(), p0),
            r->deleted.end())
      << "t3 still depends on " << p0;
  ExpectActivates(t3, "fresh");
}

// A kept tree that uses a small share of a pack: prune copies what it uses
// into a new pack and rewrites its record; the old pack is condemned by the
// next run and deleted a grace period later. A node that read the tree's
// directories before keeps nothing that still points at the old pack.
TEST_F(PruneFormat2Test, AMostlyDeadPackIsRepackedThenDeletedAfterTheGrace) {
  StoreOptions so;
  so.create = true;
  auto store = OpenStore(url_, so);
  ASSERT_TRUE(store.ok());
  std::mt19937 rng(5);
  auto random = [&](size_t n) {
    std::string b(n, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    return b;
  };
  const std::string big = random(3 << 20);  // chunked
  for (const std::string v : {"v1", "v2"}) {
    Write(v, "pkg/__init__.py", "from .sub import m\n");
    Write(v, "pkg/sub/__init__.py", "");
    Write(v, "pkg/sub/m.py", "X = 1\n");
    Write(v, "big.bin", big);
  }
  for (int i = 0; i < 40; ++i) {
    Write("v1", "data/f" + std::to_string(i) + ".bin", random(100 << 10));
  }
  Write("v2", "new.py", "n = 2\n");
  Push("v1", "prod");
  const auto old_packs = Packs(**store);
  ASSERT_EQ(old_packs.size(), 1u);
  const Hash v2 = Push("v2", "prod");
  ExpectActivates(v2, "early");  // keeps v2's directories, read from P1
  LazyOptions lo;
  lo.cache_dir = base_ + "/lazy";
  auto lazy = LazyTree::Open(url_, v2.ToString(), lo);  // reads the record
  ASSERT_TRUE(lazy.ok()) << lazy.status().ToString();
  lo.cache_dir = base_ + "/lazy2";
  auto lazy2 = LazyTree::Open(url_, v2.ToString(), lo);
  ASSERT_TRUE(lazy2.ok()) << lazy2.status().ToString();
  const std::string before = *(*store)->Get(TreeKey(v2), 1 << 20);

  PruneOptions o = Strict(100);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  o.now = now;
  auto r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_repacked, 1u);
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_NE(*(*store)->Get(TreeKey(v2), 1 << 20), before);
  ExpectActivates(v2, "after-repack");

  o.now = now + 1;  // the old pack is unused now: condemned, not deleted
  r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_repacked, 0u);
  EXPECT_NE(std::find(r->condemned.begin(), r->condemned.end(), old_packs[0]),
            r->condemned.end());
  EXPECT_TRUE((*store)->Exists(old_packs[0]).value());

  o.now = now + 200;
  r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(std::find(r->deleted.begin(), r->deleted.end(), old_packs[0]),
            r->deleted.end());
  EXPECT_FALSE((*store)->Exists(old_packs[0]).value());
  ExpectActivates(v2, "fresh");
  // An activation that read the record before the repack, and finds the
  // old pack gone, reads the record again: the old record is put back, and
  // the first look into the node cache for a directory restores the new.
  {
    const std::string key = base_ + "/store/" + TreeKey(v2);
    const std::string now_record = *fs::ReadFile(key);
    std::ofstream(key, std::ios::binary | std::ios::trunc) << before;
    struct Racer : EnvWrapper {
      using EnvWrapper::EnvWrapper;
      std::function<void()> once;
      Result<fs::Fd> OpenAt(int dir, const std::string& name, int flags,
                            mode_t mode, const std::string& shown) override {
        if (once && name.ends_with(".ldir")) std::exchange(once, nullptr)();
        return EnvWrapper::OpenAt(dir, name, flags, mode, shown);
      }
    } racer(Env::Default());
    racer.once = [&] {
      std::ofstream(key, std::ios::binary | std::ios::trunc) << now_record;
    };
    ActivateOptions ao;
    ao.cache_dir = base_ + "/racer";
    ao.env = &racer;
    auto a = Activate(url_, v2.ToString(), ao);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(racer.once, nullptr);  // the race happened
    EXPECT_EQ(*fs::ReadFile(a->path + "/big.bin"), big);
  }
  // Lazy trees opened before the repack follow the new record: an import
  // asks first whether a name is a directory, then materialises it.
  EXPECT_FALSE((*lazy2)->IsDirectory("pkg/sub/m"));
  EXPECT_TRUE((*lazy2)->IsDirectory("pkg/sub"));
  auto did = (*lazy)->MaterializeDir("pkg/sub");
  ASSERT_TRUE(did.ok()) << did.status().ToString();
  EXPECT_EQ(*fs::ReadFile((*lazy)->root() + "/pkg/sub/m.py"), "X = 1\n");
  EXPECT_TRUE((*lazy)->MaterializeDir("").ok());
  EXPECT_EQ(*fs::ReadFile((*lazy)->root() + "/big.bin"), big);

  o.now = now + 400;  // nothing left to do
  r = Prune(**store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_repacked, 0u);
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_TRUE(r->rewritten.empty());

  // The early node lost its copy of v2's files, not its directories: a new
  // version sharing pkg/ is activated there from the new pack.
  auto early = NodeCache::Open(base_ + "/early");
  ASSERT_TRUE(early.ok());
  ASSERT_TRUE(early->Gc(0).ok());
  Write("v3", "pkg/__init__.py", "from .sub import m\n");
  Write("v3", "pkg/sub/__init__.py", "");
  Write("v3", "pkg/sub/m.py", "X = 1\n");
  Write("v3", "v3.py", "");
  const Hash v3 = Push("v3", "prod");
  ExpectActivates(v3, "early");
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("90"), 90);
  EXPECT_EQ(*ParseDuration("90s"), 90);
  EXPECT_EQ(*ParseDuration("15m"), 900);
  EXPECT_EQ(*ParseDuration("24h"), 86400);
  EXPECT_EQ(*ParseDuration("7d"), 7 * 86400);
  EXPECT_EQ(*ParseDuration("2w"), 14 * 86400);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("h").ok());
  EXPECT_FALSE(ParseDuration("-1d").ok());
  EXPECT_FALSE(ParseDuration("1y").ok());
}

TEST(CondemnedMarkTest, RoundTrip) {
  CondemnedMark m;
  m.time = 1700000000;
  m.actor = "a@b";
  m.keys = {"trees/aa", "packs/bb"};
  auto p = ParseMark(SerializeMark(m), "mark");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->time, m.time);
  EXPECT_EQ(p->actor, m.actor);
  EXPECT_EQ(p->keys, m.keys);
  EXPECT_FALSE(ParseMark("junk", "mark").ok());
  EXPECT_FALSE(ParseMark("lazypath-condemned 1\ntime x\nactor a\n", "m").ok());
}

}  // namespace
}  // namespace lazypath
