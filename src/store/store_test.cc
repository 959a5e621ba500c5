#include "lazypath/store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "util/fs.h"

namespace lazypath {
namespace {

TEST(RefTest, Vectors) {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/refs.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = nlohmann::json::parse(ss.str());
  for (const auto& c : v["valid"]) {
    auto h = ParseRef(c["bytes"].get<std::string>(), "ref");
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->ToString(), c["digest"].get<std::string>());
    EXPECT_EQ(SerializeRef(*h), c["bytes"].get<std::string>());
  }
  ASSERT_FALSE(v["invalid"].empty());
  for (const auto& c : v["invalid"]) {
    auto h = ParseRef(c["bytes"].get<std::string>(), "some ref");
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.status().code(), Code::kCorrupt);
    EXPECT_NE(h.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << h.status().message();
  }
}

TEST(RefTest, Names) {
  for (const char* ok : {"prod", "latest", "feature/x-1.2_b", "v1.0"}) {
    EXPECT_TRUE(ValidateRefName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "../x", "a//b", ".hidden", "a/.b", "sp ace",
                          "sha256:abc", "/abs", "a/"}) {
    EXPECT_FALSE(ValidateRefName(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateRefName(std::string(201, 'a')).ok());
}

class FileStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/file_store_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(root_).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(root_); }
  std::string root_;
};

TEST_F(FileStoreTest, OpenRespectsCreate) {
  auto missing = OpenStore(root_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(root_), std::string::npos);
  StoreOptions o;
  o.create = true;
  EXPECT_TRUE(OpenStore("file://" + root_, o).ok());
  EXPECT_TRUE(OpenStore(root_).ok());
  EXPECT_EQ(OpenStore("file://relative/x").status().code(),
            Code::kInvalidArgument);
}

TEST_F(FileStoreTest, UnknownSchemeNeverEchoesCredentials) {
  auto r = OpenStore("ftp://user:hunter2@host/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unknown scheme 'ftp'"),
            std::string::npos);
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos);
}

TEST_F(FileStoreTest, PutGetRangeListAndRefs) {
  StoreOptions o;
  o.create = true;
  auto s = OpenStore(root_, o);
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  ASSERT_TRUE(st.Put("trees/aa", "hello world").ok());
  EXPECT_EQ(*st.Get("trees/aa", 100), "hello world");
  EXPECT_EQ(st.Get("trees/aa", 5).status().code(), Code::kCorrupt);
  auto missing = st.Get("trees/bb", 100);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(root_), std::string::npos);
  std::string got;
  ASSERT_TRUE(st.GetRange("trees/aa", 6, 5, [&](std::string_view b) {
                  got.append(b);
                  return Status::OK();
                }).ok());
  EXPECT_EQ(got, "world");
  EXPECT_FALSE(st.GetRange("trees/aa", 6, 50, [](std::string_view) {
                   return Status::OK();
                 }).ok());
  EXPECT_FALSE(st.Put("../escape", "x").ok());
  Hash h = HashBytes("t").hash;
  ASSERT_TRUE(WriteRef(st, "team/prod", h).ok());
  EXPECT_EQ(*ReadRef(st, "team/prod"), h);
  EXPECT_EQ(*ResolveRef(st, h.ToString()), h);
  EXPECT_EQ(ReadRef(st, "absent").status().code(), Code::kNotFound);
  auto refs = st.List("refs/");
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(*refs, std::vector<std::string>{"refs/team/prod"});
  // The temp area is not part of the key space.
  auto all = st.List("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"refs/team/prod", "trees/aa"}));
  EXPECT_GE(st.stats().requests.load(), 8u);
}

TEST_F(FileStoreTest, UpdateRefIsCompareAndSwap) {
  StoreOptions o;
  o.create = true;
  auto s = OpenStore(root_, o);
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  Hash a = HashBytes("a").hash, b = HashBytes("b").hash,
       c = HashBytes("c").hash;
  auto empty = ReadRefState(st, "prod");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->conditional);
  EXPECT_FALSE(empty->tree.has_value());
  ASSERT_TRUE(UpdateRef(st, "prod", a, *empty).ok());
  // A second writer that also saw "no ref" loses, and is told what won.
  Status lost = UpdateRef(st, "prod", b, *empty);
  EXPECT_EQ(lost.code(), Code::kConflict);
  EXPECT_NE(lost.message().find("moved to " + a.ToString()), std::string::npos)
      << lost.message();
  EXPECT_NE(lost.message().find(root_), std::string::npos);
  EXPECT_EQ(*ReadRef(st, "prod"), a);
  // Writing what the ref already names is not a conflict (a retried write).
  EXPECT_TRUE(UpdateRef(st, "prod", a, *empty).ok());
  auto seen = ReadRefState(st, "prod");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->tree, a);
  ASSERT_TRUE(UpdateRef(st, "prod", b, *seen).ok());
  EXPECT_EQ(UpdateRef(st, "prod", c, *seen).code(), Code::kConflict);
  EXPECT_EQ(*ReadRef(st, "prod"), b);
  // The lock file stays out of the key space.
  EXPECT_EQ(*st.List(""), std::vector<std::string>{"refs/prod"});
}

