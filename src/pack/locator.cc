#include "pack/locator.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "pack/pack.h"
#include "util/varint.h"

namespace lazypath {

namespace {

constexpr std::string_view kLocatorMagic = "LZL2";
constexpr std::string_view kTreeRecordMagic = "LZT2";
constexpr std::string_view kLocationsMagic = "LZX2";
// A record: hash, kind, then five one-byte fields at least.
constexpr size_t kRecordMinBytes = 32 + 1 + 4 + 1;

std::string Quote(std::string_view what, std::string_view why) {
  return std::string(what) + ": " + std::string(why);
}

void PutHash(std::string& out, const Hash& h) {
  out.append(reinterpret_cast<const char*>(h.bytes.data()), h.bytes.size());
}

bool GetHash(ByteReader& r, Hash* h) {
  std::string_view b;
  if (!r.Bytes(32, &b)) return false;
  std::copy(b.begin(), b.end(), h->bytes.begin());
  return true;
}

// Reads `count` distinct pack hashes, refusing a count the bytes cannot hold.
Status ReadPacks(ByteReader& r, std::string_view what, bool holding_allowed,
                 std::vector<Hash>* packs) {
  uint64_t n = 0;
  if (!r.Varint(&n)) return Status::Corrupt(Quote(what, r.error()));
  if (n > r.remaining() / 32) {
    return Status::Corrupt(Quote(what, "counts " + std::to_string(n) +
                                           " packs but has room for at most " +
                                           std::to_string(r.remaining() / 32)));
  }
  packs->resize(n);
  std::set<Hash> seen;
  for (Hash& h : *packs) {
    GetHash(r, &h);
    if (!seen.insert(h).second) {
      return Status::Corrupt(Quote(what, "pack listed twice: " + h.ToString()));
    }
    if (!holding_allowed && h == kHoldingPack) {
      return Status::Corrupt(
          Quote(what, "names the holding pack, but it is in no pack"));
    }
  }
  return Status::OK();
}

// The fields every frame reference has, checked against the pack list.
Status ReadFrame(ByteReader& r, size_t npacks, Codec codec,
                 const std::string& at, PackFrame* f) {
  if (!r.Varint(&f->pack) || !r.Varint(&f->offset) || !r.Varint(&f->length)) {
    return Status::Corrupt(at + std::string(r.error()));
  }
  f->codec = codec;
  if (f->pack >= npacks) return Status::Corrupt(at + "pack index out of range");
  if (f->offset < kPackMagic.size()) {
    return Status::Corrupt(at + "frame offset inside the pack magic");
  }
  if (f->length == 0) return Status::Corrupt(at + "frame of zero length");
  if (f->offset > UINT64_MAX - f->length) {
    return Status::Corrupt(at + "frame reaches past 2^64");
  }
  return Status::OK();
}

void PutFrame(std::string& out, const PackFrame& f) {
  PutVarint(out, f.pack);
  PutVarint(out, f.offset);
  PutVarint(out, f.length);
}

Status CheckLsize(uint64_t lsize, const std::string& at) {
  if (lsize < kMinLocatorBytes || lsize > kMaxLocatorBytes) {
    return Status::Corrupt(at + "child locator size out of range");
  }
  return Status::OK();
}

// Whether `f`'s length suits `content` decoded bytes; empty if so.
std::string FrameLengthProblem(const PackFrame& f, uint64_t content) {
  if (f.codec == Codec::kNone && f.length != content) {
    return "raw frame of " + std::to_string(f.length) + " bytes for " +
           std::to_string(content) + " bytes of content";
  }
  if (f.codec == Codec::kZstd && f.length > MaxZstdFrameBytes(content)) {
    return "zstd frame of " + std::to_string(f.length) +
           " bytes, longer than " + std::to_string(content) +
           " bytes of content can need";
  }
  return {};
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

// Refuses frames of one pack that overlap. With `same_ok`, a frame listed
// again exactly (same offset, length and codec) is the same frame.
Status CheckOverlaps(std::vector<PackFrame> frames,
                     const std::vector<Hash>& packs, bool same_ok,
                     std::string_view what) {
  std::sort(frames.begin(), frames.end(), [](const auto& a, const auto& b) {
    if (a.pack != b.pack) return a.pack < b.pack;
    if (a.offset != b.offset) return a.offset < b.offset;
    return a.length < b.length;
  });
  for (size_t i = 1; i < frames.size(); ++i) {
    const PackFrame& a = frames[i - 1];
    const PackFrame& b = frames[i];
    if (a.pack != b.pack) continue;
    if (same_ok && a == b) continue;
    if (b.offset < a.offset + a.length) {
      return Status::Corrupt(
          Quote(what, "frames at offsets " + std::to_string(a.offset) +
                          " and " + std::to_string(b.offset) +
                          " overlap in pack " + packs[a.pack].ToString()));
    }
  }
  return Status::OK();
}

// Refuses a listed pack no frame names.
Status CheckPacksUsed(const std::vector<PackFrame>& frames,
                      const std::vector<Hash>& packs, std::string_view noun,
                      std::string_view what) {
  std::vector<bool> used(packs.size());
  for (const PackFrame& f : frames) used[f.pack] = true;
  for (size_t i = 0; i < packs.size(); ++i) {
    if (!used[i]) {
      return Status::Corrupt(Quote(what, "pack " + packs[i].ToString() +
                                             " is named by no " +
                                             std::string(noun)));
    }
  }
  return Status::OK();
}

// Decodes one whole frame of `codec` that must yield exactly `size` bytes.
Result<std::string> DecodeExactly(uint8_t codec_byte, std::string_view frame,
                                  uint64_t size, std::string_view what) {
  if (codec_byte > 1) {
    return Status::Corrupt(
        Quote(what, "unknown codec " + std::to_string(codec_byte)));
  }
  return DecodeFrame(static_cast<Codec>(codec_byte), frame, size,
                     std::string(what));
}

Result<std::string> EncodeBody(std::string_view body, Codec codec, int level) {
  if (codec == Codec::kNone) return std::string(body);
  return ZstdCompress(body, level);
}

}  // namespace

uint64_t MaxZstdFrameBytes(uint64_t n) {
  constexpr uint64_t kBlock = 128 << 10;
  uint64_t margin = n < kBlock ? (kBlock - n) >> 11 : 0;
  return SaturatingAdd(SaturatingAdd(n, n >> 8), margin);
}

std::string Locator::Serialize() const {
  std::string out(kLocatorMagic);
  PutVarint(out, packs.size());
  for (const Hash& h : packs) PutHash(out, h);
  PutVarint(out, slots.size());
  for (const Slot& s : slots) {
    uint8_t tag = static_cast<uint8_t>(s.type);
    if (s.type != SlotType::kNone && s.frame.codec == Codec::kZstd) tag |= 4;
    if (s.type == SlotType::kLocatedInit && s.init.codec == Codec::kZstd) {
      tag |= 8;
    }
    out += static_cast<char>(tag);
    if (s.type == SlotType::kNone) continue;
    PutFrame(out, s.frame);
    if (s.type == SlotType::kFrame) continue;
    PutVarint(out, s.lsize);
    if (s.type == SlotType::kLocatedInit) PutFrame(out, s.init);
  }
  return out;
}

Result<Locator> Locator::Parse(std::string_view bytes, std::string_view what) {
  if (bytes.size() > kMaxLocatorBytes) {
    return Status::Corrupt(Quote(what, "locator larger than 64 MiB"));
  }
  if (bytes.substr(0, kLocatorMagic.size()) != kLocatorMagic) {
    return Status::Corrupt(Quote(what, "bad magic (not a format 2 locator)"));
  }
  ByteReader r(bytes.substr(kLocatorMagic.size()));
  Locator loc;
  LP_RETURN_IF_ERROR(ReadPacks(r, what, /*holding_allowed=*/true, &loc.packs));
  uint64_t n = 0;
  if (!r.Varint(&n)) return Status::Corrupt(Quote(what, r.error()));
  if (n > r.remaining()) {  // a slot is at least its tag byte
    return Status::Corrupt(Quote(what, "counts " + std::to_string(n) +
                                           " slots but has room for at most " +
                                           std::to_string(r.remaining())));
  }
  loc.slots.resize(n);
  std::vector<PackFrame> frames;
  for (uint64_t i = 0; i < n; ++i) {
    std::string at = std::string(what) + ": slot " + std::to_string(i) + ": ";
    Slot& s = loc.slots[i];
    uint8_t tag = 0;
    if (!r.Byte(&tag)) return Status::Corrupt(at + std::string(r.error()));
    s.type = static_cast<SlotType>(tag & 3);
    uint8_t allowed = s.type == SlotType::kNone          ? 0
                      : s.type == SlotType::kLocatedInit ? 0xf
                                                         : 0x7;
    if (tag & ~allowed) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", tag);
      return Status::Corrupt(at + "bad tag " + hex);
    }
    if (s.type == SlotType::kNone) continue;
    LP_RETURN_IF_ERROR(ReadFrame(r, loc.packs.size(),
                                 (tag & 4) ? Codec::kZstd : Codec::kNone, at,
                                 &s.frame));
    frames.push_back(s.frame);
    if (s.type == SlotType::kFrame) continue;
    if (!r.Varint(&s.lsize))
      return Status::Corrupt(at + std::string(r.error()));
    LP_RETURN_IF_ERROR(CheckLsize(s.lsize, at));
    if (s.type != SlotType::kLocatedInit) continue;
    LP_RETURN_IF_ERROR(ReadFrame(r, loc.packs.size(),
                                 (tag & 8) ? Codec::kZstd : Codec::kNone,
                                 at + "init ", &s.init));
    frames.push_back(s.init);
  }
  if (!r.at_end()) {
    return Status::Corrupt(Quote(what, "trailing bytes after the last slot"));
  }
  LP_RETURN_IF_ERROR(CheckPacksUsed(frames, loc.packs, "slot", what));
  LP_RETURN_IF_ERROR(
      CheckOverlaps(std::move(frames), loc.packs, /*same_ok=*/true, what));
  return loc;
}

bool Locator::NamesHoldingPack() const {
  return std::find(packs.begin(), packs.end(), kHoldingPack) != packs.end();
}

const Hash& Locator::PackOf(const PackFrame& frame, const Hash& holding) const {
  const Hash& h = packs[frame.pack];
  return h == kHoldingPack ? holding : h;
}

Status CheckLocator(const Locator& locator,
                    const std::vector<SlotShape>& shapes,
                    std::string_view what) {
  if (locator.slots.size() != shapes.size()) {
    return Status::Corrupt(Quote(
        what, "locator has " + std::to_string(locator.slots.size()) +
                  " slots for " + std::to_string(shapes.size()) + " entries"));
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Slot& s = locator.slots[i];
    const SlotShape& want = shapes[i];
    std::string at = std::string(what) + ": slot " + std::to_string(i) + ": ";
    if (s.type != want.type) {
      return Status::Corrupt(
          at + "type " + std::to_string(static_cast<int>(s.type)) +
          " where type " + std::to_string(static_cast<int>(want.type)) +
          " belongs");
    }
    if (s.type == SlotType::kNone) continue;
    uint64_t content = s.type == SlotType::kFrame
                           ? want.size
                           : SaturatingAdd(want.size, s.lsize);
    if (std::string p = FrameLengthProblem(s.frame, content); !p.empty()) {
      return Status::Corrupt(at + p);
    }
    if (s.type == SlotType::kLocatedInit) {
      if (std::string p = FrameLengthProblem(s.init, want.init_size);
          !p.empty()) {
        return Status::Corrupt(at + "init frame: " + p);
      }
    }
  }
  return Status::OK();
}

Result<std::string> EncodeTreeRecord(std::string_view directory,
                                     const Locator& locator, Codec codec,
                                     int level) {
  std::string loc = locator.Serialize();
  if (directory.size() < 5 || directory.size() > kMaxObjectBytes ||
      loc.size() > kMaxLocatorBytes) {
    return Status::InvalidArgument("tree record: object sizes out of range");
  }
  if (locator.NamesHoldingPack()) {
    return Status::InvalidArgument(
        "tree record: the root locator names the holding pack");
  }
  std::string out(kTreeRecordMagic);
  PutVarint(out, directory.size());
  PutVarint(out, loc.size());
  out += static_cast<char>(codec);
  LP_ASSIGN_OR_RETURN(std::string frame,
                      EncodeBody(std::string(directory) + loc, codec, level));
  return out + frame;
}

Result<TreeRecord> DecodeTreeRecord(std::string_view bytes, const Hash& key,
                                    std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(Quote(what, why));
  };
  if (bytes.substr(0, kTreeRecordMagic.size()) != kTreeRecordMagic) {
    return bad("bad magic (not a format 2 tree record)");
  }
  ByteReader r(bytes.substr(kTreeRecordMagic.size()));
  uint64_t dsize = 0, lsize = 0;
  uint8_t codec = 0;
  if (!r.Varint(&dsize) || !r.Varint(&lsize) || !r.Byte(&codec)) {
    return bad(r.error());
  }
  // The empty directory object ("LZD2" and a count) is 5 bytes.
  if (dsize < 5 || dsize > kMaxObjectBytes) {
    return bad("root directory size out of range");
  }
  if (lsize < kMinLocatorBytes || lsize > kMaxLocatorBytes) {
    return bad("root locator size out of range");
  }
  std::string_view frame = bytes.substr(bytes.size() - r.remaining());
  LP_ASSIGN_OR_RETURN(std::string body,
                      DecodeExactly(codec, frame, dsize + lsize, what));
  TreeRecord rec;
  rec.directory = body.substr(0, dsize);
  if (HashBytes(rec.directory).hash != key) {
    return bad("root directory does not match its key " + key.ToString());
  }
  LP_ASSIGN_OR_RETURN(rec.locator,
                      Locator::Parse(std::string_view(body).substr(dsize),
                                     std::string(what) + ": root locator"));
  if (rec.locator.NamesHoldingPack()) {
    return bad(
        "root locator names the holding pack, but a tree record is in "
        "no pack");
  }
  return rec;
}

