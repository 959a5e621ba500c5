#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "lazypath/activate.h"
#include "lazypath/inspect.h"
#include "lazypath/lazy.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "lazypath/store.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class PushActivateTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/push_activate_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = "file://" + base_ + "/store";
    cache_ = base_ + "/cache";
    for (int d = 0; d < 5; ++d) {
      for (int f = 0; f < 20; ++f) {
        std::string body;
        for (int k = 0; k < 50 + f; ++k)
          body += "v" + std::to_string(d * 100 + f) + " = " +
                  std::to_string(k) + "\n";
        Write("pkg" + std::to_string(d) + "/m" + std::to_string(f) + ".py",
              body);
      }
      Write("pkg" + std::to_string(d) + "/__init__.py", "");
    }
    std::string big;
    while (big.size() < (9u << 20))
      big += "row," + std::to_string(big.size()) + "\n";
    Write("data/big.csv", big);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
  }
  PushOptions PushOpts() {
    PushOptions o;
    o.cache_dir = base_ + "/push-cache";
    o.format = 1;  // format 2 has its own cases here and in format2_*_test
    return o;
  }
  ActivateOptions ActOpts(const std::string& cache) {
    ActivateOptions o;
    o.cache_dir = cache;
    return o;
  }
  std::string base_, src_, store_, cache_;
};

TEST_F(PushActivateTest, RoundTripAndIncrementalPush) {
  PushOptions po = PushOpts();
  po.tag = "prod";
  auto p1 = Push(src_, store_, po);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_FALSE(p1->tree_existed);
  EXPECT_EQ(p1->blobs_uploaded, p1->blobs_total);
  EXPECT_EQ(p1->blobs_total, 101u);  // 5 empty __init__.py share no blob

  auto a = Activate(store_, "prod", ActOpts(cache_));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->cached);
  EXPECT_EQ(a->tree, p1->tree.hash);
  EXPECT_EQ(a->blobs_fetched, 101u);
  // Coalescing: far fewer requests than blobs.
  EXPECT_LT(a->requests, 20u);
  EXPECT_EQ(*fs::ReadFile(a->path + "/pkg3/m7.py"),
            *fs::ReadFile(src_ + "/pkg3/m7.py"));
  EXPECT_EQ(*fs::ReadFile(a->path + "/data/big.csv"),
            *fs::ReadFile(src_ + "/data/big.csv"));

  // Cached by digest: no store traffic at all.
  auto again = Activate(store_, p1->tree.hash.ToString(), ActOpts(cache_));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->requests, 0u);

  // Nothing changed: nothing uploaded but the ref.
  auto p2 = Push(src_, store_, PushOpts());
  ASSERT_TRUE(p2.ok());
  EXPECT_TRUE(p2->tree_existed);
  EXPECT_EQ(p2->bytes_uploaded, 0u);

  // One file edited: one blob uploaded.
  Write("pkg2/m3.py", "changed = True\n");
  auto p3 = Push(src_, store_, PushOpts());
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3->blobs_uploaded, 1u);
  EXPECT_EQ(p3->packs_uploaded, 1u);
  EXPECT_LT(p3->bytes_uploaded, 64u << 10);
  auto a3 = Activate(store_, p3->tree.hash.ToString(), ActOpts(cache_));
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(a3->blobs_fetched, 1u);
  EXPECT_EQ(*fs::ReadFile(a3->path + "/pkg2/m3.py"), "changed = True\n");
}

