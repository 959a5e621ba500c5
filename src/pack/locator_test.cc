#include "pack/locator.h"

#include <gtest/gtest.h>

#include <set>

#include "util/test_vectors.h"

namespace lazypath {
namespace {

using testing_vectors::FromHex;
using testing_vectors::Load;

const nlohmann::json& Vectors() {
  static const nlohmann::json v = Load("format2.json");
  return v;
}

std::vector<SlotShape> Shapes(const nlohmann::json& list) {
  std::vector<SlotShape> out;
  for (const auto& s : list) {
    out.push_back({static_cast<SlotType>(s[0].get<int>()), s[1], s[2]});
  }
  return out;
}

void ExpectRefused(const Status& s, const nlohmann::json& c) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find(c["error"].get<std::string>()), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().rfind("vector-source", 0), 0u) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
}

std::string FrameBytes(const std::string& pack, const PackFrame& f) {
  return std::string(pack.substr(f.offset, f.length));
}

// The push vector: every locator reads back exactly, agrees with its
// directory's slot shapes, and every frame it names decodes from the pack
// to what its slot says: blobs of the right size, located frames holding a
// directory object and a locator that parses, init frames.
TEST(LocatorTest, PushVectorLocatesEveryFrameOfThePack) {
  const auto& p = Vectors()["push"];
  std::string pack = FromHex(p["pack_hex"]);
  Hash pack_hash = *Hash::Parse(p["pack_digest"].get<std::string>());
  EXPECT_EQ(HashBytes(pack).hash, pack_hash);
  for (const auto& d : p["directories"]) {
    SCOPED_TRACE(d["path"].get<std::string>());
    std::string bytes = FromHex(d["locator_hex"]);
    auto loc = Locator::Parse(bytes, "vector");
    ASSERT_TRUE(loc.ok()) << loc.status().ToString();
    EXPECT_EQ(loc->Serialize(), bytes);
    std::vector<SlotShape> shapes = Shapes(d["slots"]);
    Status s = CheckLocator(*loc, shapes, "vector");
    EXPECT_TRUE(s.ok()) << s.ToString();
    // Inside the pack a locator names its own pack as the holding pack; the
    // root's (in the tree record) names it by hash.
    bool root = d["path"] == "";
    EXPECT_EQ(loc->NamesHoldingPack(), !root && !loc->packs.empty());
    for (size_t i = 0; i < loc->slots.size(); ++i) {
      const Slot& slot = loc->slots[i];
      if (slot.type == SlotType::kNone) continue;
      EXPECT_EQ(loc->PackOf(slot.frame, pack_hash), pack_hash);
      uint64_t content =
          shapes[i].size + (slot.type == SlotType::kFrame ? 0 : slot.lsize);
      auto out = DecodeFrame(slot.frame.codec, FrameBytes(pack, slot.frame),
                             content, "frame");
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      if (slot.type != SlotType::kFrame) {
        EXPECT_EQ(out->substr(0, 4), "LZD2");
        EXPECT_TRUE(
            Locator::Parse(out->substr(shapes[i].size), "child locator").ok());
      }
      if (slot.type == SlotType::kLocatedInit) {
        EXPECT_TRUE(DecodeFrame(slot.init.codec, FrameBytes(pack, slot.init),
                                shapes[i].init_size, "init")
                        .ok());
      }
    }
    if (!root) {
      // Its own located frame: the directory object, then this locator.
      PackFrame f{0, d["located"]["offset"], d["located"]["length"],
                  static_cast<Codec>(d["located"]["codec"].get<int>())};
      auto out =
          DecodeFrame(f.codec, FrameBytes(pack, f),
                      FromHex(d["hex"]).size() + bytes.size(), "located");
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      EXPECT_EQ(*out, FromHex(d["hex"]) + bytes);
      EXPECT_EQ(d["located"]["lsize"].get<size_t>(), bytes.size());
    }
  }
}

