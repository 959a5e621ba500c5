#include "lazypath/store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

}  // namespace
}  // namespace lazypath
