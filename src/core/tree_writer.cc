#include "core/tree_writer.h"

#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/pack_upload.h"
#include "lazypath/store.h"
#include "pack/pack.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

std::string LocationsKey(const Hash& locations) {
  return "locs/" + locations.hex();
}

namespace {

using Key = std::pair<Hash, LocationKind>;

Status Changed(const std::string& source) {
  return Status::Unavailable(source +
                             ": changed while being pushed; push again");
}

// An object this push placed: in pack `pack_id` (the current pack until it
// is finished and named).
struct Placed {
  size_t pack_id = 0;
  FrameRef frame;
  uint64_t size = 0;
  uint64_t lsize = 0;
};

PackFrame ToPackFrame(const FrameRef& f) {
  return PackFrame{0, f.offset, f.length, f.codec};
}

class Writer {
 public:
  Writer(Store& store, const TreeInput& input, KnownObjects& known,
         const TreeWriteOptions& options)
      : store_(store),
        input_(input),
        known_(known),
        options_(options),
        packs_(store, UploadOptions(options)) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Writes the files the store lacks of the directory at `path` and beneath
  // it, and queues the directories it lacks, deepest first; the root's own
  // object goes into the tree record, not a pack.
  Status WriteFiles(const std::string& path, const BuiltDirectory& d) {
    for (const DirEntry& e : d.dir.entries) {
      if (e.kind == DirKind::kDirectory) {
        // A located directory is reused as it is, but the parent's locator
        // also names its __init__.py (an init frame, SlotShapes): when the
        // store as this push knows it lacks that blob (its pack condemned,
        // say), the directory is written again with its files.
        if ((Located({e.hash, LocationKind::kDirectory}) &&
             (!e.init_framed() ||
              Located({e.init_hash, LocationKind::kBlob}))) ||
            !queued_.insert(e.hash).second) {
          continue;
        }
        LP_ASSIGN_OR_RETURN(std::string child, ChildPath(path, e.name));
        auto it = input_.dirs->dirs.find(child);
        if (it == input_.dirs->dirs.end()) {
          return Status::InvalidArgument(child + ": directory not built");
        }
        LP_RETURN_IF_ERROR(WriteFiles(child, it->second));
      }
    }
    for (const DirEntry& e : d.dir.entries) {
      if (!e.is_file() || e.size == 0) continue;
      std::string file = path.empty() ? e.name : path + "/" + e.name;
      auto src = input_.sources.find(file);
      if (e.chunked()) {
        if (Located({e.hash, LocationKind::kChunkList})) continue;
        if (src == input_.sources.end()) return NoSource(file);
        LP_RETURN_IF_ERROR(WriteChunkedFile(src->second, e));
      } else {
        if (Located({e.hash, LocationKind::kBlob})) continue;
        if (src == input_.sources.end()) return NoSource(file);
        LP_RETURN_IF_ERROR(WriteBlob(src->second, Digest{e.hash, e.size}));
      }
    }
    if (!path.empty()) dirs_.push_back(&d);
    return Status::OK();
  }

  // The queued directories' located frames, after every file: a reader
  // walking the tree finds a push's directories side by side, in few range
  // reads, and each directory's files side by side too.
  Status WriteDirectories() {
    for (const BuiltDirectory* d : dirs_) {
      LP_RETURN_IF_ERROR(
          WriteLocated({d->digest.hash, LocationKind::kDirectory}, d->bytes,
                       d->dir.SlotShapes(), d->dir));
      out_.dirs_written++;
    }
    return Status::OK();
  }

  // Finishes the last pack, then writes the locations object and the tree
  // record for `root`.
  Result<WrittenTree> Publish(const BuiltDirectory& root) {
    LP_RETURN_IF_ERROR(packs_.Finish());
    LP_ASSIGN_OR_RETURN(Locator root_locator,
                        BuildLocator(root.dir.SlotShapes(), root.dir));
    for (const auto& [key, p] : placed_) {
      known_.Add(key.first, key.second,
                 StoredObject{pack_hashes_[p.pack_id], ToPackFrame(p.frame),
                              p.size, p.lsize});
    }
    if (!placed_.empty()) {
      Locations& locs = out_.locations;
      for (const auto& [key, p] : placed_) {
        locs.Add({key.first, key.second, p.size, ToPackFrame(p.frame), p.lsize},
                 pack_hashes_[p.pack_id]);
      }
      LP_ASSIGN_OR_RETURN(std::string bytes,
                          EncodeLocations(locs, Codec::kZstd, options_.level));
      out_.locations_key = LocationsKey(HashBytes(bytes).hash);
      if (options_.on_pack) options_.on_pack(bytes.size());
      LP_RETURN_IF_ERROR(store_.Put(out_.locations_key, bytes));
    }
    LP_ASSIGN_OR_RETURN(std::string record,
                        EncodeTreeRecord(root.bytes, root_locator, Codec::kZstd,
                                         options_.level));
    LP_ASSIGN_OR_RETURN(std::string raw,
                        EncodeTreeRecord(root.bytes, root_locator, Codec::kNone,
                                         options_.level));
    if (raw.size() <= record.size()) record = std::move(raw);
    if (options_.on_pack) options_.on_pack(record.size());
    LP_RETURN_IF_ERROR(store_.Put(TreeKey(root.digest.hash), record));
    out_.root = root.digest;
    return std::move(out_);
  }

