#include "core/tree_fetch.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <utility>

#include "core/directory_cache.h"
#include "lazypath/store.h"
#include "pack/locator.h"
#include "tree/chunker.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

// Frames of one pack closer than this are read in one request, gap and all.
constexpr uint64_t kMaxGapBytes = 256ull << 10;
constexpr uint64_t kMaxSpanBytes = 16ull << 20;
// A chunked file streams a run of adjacent chunks at a time: the run's raw
// and decoded bytes are in memory at once, so keep it short.
constexpr uint64_t kMaxChunkRunBytes = 4ull << 20;
constexpr std::string_view kRecordMagic = "LZT2";

// A frame to read: where it is, and what it must decode to.
struct Wanted {
  Hash pack;
  PackFrame frame;
};

struct Span {
  Hash pack;
  uint64_t offset = 0, length = 0;
  std::vector<size_t> members;  // indexes into the wanted frames
};

std::vector<Span> Coalesce(const std::vector<Wanted>& wanted, uint64_t gap) {
  std::vector<size_t> order(wanted.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(wanted[a].pack, wanted[a].frame.offset) <
           std::tie(wanted[b].pack, wanted[b].frame.offset);
  });
  std::vector<Span> spans;
  for (size_t i : order) {
    const Wanted& w = wanted[i];
    uint64_t end = w.frame.offset + w.frame.length;
    if (!spans.empty()) {
      Span& s = spans.back();
      uint64_t s_end = s.offset + s.length;
      if (s.pack == w.pack && w.frame.offset <= s_end + gap &&
          std::max(end, s_end) - s.offset <= kMaxSpanBytes) {
        s.length = std::max(end, s_end) - s.offset;
        s.members.push_back(i);
        continue;
      }
    }
    spans.push_back(Span{w.pack, w.frame.offset, w.frame.length, {i}});
  }
  return spans;
}

// Byte ranges of packs read so far in one walk: a level's spans may cover
// frames of the next level (a push's directories sit side by side), which
// are then sliced from memory instead of read again.
class ReadSpans {
 public:
  // The bytes of `frame` in `pack`, if a span read earlier holds them.
  std::optional<std::string_view> Find(const Hash& pack,
                                       const PackFrame& frame) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : spans_) {
      if (s->pack == pack && frame.offset >= s->offset &&
          frame.offset + frame.length <= s->offset + s->bytes.size()) {
        return std::string_view(s->bytes).substr(frame.offset - s->offset,
                                                 frame.length);
      }
    }
    return std::nullopt;
  }
  const std::string& Add(const Hash& pack, uint64_t offset, std::string bytes) {
    auto s = std::make_unique<Held>(Held{pack, offset, std::move(bytes)});
    std::lock_guard<std::mutex> lock(mu_);
    spans_.push_back(std::move(s));
    return spans_.back()->bytes;
  }

 private:
  struct Held {
    Hash pack;
    uint64_t offset;
    std::string bytes;
  };
  std::mutex mu_;
  std::vector<std::unique_ptr<Held>> spans_;  // stable addresses
};

// Reads every wanted frame (coalesced) and hands each one's raw bytes to
// `use`, which may run on any of `threads` threads. With `held`, frames
// inside spans read before are not read again, and new spans are kept.
Status ReadFrames(Store& store, const std::vector<Wanted>& wanted, uint64_t gap,
                  int threads, TreeReadStats* stats,
                  const std::function<Status(size_t, std::string_view)>& use,
                  ReadSpans* held = nullptr) {
  std::vector<Wanted> to_read;
  std::vector<size_t> index;  // to_read[i] is wanted[index[i]]
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (held) {
      if (auto bytes = held->Find(wanted[i].pack, wanted[i].frame)) {
        LP_RETURN_IF_ERROR(use(i, *bytes));
        continue;
      }
    }
    to_read.push_back(wanted[i]);
    index.push_back(i);
  }
  std::vector<Span> spans = Coalesce(to_read, gap);
  return ParallelFor(spans.size(), threads, [&](size_t k) -> Status {
    const Span& s = spans[k];
    std::string bytes;
    bytes.reserve(s.length);
    LP_RETURN_IF_ERROR(store.GetRange(PackKey(s.pack), s.offset, s.length,
                                      [&](std::string_view b) {
                                        bytes.append(b);
                                        return Status::OK();
                                      }));
    if (stats) {
      stats->requests++;
      stats->bytes += bytes.size();
    }
    std::string_view view = bytes;
    if (held) view = held->Add(s.pack, s.offset, std::move(bytes));
    for (size_t i : s.members) {
      const PackFrame& f = to_read[i].frame;
      LP_RETURN_IF_ERROR(
          use(index[i], view.substr(f.offset - s.offset, f.length)));
    }
    return Status::OK();
  });
}

