#include "store/key_prefix.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

TEST(KeyPrefixTest, NormalizesAndRefuses) {
  EXPECT_EQ(*NormalizeKeyPrefix("", "s3://b", "s3"), "");
  EXPECT_EQ(*NormalizeKeyPrefix("team/app//", "s3://b/team/app//", "s3"),
            "team/app");
  for (const char* bad : {"a//b", "./a", "a/..", "/a", "a/\x01"}) {
    auto r = NormalizeKeyPrefix(bad, "gs://bucket/x", "gs");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("store gs://bucket/x: malformed gs "
                                         "URL (",
                                         0),
              0u)
        << r.status().message();
  }
}

}  // namespace
}  // namespace lazypath
