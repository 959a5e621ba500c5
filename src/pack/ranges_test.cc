#include "pack/ranges.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

TEST(PlanRangesTest, CoalescesNeighboursSplitsFarOnesAndRejectsOverlap) {
  Hash pack = HashBytes("p").hash;
  auto loc = [&](uint64_t off, uint64_t len) {
    return BlobLocation{pack, FrameRef{off, len, Codec::kNone}, len};
  };
  std::vector<std::pair<Hash, BlobLocation>> blobs = {
      {HashBytes("c").hash, loc(8 + 300, 100)},
      {HashBytes("a").hash, loc(8, 100)},
      {HashBytes("b").hash, loc(8 + 100, 100)},  // adjacent
      {HashBytes("far").hash, loc(8 + (10 << 20), 10)},
  };
  auto r = PlanRanges(blobs, "t");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].offset, 8u);
  EXPECT_EQ((*r)[0].length, 400u);
  EXPECT_EQ((*r)[0].blobs.size(), 3u);
  EXPECT_EQ((*r)[1].blobs.size(), 1u);
  blobs.push_back({HashBytes("overlap").hash, loc(8 + 50, 100)});
  auto bad = PlanRanges(blobs, "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("overlap"), std::string::npos);
}

}  // namespace
}  // namespace lazypath