// Lists `node`'s files into `files` and its subdirectories into `next`.
Status Expand(const LocatedDirectory& node, std::vector<FlatFile>* files,
              std::vector<ChildRef>* next) {
  for (size_t i = 0; i < node.dir.entries.size(); ++i) {
    const DirEntry& e = node.dir.entries[i];
    if (e.kind == DirKind::kDirectory) {
      next->push_back(ChildRef{&node, i});
      continue;
    }
    LP_ASSIGN_OR_RETURN(FlatFile f, LocateFile(node, i));
    files->push_back(std::move(f));
  }
  return Status::OK();
}

Result<std::vector<LocatedDirectory>> ReadFromStore(
    Store& store, const std::vector<ChildRef>& children, uint64_t gap,
    int threads, TreeReadStats* stats, ReadSpans* held);

// Decodes and verifies the located frame `raw` of `child`, read from `pack`.
Status ParseLocated(const ChildRef& child, const Hash& pack,
                    std::string_view raw, TreeReadStats* stats,
                    LocatedDirectory* out);

// Children the node holds come from `cache`; the rest are read from the
// store and kept there.
Result<std::vector<LocatedDirectory>> ReadChildren(
    Store& store, const std::vector<ChildRef>& children, uint64_t gap,
    int threads, TreeReadStats* stats, ReadSpans* held,
    const DirectoryCache* cache) {
  if (!cache) {
    return ReadFromStore(store, children, gap, threads, stats, held);
  }
  std::vector<LocatedDirectory> out(children.size());
  std::vector<ChildRef> missing;
  std::vector<size_t> where;
  for (size_t k = 0; k < children.size(); ++k) {
    if (auto d = cache->Find(*children[k].parent, children[k].index)) {
      out[k] = std::move(*d);
      if (stats) stats->cached++;
      continue;
    }
    missing.push_back(children[k]);
    where.push_back(k);
  }
  if (missing.empty()) return out;
  LP_ASSIGN_OR_RETURN(auto read,
                      ReadFromStore(store, missing, gap, threads, stats, held));
  for (size_t j = 0; j < read.size(); ++j) {
    cache->Keep(*missing[j].parent, missing[j].index, read[j]);
    out[where[j]] = std::move(read[j]);
  }
  return out;
}

Result<std::vector<LocatedDirectory>> ReadFromStore(
    Store& store, const std::vector<ChildRef>& children, uint64_t gap,
    int threads, TreeReadStats* stats, ReadSpans* held) {
  std::vector<Wanted> wanted;
  wanted.reserve(children.size());
  for (const ChildRef& c : children) {
    const Slot& slot = c.parent->locator.slots[c.index];
    wanted.push_back(Wanted{
        c.parent->locator.PackOf(slot.frame, c.parent->holding), slot.frame});
  }
  std::vector<LocatedDirectory> nodes(children.size());
  LP_RETURN_IF_ERROR(ReadFrames(
      store, wanted, gap, threads, stats,
      [&](size_t i, std::string_view raw) -> Status {
        return ParseLocated(children[i], wanted[i].pack, raw, stats, &nodes[i])
            .WithContext("store " + store.url() + ", pack " +
                         wanted[i].pack.ToString());
      },
      held));
  return nodes;
}

Status ParseLocated(const ChildRef& child, const Hash& pack,
                    std::string_view raw, TreeReadStats* stats,
                    LocatedDirectory* out) {
  const LocatedDirectory& parent = *child.parent;
  const DirEntry& claim = parent.dir.entries[child.index];
  const Slot& slot = parent.locator.slots[child.index];
  const std::string cwhat = "directory " + claim.hash.ToString();
  LP_ASSIGN_OR_RETURN(
      std::string content,
      DecodeFrame(slot.frame.codec, raw, claim.size + slot.lsize, cwhat));
  LocatedDirectory& n = *out;
  LP_ASSIGN_OR_RETURN(n.path, ChildPath(parent.path, claim.name));
  n.depth = parent.depth + 1;
  n.holding = pack;
  LP_ASSIGN_OR_RETURN(
      n.dir,
      Directory::ParseChild(
          claim, std::string_view(content).substr(0, claim.size), n.depth));
  LP_ASSIGN_OR_RETURN(
      n.locator, Locator::Parse(std::string_view(content).substr(claim.size),
                                cwhat + " (locator)"));
  LP_RETURN_IF_ERROR(CheckLocator(n.locator, n.dir.SlotShapes(), cwhat));
  if (stats) stats->directories++;
  return Status::OK();
}

}  // namespace

