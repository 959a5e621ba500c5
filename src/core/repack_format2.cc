#include "core/repack_format2.h"

#include <algorithm>
#include <optional>

#include "codec/codec.h"
#include "core/tree_reader.h"
#include "core/tree_writer.h"
#include "lazypath/store.h"
#include "pack/pack.h"

namespace lazypath {

namespace {

// Reads of one pack are merged while the gap between frames is at most
// this, and each read stays below kMaxRead.
constexpr uint64_t kMaxGap = 1ull << 20;
constexpr uint64_t kMaxRead = 32ull << 20;

// Where a slot's frame is after the repack: an old pack, by hash, or a new
// one, by its index in the packs written (the open pack's index is the
// number of packs closed so far).
struct Target {
  bool fresh = false;
  size_t id = 0;  // fresh
  Hash pack;      // not fresh
  PackFrame frame;
  uint64_t lsize = 0;
};

// A blob or chunk frame in one of the packs, and what it must decode to.
struct Needed {
  Digest digest;
  PackFrame frame;
};

class Repacker {
 public:
  Repacker(Store& store, const Format2RepackInput& in)
      : store_(store), in_(in) {}

  Status Run(Format2Repacked& out) {
    rewrite_ = LocatedToRewrite(in_);
    std::vector<std::pair<Hash, LocatedDirectory>> roots;
    for (const auto& [root, record] : in_.records) {
      LP_ASSIGN_OR_RETURN(LocatedDirectory d, ParseRootDirectory(record, root));
      roots.emplace_back(root, std::move(d));
    }
    for (const auto& [root, d] : roots) Collect(d.dir, d.locator, d.holding);
    for (const auto& [key, o] : in_.walked) {
      if (o.kind == LocationKind::kDirectory) {
        Collect(o.dir, o.locator, o.holding);
      } else {
        CollectChunks(o);
      }
    }
    uint64_t todo = rewrite_.size();
    for (const auto& [pack, frames] : needed_) todo += frames.size();
    progress_.emplace(in_.progress, "repack", todo, "frames");
    LP_RETURN_IF_ERROR(CopyFrames());
    // Everything below the roots first; a root's locator goes into its
    // tree record, which may not name the holding pack, so the last pack
    // is closed before any root locator is built.
    std::vector<std::pair<size_t, std::vector<Target>>> changed;
    for (size_t i = 0; i < roots.size(); ++i) {
      const LocatedDirectory& d = roots[i].second;
      bool any = false;
      LP_ASSIGN_OR_RETURN(auto targets,
                          DirectoryTargets(d.dir, d.locator, d.holding, &any));
      if (any) changed.emplace_back(i, std::move(targets));
    }
    LP_RETURN_IF_ERROR(Close());
    std::vector<std::pair<Hash, std::string>> records;
    for (const auto& [i, targets] : changed) {
      const auto& [root, d] = roots[i];
      const std::string dir = d.dir.Serialize();
      if (HashBytes(dir).hash != root) {
        return Status::InvalidArgument(
            "repack: tree " + root.hex() +
            ": root does not serialise to its digest");
      }
      Locator loc = Build(targets, d.locator);
      LP_ASSIGN_OR_RETURN(std::string record,
                          EncodeTreeRecord(dir, loc, Codec::kZstd, in_.level));
      LP_ASSIGN_OR_RETURN(std::string raw,
                          EncodeTreeRecord(dir, loc, Codec::kNone, in_.level));
      if (raw.size() <= record.size()) record = std::move(raw);
      records.emplace_back(root, std::move(record));
    }
    LP_RETURN_IF_ERROR(PutLocations(out));
    for (const auto& [root, record] : records) {
      Status s = store_.Put(TreeKey(root), record);
      if (!s.ok()) {
        return s.WithContext("repack " + store_.url() + ": tree " + root.hex());
      }
      out.trees.push_back(root);
    }
    out.packs = written_;
    out.replaced = std::move(replaced_);
    out.frames_copied = frames_copied_;
    out.located_written = located_written_;
    return Status::OK();
  }

