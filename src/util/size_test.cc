#include "lazypath/size.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

TEST(ParseSizeTest, AcceptsTheDocumentedForms) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("4096B"), 4096u);
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("20G"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20g"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20GiB"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20gb"), 20ull << 30);
  EXPECT_EQ(*ParseSize(" 512M "), 512ull << 20);
  EXPECT_EQ(*ParseSize("1K"), 1024u);
  EXPECT_EQ(*ParseSize("3T"), 3ull << 40);
}

TEST(ParseSizeTest, RefusesAnythingElseNamingTheText) {
  for (const char* bad : {"", "G", "20X", "20 G", "1.5G", "-1", "20GiBB",
                          "99999999999999999999", "16777216T"}) {
    auto r = ParseSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"),
              std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace lazypath