TEST(LocatorTest, ChunkListLocatorNamesARepeatedChunkOnce) {
  const auto& c = Vectors()["push"]["chunk_list_locator"];
  std::string bytes = FromHex(c["hex"]);
  auto loc = Locator::Parse(bytes, "vector");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->Serialize(), bytes);
  EXPECT_TRUE(CheckLocator(*loc, Shapes(c["slots"]), "vector").ok());
  size_t same = 0;
  for (size_t i = 1; i < loc->slots.size(); ++i) {
    same += loc->slots[i].frame == loc->slots[i - 1].frame;
  }
  EXPECT_EQ(same, 1u);
}

TEST(LocatorTest, InvalidVectorsAreRefusedWithTheirReason) {
  const auto& cases = Vectors()["invalid"]["locators"];
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ExpectRefused(Locator::Parse(FromHex(c["hex"]), "vector-source").status(),
                  c);
  }
  for (const auto& c : Vectors()["invalid"]["locator_checks"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto loc = Locator::Parse(FromHex(c["hex"]), "vector");
    ASSERT_TRUE(loc.ok()) << loc.status().ToString();
    ExpectRefused(CheckLocator(*loc, Shapes(c["slots"]), "vector-source"), c);
  }
}

TEST(LocatorTest, ZstdBoundMatchesZstd) {
  EXPECT_EQ(MaxZstdFrameBytes(0), 64u);
  EXPECT_EQ(MaxZstdFrameBytes(1), 64u);
  EXPECT_EQ(MaxZstdFrameBytes(128 << 10), (128u << 10) + 512);
  EXPECT_EQ(MaxZstdFrameBytes(UINT64_MAX), UINT64_MAX);
  for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{1} << 20}) {
    auto z = ZstdCompress(std::string(n, 'x'), 3);
    ASSERT_TRUE(z.ok());
    EXPECT_LE(z->size(), MaxZstdFrameBytes(n));
  }
}

TEST(TreeRecordTest, VectorsDecodeAndEncodeExactly) {
  const auto& t = Vectors()["push"]["tree_record"];
  const auto& dirs = Vectors()["push"]["directories"];
  Hash key = *Hash::Parse(t["key"].get<std::string>());
  std::string root_dir, root_loc;
  for (const auto& d : dirs) {
    if (d["path"] == "") {
      root_dir = FromHex(d["hex"]);
      root_loc = FromHex(d["locator_hex"]);
    }
  }
  for (const char* field : {"raw_hex", "zstd_hex"}) {
    SCOPED_TRACE(field);
    auto rec = DecodeTreeRecord(FromHex(t[field]), key, "vector");
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->directory, root_dir);
    EXPECT_EQ(rec->locator.Serialize(), root_loc);
  }
  auto rec = DecodeTreeRecord(FromHex(t["raw_hex"]), key, "vector");
  auto raw = EncodeTreeRecord(rec->directory, rec->locator, Codec::kNone, 3);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, FromHex(t["raw_hex"]));
  auto z = EncodeTreeRecord(rec->directory, rec->locator, Codec::kZstd, 3);
  ASSERT_TRUE(z.ok());
  auto back = DecodeTreeRecord(*z, key, "zstd");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->directory, root_dir);
  // The smallest record: the empty tree, no packs.
  std::string empty("LZD2\0", 5);
  auto e = EncodeTreeRecord(empty, Locator{}, Codec::kNone, 3);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(DecodeTreeRecord(*e, HashBytes(empty).hash, "empty").ok());
  // A root locator cannot name the holding pack: a tree record is in none.
  Locator holding = rec->locator;
  holding.packs[0] = kHoldingPack;
  EXPECT_EQ(
      EncodeTreeRecord(root_dir, holding, Codec::kNone, 3).status().code(),
      Code::kInvalidArgument);
}

TEST(TreeRecordTest, InvalidVectorsAreRefusedWithTheirReason) {
  const auto& cases = Vectors()["invalid"]["tree_records"];
  ASSERT_GE(cases.size(), 12u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ExpectRefused(DecodeTreeRecord(FromHex(c["hex"]),
                                   *Hash::Parse(c["key"].get<std::string>()),
                                   "vector-source")
                      .status(),
                  c);
  }
}