 private:
  Status NoSource(const std::string& file) {
    return Status::InvalidArgument(file + ": no source file to push from");
  }

  bool Located(const Key& key) const {
    return placed_.count(key) || known_.Find(key.first, key.second);
  }

  // Where `key` is, for a locator about to go into the current pack: the
  // pack (kHoldingPack for the current one), the frame and lsize.
  Status Locate(const Key& key, Hash* pack, PackFrame* frame,
                uint64_t* lsize) const {
    if (auto it = placed_.find(key); it != placed_.end()) {
      const Placed& p = it->second;
      *pack = p.pack_id < pack_hashes_.size() ? pack_hashes_[p.pack_id]
                                              : kHoldingPack;
      *frame = ToPackFrame(p.frame);
      if (lsize) *lsize = p.lsize;
      return Status::OK();
    }
    if (const StoredObject* s = known_.Find(key.first, key.second)) {
      *pack = s->pack;
      *frame = s->frame;
      if (lsize) *lsize = s->lsize;
      return Status::OK();
    }
    return Status::InvalidArgument(key.first.hex() + ": not in the store");
  }

  // The locator of an object whose children are all located. `dir` gives
  // each slot's object (nullptr: a chunk list's slots, one per chunk).
  Result<Locator> BuildLocator(const std::vector<SlotShape>& shapes,
                               const Directory& dir,
                               const ChunkList* chunks = nullptr) {
    Locator loc;
    std::map<Hash, uint64_t> index;
    auto ref = [&](const Key& key, PackFrame* frame,
                   uint64_t* lsize) -> Status {
      Hash pack;
      LP_RETURN_IF_ERROR(Locate(key, &pack, frame, lsize));
      auto [it, added] = index.emplace(pack, loc.packs.size());
      if (added) loc.packs.push_back(pack);
      frame->pack = it->second;
      return Status::OK();
    };
    for (size_t i = 0; i < shapes.size(); ++i) {
      Slot s;
      s.type = shapes[i].type;
      if (chunks) {
        LP_RETURN_IF_ERROR(ref({chunks->chunks[i].hash, LocationKind::kBlob},
                               &s.frame, nullptr));
        loc.slots.push_back(s);
        continue;
      }
      const DirEntry& e = dir.entries[i];
      switch (s.type) {
        case SlotType::kNone:
          break;
        case SlotType::kFrame:
          LP_RETURN_IF_ERROR(
              ref({e.hash, LocationKind::kBlob}, &s.frame, nullptr));
          break;
        case SlotType::kLocated:
        case SlotType::kLocatedInit: {
          LocationKind kind = e.kind == DirKind::kDirectory
                                  ? LocationKind::kDirectory
                                  : LocationKind::kChunkList;
          LP_RETURN_IF_ERROR(ref({e.hash, kind}, &s.frame, &s.lsize));
          if (s.type == SlotType::kLocatedInit) {
            LP_RETURN_IF_ERROR(
                ref({e.init_hash, LocationKind::kBlob}, &s.init, nullptr));
          }
          break;
        }
      }
      loc.slots.push_back(s);
    }
    return loc;
  }

  PackUploadOptions UploadOptions(const TreeWriteOptions& o) {
    PackUploadOptions u;
    u.temp_dir = o.temp_dir;
    u.level = o.level;
    u.env = o.env;
    u.on_pack = o.on_pack;
    u.on_finished = [this](const Digest& pack) {
      pack_hashes_.push_back(pack.hash);
      out_.packs++;
    };
    return u;
  }