 private:
  bool Moving(const Hash& pack) const { return in_.packs.count(pack) > 0; }

  // A frame in the packs is needed; one elsewhere is a copy of its content
  // that stays, which a needed frame of the same content can name instead.
  void Need(const Hash& pack, const PackFrame& f, const Digest& digest) {
    if (Moving(pack)) {
      needed_[pack].emplace(f.offset, Needed{digest, f});
    } else {
      resident_.emplace(digest, Target{false, 0, pack, f, 0});
    }
  }

  // The blob frames `dir`'s locator names in the packs.
  void Collect(const Directory& dir, const Locator& loc, const Hash& holding) {
    for (size_t i = 0; i < dir.entries.size(); ++i) {
      const DirEntry& e = dir.entries[i];
      const Slot& s = loc.slots[i];
      if (s.type == SlotType::kFrame) {
        Need(loc.PackOf(s.frame, holding), s.frame, Digest{e.hash, e.size});
      } else if (s.type == SlotType::kLocatedInit) {
        Need(loc.PackOf(s.init, holding), s.init,
             Digest{e.init_hash, e.init_size});
      }
    }
  }
  void CollectChunks(const WalkedObject& o) {
    for (size_t k = 0; k < o.chunks.chunks.size(); ++k) {
      const Chunk& c = o.chunks.chunks[k];
      const PackFrame& f = o.locator.slots[k].frame;
      Need(o.locator.PackOf(f, o.holding), f, Digest{c.hash, c.size});
    }
  }

  // Copies every needed frame, pack by pack in offset order, with nearby
  // frames read together.
  Status CopyFrames() {
    for (auto& [pack, frames] : needed_) {
      for (auto it = frames.begin(); it != frames.end();) {
        auto r = resident_.find(it->second.digest);
        if (r == resident_.end()) {
          ++it;
          continue;
        }
        moved_[{pack, it->first}] = r->second;
        progress_->Add(1);
        it = frames.erase(it);
      }
    }
    for (const auto& [pack, frames] : needed_) {
      const std::string key = PackKey(pack);
      auto it = frames.begin();
      while (it != frames.end()) {
        const uint64_t start = it->first;
        uint64_t end = start + it->second.frame.length;
        auto last = std::next(it);
        while (last != frames.end() && last->first <= end + kMaxGap &&
               std::max(end, last->first + last->second.frame.length) - start <=
                   kMaxRead) {
          end = std::max(end, last->first + last->second.frame.length);
          ++last;
        }
        std::string bytes;
        Status s =
            store_.GetRange(key, start, end - start, [&](std::string_view b) {
              bytes.append(b);
              return Status::OK();
            });
        if (!s.ok()) return s.WithContext("repack " + store_.url());
        if (bytes.size() != end - start) {
          return Status::Corrupt("repack " + store_.url() + ": pack " +
                                 pack.hex() + " is shorter than its frames");
        }
        for (; it != last; ++it) {
          const Needed& n = it->second;
          std::string_view frame =
              std::string_view(bytes).substr(it->first - start, n.frame.length);
          LP_RETURN_IF_ERROR(Copy(pack, n, frame));
        }
      }
    }
    return Status::OK();
  }

  Status Copy(const Hash& pack, const Needed& n, std::string_view frame) {
    const FrameKey from{pack, n.frame.offset};
    progress_->Add(1);
    if (auto c = copied_.find(n.digest); c != copied_.end()) {
      moved_[from] = c->second;
      return Status::OK();
    }
    const std::string what = "repack: pack " + pack.hex() + ", frame at " +
                             std::to_string(n.frame.offset);
    LP_ASSIGN_OR_RETURN(std::string data,
                        DecodeFrame(n.frame.codec, frame, n.digest.size, what));
    if (HashBytes(data) != n.digest) {
      return Status::Corrupt(what + ": blob " + n.digest.hash.hex() +
                             " does not match its digest; nothing moved");
    }
    LP_RETURN_IF_ERROR(Roll());
    Target t;
    t.fresh = true;
    t.id = written_.size();
    t.frame = n.frame;
    t.frame.pack = 0;
    t.frame.offset = Append(frame);
    moved_[from] = t;
    copied_[n.digest] = t;
    Record(n.digest.hash, LocationKind::kBlob, n.digest.size, t);
    frames_copied_++;
    return Status::OK();
  }