bool IsTreeRecord(std::string_view record) {
  return record.substr(0, kRecordMagic.size()) == kRecordMagic;
}

Result<FlatFile> LocateFile(const LocatedDirectory& dir, size_t i) {
  const DirEntry& e = dir.dir.entries[i];
  const Slot& slot = dir.locator.slots[i];
  FlatFile f;
  LP_ASSIGN_OR_RETURN(f.path, ChildPath(dir.path, e.name));
  f.entry = e;
  if (slot.type != SlotType::kNone) {
    f.location.pack = dir.locator.PackOf(slot.frame, dir.holding);
    f.location.frame =
        FrameRef{slot.frame.offset, slot.frame.length, slot.frame.codec};
    f.location.size = e.chunked() ? e.list_size : e.size;
    f.lsize = slot.lsize;
  }
  return f;
}

Result<LocatedDirectory> DecodeRoot(const Hash& root, std::string_view record) {
  const std::string what = "tree " + root.ToString();
  LP_ASSIGN_OR_RETURN(TreeRecord rec, DecodeTreeRecord(record, root, what));
  LocatedDirectory top;
  LP_ASSIGN_OR_RETURN(top.dir, Directory::Parse(rec.directory, 0, what));
  LP_RETURN_IF_ERROR(CheckLocator(rec.locator, top.dir.SlotShapes(), what));
  top.locator = std::move(rec.locator);
  return top;
}

Result<std::vector<LocatedDirectory>> ReadChildDirectories(
    Store& store, const std::vector<ChildRef>& children, uint64_t gap,
    int threads, TreeReadStats* stats, const DirectoryCache* cache) {
  return ReadChildren(store, children, gap, threads, stats, nullptr, cache);
}

