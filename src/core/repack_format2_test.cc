#include "core/repack_format2.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "core/tree_reader.h"
#include "lazypath/activate.h"
#include "lazypath/push.h"
#include "lazypath/store.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class RepackFormat2Test : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/repack_f2_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    url_ = "file://" + base_ + "/store";
    StoreOptions so;
    so.create = true;
    auto s = OpenStore(url_, so);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }

  void Write(const std::string& dir, const std::string& rel,
             const std::string& data) {
    std::string p = base_ + "/" + dir + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
  }
  static std::string Random(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string b(n, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    return b;
  }
  // lib/: a package with a subpackage (init frames) and a chunked file.
  void WriteLib(const std::string& dir) {
    Write(dir, "lib/__init__.py", "from . import sub\n");
    Write(dir, "lib/sub/__init__.py", "S = 1\n");
    Write(dir, "lib/sub/a.py", "A = 1\n");
    Write(dir, "lib/weights.bin", Random(3 << 20, 1));
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
  std::set<Hash> Packs() {
    std::set<Hash> out;
    auto keys = store_->List("packs/");
    EXPECT_TRUE(keys.ok());
    for (const auto& k : *keys) out.insert(*Hash::FromHex(k.substr(6)));
    return out;
  }
  std::string Record(const Hash& root) {
    auto r = store_->Get(TreeKey(root), 1 << 20);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : "";
  }
  // The input for `roots`, walked as prune walks kept trees; `named`
  // collects every pack their locators name.
  Format2RepackInput Walk(const std::vector<Hash>& roots,
                          std::set<Hash>* named = nullptr) {
    Format2RepackInput in;
    std::set<FrameKey> seen;
    for (const Hash& root : roots) {
      const std::string record = Record(root);
      in.records.emplace(root, record);
      Status s = WalkLocated(*store_, root, record, seen, &in.walked,
                             [&](const Locator& loc, const Hash& holding) {
                               if (!named) return;
                               for (const Hash& p : loc.packs) {
                                 named->insert(p == kHoldingPack ? holding : p);
                               }
                             });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return in;
  }
  void ExpectActivates(const Hash& tree, const std::string& cache,
                       const std::string& file, const std::string& content) {
    ActivateOptions ao;
    ao.cache_dir = base_ + "/" + cache;
    auto a = Activate(url_, tree.ToString(), ao);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(*fs::ReadFile(a->path + "/" + file), content);
  }

  std::string base_, url_;
  std::unique_ptr<Store> store_;
};

// Two trees share lib/: everything moves out of the old packs, each located
// frame is written once, and both trees activate with the old packs gone.
TEST_F(RepackFormat2Test, MovesEverythingOutOfThePacksAndSharesWhatIsShared) {
  WriteLib("t1");
  Write("t1", "one.py", "1\n");
  const Hash t1 = Push("t1", "one");
  WriteLib("t2");
  Write("t2", "two.py", "2\n");
  const Hash t2 = Push("t2", "two");
  const std::set<Hash> old = Packs();
  Format2RepackInput in = Walk({t1, t2});
  in.packs = old;
  const std::string before = Record(t1);

  const std::set<FrameKey> planned = LocatedToRewrite(in);
  uint64_t done = 0, total = 0;
  in.progress = [&](const std::string& phase, uint64_t d, uint64_t t,
                    const std::string&) {
    EXPECT_EQ(phase, "repack");
    done = d;
    total = t;
  };
  auto out = RepackFormat2(*store_, in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->replaced, planned);
  EXPECT_GT(total, 0u);
  EXPECT_EQ(done, total);
  EXPECT_EQ(out->trees.size(), 2u);
  EXPECT_EQ(out->located_written, in.walked.size());  // shared lib/ once
  EXPECT_EQ(out->replaced.size(), in.walked.size());
  EXPECT_FALSE(out->locations_key.empty());
  EXPECT_TRUE(store_->Exists(out->locations_key).value());
  EXPECT_NE(Record(t1), before);

  std::set<Hash> named;
  Walk({t1, t2}, &named);
  for (const Hash& p : old) {
    EXPECT_FALSE(named.count(p)) << p.hex() << " still named";
    ASSERT_TRUE(store_->Delete(PackKey(p)).ok());
  }
  ExpectActivates(t1, "c1", "lib/weights.bin", Random(3 << 20, 1));
  ExpectActivates(t2, "c2", "lib/sub/a.py", "A = 1\n");
  // A push of the same content finds everything in the new packs.
  WriteLib("t3");
  Write("t3", "one.py", "1\n");
  EXPECT_EQ(Push("t3", "three"), t1);
}

// Only frames in the named packs move: a directory whose subtree is all in
// other packs keeps its located frame.
TEST_F(RepackFormat2Test, WhatIsInOtherPacksStays) {
  WriteLib("t1");
  Push("t1", "one");
  const std::set<Hash> first = Packs();
  WriteLib("t2");
  Write("t2", "extra/e.py", "E = 1\n");
  Write("t2", "junk.py", "J = 1\n");  // dead in t3: the copy differs
  Push("t2", "two");
  std::set<Hash> second;
  for (const Hash& p : Packs()) {
    if (!first.count(p)) second.insert(p);
  }
  ASSERT_EQ(second.size(), 1u);
  WriteLib("t3");
  Write("t3", "extra/e.py", "E = 1\n");
  const Hash t3 = Push("t3", "three");  // lib/ from `first`, extra/ from it
  ASSERT_EQ(Packs().size(), 2u);
  Format2RepackInput in = Walk({t3});
  in.packs = second;
  const std::set<FrameKey> planned = LocatedToRewrite(in);
  auto out = RepackFormat2(*store_, in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->replaced, planned);
  EXPECT_EQ(out->located_written, 1u);  // extra/ only: lib/ is in `first`
  EXPECT_EQ(out->frames_copied, 1u);    // e.py
  std::set<Hash> named;
  Walk({t3}, &named);
  EXPECT_FALSE(named.count(*second.begin()));
  for (const Hash& p : first) EXPECT_TRUE(named.count(p));
  ASSERT_TRUE(store_->Delete(PackKey(*second.begin())).ok());
  ExpectActivates(t3, "c", "extra/e.py", "E = 1\n");
}

// Content the kept trees also name in a pack that stays is not copied: the
// rewritten locator names that frame.
TEST_F(RepackFormat2Test, ContentThatStaysElsewhereIsNotCopied) {
  Write("t1", "a/x.py", "X = 1\n");
  const Hash t1 = Push("t1", "one");
  const std::set<Hash> first = Packs();
  // Without locations, the next push cannot know x.py is stored: it
  // uploads it again into a pack of its own.
  auto locs = store_->List("locs/");
  ASSERT_TRUE(locs.ok());
  for (const auto& k : *locs) ASSERT_TRUE(store_->Delete(k).ok());
  ASSERT_TRUE(fs::RemoveAll(base_ + "/push-cache").ok());
  Write("t2", "b/x.py", "X = 1\n");
  Write("t2", "b/y.py", "Y = 1\n");
  const Hash t2 = Push("t2", "two");
  std::set<Hash> second;
  for (const Hash& p : Packs()) {
    if (!first.count(p)) second.insert(p);
  }
  ASSERT_EQ(second.size(), 1u);
  Format2RepackInput in = Walk({t1, t2});
  in.packs = second;
  auto out = RepackFormat2(*store_, in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->frames_copied, 1u);    // y.py; x.py stays in `first`
  EXPECT_EQ(out->located_written, 1u);  // b/
  ASSERT_TRUE(store_->Delete(PackKey(*second.begin())).ok());
  ExpectActivates(t2, "c2", "b/x.py", "X = 1\n");
  ExpectActivates(t1, "c1", "a/x.py", "X = 1\n");
}

// A frame that does not decode to its digest stops the repack before any
// tree record changes.
TEST_F(RepackFormat2Test, ACorruptFrameFailsAndNoRecordChanges) {
  WriteLib("t1");
  const Hash t1 = Push("t1", "one");
  const std::set<Hash> old = Packs();
  ASSERT_EQ(old.size(), 1u);
  Format2RepackInput in = Walk({t1});
  in.packs = old;
  const std::string before = Record(t1);
  {
    // Files come first in a push's pack: byte 20 is inside the first one.
    std::fstream f(base_ + "/store/packs/" + old.begin()->hex(),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x5a');
  }
  auto out = RepackFormat2(*store_, in);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kCorrupt) << out.status().ToString();
  EXPECT_NE(out.status().message().find(old.begin()->hex()), std::string::npos)
      << out.status().ToString();
  EXPECT_EQ(Record(t1), before);
}

TEST_F(RepackFormat2Test, NoPacksMeansNothingWritten) {
  WriteLib("t1");
  const Hash t1 = Push("t1", "one");
  const std::set<Hash> old = Packs();
  Format2RepackInput in = Walk({t1});
  auto out = RepackFormat2(*store_, in);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->trees.empty());
  EXPECT_TRUE(out->packs.empty());
  EXPECT_EQ(Packs(), old);
}

}  // namespace
}  // namespace lazypath
