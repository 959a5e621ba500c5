#include "lazypath/profile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "core/fetch.h"
#include "core/materialization.h"
#include "lazypath/lazy.h"
#include "lazypath/push.h"
#include "pack/index.h"
#include "util/fs.h"

namespace lazypath {
namespace {

TEST(ProfileFormatTest, Vectors) {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/profiles.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = nlohmann::json::parse(ss.str());
  ASSERT_FALSE(v["valid"].empty());
  for (const auto& c : v["valid"]) {
    std::string bytes = c["bytes"].get<std::string>();
    auto p = ParseProfile(bytes, "profile");
    ASSERT_TRUE(p.ok()) << c["name"] << ": " << p.status().ToString();
    EXPECT_EQ(p->tree.ToString(), c["tree"].get<std::string>());
    EXPECT_EQ(p->dirs, c["dirs"].get<std::vector<std::string>>());
    EXPECT_EQ(SerializeProfile(*p), bytes) << c["name"];
  }
  ASSERT_FALSE(v["invalid"].empty());
  for (const auto& c : v["invalid"]) {
    auto p = ParseProfile(c["bytes"].get<std::string>(), "store/profiles/x");
    ASSERT_FALSE(p.ok()) << c["name"];
    EXPECT_EQ(p.status().code(), Code::kCorrupt);
    EXPECT_NE(p.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << c["name"] << ": " << p.status().message();
    EXPECT_NE(p.status().message().find("store/profiles/x"), std::string::npos);
  }
}

TEST(ProfileFormatTest, Limits) {
  Profile p;
  p.tree = HashBytes("t").hash;
  for (size_t i = 0; i <= kMaxProfileDirs; ++i) {
    p.dirs.push_back("d" + std::to_string(i));
  }
  nlohmann::json doc = {{"format", "lazypath-profile/1"},
                        {"tree", p.tree.ToString()},
                        {"dirs", p.dirs}};
  auto parsed = ParseProfile(doc.dump(), "big");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("more than 65536"),
            std::string::npos);
  EXPECT_FALSE(ValidateProfile(p).ok());
  p.dirs.pop_back();
  EXPECT_TRUE(ValidateProfile(p).ok());
  EXPECT_FALSE(
      ParseProfile(std::string(kMaxProfileBytes + 1, ' '), "huge").ok());
}

class ProfilePushTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = *fs::Absolute(
        testing::TempDir() + "/profile_" +
        testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    src_ = base_ + "/src";
    store_ = base_ + "/store";
    Write("top.py", "T = 1\n");
    Write("a/__init__.py", "A = 1\n");
    Write("b/__init__.py", "B = 1\n");
    Write("b/big.bin", Random(300 << 10, 1));  // over the coalescing gap
    Write("c/__init__.py", "C = 1\n");
    Write("c/m.py", "M = 1\n");
    Write("c/sub/__init__.py", "CS = 1\n");  // prefilled in c's placeholder
    Write("c/sub/x.py", "X = 1\n");          // not part of c
    Write("c/data/t.csv", "a,b\n");          // no code: comes with c
    Write("c/static-files/s.js", "js\n");    // not importable: comes with c
    Write("d/__init__.py", "D = 1\n");
    Write("d/big.bin", Random(300 << 10, 2));
    Write("z/__init__.py", "Z = 1\n");
    Write("z/y.py", "Y = 1\n");
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  static std::string Random(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = src_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  PushResult DoPush(const std::string& tag, bool use_profile = true,
                    const std::string& from = "") {
    PushOptions po;
    po.cache_dir = base_ + "/push-cache";
    po.format = 1;  // format 2 carries a profile but does not reorder packs
    po.tag = tag;
    po.use_profile = use_profile;
    po.profile_from = from;
    auto p = Push(src_, store_, po);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : PushResult{};
  }
  Tree GetTree(const Hash& h) {
    auto s = OpenStore(store_);
    auto t = FetchTreeVerified(**s, h);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t->first;
  }
  // The coalesced ranges that fetch the blobs of `dirs` of tree `h`.
  std::vector<BlobRange> Ranges(const Hash& h,
                                const std::vector<std::string>& dirs,
                                std::vector<Digest>* blobs = nullptr) {
    auto s = OpenStore(store_);
    auto idx = FetchIndex(**s, h);
    EXPECT_TRUE(idx.ok());
    Tree tree = GetTree(h);
    std::vector<Digest> want = Materialization(tree).Blobs(dirs);
    std::vector<std::pair<Hash, BlobLocation>> located;
    for (const auto& b : want) located.emplace_back(b.hash, idx->blobs[b.hash]);
    if (blobs) *blobs = want;
    return *PlanRanges(located, "test");
  }
  void Profile(const Hash& tree, std::vector<std::string> dirs) {
    auto s = OpenStore(store_);
    ASSERT_TRUE(WriteProfile(**s, {tree, std::move(dirs)}).ok());
  }
  std::string base_, src_, store_;
};

TEST_F(ProfilePushTest, PrefetchFetchesWhatLazyActivationPlaces) {
  PushResult p = DoPush("prod");
  Tree tree = GetTree(p.tree.hash);
  std::vector<Digest> blobs = Materialization(tree).Blobs({"c"});
  // c/__init__.py, m.py, data/t.csv, static-files/s.js, sub/__init__.py.
  EXPECT_EQ(blobs.size(), 5u);
  Profile(p.tree.hash, {"", "c", "z"});
  LazyOptions o;
  o.cache_dir = base_ + "/cache";
  auto t = LazyTree::Open(store_, "prod", o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto st = (*t)->Prefetch();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->profile);
  EXPECT_EQ(st->profile_dirs, 3u);
  EXPECT_EQ(st->dirs, 2u);
  uint64_t fetched = (*t)->blobs_fetched();
  // Already done by the prefetch, and nothing more to fetch for them.
  EXPECT_FALSE(*(*t)->MaterializeDir("c"));
  EXPECT_FALSE(*(*t)->MaterializeDir("z"));
  EXPECT_EQ((*t)->blobs_fetched(), fetched);
  std::string root = (*t)->root();
  EXPECT_EQ(*fs::ReadFile(root + "/c/m.py"), "M = 1\n");
  EXPECT_EQ(*fs::ReadFile(root + "/c/data/t.csv"), "a,b\n");
  EXPECT_EQ(*fs::ReadFile(root + "/z/y.py"), "Y = 1\n");
  EXPECT_FALSE(fs::Exists(root + "/c/sub/x.py"));  // still a placeholder
  EXPECT_FALSE(fs::Exists(root + "/b/big.bin"));
}

// Regression: with a profile naming pkg and on_demand=["pkg/data"], the
// prefetch downloaded pkg/data's 2 MiB, then materialising pkg left it an
// empty placeholder. The prefetch now fetches exactly what pkg will hold.
TEST_F(ProfilePushTest, PrefetchLeavesOnDemandDirectoriesOut) {
  Write("pkg/__init__.py", "P = 1\n");
  Write("pkg/data/big.bin", Random(2 << 20, 3));
  Write("pkg/data/nested/more.txt", "more\n");
  Write("pkg/assets/logo.svg", "<svg/>\n");  // no code, not on demand
  PushResult v1 = DoPush("prod");
  Profile(v1.tree.hash, {"", "pkg"});
  DoPush("prod");  // lay the profiled set out first
  LazyOptions o;
  o.cache_dir = base_ + "/cache";
  o.on_demand = {"pkg/data"};
  auto t = LazyTree::Open(store_, "prod", o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  uint64_t opened = (*t)->bytes_fetched();
  auto st = (*t)->Prefetch();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->dirs, 1u);  // pkg ("" was built by Open)
  EXPECT_LT(st->bytes, 1u << 20);
  EXPECT_LT((*t)->bytes_fetched() - opened, 1u << 20);
  // What was fetched is what pkg holds: nothing more to fetch for it.
  uint64_t blobs = (*t)->blobs_fetched();
  EXPECT_FALSE(*(*t)->MaterializeDir("pkg"));
  EXPECT_EQ((*t)->blobs_fetched(), blobs);
  std::string root = (*t)->root();
  EXPECT_EQ(*fs::ReadFile(root + "/pkg/assets/logo.svg"), "<svg/>\n");
  struct stat sb;
  ASSERT_EQ(::lstat((root + "/pkg/data").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0700u);
  EXPECT_FALSE(fs::Exists(root + "/pkg/data/big.bin"));
  EXPECT_FALSE(fs::Exists(root + "/pkg/data/nested"));
  // Asked for, it comes in full, and only then are its bytes read.
  ASSERT_TRUE((*t)->MaterializePath("pkg/data/big.bin").ok());
  EXPECT_GE((*t)->bytes_fetched() - opened, 2u << 20);
  EXPECT_EQ(*fs::ReadFile(root + "/pkg/data/big.bin"), Random(2 << 20, 3));
  EXPECT_EQ(*fs::ReadFile(root + "/pkg/data/nested/more.txt"), "more\n");
}

TEST_F(ProfilePushTest, WithoutProfileTheSetIsScattered) {
  PushResult p = DoPush("prod", /*use_profile=*/false);
  // Pack order is by directory: z and c are separated by d/big.bin.
  EXPECT_EQ(Ranges(p.tree.hash, {"z", "c"}).size(), 2u);
}

TEST_F(ProfilePushTest, NextPushPacksProfiledSetFirstAndCarriesIt) {
  PushResult v1 = DoPush("prod");
  Profile(v1.tree.hash, {"", "z", "c", "gone"});
  Write("c/m.py", "M = 2\n");
  Write("e/__init__.py", "E = 1\n");
  PushResult v2 = DoPush("prod");
  ASSERT_NE(v1.tree.hash, v2.tree.hash);
  ASSERT_TRUE(v2.profile.source.has_value());
  EXPECT_EQ(*v2.profile.source, v1.tree.hash);
  EXPECT_EQ(v2.profile.dirs, 3u);  // "gone" is not in the tree
  EXPECT_TRUE(v2.profile.carried);
  // Unchanged profiled blobs are written again, next to the changed one.
  Tree v2_tree = GetTree(v2.tree.hash);
  EXPECT_EQ(v2.profile.blobs_first,
            Materialization(v2_tree).Blobs({"", "z", "c"}).size());

  std::vector<Digest> blobs;
  auto ranges = Ranges(v2.tree.hash, {"", "z", "c"}, &blobs);
  ASSERT_EQ(ranges.size(), 1u);
  // In profile order, back to back, at the start of the pack.
  auto s = OpenStore(store_);
  auto idx = FetchIndex(**s, v2.tree.hash);
  uint64_t at = 8;
  for (const auto& b : blobs) {
    const BlobLocation& loc = idx->blobs[b.hash];
    EXPECT_EQ(loc.pack, ranges[0].pack);
    EXPECT_EQ(loc.frame.offset, at);
    at = loc.frame.offset + loc.frame.length;
  }
  auto carried = ReadProfile(**s, v2.tree.hash);
  ASSERT_TRUE(carried.ok() && carried->has_value());
  EXPECT_EQ((*carried)->dirs, (std::vector<std::string>{"", "z", "c"}));

  // Lazy activation fetches the set with one request.
  LazyOptions o;
  o.cache_dir = base_ + "/cache";
  auto t = LazyTree::Open(store_, "prod", o);
  ASSERT_TRUE(t.ok());
  auto st = (*t)->Prefetch();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->requests, 1u);
  EXPECT_EQ(st->dirs, 2u);
  EXPECT_EQ(*fs::ReadFile((*t)->root() + "/c/m.py"), "M = 2\n");
}

TEST_F(ProfilePushTest, PushingTheSameTreeAgainRepacksItsProfiledSet) {
  PushResult v1 = DoPush("prod");
  EXPECT_EQ(Ranges(v1.tree.hash, {"z", "c"}).size(), 2u);
  Profile(v1.tree.hash, {"z", "c"});
  PushResult again = DoPush("prod");
  EXPECT_EQ(again.tree.hash, v1.tree.hash);
  EXPECT_TRUE(again.tree_existed);
  EXPECT_FALSE(again.profile.carried);  // its own
  EXPECT_GT(again.profile.blobs_first, 0u);
  EXPECT_EQ(Ranges(v1.tree.hash, {"z", "c"}).size(), 1u);
  // Once laid out, a further push changes nothing.
  PushResult third = DoPush("prod");
  EXPECT_EQ(third.profile.blobs_first, 0u);
  EXPECT_EQ(third.blobs_uploaded, 0u);
}

TEST_F(ProfilePushTest, ProfileFromNamesItsRef) {
  PushResult v1 = DoPush("prod");
  PushOptions po;
  po.cache_dir = base_ + "/push-cache";
  po.profile_from = "prod";
  auto p = Push(src_, store_, po);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kNotFound);
  EXPECT_NE(p.status().message().find("no profile for prod"),
            std::string::npos);
  Profile(v1.tree.hash, {"z"});
  Write("z/y.py", "Y = 2\n");
  PushResult v2 = DoPush("", true, "prod");
  EXPECT_TRUE(v2.profile.carried);
}

TEST_F(ProfilePushTest, CorruptTagProfileIsReportedNotFatal) {
  PushResult v1 = DoPush("prod");
  auto s = OpenStore(store_);
  ASSERT_TRUE((*s)->Put(ProfileKey(v1.tree.hash), "junk").ok());
  Write("z/y.py", "Y = 3\n");
  PushResult v2 = DoPush("prod");
  EXPECT_FALSE(v2.profile.source.has_value());
  EXPECT_NE(v2.profile.warning.find("not valid JSON"), std::string::npos)
      << v2.profile.warning;
}

TEST_F(ProfilePushTest, ImportRacingThePrefetchGetsItsDirectory) {
  PushResult v1 = DoPush("prod");
  Profile(v1.tree.hash, {"", "z", "c", "a", "d"});
  DoPush("prod");  // lay the set out
  for (int round = 0; round < 3; ++round) {
    LazyOptions o;
    o.cache_dir = base_ + "/cache" + std::to_string(round);
    auto t = LazyTree::Open(store_, "prod", o);
    ASSERT_TRUE(t.ok());
    std::optional<Result<PrefetchStats>> st;
    std::thread bg([&] { st.emplace((*t)->Prefetch()); });
    auto did = (*t)->MaterializeDir(round == 0 ? "d" : "c");
    bg.join();
    ASSERT_TRUE(did.ok()) << did.status().ToString();
    ASSERT_TRUE(st->ok()) << st->status().ToString();
    EXPECT_EQ(*fs::ReadFile((*t)->root() + "/c/m.py"), "M = 1\n");
    EXPECT_EQ(*fs::ReadFile((*t)->root() + "/d/big.bin"), Random(300 << 10, 2));
  }
}

TEST_F(ProfilePushTest, PrefetchWithoutProfileDoesNothing) {
  DoPush("prod");
  LazyOptions o;
  o.cache_dir = base_ + "/cache";
  auto t = LazyTree::Open(store_, "prod", o);
  ASSERT_TRUE(t.ok());
  auto st = (*t)->Prefetch();
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->profile);
  EXPECT_EQ(st->dirs, 0u);
  EXPECT_FALSE(fs::Exists((*t)->root() + "/z/y.py"));
}

}  // namespace
}  // namespace lazypath