Result<ChangedFiles> ReadChangedFiles(Store& store, const Hash& from,
                                      std::string_view from_record,
                                      const Hash& to,
                                      std::string_view to_record, int threads,
                                      TreeReadStats* stats) {
  ChangedFiles out;
  LP_ASSIGN_OR_RETURN(LocatedDirectory root_a, DecodeRoot(from, from_record));
  LP_ASSIGN_OR_RETURN(LocatedDirectory root_b, DecodeRoot(to, to_record));
  if (from == to) return out;  // one tree: nothing differs
  // One level of the walk: directory pairs to compare, and directories on
  // one side only (listed whole). Pointers refer to the previous level's
  // storage (or the roots), alive until this level's reads are done.
  struct Level {
    std::vector<std::pair<const LocatedDirectory*, const LocatedDirectory*>>
        pairs;
    std::vector<const LocatedDirectory*> only_a, only_b;
  };
  Level level;
  level.pairs.push_back({&root_a, &root_b});
  std::vector<LocatedDirectory> held_a, held_b;
  while (!level.pairs.empty() || !level.only_a.empty() ||
         !level.only_b.empty()) {
    std::vector<ChildRef> read_a, read_b;
    std::vector<std::pair<size_t, size_t>> paired;  // indexes into the reads
    std::vector<size_t> alone_a, alone_b;
    // Every entry of a one-sided directory is listed; its subdirectories
    // stay one-sided.
    auto whole = [&](const LocatedDirectory& d, std::vector<FlatFile>* files,
                     std::vector<ChildRef>* reads,
                     std::vector<size_t>* alone) -> Status {
      for (size_t i = 0; i < d.dir.entries.size(); ++i) {
        if (d.dir.entries[i].kind == DirKind::kDirectory) {
          alone->push_back(reads->size());
          reads->push_back(ChildRef{&d, i});
          continue;
        }
        LP_ASSIGN_OR_RETURN(FlatFile f, LocateFile(d, i));
        files->push_back(std::move(f));
      }
      return Status::OK();
    };
    auto one = [&](const LocatedDirectory& d, size_t i,
                   std::vector<FlatFile>* files, std::vector<ChildRef>* reads,
                   std::vector<size_t>* alone) -> Status {
      if (d.dir.entries[i].kind == DirKind::kDirectory) {
        alone->push_back(reads->size());
        reads->push_back(ChildRef{&d, i});
        return Status::OK();
      }
      LP_ASSIGN_OR_RETURN(FlatFile f, LocateFile(d, i));
      files->push_back(std::move(f));
      return Status::OK();
    };
    for (const auto& [da, db] : level.pairs) {
      const auto& ea = da->dir.entries;
      const auto& eb = db->dir.entries;
      size_t i = 0, j = 0;
      while (i < ea.size() || j < eb.size()) {
        if (j == eb.size() || (i < ea.size() && ea[i].name < eb[j].name)) {
          LP_RETURN_IF_ERROR(one(*da, i++, &out.from, &read_a, &alone_a));
          continue;
        }
        if (i == ea.size() || eb[j].name < ea[i].name) {
          LP_RETURN_IF_ERROR(one(*db, j++, &out.to, &read_b, &alone_b));
          continue;
        }
        const DirEntry& a = ea[i];
        const DirEntry& b = eb[j];
        const bool dir_a = a.kind == DirKind::kDirectory;
        const bool dir_b = b.kind == DirKind::kDirectory;
        if (dir_a && dir_b) {
          if (a.hash != b.hash || a.size != b.size) {
            paired.push_back({read_a.size(), read_b.size()});
            read_a.push_back(ChildRef{da, i});
            read_b.push_back(ChildRef{db, j});
          }
        } else {
          // Equal files too: they are no change, but they tell what blobs
          // FROM holds.
          LP_RETURN_IF_ERROR(one(*da, i, &out.from, &read_a, &alone_a));
          LP_RETURN_IF_ERROR(one(*db, j, &out.to, &read_b, &alone_b));
        }
        ++i, ++j;
      }
    }
    for (const LocatedDirectory* d : level.only_a) {
      LP_RETURN_IF_ERROR(whole(*d, &out.from, &read_a, &alone_a));
    }
    for (const LocatedDirectory* d : level.only_b) {
      LP_RETURN_IF_ERROR(whole(*d, &out.to, &read_b, &alone_b));
    }
    LP_ASSIGN_OR_RETURN(
        auto next_a, ReadChildren(store, read_a, kMaxGapBytes, threads, stats,
                                  nullptr, nullptr));
    LP_ASSIGN_OR_RETURN(
        auto next_b, ReadChildren(store, read_b, kMaxGapBytes, threads, stats,
                                  nullptr, nullptr));
    // The next level points into these; the previous one is done with.
    held_a = std::move(next_a);
    held_b = std::move(next_b);
    Level next;
    for (const auto& [x, y] : paired) {
      next.pairs.push_back({&held_a[x], &held_b[y]});
    }
    for (size_t x : alone_a) next.only_a.push_back(&held_a[x]);
    for (size_t y : alone_b) next.only_b.push_back(&held_b[y]);
    level = std::move(next);
  }
  return out;
}

Result<std::vector<FlatFile>> ReadWholeTree(Store& store, const Hash& root,
                                            std::string_view record,
                                            int threads, TreeReadStats* stats,
                                            const DirectoryCache* cache) {
  const std::string what = "tree " + root.ToString();
  LP_ASSIGN_OR_RETURN(LocatedDirectory top, DecodeRoot(root, record));
  // The root's claims bound the whole walk: each child's aggregates are
  // checked against what it holds (CheckChild), all the way down.
  uint64_t total = 0;
  for (const DirEntry& e : top.dir.entries) {
    total += e.kind == DirKind::kDirectory ? e.entries : 1;
  }
  if (total > kMaxEntries) {
    return Status::Corrupt(what + ": " + std::to_string(total) +
                           " entries, more than a tree may hold (" +
                           std::to_string(kMaxEntries) + ")");
  }
  // The claims are checked only as each level is read: reserve no more
  // than a plausible tree on their say-so.
  std::vector<FlatFile> files;
  files.reserve(std::min<uint64_t>(total, 1u << 16));
  ReadSpans held;
  std::vector<ChildRef> level;
  LP_RETURN_IF_ERROR(Expand(top, &files, &level));
  std::vector<LocatedDirectory> nodes;
  while (!level.empty()) {
    LP_ASSIGN_OR_RETURN(
        std::vector<LocatedDirectory> read,
        ReadChildren(store, level, kMaxGapBytes, threads, stats, &held, cache));
    std::vector<ChildRef> next;
    for (const LocatedDirectory& n : read) {
      LP_RETURN_IF_ERROR(Expand(n, &files, &next));
    }
    // `next` points into `read`: keep it alive for the next level.
    nodes = std::move(read);
    level = std::move(next);
  }
  std::sort(
      files.begin(), files.end(),
      [](const FlatFile& a, const FlatFile& b) { return a.path < b.path; });
  return files;
}