TEST_F(PushActivateTest, Format2RoundTripAndIncrementalPush) {
  PushOptions po = PushOpts();
  po.format = 2;
  po.tag = "prod";
  auto p1 = Push(src_, store_, po);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_EQ(p1->format, 2);
  EXPECT_FALSE(p1->tree_existed);
  EXPECT_EQ(p1->blobs_uploaded, p1->blobs_total);  // 100 modules + chunks
  EXPECT_GT(p1->blobs_total, 101u);                // big.csv is chunked
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(*(*store)->Exists(IndexKey(p1->tree.hash)));
  EXPECT_TRUE(*(*store)->Exists(TreeKey(p1->tree.hash)));

  auto a = Activate(store_, "prod", ActOpts(cache_));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->tree, p1->tree.hash);
  EXPECT_EQ(*fs::ReadFile(a->path + "/pkg3/m7.py"),
            *fs::ReadFile(src_ + "/pkg3/m7.py"));
  EXPECT_EQ(*fs::ReadFile(a->path + "/data/big.csv", 1 << 30),
            *fs::ReadFile(src_ + "/data/big.csv", 1 << 30));

  // Nothing changed: one existence check, nothing written; the large
  // file's chunk list comes from the memo its first push left, not from
  // reading it again.
  Digest big = HashBytes(*fs::ReadFile(src_ + "/data/big.csv", 1 << 30));
  EXPECT_TRUE(fs::Exists(po.cache_dir + "/meta/" + big.hash.hex() + ".clist"));
  auto p2 = Push(src_, store_, po);
  ASSERT_TRUE(p2.ok());
  EXPECT_TRUE(p2->tree_existed);
  EXPECT_EQ(p2->bytes_uploaded, 0u);

  // One file edited: its blob, its directory and the root, in a few KiB.
  Write("pkg2/m3.py", "changed = True\n");
  auto p3 = Push(src_, store_, po);
  ASSERT_TRUE(p3.ok()) << p3.status().ToString();
  EXPECT_EQ(p3->blobs_uploaded, 1u);
  EXPECT_EQ(p3->packs_uploaded, 1u);
  EXPECT_EQ(p3->store_indexes, 1u);  // the first push's locations
  EXPECT_LT(p3->bytes_uploaded, 8u << 10);
  auto a3 = Activate(store_, "prod", ActOpts(cache_));
  ASSERT_TRUE(a3.ok()) << a3.status().ToString();
  EXPECT_EQ(a3->blobs_fetched, 1u);
  // The node read every directory of v1 already: of v3's metadata only the
  // tree record and pkg2/ (the one changed directory) come from the store.
  auto fresh = Activate(store_, "prod", ActOpts(base_ + "/fresh-cache"));
  ASSERT_TRUE(fresh.ok());
  auto record = (*store)->Get(TreeKey(p3->tree.hash), 1 << 20);
  ASSERT_TRUE(record.ok());
  const uint64_t dirs_fresh = fresh->metadata_bytes - record->size();
  const uint64_t dirs_a3 = a3->metadata_bytes - record->size();
  EXPECT_GT(dirs_a3, 0u);              // pkg2/ was read...
  EXPECT_LT(dirs_a3 * 5, dirs_fresh);  // ...and none of the 5 others
  EXPECT_EQ(*fs::ReadFile(a3->path + "/pkg2/m3.py"), "changed = True\n");

  // diff --dir names the tree a format 2 push would make.
  auto d = DiffRefAgainstDir(store_, "prod", src_, {}, po.cache_dir);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->to, p3->tree.hash);
  EXPECT_TRUE(d->diff.changes.empty());

  // Lazily, the same tree from the same store (lazy_test.cc runs every lazy
  // case on both formats).
  LazyOptions lo;
  lo.cache_dir = base_ + "/lazy-cache";
  auto lazy = LazyTree::Open(store_, "prod", lo);
  ASSERT_TRUE(lazy.ok()) << lazy.status().ToString();
  ASSERT_TRUE((*lazy)->MaterializePath("").ok());
  EXPECT_EQ(*fs::ReadFile((*lazy)->root() + "/pkg2/m3.py"), "changed = True\n");
}

