// RepackFormat2: moves what kept format 2 trees use out of packs that are
// mostly dead, so that those packs become unused and prune can delete them
// (doc/lifecycle.md, "Partly used packs").
//
// A format 2 frame is found only through locators: a tree record says where
// the root's children are, each located frame where its own children are.
// Moving a frame therefore needs a new locator for the object that names
// it, so a new located frame for that object, and so on up to the tree
// record. Locators are not covered by any digest, so no digest changes: the
// tree record is replaced under the same key, naming the same root.
//
// What moves is copied as it is encoded, after decoding it and verifying it
// against its digest; equal blobs are copied once, and not at all when the
// kept trees already name the same content in a pack that stays (that
// frame is named instead). A located frame is
// rewritten when it sits in one of the packs or names anything that moved,
// once however many trees share it; the others stay where they are.
//
// Writes, in this order: the new packs, one locations object for everything
// placed in them (so pushes reuse the new frames), then each tree record
// that changed. Each Put is atomic: a reader sees the old record, every
// pack of which still exists (the old packs are never touched here), or the
// new one, every pack of which was written first.
//
// Failure: any read, decode, verification or write stops the repack with
// its one-line status. Packs and a locations object written before then
// are unused until a record names them (a later prune condemns them); a
// record already replaced is complete.
//
// Thread safety: one call at a time on a store object; the inputs are only
// read.
#ifndef LAZYPATH_CORE_REPACK_FORMAT2_H_
#define LAZYPATH_CORE_REPACK_FORMAT2_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/progress.h"
#include "lazypath/status.h"
#include "pack/locator.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

class Store;

// A pack and an offset in it: where a frame starts.
using FrameKey = std::pair<Hash, uint64_t>;

// A located frame a walk read, its object verified against the digest its
// parent names and its locator checked against the object.
struct WalkedObject {
  LocationKind kind = LocationKind::kDirectory;  // or kChunkList
  Hash hash;
  uint64_t size = 0;  // the object's
  Directory dir;      // kDirectory
  ChunkList chunks;   // kChunkList
  Locator locator;
  Hash holding;  // the pack the frame is in
};

// Walks the format 2 tree `root` from its record's bytes: reads each
// located frame not in `seen` (directories verified as activation does,
// chunk lists against their digest and file size, every locator checked
// against its object), adds it to `seen` and, when `objects` is not null,
// to `objects`. `on_locator` sees every locator read, with the pack its
// frame is in (the root's: the zero hash). A frame in `seen` is not read
// again, nor anything below it. Fails on the first unreadable or invalid
// object, with its one-line status.
Status WalkLocated(
    Store& store, const Hash& root, std::string_view record,
    std::set<FrameKey>& seen, std::map<FrameKey, WalkedObject>* objects,
    const std::function<void(const Locator&, const Hash&)>& on_locator);

struct Format2RepackInput {
  // The trees to rewrite: root -> the tree record's bytes, as read.
  std::map<Hash, std::string> records;
  // Every located frame their walks read, by where it is.
  // REQUIRES: complete for `records`.
  std::map<FrameKey, WalkedObject> walked;
  // The packs to move out of.
  std::set<Hash> packs;
  int level = 3;                   // zstd level of rewritten located frames
  uint64_t pack_bytes = 64 << 20;  // a new pack is closed past this size
  // Phase "repack": frames copied and located frames rewritten, of those
  // to do. Called on the calling thread.
  ProgressFn progress;
};

struct Format2Repacked {
  std::vector<Hash> packs;    // written, in order
  std::string locations_key;  // empty when nothing was placed
  std::vector<Hash> trees;    // records replaced
  // Located frames rewritten: no replaced record reaches them any more.
  std::set<FrameKey> replaced;
  uint64_t frames_copied = 0;    // blob and chunk frames
  uint64_t located_written = 0;  // located frames rewritten
};

Result<Format2Repacked> RepackFormat2(Store& store,
                                      const Format2RepackInput& input);

// The located frames RepackFormat2 rewrites for `input` (those in
// input.packs, and those naming anything that moves or is rewritten),
// found without reading or writing anything: `replaced` of its result.
std::set<FrameKey> LocatedToRewrite(const Format2RepackInput& input);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_REPACK_FORMAT2_H_
