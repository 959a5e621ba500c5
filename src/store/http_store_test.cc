#include "store/http_store.h"

#include <gtest/gtest.h>

#include "lazypath/store.h"

namespace lazypath {
namespace {

TEST(HttpStoreTest, ParsesUrls) {
  auto b = ParseHttpStoreUrl("https://example.com/stores/app/");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, "https://example.com/stores/app");
  EXPECT_TRUE(ParseHttpStoreUrl("https://127.0.0.1:8443").ok());
}

TEST(HttpStoreTest, RejectsMalformedUrls) {
  for (const char* u : {"https://", "https:///path", "https://host:port/x",
                        "https://host/a?b=c", "https://host/a b"}) {
    auto b = ParseHttpStoreUrl(u);
    EXPECT_EQ(b.status().code(), Code::kInvalidArgument) << u;
  }
  EXPECT_EQ(ParseHttpStoreUrl("http://host/x").status().code(),
            Code::kUnsupported);
}

TEST(HttpStoreTest, CredentialsInUrlAreRefusedAndNotEchoed) {
  auto b = ParseHttpStoreUrl("https://user:hunter2@host/x");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message().find("hunter2"), std::string::npos);
}

TEST(HttpStoreTest, ReadOnlyAndNoListing) {
  auto env = [](const char* n) -> std::optional<std::string> {
    if (std::string(n) == "LAZYPATH_HTTP_TOKEN") return "tok-SECRET";
    return std::nullopt;
  };
  auto s = HttpStore::Open("https://127.0.0.1:1/app", env);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Status p = (*s)->Put("refs/x", "data");
  EXPECT_EQ(p.code(), Code::kUnsupported);
  EXPECT_NE(p.message().find("read-only store"), std::string::npos);
  EXPECT_EQ((*s)->PutFile("packs/x", "/dev/null").code(), Code::kUnsupported);
  auto l = (*s)->List("refs/");
  EXPECT_EQ(l.status().code(), Code::kUnsupported);
  EXPECT_EQ(l.status().message().find("tok-SECRET"), std::string::npos);
}

TEST(HttpStoreTest, OpenStoreForWritingIsReadOnly) {
  StoreOptions o;
  o.create = true;
  auto s = OpenStore("https://127.0.0.1:1/app", o);
  EXPECT_EQ(s.status().code(), Code::kUnsupported);
  EXPECT_NE(s.status().message().find("read-only"), std::string::npos);
}

}  // namespace
}  // namespace lazypath