TEST(LocationsTest, VectorsDecodeAndEncodeExactly) {
  const auto& p = Vectors()["push"];
  std::string pack = FromHex(p["pack_hex"]);
  std::string raw = FromHex(p["locations"]["raw_hex"]);
  std::string z = FromHex(p["locations"]["zstd_hex"]);
  auto locs = DecodeLocations(raw, HashBytes(raw).hash, "vector");
  ASSERT_TRUE(locs.ok()) << locs.status().ToString();
  ASSERT_EQ(locs->records.size(), p["locations"]["records"].get<size_t>());
  auto from_z = DecodeLocations(z, HashBytes(z).hash, "vector");
  ASSERT_TRUE(from_z.ok()) << from_z.status().ToString();
  EXPECT_EQ(from_z->records, locs->records);
  EXPECT_EQ(*EncodeLocations(*locs, Codec::kNone, 3), raw);
  // Every record locates its object in the pack.
  EXPECT_EQ(
      locs->packs,
      std::vector<Hash>{*Hash::Parse(p["pack_digest"].get<std::string>())});
  for (const LocationRecord& r : locs->records) {
    SCOPED_TRACE(r.hash.ToString());
    auto out = DecodeFrame(r.frame.codec, FrameBytes(pack, r.frame),
                           r.size + r.lsize, "record");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(HashBytes(out->substr(0, r.size)).hash, r.hash);
    if (r.kind != LocationKind::kBlob) {
      EXPECT_TRUE(Locator::Parse(out->substr(r.size), "located").ok());
    }
  }
  std::string synthetic = FromHex(p["synthetic_locations_hex"]);
  auto s = DecodeLocations(synthetic, HashBytes(synthetic).hash, "vector");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::set<LocationKind> kinds;
  for (const auto& r : s->records) kinds.insert(r.kind);
  EXPECT_EQ(kinds.size(), 3u);
  EXPECT_EQ(*EncodeLocations(*s, Codec::kNone, 3), synthetic);
  auto sz = EncodeLocations(*s, Codec::kZstd, 3);
  auto back = DecodeLocations(*sz, HashBytes(*sz).hash, "zstd");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->records, s->records);
}

TEST(LocationsTest, InvalidVectorsAreRefusedWithTheirReason) {
  const auto& cases = Vectors()["invalid"]["locations"];
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::string bytes = FromHex(c["hex"]);
    Hash key = c.contains("key") ? *Hash::Parse(c["key"].get<std::string>())
                                 : HashBytes(bytes).hash;
    ExpectRefused(DecodeLocations(bytes, key, "vector-source").status(), c);
  }
}

TEST(LocationsTest, KeyIsCheckedFirst) {
  std::string raw = FromHex(Vectors()["push"]["locations"]["raw_hex"]);
  auto r = DecodeLocations(raw, HashBytes("other").hash, "locs/x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match its key"),
            std::string::npos);
}

}  // namespace
}  // namespace lazypath

namespace lazypath {
namespace {

TEST(LocationsTest, AddListsEachPackOnceInOrderOfFirstUse) {
  Hash a, b;
  a.bytes[0] = 1;
  b.bytes[0] = 2;
  Locations locs;
  LocationRecord r;
  r.size = 1;
  r.frame = PackFrame{7, 8, 1, Codec::kNone};  // the index is Add's to set
  for (const Hash* p : {&b, &a, &b}) {
    r.hash.bytes[31]++;
    r.frame.offset++;  // frames of one pack must not overlap
    locs.Add(r, *p);
  }
  EXPECT_EQ(locs.packs, (std::vector<Hash>{b, a}));
  ASSERT_EQ(locs.records.size(), 3u);
  EXPECT_EQ(locs.records[0].frame.pack, 0u);
  EXPECT_EQ(locs.records[1].frame.pack, 1u);
  EXPECT_EQ(locs.records[2].frame.pack, 0u);
  EXPECT_TRUE(Locations::ParseBody(locs.SerializeBody(), "t").ok());
}

}  // namespace
}  // namespace lazypath
