#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "lazypath/node_cache.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class CacheLifecycleTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = *fs::Absolute(
        testing::TempDir() + "/cache_lifecycle_" +
        testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
    cache_.emplace(*NodeCache::Open(dir_));
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  // Publishes a tree of `n` files of `size` bytes, unique to `tag`.
  Hash MakeTree(const std::string& tag, int n, size_t size) {
    std::vector<TreeEntry> entries;
    for (int i = 0; i < n; ++i) {
      std::string data(size, static_cast<char>('a' + i % 26));
      data += tag + std::to_string(i);
      std::string tmp = fs::TempName(cache_->TempDir() + "/b");
      EXPECT_TRUE(fs::WriteFileAtomic(tmp, data).ok());
      Digest d = HashBytes(data);
      EXPECT_TRUE(cache_->AdoptBlob(tmp, d.hash).ok());
      entries.push_back(
          {tag + "/f" + std::to_string(i), EntryKind::kFile, d, ""});
    }
    Tree t(entries);
    Hash h = t.digest().hash;
    EXPECT_TRUE(cache_->PutMeta(h, ".tree", t.Serialize()).ok());
    EXPECT_TRUE(cache_->Materialize(t, h).ok());
    return h;
  }
  void SetUsed(const Hash& h, time_t when) {
    int fd = *cache_->AcquireLease(h);
    struct timespec ts[2] = {{when, 0}, {when, 0}};
    ::futimens(fd, ts);
    ::close(fd);
  }
  std::string dir_;
  std::optional<NodeCache> cache_;
};

TEST_F(CacheLifecycleTest, UsageCountsTreesBlobsAndLeases) {
  Hash a = MakeTree("a", 3, 1000);
  auto u = cache_->Usage();
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->trees.size(), 1u);
  EXPECT_EQ(u->trees[0].tree, a);
  EXPECT_EQ(u->trees[0].files, 3u);
  EXPECT_FALSE(u->trees[0].in_use);
  EXPECT_EQ(u->blobs, 3u);
  EXPECT_EQ(u->unreferenced_blobs, 0u);
  int fd = *cache_->AcquireLease(a);
  EXPECT_TRUE(cache_->Usage()->trees[0].in_use);
  ::close(fd);
  EXPECT_FALSE(cache_->Usage()->trees[0].in_use);
}

TEST_F(CacheLifecycleTest, GcEvictsLeastRecentlyUsedButNeverLeased) {
  Hash old_tree = MakeTree("old", 4, 100000);
  Hash mid_tree = MakeTree("mid", 4, 100000);
  Hash new_tree = MakeTree("new", 4, 100000);
  int lease = *cache_->AcquireLease(old_tree);  // in use: must survive
  SetUsed(old_tree, 1000);
  SetUsed(mid_tree, 2000);
  SetUsed(new_tree, 3000);
  auto r = cache_->Gc(900000);  // room for about two trees
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trees_evicted, std::vector<Hash>{mid_tree});
  EXPECT_EQ(r->trees_in_use, std::vector<Hash>{old_tree});
  EXPECT_EQ(r->blobs_removed, 4u);
  EXPECT_TRUE(cache_->HasTree(old_tree));
  EXPECT_FALSE(cache_->HasTree(mid_tree));
  EXPECT_TRUE(cache_->HasTree(new_tree));
  EXPECT_LE(r->blob_bytes_after, 900000u);
  // Clear: everything not in use goes.
  auto c = cache_->Gc(0);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(cache_->HasTree(old_tree));
  EXPECT_FALSE(cache_->HasTree(new_tree));
  ::close(lease);
  ASSERT_TRUE(cache_->Gc(0).ok());
  EXPECT_FALSE(cache_->HasTree(old_tree));
  EXPECT_EQ(cache_->Usage()->blobs, 0u);
}

TEST_F(CacheLifecycleTest, EvictRemovesOneTreeUnlessLeased) {
  Hash a = MakeTree("a", 3, 1000);
  Hash b = MakeTree("b", 3, 1000);
  int lease = *cache_->AcquireLease(a);
  auto kept = cache_->Evict(a);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_FALSE(kept->evicted);
  EXPECT_TRUE(kept->in_use);
  EXPECT_EQ(kept->blobs_removed, 0u);
  EXPECT_TRUE(cache_->HasTree(a));
  ::close(lease);
  auto gone = cache_->Evict(a);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->evicted);
  EXPECT_FALSE(gone->in_use);
  EXPECT_EQ(gone->blobs_removed, 3u);       // a's blobs; b's stay
  EXPECT_EQ(gone->bytes_freed, 3 * 1002u);  // 1000 bytes + "a0" etc.
  EXPECT_EQ(gone->blob_bytes_after, cache_->Usage()->blob_bytes);
  EXPECT_FALSE(cache_->HasTree(a));
  EXPECT_TRUE(cache_->HasTree(b));
  EXPECT_EQ(cache_->Usage()->blobs, 3u);
  EXPECT_FALSE(cache_->Evict(a)->evicted);  // not cached any more
  EXPECT_FALSE(cache_->Evict(a)->in_use);
  EXPECT_FALSE(cache_->Evict(HashBytes("never").hash)->evicted);
}

TEST_F(CacheLifecycleTest, GcRemovesDebrisOfDeadProcessesOnly) {
  std::string mine = fs::TempName(cache_->TempDir() + "/stage");
  ASSERT_TRUE(fs::MakeDirs(mine).ok());
  // A dead owner's debris, old enough.
  std::string dead = cache_->TempDir() + "/stage.tmp.999999999.0.1";
  ASSERT_TRUE(fs::MakeDirs(dead + "/x").ok());
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dead.c_str(), old, 0), 0);
  auto r = cache_->Gc(UINT64_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tmp_removed, 1u);
  EXPECT_FALSE(fs::Exists(dead));
  EXPECT_TRUE(fs::Exists(mine));
}