TEST_F(PushActivateTest, Format2RootMemoServesUnchangedPushesAndNothingElse) {
  PushOptions po = PushOpts();
  po.format = 2;
  auto p1 = Push(src_, store_, po);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  // The push left the root of this listing in the pushing machine's cache.
  auto cache = NodeCache::Open(po.cache_dir);
  ASSERT_TRUE(cache.ok());
  auto scanned = ScanDirectory(src_, {});
  ASSERT_TRUE(scanned.ok());
  const Hash listing = scanned->tree.digest().hash;
  auto memo = cache->GetMeta(listing, ".f2root");
  ASSERT_TRUE(memo.ok()) << memo.status().ToString();
  EXPECT_EQ(memo->substr(0, 64), p1->tree.hash.hex());

  // Unchanged: the same root and counts, and the tree is found in the store.
  auto p2 = Push(src_, store_, po);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->tree, p1->tree);
  EXPECT_EQ(p2->blobs_total, p1->blobs_total);
  EXPECT_TRUE(p2->tree_existed);

  // Another store lacks the tree: it is built and written there in full.
  const std::string other = "file://" + base_ + "/other";
  auto p3 = Push(src_, other, po);
  ASSERT_TRUE(p3.ok()) << p3.status().ToString();
  EXPECT_EQ(p3->tree, p1->tree);
  EXPECT_FALSE(p3->tree_existed);
  EXPECT_EQ(p3->blobs_uploaded, p1->blobs_total);
  auto a = Activate(other, p3->tree.hash.hex(), ActOpts(cache_));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*fs::ReadFile(a->path + "/pkg3/m7.py"),
            *fs::ReadFile(src_ + "/pkg3/m7.py"));

  // A damaged memo is not trusted: the tree is built again, and the memo
  // rewritten.
  ASSERT_TRUE(cache->PutMeta(listing, ".f2root", "garbage\n").ok());
  auto p4 = Push(src_, store_, po);
  ASSERT_TRUE(p4.ok());
  EXPECT_EQ(p4->tree, p1->tree);
  EXPECT_EQ(cache->GetMeta(listing, ".f2root")->substr(0, 64),
            p1->tree.hash.hex());

  // An edit is a new listing: a new root, not the memo's.
  Write("pkg1/m3.py", "changed = 1\n");
  auto p5 = Push(src_, store_, po);
  ASSERT_TRUE(p5.ok());
  EXPECT_NE(p5->tree, p1->tree);
  EXPECT_FALSE(p5->tree_existed);
}

TEST_F(PushActivateTest, ThreadsActivatingOneTreeFetchEachBlobOnce) {
  auto p = Push(src_, store_, PushOpts());
  ASSERT_TRUE(p.ok());
  constexpr int kN = 8;
  std::vector<Result<ActivateResult>> results(kN, Status::IoError("unset"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      results[i] = Activate(store_, p->tree.hash.ToString(), ActOpts(cache_));
    });
  }
  for (auto& t : threads) t.join();
  uint64_t fetched = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    fetched += r->blobs_fetched;
    EXPECT_EQ(r->path, results[0]->path);
  }
  EXPECT_EQ(fetched, p->blobs_total);
}

TEST_F(PushActivateTest, FlippedPackByteIsCaughtAndNothingPublished) {
  auto p = Push(src_, store_, PushOpts());
  ASSERT_TRUE(p.ok());
  auto store = OpenStore(store_);
  auto packs = (*store)->List("packs/");
  ASSERT_EQ(packs->size(), 1u);
  std::string pack_path = base_ + "/store/" + (*packs)[0];
  auto bytes = fs::ReadFile(pack_path);
  std::string flipped = *bytes;
  flipped[flipped.size() / 3] ^= 0x01;
  ::chmod(pack_path.c_str(), 0644);
  ASSERT_TRUE(fs::WriteFileAtomic(pack_path, flipped).ok());
  auto a = Activate(store_, p->tree.hash.ToString(), ActOpts(cache_));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kCorrupt);
  EXPECT_NE(a.status().message().find("pack sha256:"), std::string::npos);
  auto cache = NodeCache::Open(cache_);
  EXPECT_FALSE(cache->HasTree(p->tree.hash));
  // Nothing is left in the staging area either.
  EXPECT_EQ(::rmdir(cache->TempDir().c_str()), 0);
}