  Target Blob(const Hash& pack, const PackFrame& f, bool* changed) const {
    if (auto it = moved_.find({pack, f.offset}); it != moved_.end()) {
      *changed = true;
      return it->second;
    }
    return Target{false, 0, pack, f, 0};
  }

  // The new slots of a directory: each child rewritten first.
  Result<std::vector<Target>> DirectoryTargets(const Directory& dir,
                                               const Locator& loc,
                                               const Hash& holding,
                                               bool* changed) {
    std::vector<Target> out;  // two per slot: main frame, init frame
    for (size_t i = 0; i < dir.entries.size(); ++i) {
      const Slot& s = loc.slots[i];
      Target main, init;
      if (s.type == SlotType::kFrame) {
        main = Blob(loc.PackOf(s.frame, holding), s.frame, changed);
      } else if (s.type == SlotType::kLocated ||
                 s.type == SlotType::kLocatedInit) {
        const Hash pack = loc.PackOf(s.frame, holding);
        LP_ASSIGN_OR_RETURN(std::optional<Target> child,
                            Rewrite({pack, s.frame.offset}));
        if (child) {
          *changed = true;
          main = *child;
        } else {
          main = Target{false, 0, pack, s.frame, s.lsize};
        }
        if (s.type == SlotType::kLocatedInit) {
          init = Blob(loc.PackOf(s.init, holding), s.init, changed);
        }
      }
      out.push_back(main);
      out.push_back(init);
    }
    return out;
  }

  // The located frame at `key` rewritten, or nullopt when it stays
  // (LocatedToRewrite decides).
  Result<std::optional<Target>> Rewrite(const FrameKey& key) {
    if (!rewrite_.count(key)) return std::optional<Target>();
    if (auto it = done_.find(key); it != done_.end()) {
      return std::optional<Target>(it->second);
    }
    const WalkedObject& o = in_.walked.at(key);  // rewrite_ holds walked ones
    bool unused = true;
    std::vector<Target> targets;
    if (o.kind == LocationKind::kDirectory) {
      LP_ASSIGN_OR_RETURN(
          targets, DirectoryTargets(o.dir, o.locator, o.holding, &unused));
    } else {
      for (const Slot& s : o.locator.slots) {
        targets.push_back(
            Blob(o.locator.PackOf(s.frame, o.holding), s.frame, &unused));
        targets.push_back(Target{});
      }
    }
    const std::string object = o.kind == LocationKind::kDirectory
                                   ? o.dir.Serialize()
                                   : o.chunks.Serialize();
    // The pack is opened (or rolled over) first: the locator names the pack
    // its frame goes into as the holding pack.
    LP_RETURN_IF_ERROR(Roll());
    std::string locator = Build(targets, o.locator).Serialize();
    const uint64_t lsize = locator.size();
    LP_ASSIGN_OR_RETURN(EncodedBlob enc,
                        EncodeBytes(object + locator, in_.level));
    Target t;
    t.fresh = true;
    t.id = written_.size();
    t.frame.codec = enc.codec;
    t.frame.length = enc.bytes.size();
    t.frame.offset = Append(enc.bytes);
    t.lsize = lsize;
    Record(o.hash, o.kind, o.size, t);
    replaced_.insert(key);
    located_written_++;
    progress_->Add(1);
    done_.emplace(key, t);
    return std::optional<Target>(t);
  }