void Locations::Add(LocationRecord r, const Hash& pack) {
  auto it = std::find(packs.begin(), packs.end(), pack);
  r.frame.pack = static_cast<uint64_t>(it - packs.begin());
  if (it == packs.end()) packs.push_back(pack);
  records.push_back(r);
}

std::string Locations::SerializeBody() const {
  std::string out;
  PutVarint(out, packs.size());
  for (const Hash& h : packs) PutHash(out, h);
  PutVarint(out, records.size());
  for (const LocationRecord& rec : records) {
    PutHash(out, rec.hash);
    out += static_cast<char>(rec.kind);
    PutVarint(out, rec.size);
    PutFrame(out, rec.frame);
    out += static_cast<char>(rec.frame.codec);
    if (rec.kind != LocationKind::kBlob) PutVarint(out, rec.lsize);
  }
  return out;
}

Result<Locations> Locations::ParseBody(std::string_view body,
                                       std::string_view what) {
  ByteReader r(body);
  Locations locs;
  LP_RETURN_IF_ERROR(
      ReadPacks(r, what, /*holding_allowed=*/false, &locs.packs));
  uint64_t n = 0;
  if (!r.Varint(&n)) return Status::Corrupt(Quote(what, r.error()));
  if (n > r.remaining() / kRecordMinBytes) {
    return Status::Corrupt(
        Quote(what, "counts " + std::to_string(n) +
                        " records but has room for at most " +
                        std::to_string(r.remaining() / kRecordMinBytes)));
  }
  locs.records.resize(n);
  std::vector<PackFrame> frames;
  frames.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    std::string at = std::string(what) + ": record " + std::to_string(i) + ": ";
    LocationRecord& rec = locs.records[i];
    uint8_t kind = 0, codec = 0;
    if (!GetHash(r, &rec.hash) || !r.Byte(&kind)) {
      return Status::Corrupt(at + std::string(r.error()));
    }
    if (kind != 'b' && kind != 'd' && kind != 'c') {
      return Status::Corrupt(at + "unknown kind");
    }
    rec.kind = static_cast<LocationKind>(kind);
    bool located = rec.kind != LocationKind::kBlob;
    PackFrame& f = rec.frame;
    if (!r.Varint(&rec.size) || !r.Varint(&f.pack) || !r.Varint(&f.offset) ||
        !r.Varint(&f.length) || !r.Byte(&codec) ||
        (located && !r.Varint(&rec.lsize))) {
      return Status::Corrupt(at + std::string(r.error()));
    }
    if (codec > 1) return Status::Corrupt(at + "unknown codec");
    f.codec = static_cast<Codec>(codec);
    if (f.pack >= locs.packs.size()) {
      return Status::Corrupt(at + "pack index out of range");
    }
    if (f.offset < kPackMagic.size()) {
      return Status::Corrupt(at + "frame offset inside the pack magic");
    }
    if (f.length == 0) return Status::Corrupt(at + "frame of zero length");
    if (f.offset > UINT64_MAX - f.length) {
      return Status::Corrupt(at + "frame reaches past 2^64");
    }
    if (rec.size == 0 || (located && rec.size > kMaxObjectBytes)) {
      return Status::Corrupt(at + "object size out of range");
    }
    if (located) LP_RETURN_IF_ERROR(CheckLsize(rec.lsize, at));
    if (std::string p =
            FrameLengthProblem(f, SaturatingAdd(rec.size, rec.lsize));
        !p.empty()) {
      return Status::Corrupt(at + p);
    }
    if (i > 0) {
      const LocationRecord& prev = locs.records[i - 1];
      auto key = [](const LocationRecord& x) {
        return std::make_pair(x.hash, static_cast<char>(x.kind));
      };
      if (!(key(prev) < key(rec))) {
        return Status::Corrupt(
            at + (key(prev) == key(rec) ? "listed twice" : "out of order"));
      }
    }
    frames.push_back(f);
  }
  if (!r.at_end()) {
    return Status::Corrupt(Quote(what, "trailing bytes after the last record"));
  }
  LP_RETURN_IF_ERROR(CheckPacksUsed(frames, locs.packs, "record", what));
  LP_RETURN_IF_ERROR(
      CheckOverlaps(std::move(frames), locs.packs, /*same_ok=*/false, what));
  return locs;
}

