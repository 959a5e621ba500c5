// Location data of format 2: locators, tree records and locations objects.
//
// Directory objects and chunk lists (tree/) say what a tree holds; the
// objects here say where its bytes sit: which pack, offset, length and
// codec. None of them is part of any digest, so the same code has the same
// digest however it was packed, and everything read through them is
// verified against its own digest after decoding (doc/format.md, "Format 2").
//
// - A Locator sits beside one directory object (or chunk list) and has one
//   slot per entry (or chunk). Inside a pack it travels in a *located frame*:
//   one frame decoding to the object's bytes followed by its locator's.
// - A tree record, store key trees/<hex of the root directory object>, holds
//   the root directory object and the root's locator in one frame.
// - A locations object, store key locs/<hex of its bytes>, lists where each
//   blob, chunk, located directory and located chunk list that one push
//   added lives: what a pushing machine summarises to learn what a store has.
//
// Parsers accept only canonical bytes within the limits, refuse a count the
// remaining bytes cannot hold before allocating, and fail with one-line
// Corrupt statuses starting with the caller's `what`. This layer knows
// nothing of tree/: a locator is checked against the SlotShapes its object
// gives (util/format2.h).
//
// Thread safety: values; the functions are thread-safe.
#ifndef LAZYPATH_PACK_LOCATOR_H_
#define LAZYPATH_PACK_LOCATOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.h"
#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "util/format2.h"

namespace lazypath {

inline constexpr uint64_t kMaxLocatorBytes = kMaxObjectBytes;
// "LZL2", no packs, no slots.
inline constexpr uint64_t kMinLocatorBytes = 6;
inline constexpr uint64_t kMaxLocationsBytes = 1ull << 30;

// In a locator carried by a located frame, the all-zero hash names the pack
// that holds that frame: a pack is named by the hash of its bytes, so it
// cannot name itself. Tree records and locations objects never use it.
inline constexpr Hash kHoldingPack{};

// The longest zstd frame `content_size` bytes can need (zstd's
// ZSTD_COMPRESSBOUND, saturating instead of failing for huge sizes).
uint64_t MaxZstdFrameBytes(uint64_t content_size);

// One frame of a pack; `pack` indexes the pack list of the object holding
// this reference.
struct PackFrame {
  uint64_t pack = 0;
  uint64_t offset = 0;  // >= 8: past the pack magic
  uint64_t length = 0;  // >= 1
  Codec codec = Codec::kNone;
  bool operator==(const PackFrame&) const = default;
};

struct Slot {
  SlotType type = SlotType::kNone;
  PackFrame frame;     // every type but kNone
  uint64_t lsize = 0;  // kLocated*: the child locator's length in the frame
  PackFrame init;      // kLocatedInit: the child's __init__.py blob
  bool operator==(const Slot&) const = default;
};

class Locator {
 public:
  std::vector<Hash> packs;  // distinct; each named by some slot
  std::vector<Slot> slots;

  std::string Serialize() const;
  // Parses canonical locator bytes: at most 64 MiB, distinct packs each used,
  // known tag bits, pack indexes in range, offsets past the pack magic,
  // non-empty frames, child locator sizes in [6 bytes, 64 MiB], no two frames
  // of one pack overlapping unless they are the very same frame (two equal
  // files), nothing after the last slot.
  static Result<Locator> Parse(std::string_view bytes, std::string_view what);
  bool NamesHoldingPack() const;
  // The pack `frame` lives in, with kHoldingPack read as `holding` (the pack
  // the located frame carrying this locator came from).
  // REQUIRES: frame.pack < packs.size().
  const Hash& PackOf(const PackFrame& frame, const Hash& holding) const;
};

// Checks `locator` against the object it locates: one slot per shape, of
// the shape's type, each frame as long as its content (raw) or no longer
// than zstd can need for it (a located frame's content being the object and
// its locator).
Status CheckLocator(const Locator& locator,
                    const std::vector<SlotShape>& shapes,
                    std::string_view what);

struct TreeRecord {
  // The root directory object's bytes, verified against the record's key;
  // the caller parses them (tree/directory.h, at depth 0).
  std::string directory;
  Locator locator;  // the root's locator; never names kHoldingPack
};

// "LZT2" dsize lsize codec frame. InvalidArgument when a size is out of
// range or the locator names kHoldingPack.
Result<std::string> EncodeTreeRecord(std::string_view directory,
                                     const Locator& locator, Codec codec,
                                     int level);
// Decodes trees/<hex of `key`>: output capped at exactly dsize + lsize
// bytes, the first dsize hashed against `key`, the locator parsed.
Result<TreeRecord> DecodeTreeRecord(std::string_view bytes, const Hash& key,
                                    std::string_view what);

enum class LocationKind : char {
  kBlob = 'b',       // a blob or chunk frame
  kDirectory = 'd',  // a located directory object
  kChunkList = 'c',  // a located chunk list
};

struct LocationRecord {
  Hash hash;  // the blob's, chunk's, directory's or chunk list's SHA-256
  LocationKind kind = LocationKind::kBlob;
  uint64_t size = 0;  // that object's size
  PackFrame frame;
  uint64_t lsize = 0;  // kDirectory, kChunkList: its locator's length
  bool operator==(const LocationRecord&) const = default;
};

class Locations {
 public:
  std::vector<Hash> packs;              // distinct, each used
  std::vector<LocationRecord> records;  // strictly increasing (hash, kind)

  // Appends `r`, whose frame is in `pack` (r.frame.pack is set to that
  // pack's index, the pack listed if new). REQUIRES: records are added in
  // strictly increasing (hash, kind) order.
  void Add(LocationRecord r, const Hash& pack);
  // The decoded body: npacks *packhash count *record.
  std::string SerializeBody() const;
  // Parses a decoded body: the checks of Locator::Parse for each record's
  // frame (with no two frames overlapping at all), sizes >= 1 (and at most
  // 64 MiB for located objects), records sorted and unique.
  static Result<Locations> ParseBody(std::string_view body,
                                     std::string_view what);
};

// "LZX2" size codec frame; its store key is locs/<hex of SHA-256 of it>.
Result<std::string> EncodeLocations(const Locations& locations, Codec codec,
                                    int level);
// Checks `bytes` against `key`, decodes at most the declared size (<= 1 GiB)
// and parses the body.
Result<Locations> DecodeLocations(std::string_view bytes, const Hash& key,
                                  std::string_view what);

}  // namespace lazypath

#endif  // LAZYPATH_PACK_LOCATOR_H_