  // The locator with `old`'s slot types at `targets` (two per slot: the
  // main frame, the init frame), packs named in order of first use.
  Locator Build(const std::vector<Target>& targets, const Locator& old) const {
    Locator loc;
    std::map<Hash, uint64_t> index;
    auto name = [&](const Target& t, PackFrame f) {
      Hash pack = t.pack;
      if (t.fresh)
        pack = t.id < written_.size() ? written_[t.id] : kHoldingPack;
      auto [it, added] = index.emplace(pack, loc.packs.size());
      if (added) loc.packs.push_back(pack);
      f.pack = it->second;
      return f;
    };
    const size_t n = targets.size() / 2;
    for (size_t i = 0; i < n; ++i) {
      const Target& main = targets[2 * i];
      const Target& init = targets[2 * i + 1];
      Slot s;
      s.type = old.slots[i].type;
      if (s.type != SlotType::kNone) {
        s.frame = name(main, main.frame);
        s.lsize = main.lsize;
      }
      if (s.type == SlotType::kLocatedInit) s.init = name(init, init.frame);
      loc.slots.push_back(s);
    }
    return loc;
  }

  void Record(const Hash& hash, LocationKind kind, uint64_t size,
              const Target& t) {
    records_.emplace(std::make_pair(hash, kind), std::make_pair(size, t));
  }

  // Closes the open pack once it has reached the target size.
  Status Roll() {
    if (open_.size() < in_.pack_bytes) return Status::OK();
    return Close();
  }
  Status Close() {
    if (open_.empty()) return Status::OK();
    const Hash pack = HashBytes(open_).hash;
    Status s = store_.Put(PackKey(pack), open_);
    if (!s.ok()) return s.WithContext("repack " + store_.url());
    written_.push_back(pack);
    open_.clear();
    return Status::OK();
  }
  uint64_t Append(std::string_view frame) {
    if (open_.empty()) open_ = kPackMagic;
    const uint64_t offset = open_.size();
    open_.append(frame);
    return offset;
  }

  Status PutLocations(Format2Repacked& out) {
    if (records_.empty()) return Status::OK();
    Locations locs;
    for (const auto& [key, v] : records_) {
      const auto& [size, t] = v;
      locs.Add({key.first, key.second, size, t.frame, t.lsize},
               written_.at(t.id));
    }
    LP_ASSIGN_OR_RETURN(std::string bytes,
                        EncodeLocations(locs, Codec::kZstd, in_.level));
    out.locations_key = LocationsKey(HashBytes(bytes).hash);
    Status s = store_.Put(out.locations_key, bytes);
    if (!s.ok()) return s.WithContext("repack " + store_.url());
    return Status::OK();
  }