Result<std::string> EncodeLocations(const Locations& locations, Codec codec,
                                    int level) {
  std::string body = locations.SerializeBody();
  if (body.size() > kMaxLocationsBytes) {
    return Status::InvalidArgument("locations object over 1 GiB");
  }
  std::string out(kLocationsMagic);
  PutVarint(out, body.size());
  out += static_cast<char>(codec);
  LP_ASSIGN_OR_RETURN(std::string frame, EncodeBody(body, codec, level));
  return out + frame;
}

Result<Locations> DecodeLocations(std::string_view bytes, const Hash& key,
                                  std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(Quote(what, why));
  };
  if (HashBytes(bytes).hash != key) {
    return bad("locations object does not match its key " + key.ToString());
  }
  if (bytes.substr(0, kLocationsMagic.size()) != kLocationsMagic) {
    return bad("bad magic (not a format 2 locations object)");
  }
  ByteReader r(bytes.substr(kLocationsMagic.size()));
  uint64_t size = 0;
  uint8_t codec = 0;
  if (!r.Varint(&size) || !r.Byte(&codec)) return bad(r.error());
  if (size > kMaxLocationsBytes) return bad("decoded size over 1 GiB");
  std::string_view frame = bytes.substr(bytes.size() - r.remaining());
  LP_ASSIGN_OR_RETURN(std::string body,
                      DecodeExactly(codec, frame, size, what));
  return Locations::ParseBody(body, what);
}

}  // namespace lazypath
