#include "lazypath/lazy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "lazypath/activate.h"
#include "lazypath/profile.h"
#include "lazypath/push.h"
#include "util/fs.h"

namespace lazypath {
namespace {

// Every test runs on both store formats.
class LazyTreeTest : public testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string name =
        std::string("lazy_") +
        testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    base_ = *fs::Absolute(testing::TempDir() + "/" + name);
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = base_ + "/store";
    Write("top.py", "T = 1\n");
    Write("app/__init__.py", "A = 1\n");
    Write("app/m.py", "M = 1\n");
    Write("app/sub/__init__.py", "S = 1\n");
    Write("app/sub/deep/__init__.py", "D = 1\n");
    Write("app/sub/deep/x.py", "X = 1\n");
    Write("app/data/table.csv", "a,b\n1,2\n");  // no code: data
    Write("app/data/nested/more.txt", "more\n");
    Write("app/static-files/s.js", "js\n");  // not importable
    Write("ns/portion/mod.py", "P = 1\n");   // namespace packages
    Write("foo-1.0.dist-info/METADATA", "Name: foo\n");
    PushOptions po;
    po.cache_dir = base_ + "/push-cache";
    po.format = GetParam();
    auto p = Push(src_, store_, po);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    digest_ = p->tree.hash.ToString();
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary) << data;
  }
  std::unique_ptr<LazyTree> Open(const std::string& cache = "") {
    LazyOptions o;
    o.cache_dir = cache.empty() ? base_ + "/cache" : cache;
    auto t = LazyTree::Open(store_, digest_, o);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : nullptr;
  }
  mode_t Mode(const std::string& rel) {
    struct stat st;
    if (::lstat((root_ + "/" + rel).c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
  }
  std::string base_, src_, store_, digest_, root_;
};

TEST_P(LazyTreeTest, OpenMaterialisesOnlyTheRootWithPlaceholders) {
  auto t = Open();
  ASSERT_TRUE(t);
  root_ = t->root();
  EXPECT_FALSE(t->complete());
  EXPECT_EQ(*fs::ReadFile(root_ + "/top.py"), "T = 1\n");
  EXPECT_EQ(Mode(""), 0755u);
  EXPECT_EQ(Mode("app"), 0700u);  // a placeholder...
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/__init__.py"),
            "A = 1\n");  // ...with __init__
  EXPECT_FALSE(fs::Exists(root_ + "/app/m.py"));
  EXPECT_EQ(Mode("ns"), 0700u);
  EXPECT_FALSE(fs::Exists(root_ + "/ns/portion"));
  EXPECT_EQ(*fs::ReadFile(root_ + "/foo-1.0.dist-info/METADATA"),
            "Name: foo\n");
  // Root files, prefilled __init__.py of app, and the dist-info.
  EXPECT_EQ(t->blobs_fetched(), 3u);
}

TEST_P(LazyTreeTest, MaterializeDirBringsOwnFilesAndDataButNotSubpackages) {
  auto t = Open();
  root_ = t->root();
  uint64_t before = t->requests();
  auto did = t->MaterializeDir("app");
  ASSERT_TRUE(did.ok()) << did.status().ToString();
  EXPECT_TRUE(*did);
  EXPECT_EQ(Mode("app"), 0755u);
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/m.py"), "M = 1\n");
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/data/nested/more.txt"), "more\n");
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/static-files/s.js"), "js\n");
  EXPECT_EQ(Mode("app/sub"), 0700u);
  EXPECT_FALSE(fs::Exists(root_ + "/app/sub/deep"));
  // Format 1: at most one round trip for the directory's blobs, one more
  // for sub/__init__.py. Format 2: one per level of directory objects (app,
  // then data/ and static-files/ together, then data/nested/), then one for
  // every file, the prefilled sub/__init__.py included.
  EXPECT_LE(t->requests() - before, GetParam() == 1 ? 2u : 4u);
  EXPECT_FALSE(*t->MaterializeDir("app"));
  // A nested directory brings its ancestors first.
  ASSERT_TRUE(t->MaterializeDir("app/sub/deep").ok());
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/sub/deep/x.py"), "X = 1\n");
  EXPECT_EQ(Mode("app/sub"), 0755u);
  EXPECT_EQ(t->MaterializeDir("app/m.py").status().code(), Code::kNotFound);
  std::vector<std::string> order = t->MaterializedDirs();
  EXPECT_EQ(order,
            (std::vector<std::string>{"", "app", "app/sub", "app/sub/deep"}));
}

TEST_P(LazyTreeTest, SecondOpenerFindsWorkDoneAndFetchesNothing) {
  auto a = Open();
  auto b = Open();  // another process, same node cache
  root_ = a->root();
  ASSERT_TRUE(a->MaterializeDir("app").ok());
  auto again = b->MaterializeDir("app");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(b->blobs_fetched(), 0u);
}