Status ReadChunkedFile(Store& store, const FlatFile& file,
                       const std::function<Status(std::string_view)>& sink,
                       const LocalChunks* local, ChunkList* list_out) {
  const DirEntry& e = file.entry;
  const std::string what =
      "chunk list " + e.hash.ToString() + " of " + file.path;
  const BlobLocation& loc = file.location;
  std::string raw;
  LP_RETURN_IF_ERROR(store.GetRange(PackKey(loc.pack), loc.frame.offset,
                                    loc.frame.length, [&](std::string_view b) {
                                      raw.append(b);
                                      return Status::OK();
                                    }));
  LP_ASSIGN_OR_RETURN(
      std::string content,
      DecodeFrame(loc.frame.codec, raw, e.list_size + file.lsize, what));
  std::string_view list_bytes =
      std::string_view(content).substr(0, e.list_size);
  if (HashBytes(list_bytes) != Digest{e.hash, e.list_size}) {
    return Status::Corrupt(what + ": content does not match its digest");
  }
  LP_ASSIGN_OR_RETURN(ChunkList list, ChunkList::Parse(list_bytes, what));
  LP_RETURN_IF_ERROR(list.CheckFileSize(e.size, what));
  LP_ASSIGN_OR_RETURN(
      Locator locator,
      Locator::Parse(std::string_view(content).substr(e.list_size),
                     what + " (locator)"));
  LP_RETURN_IF_ERROR(CheckLocator(locator, list.SlotShapes(), what));
  // Chunks in order: those this node has from its own copies, the rest
  // from the store, adjacent frames in one read, one span at a time.
  size_t k = 0;
  while (k < list.chunks.size()) {
    if (local && local->Has(list.chunks[k].hash)) {
      const Chunk& c = list.chunks[k];
      if (auto bytes = local->Read(c); bytes && bytes->size() == c.size &&
                                       HashBytes(*bytes).hash == c.hash) {
        LP_RETURN_IF_ERROR(sink(*bytes));
        ++k;
        continue;
      }
    }
    std::vector<Wanted> run;
    size_t j = k;
    while (j < list.chunks.size()) {
      if (j > k && local && local->Has(list.chunks[j].hash)) break;
      const PackFrame& f = locator.slots[j].frame;
      Hash pack = locator.PackOf(f, loc.pack);
      if (!run.empty()) {
        const Wanted& last = run.back();
        uint64_t end = last.frame.offset + last.frame.length;
        if (pack != last.pack || f.offset != end ||
            end + f.length - run.front().frame.offset > kMaxChunkRunBytes) {
          break;
        }
      }
      run.push_back(Wanted{pack, f});
      ++j;
    }
    std::vector<std::string> decoded(run.size());
    LP_RETURN_IF_ERROR(ReadFrames(
        store, run, 0, 1, nullptr,
        [&](size_t i, std::string_view frame_bytes) -> Status {
          const Chunk& c = list.chunks[k + i];
          const std::string cwhat =
              "chunk " + c.hash.ToString() + " of " + file.path;
          LP_ASSIGN_OR_RETURN(
              decoded[i],
              DecodeFrame(run[i].frame.codec, frame_bytes, c.size, cwhat));
          if (HashBytes(decoded[i]).hash != c.hash) {
            return Status::Corrupt(cwhat +
                                   ": content does not match its digest");
          }
          return Status::OK();
        }));
    for (const std::string& d : decoded) LP_RETURN_IF_ERROR(sink(d));
    k = j;
  }
  if (list_out) *list_out = std::move(list);
  return Status::OK();
}

}  // namespace lazypath