TEST_F(FileStoreTest, RacingUpdatesExactlyOneWins) {
  StoreOptions o;
  o.create = true;
  auto s = OpenStore(root_, o);
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  ASSERT_TRUE(WriteRef(st, "prod", HashBytes("base").hash).ok());
  auto seen = ReadRefState(st, "prod");
  ASSERT_TRUE(seen.ok());
  constexpr int kWriters = 8;
  std::vector<Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          UpdateRef(st, "prod", HashBytes("w" + std::to_string(i)).hash, *seen);
    });
  }
  for (auto& t : threads) t.join();
  int wins = 0;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i].ok()) {
      ++wins;
      EXPECT_EQ(*ReadRef(st, "prod"), HashBytes("w" + std::to_string(i)).hash);
    } else {
      EXPECT_EQ(results[i].code(), Code::kConflict) << results[i].ToString();
    }
  }
  EXPECT_EQ(wins, 1);
}

TEST(StoreTest, StoresWithoutConditionalWritesFallBackToLastWriterWins) {
  // A minimal in-memory store that keeps the defaults of GetVersioned and
  // PutIfVersion (Unsupported), as a third-party store would.
  class Plain : public Store {
   public:
    const std::string& url() const override { return url_; }
    Result<std::string> Get(const std::string& key, uint64_t) override {
      auto it = objects_.find(key);
      if (it == objects_.end()) return Status::NotFound(key);
      return it->second;
    }
    Status GetRange(const std::string&, uint64_t, uint64_t,
                    const ByteSink&) override {
      return Status::Unsupported("range");
    }
    Status Put(const std::string& key, std::string_view data) override {
      objects_[key] = std::string(data);
      return Status::OK();
    }
    Status PutFile(const std::string&, const std::string&) override {
      return Status::Unsupported("file");
    }
    Result<bool> Exists(const std::string& key) override {
      return objects_.count(key) > 0;
    }
    Result<std::vector<std::string>> List(const std::string&) override {
      return std::vector<std::string>{};
    }

   private:
    std::string url_ = "mem://";
    std::map<std::string, std::string> objects_;
  } st;
  auto before = ReadRefState(st, "prod");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->conditional);
  ASSERT_TRUE(WriteRef(st, "prod", HashBytes("other").hash).ok());
  ASSERT_TRUE(UpdateRef(st, "prod", HashBytes("mine").hash, *before).ok());
  EXPECT_EQ(*ReadRef(st, "prod"), HashBytes("mine").hash);
}

TEST_F(FileStoreTest, DeleteIfVersion) {
  StoreOptions o;
  o.create = true;
  auto opened = OpenStore(root_, o);
  ASSERT_TRUE(opened.ok());
  auto& store = *opened;
  ASSERT_TRUE(store->Put("refs/x", "one").ok());
  auto v = store->GetVersioned("refs/x", 100);
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(store->Put("refs/x", "two").ok());
  EXPECT_EQ(store->DeleteIfVersion("refs/x", v->version).code(),
            Code::kConflict);
  auto w = store->GetVersioned("refs/x", 100);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(store->DeleteIfVersion("refs/x", w->version).ok());
  EXPECT_FALSE(*store->Exists("refs/x"));
  EXPECT_EQ(store->DeleteIfVersion("refs/x", w->version).code(),
            Code::kConflict);
  EXPECT_TRUE(store->Delete("refs/x").ok());  // absent: fine
  // A deleted ref leaves no directory behind that would block its parent.
  ASSERT_TRUE(store->Put("refs/team/prod", "one").ok());
  auto t = store->GetVersioned("refs/team/prod", 100);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(store->DeleteIfVersion("refs/team/prod", t->version).ok());
  EXPECT_TRUE(store->Put("refs/team", "two").ok());
  EXPECT_EQ(*store->Get("refs/team", 100), "two");
}

}  // namespace
}  // namespace lazypath