  Status Append(const Key& key, std::string raw, uint64_t lsize) {
    uint64_t size = raw.size() - lsize;
    LP_ASSIGN_OR_RETURN(EncodedBlob enc,
                        EncodeBytes(std::move(raw), options_.level));
    LP_ASSIGN_OR_RETURN(PackWriter * pack, packs_.Writer());
    LP_ASSIGN_OR_RETURN(FrameRef ref, pack->AddEncoded(enc));
    placed_[key] = Placed{pack_hashes_.size(), ref, size, lsize};
    return Status::OK();
  }

  Status WriteBlob(const std::string& source, const Digest& blob) {
    LP_ASSIGN_OR_RETURN(std::string raw, fs::ReadFile(source, blob.size));
    if (HashBytes(raw) != blob) return Changed(source);
    LP_RETURN_IF_ERROR(
        Append({blob.hash, LocationKind::kBlob}, std::move(raw), 0));
    if (options_.on_bytes) options_.on_bytes(blob.size);
    out_.blobs_written++;
    return Status::OK();
  }

  // The chunks the store lacks, read from `source` in order and checked
  // against the list, then the list's located frame.
  Status WriteChunkedFile(const std::string& source, const DirEntry& e) {
    auto list = input_.chunk_lists.find(e.hash);
    if (list == input_.chunk_lists.end()) {
      return Status::InvalidArgument(source + ": chunk list not given");
    }
    const ChunkList& chunks = list->second;
    LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(source));
    uint64_t offset = 0;
    std::string buf;
    for (const Chunk& c : chunks.chunks) {
      Key key{c.hash, LocationKind::kBlob};
      if (Located(key)) {
        offset += c.size;
        continue;
      }
      buf.resize(c.size);
      size_t got = 0;
      while (got < c.size) {
        ssize_t n = ::pread(fd.get(), buf.data() + got, c.size - got,
                            static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::FromErrno("read", source, errno);
        if (n == 0) return Changed(source);
        got += static_cast<size_t>(n);
      }
      if (HashBytes(buf).hash != c.hash) return Changed(source);
      offset += c.size;
      LP_RETURN_IF_ERROR(Append(key, buf, 0));
      if (options_.on_bytes) options_.on_bytes(c.size);
      out_.chunks_written++;
    }
    std::string bytes = chunks.Serialize();
    if (HashBytes(bytes).hash != e.hash) {
      return Status::InvalidArgument(source + ": chunk list does not match");
    }
    LP_RETURN_IF_ERROR(WriteLocated({e.hash, LocationKind::kChunkList}, bytes,
                                    chunks.SlotShapes(), Directory{}, &chunks));
    out_.chunk_lists_written++;
    return Status::OK();
  }

  // Appends `object` followed by its locator as one located frame.
  Status WriteLocated(const Key& key, const std::string& object,
                      const std::vector<SlotShape>& shapes,
                      const Directory& dir, const ChunkList* chunks = nullptr) {
    // Open (or roll over) the pack first: the locator names the pack its
    // frame goes into as the holding pack.
    LP_RETURN_IF_ERROR(packs_.Writer().status());
    LP_ASSIGN_OR_RETURN(Locator loc, BuildLocator(shapes, dir, chunks));
    std::string locator = loc.Serialize();
    uint64_t lsize = locator.size();
    LP_RETURN_IF_ERROR(Append(key, object + locator, lsize));
    return Status::OK();
  }

  Store& store_;
  const TreeInput& input_;
  KnownObjects& known_;
  const TreeWriteOptions& options_;
  std::map<Key, Placed> placed_;
  std::set<Hash> queued_;                    // directories queued below
  std::vector<const BuiltDirectory*> dirs_;  // to write, deepest first
  // Finished packs, by id; the open pack's id is pack_hashes_.size().
  std::vector<Hash> pack_hashes_;
  WrittenTree out_;
  PackUpload packs_;  // last: its callback uses the members above
};

}  // namespace

Result<WrittenTree> WriteTree(Store& store, const TreeInput& input,
                              KnownObjects& known,
                              const TreeWriteOptions& options) {
  if (input.dirs == nullptr || !input.dirs->dirs.count("")) {
    return Status::InvalidArgument("WriteTree: no root directory");
  }
  const BuiltDirectory& root = input.dirs->dirs.at("");
  Writer w(store, input, known, options);
  LP_RETURN_IF_ERROR(w.WriteFiles("", root));
  LP_RETURN_IF_ERROR(w.WriteDirectories());
  return w.Publish(root);
}

}  // namespace lazypath