TEST_P(LazyTreeTest, MaterializePathEverythingMatchesTheSource) {
  auto t = Open();
  root_ = t->root();
  ASSERT_TRUE(t->MaterializePath("").ok());
  for (const char* rel : {"top.py", "app/m.py", "app/sub/deep/x.py",
                          "ns/portion/mod.py", "app/data/table.csv"}) {
    EXPECT_EQ(*fs::ReadFile(root_ + "/" + rel), *fs::ReadFile(src_ + "/" + rel))
        << rel;
  }
  EXPECT_EQ(t->MaterializePath("nope/x").code(), Code::kNotFound);
  // Everything is done: the next opener needs no hook and fetches nothing.
  auto again = Open();
  EXPECT_TRUE(again->complete());
  EXPECT_EQ(again->root(), root_);
  EXPECT_EQ(again->blobs_fetched(), 0u);
}

TEST_P(LazyTreeTest, EagerTreeIsUsedAsItIs) {
  ActivateOptions o;
  o.cache_dir = base_ + "/cache";
  ASSERT_TRUE(Activate(store_, digest_, o).ok());
  auto t = Open();
  EXPECT_TRUE(t->complete());
  EXPECT_NE(t->root().find("/trees/"), std::string::npos);
  EXPECT_FALSE(*t->MaterializeDir("app"));
  EXPECT_EQ(t->requests(), 0u);
}

}  // namespace
}  // namespace lazypath

namespace lazypath {
namespace {

// on_demand: a directory without code stays an empty placeholder when its
// parent is materialised, and comes in full when a path in it is asked for.
TEST_P(LazyTreeTest, OnDemandDirectoriesWaitForMaterializePath) {
  LazyOptions o;
  o.cache_dir = base_ + "/cache";
  o.on_demand = {"app/data/", "foo-1.0.dist-info", "not/in/tree"};
  auto opened = LazyTree::Open(store_, digest_, o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& t = *opened;
  root_ = t->root();
  // The root: dist-info held back (not importable, but on demand).
  EXPECT_EQ(Mode("foo-1.0.dist-info"), 0700u);
  EXPECT_FALSE(fs::Exists(root_ + "/foo-1.0.dist-info/METADATA"));
  EXPECT_EQ(t->blobs_fetched(), 2u);  // top.py, app/__init__.py
  // Importing app brings static-files/ (not listed) but not data/.
  ASSERT_TRUE(t->MaterializeDir("app").ok());
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/static-files/s.js"), "js\n");
  EXPECT_EQ(Mode("app/data"), 0700u);
  EXPECT_FALSE(fs::Exists(root_ + "/app/data/table.csv"));
  uint64_t before = t->bytes_fetched();
  // Asking for one file brings that directory with everything beneath it.
  ASSERT_TRUE(t->MaterializePath("app/data/table.csv").ok());
  EXPECT_EQ(Mode("app/data"), 0755u);
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/data/table.csv"), "a,b\n1,2\n");
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/data/nested/more.txt"), "more\n");
  EXPECT_GT(t->bytes_fetched(), before);
  ASSERT_TRUE(t->MaterializePath("foo-1.0.dist-info").ok());
  EXPECT_EQ(*fs::ReadFile(root_ + "/foo-1.0.dist-info/METADATA"),
            "Name: foo\n");
  // A directory with code is refused: its packages are lazy already.
  LazyOptions bad = o;
  bad.cache_dir = base_ + "/cache2";
  bad.on_demand = {"app/sub"};
  auto refused = LazyTree::Open(store_, digest_, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().ToString().find("'app/sub'"), std::string::npos)
      << refused.status().ToString();
}

}  // namespace
}  // namespace lazypath

namespace lazypath {
namespace {

// A profile's directories come in one go, before anything imports them,
// and only what materialising them places.
TEST_P(LazyTreeTest, PrefetchBringsTheProfiledDirectories) {
  auto store = OpenStore(store_);
  ASSERT_TRUE(store.ok());
  auto tree = Hash::Parse(digest_);
  ASSERT_TRUE(tree.ok());
  ASSERT_TRUE(
      WriteProfile(**store, {*tree, {"", "app", "app/sub", "nope"}}).ok());
  auto t = Open();
  ASSERT_TRUE(t);
  root_ = t->root();
  auto st = t->Prefetch();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->profile);
  EXPECT_EQ(st->profile_dirs, 3u);  // "nope" is not in the tree
  EXPECT_EQ(st->dirs, 2u);          // the root was done at Open
  EXPECT_GT(st->blobs, 0u);
  EXPECT_EQ(Mode("app"), 0755u);
  EXPECT_EQ(Mode("app/sub"), 0755u);
  EXPECT_EQ(Mode("app/sub/deep"), 0700u);  // not profiled
  EXPECT_EQ(*fs::ReadFile(root_ + "/app/m.py"), "M = 1\n");
  // Everything profiled is there: importing it fetches nothing more.
  uint64_t fetched = t->blobs_fetched();
  EXPECT_FALSE(*t->MaterializeDir("app/sub"));
  EXPECT_EQ(t->blobs_fetched(), fetched);
}

INSTANTIATE_TEST_SUITE_P(Formats, LazyTreeTest, testing::Values(1, 2),
                         [](const auto& info) {
                           return "Format" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace lazypath
