#include "core/store_summary.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

constexpr std::string_view kMagic = "test-summary 1\n";

TEST(StoreSummaryTest, HeadRoundTripsAndLeavesTheBody) {
  std::set<std::string> keys{"locs/aa", "locs/bb"};
  std::string bytes =
      SerializeSummaryHead(kMagic, "s3://b/p", keys) + "BODY\nmore";
  EXPECT_EQ(bytes, "test-summary 1\ns3://b/p\n2\nlocs/aa\nlocs/bb\nBODY\nmore");
  auto head = ParseSummaryHead(bytes, kMagic, "s3://b/p", "locs/");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->covered, keys);
  EXPECT_EQ(head->body, "BODY\nmore");
}

TEST(StoreSummaryTest, ADamagedHeadIsRefused) {
  const std::string good = "test-summary 1\nfile:///s\n1\nlocs/aa\n";
  ASSERT_TRUE(ParseSummaryHead(good, kMagic, "file:///s", "locs/"));
  for (const std::string& bad : {
           std::string("other-summary 1\nfile:///s\n1\nlocs/aa\n"),    // magic
           std::string("test-summary 1\nfile:///t\n1\nlocs/aa\n"),     // url
           std::string("test-summary 1\nfile:///s\n\nlocs/aa\n"),      // count
           std::string("test-summary 1\nfile:///s\n1x\nlocs/aa\n"),    // digit
           std::string("test-summary 1\nfile:///s\n1234567890\n"),     // long
           std::string("test-summary 1\nfile:///s\n99999999\n"),       // > max
           std::string("test-summary 1\nfile:///s\n2\nlocs/aa\n"),     // short
           std::string("test-summary 1\nfile:///s\n1\nindexes/aa\n"),  // key
           std::string("test-summary 1\nfile:///s"),  // no newline
       }) {
    EXPECT_FALSE(ParseSummaryHead(bad, kMagic, "file:///s", "locs/")) << bad;
  }
}

TEST(StoreSummaryTest, TakeLineSplitsAtTheFirstNewline) {
  std::string_view rest = "a\nb\nc";
  EXPECT_EQ(*TakeLine(rest), "a");
  EXPECT_EQ(*TakeLine(rest), "b");
  EXPECT_FALSE(TakeLine(rest));
  EXPECT_EQ(rest, "c");
}

}  // namespace
}  // namespace lazypath