TEST_F(PushActivateTest, MissingRefAndDigestNameTheStore) {
  ASSERT_TRUE(Push(src_, store_, PushOpts()).ok());
  auto a = Activate(store_, "nope", ActOpts(cache_));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kNotFound);
  EXPECT_NE(a.status().message().find("ref 'nope'"), std::string::npos);
  EXPECT_NE(a.status().message().find(store_), std::string::npos);
  std::string d = HashBytes("absent").hash.ToString();
  auto b = Activate(store_, d, ActOpts(cache_));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kNotFound);
  EXPECT_NE(b.status().message().find(d), std::string::npos);
  auto c = Activate("gopher://x/y", "prod", ActOpts(cache_));
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
}

TEST_F(PushActivateTest, InspectListsShowsCatsAndTags) {
  PushOptions po = PushOpts();
  po.tag = "v1";
  auto p = Push(src_, store_, po);
  ASSERT_TRUE(p.ok());
  auto l = ListStore(store_);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->refs.size(), 1u);
  EXPECT_EQ(l->refs[0].first, "v1");
  EXPECT_EQ(l->refs[0].second, p->tree.hash);
  ASSERT_EQ(l->trees.size(), 1u);
  auto s = ShowTree(store_, "v1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->second.entries().size(), 106u);
  auto c = CatFile(store_, "v1", "pkg1/m2.py");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *fs::ReadFile(src_ + "/pkg1/m2.py"));
  EXPECT_EQ(CatFile(store_, "v1", "nope.py").status().code(), Code::kNotFound);
  auto t = TagTree(store_, "v1", "prod");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, p->tree.hash);
  EXPECT_FALSE(TagTree(store_, "v1", "../evil").ok());
}

// Every move is recorded; rollback and delete move by the history.
TEST_F(PushActivateTest, RefHistoryRollbackAndDelete) {
  PushOptions po = PushOpts();
  po.tag = "prod";
  po.actor = "ana@build";
  auto p1 = Push(src_, store_, po);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  Write("pkg1/m2.py", "changed = True\n");
  auto p2 = Push(src_, store_, po);
  ASSERT_TRUE(p2.ok());
  Write("pkg1/m2.py", "changed = 2\n");
  po.tag = "";
  auto p3 = Push(src_, store_, po);
  ASSERT_TRUE(p3.ok());
  const Hash h1 = p1->tree.hash, h2 = p2->tree.hash, h3 = p3->tree.hash;
  ASSERT_TRUE(TagTree(store_, h3.ToString(), "prod", std::nullopt, "ci").ok());

  auto log = RefLog(store_, "prod");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].move.op, RefOp::kPush);
  EXPECT_EQ((*log)[0].move.actor, "ana@build");
  EXPECT_EQ((*log)[2].move.op, RefOp::kTag);
  EXPECT_EQ((*log)[2].move.actor, "ci");

  // --steps 1: where the ref was before its newest move.
  auto r = RollbackRef(store_, "prod", std::nullopt, 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->from, h3);
  EXPECT_EQ(r->to, h2);
  EXPECT_EQ(*ReadRef(**OpenStore(store_), "prod"), h2);
  // --to: any tree the history names, by digest prefix too.
  r = RollbackRef(store_, "prod", h1.ToString().substr(0, 20), 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->to, h1);
  // Too far back, before the ref existed, a tree it never named.
  EXPECT_EQ(RollbackRef(store_, "prod", std::nullopt, 9).status().code(),
            Code::kInvalidArgument);
  auto before = RollbackRef(store_, "prod", std::nullopt, 5);
  EXPECT_NE(before.status().message().find("did not exist"), std::string::npos)
      << before.status().ToString();
  EXPECT_EQ(RollbackRef(store_, "prod", "sha256:" + std::string(64, 'a'), 0)
                .status()
                .code(),
            Code::kInvalidArgument);
  // --expect, as tag's.
  EXPECT_EQ(RollbackRef(store_, "prod", std::nullopt, 1, h3.ToString())
                .status()
                .code(),
            Code::kConflict);

  auto d = DeleteRef(store_, "prod", h2.ToString());
  EXPECT_EQ(d.status().code(), Code::kConflict);
  d = DeleteRef(store_, "prod", h1.ToString(), "ops");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->from, h1);
  EXPECT_EQ(ReadRef(**OpenStore(store_), "prod").status().code(),
            Code::kNotFound);
  EXPECT_EQ(DeleteRef(store_, "prod").status().code(), Code::kNotFound);
  log = RefLog(store_, "prod");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 6u);
  EXPECT_EQ(log->back().move.op, RefOp::kDelete);
  EXPECT_EQ(log->back().move.actor, "ops");
  for (const auto& e : *log) EXPECT_TRUE(e.applied);
  // A deleted ref rolls back to what it named.
  r = RollbackRef(store_, "prod", std::nullopt, 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->from);
  EXPECT_EQ(r->to, h1);
}

