#include "pack/known_objects.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

TEST(KnownObjectsTest, LocationsResolvePackIndexesAndKeepTheFirstCopy) {
  Hash p1 = HashBytes("pack one").hash, p2 = HashBytes("pack two").hash;
  Hash blob = HashBytes("blob").hash, dir = HashBytes("dir").hash;
  Locations a;
  a.packs = {p1, p2};
  a.records.push_back({blob, LocationKind::kBlob, 4, {1, 8, 4}, 0});
  a.records.push_back({dir, LocationKind::kDirectory, 20, {0, 8, 30}, 10});
  KnownObjects known;
  known.Add(a);
  ASSERT_NE(known.Find(blob, LocationKind::kBlob), nullptr);
  EXPECT_EQ(known.Find(blob, LocationKind::kBlob)->pack, p2);
  EXPECT_EQ(known.Find(dir, LocationKind::kDirectory)->pack, p1);
  EXPECT_EQ(known.Find(dir, LocationKind::kDirectory)->lsize, 10u);
  // The same hash as another kind is another object.
  EXPECT_EQ(known.Find(dir, LocationKind::kBlob), nullptr);

  Locations b;
  b.packs = {p1};
  b.records.push_back({blob, LocationKind::kBlob, 4, {0, 100, 4}, 0});
  known.Add(b);
  EXPECT_EQ(known.size(), 2u);
  EXPECT_EQ(known.Find(blob, LocationKind::kBlob)->pack, p2);
  EXPECT_EQ(known.Find(blob, LocationKind::kBlob)->frame.offset, 8u);
}

}  // namespace
}  // namespace lazypath