// An interrupted activation's debris in this pid namespace goes at once (its
// owner's pid is gone); debris recorded in another namespace waits ten
// minutes, as its owner may be alive there.
TEST_F(CacheLifecycleTest, GcRemovesDeadDebrisOfThisNamespaceAtOnce) {
  ASSERT_NE(fs::PidNamespace(), 0u);
  std::string ns = std::to_string(fs::PidNamespace());
  std::string here = cache_->TempDir() + "/tree-ab.tmp.999999999.0.1." + ns;
  std::string there = cache_->TempDir() + "/tree-cd.tmp.999999999.0.2.1";
  ASSERT_TRUE(fs::MakeDirs(here + "/x").ok());
  ASSERT_TRUE(fs::MakeDirs(there + "/x").ok());
  std::string live = fs::TempName(cache_->TempDir() + "/stage");  // ours
  ASSERT_TRUE(fs::MakeDirs(live).ok());
  auto usage = cache_->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->tmp_entries, 3u);  // shown before it goes
  auto r = cache_->Gc(UINT64_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tmp_removed, 1u);
  EXPECT_FALSE(fs::Exists(here));
  EXPECT_TRUE(fs::Exists(there));
  EXPECT_TRUE(fs::Exists(live));
  // The next activation cleans up too, without a gc.
  ASSERT_TRUE(fs::MakeDirs(here + "/y").ok());
  auto removed = cache_->RemoveDebris();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::Exists(here));
}

// Regression: a process killed inside an atomic write of tree metadata or
// of a push's stat cache left its temp sibling in meta/ or statcache/,
// where gc never looked, so it stayed forever.
TEST_F(CacheLifecycleTest, GcRemovesTempSiblingsInMetaAndStatCache) {
  Hash a = MakeTree("a", 1, 10);
  ASSERT_TRUE(fs::MakeDirs(cache_->StatCacheDir()).ok());
  std::string meta = dir_ + "/meta/" + a.hex() + ".tree";
  std::vector<std::string> dead = {
      meta + ".tmp.999999999.0.1",
      cache_->StatCacheDir() + "/0123abcd.tmp.999999999.0.2"};
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  for (const auto& p : dead) {
    ASSERT_TRUE(fs::WriteFileAtomic(p, "half").ok());
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), old, 0), 0);
  }
  // Young debris may belong to a live process in another pid namespace.
  std::string young = meta + ".tmp.999999999.0.3";
  ASSERT_TRUE(fs::WriteFileAtomic(young, "half").ok());
  auto r = cache_->Gc(UINT64_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tmp_removed, 2u);
  for (const auto& p : dead) EXPECT_FALSE(fs::Exists(p)) << p;
  EXPECT_TRUE(fs::Exists(young));
  EXPECT_TRUE(fs::Exists(meta));  // the real metadata stays
  EXPECT_TRUE(cache_->HasTree(a));
}

TEST_F(CacheLifecycleTest, VerifyFindsAndRepairsCorruptBlobs) {
  Hash a = MakeTree("a", 3, 5000);
  Hash b = MakeTree("b", 3, 5000);
  auto clean = cache_->Verify(false);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->blobs_checked, 6u);
  EXPECT_TRUE(clean->bad_blobs.empty());
  // Corrupt one blob of tree a in place (as a disk fault would).
  std::string victim = cache_->TreeDir(a) + "/a/f1";
  ::chmod(victim.c_str(), 0644);
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('#');
  }
  auto found = cache_->Verify(false);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->bad_blobs.size(), 1u);
  EXPECT_TRUE(found->trees_invalidated.empty());
  EXPECT_TRUE(cache_->HasTree(a));
  auto fixed = cache_->Verify(true);
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  EXPECT_EQ(fixed->trees_invalidated, std::vector<Hash>{a});
  EXPECT_FALSE(cache_->HasTree(a));
  EXPECT_TRUE(cache_->HasTree(b));
  EXPECT_FALSE(cache_->HasBlob(found->bad_blobs[0]));
  EXPECT_TRUE(cache_->Verify(false)->bad_blobs.empty());
}

TEST_F(CacheLifecycleTest, BudgetFromEnv) {
  ::unsetenv("LAZYPATH_CACHE_MAX");
  EXPECT_EQ(*NodeCache::BudgetFromEnv(), 0u);
  ::setenv("LAZYPATH_CACHE_MAX", "20G", 1);
  EXPECT_EQ(*NodeCache::BudgetFromEnv(), 20ull << 30);
  ::setenv("LAZYPATH_CACHE_MAX", "512M", 1);
  EXPECT_EQ(*NodeCache::BudgetFromEnv(), 512ull << 20);
  ::setenv("LAZYPATH_CACHE_MAX", "20g", 1);  // the grammar of --max
  EXPECT_EQ(*NodeCache::BudgetFromEnv(), 20ull << 30);
  ::setenv("LAZYPATH_CACHE_MAX", "4096", 1);
  EXPECT_EQ(*NodeCache::BudgetFromEnv(), 4096u);
  ::setenv("LAZYPATH_CACHE_MAX", "lots", 1);
  auto bad = NodeCache::BudgetFromEnv();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("LAZYPATH_CACHE_MAX='lots'"),
            std::string::npos);
  ::unsetenv("LAZYPATH_CACHE_MAX");
}

}  // namespace
}  // namespace lazypath