// DiffRefAgainstDir: the tree a push would make, compared without pushing.
TEST_F(PushActivateTest, DiffAgainstADirectoryMatchesTheNextPush) {
  PushOptions po = PushOpts();
  po.tag = "v1";
  ASSERT_TRUE(Push(src_, store_, po).ok());
  Write("pkg1/m2.py", "changed = True\n");
  Write("pkg9/new.py", "NEW = 1\n");
  auto d = DiffRefAgainstDir(store_, "v1", src_, ScanOptions{}, cache_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->diff.modified, 1u);
  EXPECT_EQ(d->diff.added, 1u);
  EXPECT_EQ(d->diff.removed, 0u);
  EXPECT_EQ(d->diff.blobs_new, 2u);
  auto listed = ListStore(store_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->trees.size(), 1u);  // nothing was uploaded
  auto p = Push(src_, store_, PushOpts());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(d->to, p->tree.hash);
}

// OpenFileInTree: the verified blob from the node cache, fetched once.
TEST_F(PushActivateTest, OpenFileInTreeReadsThroughTheNodeCache) {
  PushOptions po = PushOpts();
  po.tag = "v1";
  auto p = Push(src_, store_, po);
  ASSERT_TRUE(p.ok());
  auto read_all = [](int fd) {
    std::string out;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    ::close(fd);
    return out;
  };
  std::string want = *fs::ReadFile(src_ + "/data/big.csv");
  auto f = OpenFileInTree(store_, "v1", "data/big.csv", cache_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->tree, p->tree.hash);
  EXPECT_EQ(f->size, want.size());
  ASSERT_GE(f->fd, 0);
  EXPECT_EQ(read_all(f->fd), want);
  // Empty files have no blob; missing ones are NotFound.
  auto empty = OpenFileInTree(store_, "v1", "pkg0/__init__.py", cache_);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->fd, -1);
  EXPECT_EQ(empty->size, 0u);
  EXPECT_EQ(OpenFileInTree(store_, "v1", "nope", cache_).status().code(),
            Code::kNotFound);
  // Where no node cache can be made, the verified content comes in an
  // unnamed temp file instead (and no cache appears).
  ASSERT_TRUE(fs::WriteFileAtomic(base_ + "/a-file", "x").ok());
  auto uncached =
      OpenFileInTree(store_, "v1", "data/big.csv", base_ + "/a-file/cache");
  ASSERT_TRUE(uncached.ok()) << uncached.status().ToString();
  EXPECT_EQ(read_all(uncached->fd), want);
  // The blob is cached: with every pack gone it still opens.
  ASSERT_TRUE(fs::RemoveAll(base_ + "/store/packs").ok());
  auto again = OpenFileInTree(store_, "v1", "data/big.csv", cache_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(read_all(again->fd), want);
  // Another cache has to fetch it, and says which file of which tree failed.
  auto other = OpenFileInTree(store_, "v1", "data/big.csv", base_ + "/c2");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().ToString().find("'data/big.csv' of tree"),
            std::string::npos)
      << other.status().ToString();
}

}  // namespace
}  // namespace lazypath