  Store& store_;
  const Format2RepackInput& in_;
  std::map<Hash, std::map<uint64_t, Needed>> needed_;
  std::map<FrameKey, Target> moved_;   // blob frames copied, by old place
  std::map<Digest, Target> copied_;    // the same, by content
  std::map<Digest, Target> resident_;  // content outside the packs
  std::set<FrameKey> rewrite_;         // LocatedToRewrite(in_)
  std::map<FrameKey, Target> done_;    // located frames rewritten
  std::map<std::pair<Hash, LocationKind>, std::pair<uint64_t, Target>> records_;
  std::set<FrameKey> replaced_;
  std::optional<Progress> progress_;
  std::string open_;
  std::vector<Hash> written_;
  uint64_t frames_copied_ = 0, located_written_ = 0;
};

}  // namespace

Status WalkLocated(
    Store& store, const Hash& root, std::string_view record,
    std::set<FrameKey>& seen, std::map<FrameKey, WalkedObject>* objects,
    const std::function<void(const Locator&, const Hash&)>& on_locator) {
  LP_ASSIGN_OR_RETURN(LocatedDirectory top, ParseRootDirectory(record, root));
  on_locator(top.locator, Hash{});
  std::vector<LocatedDirectory> stack;
  stack.push_back(std::move(top));
  while (!stack.empty()) {
    LocatedDirectory d = std::move(stack.back());
    stack.pop_back();
    for (size_t i = 0; i < d.dir.entries.size(); ++i) {
      const DirEntry& e = d.dir.entries[i];
      const Slot& slot = d.locator.slots[i];
      if (slot.type == SlotType::kNone || slot.type == SlotType::kFrame) {
        continue;  // a blob: named by d's locator, seen already
      }
      const Hash pack = d.locator.PackOf(slot.frame, d.holding);
      const FrameKey where{pack, slot.frame.offset};
      if (!seen.insert(where).second) continue;
      WalkedObject o;
      o.hash = e.hash;
      o.holding = pack;
      if (e.kind == DirKind::kDirectory) {
        LP_ASSIGN_OR_RETURN(LocatedDirectory child,
                            ReadChildDirectory(store, d, i));
        on_locator(child.locator, child.holding);
        if (objects) {
          o.size = e.size;
          o.dir = child.dir;
          o.locator = child.locator;
          objects->emplace(where, std::move(o));
        }
        stack.push_back(std::move(child));
        continue;
      }
      const std::string what = "chunk list " + e.hash.hex();
      LP_ASSIGN_OR_RETURN(auto located,
                          ReadLocatedFrame(store, pack, slot.frame, e.list_size,
                                           slot.lsize, what));
      LP_ASSIGN_OR_RETURN(
          ChunkList list,
          CheckChunkList(located.first, located.second, e, what));
      on_locator(located.second, pack);
      if (objects) {
        o.kind = LocationKind::kChunkList;
        o.size = e.list_size;
        o.chunks = std::move(list);
        o.locator = std::move(located.second);
        objects->emplace(where, std::move(o));
      }
    }
  }
  return Status::OK();
}

std::set<FrameKey> LocatedToRewrite(const Format2RepackInput& in) {
  std::map<FrameKey, bool> memo;
  auto moving = [&](const Locator& loc, const PackFrame& f, const Hash& h) {
    return in.packs.count(loc.PackOf(f, h)) > 0;
  };
  // Whether the located frame at `key` is rewritten; every child is
  // visited, since each may be rewritten on its own account.
  std::function<bool(const FrameKey&)> rewritten = [&](const FrameKey& key) {
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    auto w = in.walked.find(key);
    if (w == in.walked.end()) return memo[key] = false;  // not kept: stays
    const WalkedObject& o = w->second;
    bool changed = in.packs.count(key.first) > 0;
    for (const Slot& s : o.locator.slots) {
      switch (s.type) {
        case SlotType::kNone:
          break;
        case SlotType::kFrame:
          changed |= moving(o.locator, s.frame, o.holding);
          break;
        case SlotType::kLocatedInit:
          changed |= moving(o.locator, s.init, o.holding);
          [[fallthrough]];
        case SlotType::kLocated:
          changed |=
              rewritten({o.locator.PackOf(s.frame, o.holding), s.frame.offset});
          break;
      }
    }
    return memo[key] = changed;
  };
  for (const auto& [root, record] : in.records) {
    auto top = ParseRootDirectory(record, root);
    if (!top.ok()) continue;  // RepackFormat2 reports it
    for (const Slot& s : top->locator.slots) {
      if (s.type == SlotType::kLocated || s.type == SlotType::kLocatedInit) {
        rewritten({top->locator.PackOf(s.frame, top->holding), s.frame.offset});
      }
    }
  }
  std::set<FrameKey> out;
  for (const auto& [key, yes] : memo) {
    if (yes) out.insert(key);
  }
  return out;
}

Result<Format2Repacked> RepackFormat2(Store& store,
                                      const Format2RepackInput& input) {
  Format2Repacked out;
  if (input.packs.empty() || input.records.empty()) return out;
  Repacker r(store, input);
  LP_RETURN_IF_ERROR(r.Run(out));
  return out;
}

}  // namespace lazypath
