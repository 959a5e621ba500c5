#include "tree/stat_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/fs.h"

namespace lazypath {
namespace {

class StatCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/stat_cache_test_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
    ASSERT_TRUE(fs::MakeDirs(dir_).ok());
    for (int i = 0; i < 20; ++i) {
      paths_.push_back("pkg/m" + std::to_string(i) + ".py");
    }
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  static StatKey Key(int i) {
    StatKey k;
    k.ino = 1000 + i;
    k.size = 10 + i;
    k.mode = 0100644;
    k.mtime_ns = 1'000'000'000'000'000'000 + i;
    k.ctime_ns = -5 - i;  // any bit pattern survives
    return k;
  }
  static Digest Dig(int i) { return HashBytes("content " + std::to_string(i)); }

  // Writes a cache of paths_ in the order `order` gives.
  void WriteCache(const std::vector<int>& order) {
    StatCache c = StatCache::Load(dir_, "/root");
    for (int i : order) c.Put(paths_[i], Key(i), Dig(i));
    ASSERT_TRUE(c.Save().ok());
  }

  std::string dir_;
  std::vector<std::string> paths_;
};

TEST_F(StatCacheTest, EntriesComeBackInAnyLookupOrder) {
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) order.push_back(i);
  WriteCache(order);
  {
    StatCache c = StatCache::Load(dir_, "/root");
    ASSERT_EQ(c.size(), 20u);
    for (int i = 0; i < 20; ++i) {
      auto d = c.Lookup(paths_[i], Key(i));
      ASSERT_TRUE(d.has_value()) << i;
      EXPECT_EQ(*d, Dig(i));
    }
  }
  // Backwards (every lookup misses the cursor) and with a changed key.
  StatCache c = StatCache::Load(dir_, "/root");
  for (int i = 19; i >= 0; --i) {
    auto d = c.Lookup(paths_[i], Key(i));
    ASSERT_TRUE(d.has_value()) << i;
    EXPECT_EQ(*d, Dig(i));
  }
  StatKey changed = Key(3);
  changed.mtime_ns += 1;
  EXPECT_FALSE(c.Lookup(paths_[3], changed).has_value());
  changed = Key(3);
  changed.ino += 1;
  EXPECT_FALSE(c.Lookup(paths_[3], changed).has_value());
  EXPECT_FALSE(c.Lookup("pkg/absent.py", Key(3)).has_value());
  // Another root has its own (here: no) cache.
  EXPECT_EQ(StatCache::Load(dir_, "/other").size(), 0u);
}

TEST_F(StatCacheTest, ASaveOfWhatWasLoadedWritesNothing) {
  WriteCache({0, 1, 2, 3});
  StatCache c = StatCache::Load(dir_, "/root");
  struct stat before, after;
  ASSERT_EQ(::stat(c.file().c_str(), &before), 0);
  // Same entries, another order: still nothing to write.
  for (int i : {3, 1, 0, 2}) {
    ASSERT_TRUE(c.Lookup(paths_[i], Key(i)).has_value());
    c.Put(paths_[i], Key(i), Dig(i), true);
  }
  ASSERT_TRUE(c.Save().ok());
  ASSERT_EQ(::stat(c.file().c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  // A changed digest is written; a path not Put drops out.
  StatCache d = StatCache::Load(dir_, "/root");
  d.Put(paths_[0], Key(0), Dig(7));
  d.Put(paths_[1], Key(1), Dig(1));
  ASSERT_TRUE(d.Save().ok());
  StatCache e = StatCache::Load(dir_, "/root");
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(*e.Lookup(paths_[0], Key(0)), Dig(7));
  EXPECT_FALSE(e.Lookup(paths_[2], Key(2)).has_value());
}

TEST_F(StatCacheTest, ADamagedFileLoadsEmpty) {
  WriteCache({0, 1, 2, 3, 4});
  const std::string file = StatCache::Load(dir_, "/root").file();
  auto bytes = fs::ReadFile(file, 1 << 20);
  ASSERT_TRUE(bytes.ok());
  auto load = [&](const std::string& data) {
    EXPECT_TRUE(fs::WriteFileAtomic(file, data, 0600).ok());
    return StatCache::LoadFile(file).size();
  };
  EXPECT_EQ(load(*bytes), 5u);
  // Cut anywhere after the header: a partial record trusts nothing.
  for (size_t cut : {bytes->size() - 1, bytes->size() - 20, size_t{30}}) {
    EXPECT_EQ(load(bytes->substr(0, cut)), 0u) << cut;
  }
  // A path length pointing past the end.
  std::string bad = *bytes;
  bad[21 + 80 + 3] = '\x7f';
  EXPECT_EQ(load(bad), 0u);
  // The text format of version 1, and garbage.
  EXPECT_EQ(load("lazypath-statcache 1\n1 2 3 4 5 " + std::string(64, 'a') +
                 " 9 pkg/m0.py\n"),
            0u);
  EXPECT_EQ(load(std::string(500, '\xff')), 0u);
  EXPECT_EQ(load(""), 0u);
}

TEST_F(StatCacheTest, NoCacheDirectoryKeepsNothing) {
  StatCache c = StatCache::Load("", "/root");
  c.Put(paths_[0], Key(0), Dig(0));
  EXPECT_TRUE(c.Save().ok());
  EXPECT_TRUE(c.file().empty());
}

}  // namespace
}  // namespace lazypath
