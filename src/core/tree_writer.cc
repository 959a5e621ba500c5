#include "core/tree_writer.h"

#include <unistd.h>

#include <cerrno>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/pack_upload.h"
#include "lazypath/store.h"
#include "pack/pack.h"
#include "util/env.h"
#include "util/fs.h"
#include "util/parallel.h"
#include "util/task_pool.h"

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

// How far reading and encoding may run ahead of the pack, in raw bytes
// (and in objects, for trees of many small files).
constexpr uint64_t kAheadBytes = 64ull << 20;
constexpr size_t kAheadObjects = 4096;

// Reads `size` bytes of `source` at `offset` and checks them against
// `hash`, unless the file still has the scan's `stamp` once they are read:
// then they are the bytes the scan hashed. A `whole` file must also end
// there. Then encodes them. The bytes are read into the thread's own
// buffer, reused from call to call (no allocation, zero-fill or page
// faults per file).
Result<EncodedBlob> ReadAndEncode(int fd, const std::string& source,
                                  uint64_t offset, uint64_t size,
                                  const Hash& hash, const FileStamp& stamp,
                                  bool whole, int level) {
  thread_local std::unique_ptr<char[]> buf;
  thread_local uint64_t capacity = 0;
  if (capacity < size) {
    buf.reset(new char[size]);
    capacity = size;
  }
  uint64_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf.get() + got, size - got,
                        static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read", source, errno);
    if (n == 0) return Changed(source);
    got += static_cast<uint64_t>(n);
  }
  std::string_view raw(buf.get(), size);
  if (stamp.empty() || StampOf(fd) != stamp) {
    if (HashBytes(raw).hash != hash) return Changed(source);
    char extra;
    if (whole && ::pread(fd, &extra, 1, static_cast<off_t>(size)) > 0) {
      return Changed(source);
    }
  }
  auto encoded = EncodeView(raw, level);
  // Keep a buffer that one large read grew from staying that large.
  if (capacity > (16u << 20)) {
    buf.reset();
    capacity = 0;
  }
  return encoded;
}

class Writer {
 public:
  Writer(Store& store, const TreeInput& input, KnownObjects& known,
         const TreeWriteOptions& options)
      : store_(store),
        input_(input),
        known_(known),
        options_(options),
        packs_(store, UploadOptions(options)),
        pool_(options.threads > 0 ? options.threads : DefaultThreads()) {}
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
        LP_RETURN_IF_ERROR(WriteChunkedFile(src->second, e, StampFor(file)));
      } else {
        if (Located({e.hash, LocationKind::kBlob})) continue;
        if (src == input_.sources.end()) return NoSource(file);
        LP_RETURN_IF_ERROR(
            WriteBlob(src->second, Digest{e.hash, e.size}, StampFor(file)));
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
      LP_RETURN_IF_ERROR(Later(
          {d->digest.hash, LocationKind::kDirectory}, [this, d]() -> Status {
            LP_RETURN_IF_ERROR(
                WriteLocated({d->digest.hash, LocationKind::kDirectory},
                             d->bytes, d->dir.SlotShapes(), d->dir));
            out_.dirs_written++;
            return Status::OK();
          }));
    }
    return Status::OK();
  }

  // Finishes the last pack, then writes the locations object and the tree
  // record for `root`.
  Result<WrittenTree> Publish(const BuiltDirectory& root) {
    LP_RETURN_IF_ERROR(Drain(/*all=*/true));
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

  // Placed, on its way into the pack, or in the store already.
  bool Located(const Key& key) const {
    return placed_.count(key) || queued_objects_.count(key) ||
           known_.Find(key.first, key.second);
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

  // An object on its way into the pack, in pack order. A blob or chunk is
  // read, checked and encoded on the pool; a located frame is built when
  // its turn comes, once every object before it (its children among them)
  // is placed.
  // Encoding jobs run in batches of up to kBatchBytes, one pool task each:
  // ten thousand small files cost a few hundred wakeups, not ten thousand.
  // A batch is handed to the pool when full, or when the pack waits for
  // one of its objects.
  struct Batch {
    std::vector<std::function<Result<EncodedBlob>()>> jobs;
    std::vector<std::optional<Result<EncodedBlob>>> results;
    std::promise<void> done;
    std::shared_future<void> ready = done.get_future().share();
    uint64_t bytes = 0;
  };
  static constexpr uint64_t kBatchBytes = 256u << 10;
  static constexpr size_t kBatchJobs = 64;

  struct Pending {
    Key key;
    uint64_t size = 0;  // raw bytes
    bool chunk = false;
    std::shared_ptr<Batch> batch;  // the batch encoding it, and where
    size_t index = 0;
    std::function<Status()> located;
  };

  // Queues the encoding of a blob or chunk of `size` bytes.
  Status Encode(const Key& key, uint64_t size, bool chunk,
                std::function<Result<EncodedBlob>()> job) {
    if (!open_batch_) open_batch_ = std::make_shared<Batch>();
    Pending p;
    p.key = key;
    p.size = size;
    p.chunk = chunk;
    p.batch = open_batch_;
    p.index = open_batch_->jobs.size();
    open_batch_->jobs.push_back(std::move(job));
    open_batch_->bytes += size;
    if (open_batch_->bytes >= kBatchBytes ||
        open_batch_->jobs.size() >= kBatchJobs) {
      SubmitBatch();
    }
    return Enqueue(std::move(p));
  }

  void SubmitBatch() {
    std::shared_ptr<Batch> b = std::move(open_batch_);
    b->results.resize(b->jobs.size());
    pool_.Submit([b] {
      for (size_t i = 0; i < b->jobs.size(); ++i) {
        try {
          b->results[i].emplace(b->jobs[i]());
        } catch (const std::exception& e) {  // bad_alloc, say
          b->results[i].emplace(Status::IoError(e.what()));
        }
      }
      b->done.set_value();
    });
  }

  // Queues a located frame, written by `write` in its turn.
  Status Later(const Key& key, std::function<Status()> write) {
    Pending p;
    p.key = key;
    p.located = std::move(write);
    return Enqueue(std::move(p));
  }

  Status Enqueue(Pending p) {
    queued_objects_.insert(p.key);
    ahead_bytes_ += p.size;
    pending_.push_back(std::move(p));
    return Drain(/*all=*/false);
  }

  // Appends queued objects in order: all of them, or until what runs ahead
  // is within bounds again.
  Status Drain(bool all) {
    while (!pending_.empty() && (all || ahead_bytes_ > kAheadBytes ||
                                 pending_.size() > kAheadObjects)) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      ahead_bytes_ -= p.size;
      if (p.located) {
        LP_RETURN_IF_ERROR(p.located());
      } else {
        if (p.batch == open_batch_) SubmitBatch();
        p.batch->ready.wait();
        LP_ASSIGN_OR_RETURN(EncodedBlob enc,
                            std::move(*p.batch->results[p.index]));
        LP_RETURN_IF_ERROR(AppendEncoded(p.key, enc, p.size, 0));
        if (options_.on_bytes) options_.on_bytes(p.size);
        (p.chunk ? out_.chunks_written : out_.blobs_written)++;
      }
      queued_objects_.erase(p.key);
    }
    return Status::OK();
  }

  Status AppendEncoded(const Key& key, const EncodedBlob& enc, uint64_t size,
                       uint64_t lsize) {
    LP_ASSIGN_OR_RETURN(PackWriter * pack, packs_.Writer());
    LP_ASSIGN_OR_RETURN(FrameRef ref, pack->AddEncoded(enc));
    placed_[key] = Placed{pack_hashes_.size(), ref, size, lsize};
    return Status::OK();
  }

  Status Append(const Key& key, std::string raw, uint64_t lsize) {
    uint64_t size = raw.size() - lsize;
    LP_ASSIGN_OR_RETURN(EncodedBlob enc,
                        EncodeBytes(std::move(raw), options_.level));
    return AppendEncoded(key, enc, size, lsize);
  }

  FileStamp StampFor(const std::string& file) const {
    auto it = input_.stamps.find(file);
    return it == input_.stamps.end() ? FileStamp{} : it->second;
  }

  Status WriteBlob(const std::string& source, const Digest& blob,
                   const FileStamp& stamp) {
    int level = options_.level;
    return Encode({blob.hash, LocationKind::kBlob}, blob.size, false,
                  [source, blob, level, stamp]() -> Result<EncodedBlob> {
                    LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(source));
                    return ReadAndEncode(fd.get(), source, 0, blob.size,
                                         blob.hash, stamp, true, level);
                  });
  }

  // The chunks the store lacks, each read from `source` and checked against
  // the list on the pool, then the list's located frame.
  Status WriteChunkedFile(const std::string& source, const DirEntry& e,
                          const FileStamp& stamp) {
    auto list = input_.chunk_lists.find(e.hash);
    if (list == input_.chunk_lists.end()) {
      return Status::InvalidArgument(source + ": chunk list not given");
    }
    const ChunkList& chunks = list->second;
    std::string bytes = chunks.Serialize();
    if (HashBytes(bytes).hash != e.hash) {
      return Status::InvalidArgument(source + ": chunk list does not match");
    }
    LP_ASSIGN_OR_RETURN(fs::Fd opened, fs::OpenRead(source));
    auto fd = std::make_shared<fs::Fd>(std::move(opened));
    int level = options_.level;
    uint64_t offset = 0;
    for (const Chunk& c : chunks.chunks) {
      Key key{c.hash, LocationKind::kBlob};
      if (!Located(key)) {
        LP_RETURN_IF_ERROR(Encode(
            key, c.size, true,
            [fd, source, offset, c, level, stamp]() -> Result<EncodedBlob> {
              return ReadAndEncode(fd->get(), source, offset, c.size, c.hash,
                                   stamp, false, level);
            }));
      }
      offset += c.size;
    }
    return Later({e.hash, LocationKind::kChunkList},
                 [this, &chunks, bytes = std::move(bytes), hash = e.hash] {
                   LP_RETURN_IF_ERROR(
                       WriteLocated({hash, LocationKind::kChunkList}, bytes,
                                    chunks.SlotShapes(), Directory{}, &chunks));
                   out_.chunk_lists_written++;
                   return Status::OK();
                 });
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
  std::set<Hash> queued_;         // directories queued below
  std::set<Key> queued_objects_;  // in pending_
  std::deque<Pending> pending_;
  std::shared_ptr<Batch> open_batch_;        // not yet handed to the pool
  uint64_t ahead_bytes_ = 0;                 // raw bytes in pending_
  std::vector<const BuiltDirectory*> dirs_;  // to write, deepest first
  // Finished packs, by id; the open pack's id is pack_hashes_.size().
  std::vector<Hash> pack_hashes_;
  WrittenTree out_;
  PackUpload packs_;  // its callback uses the members above
  // Last, so it is gone (its running tasks finished, the rest dropped)
  // before anything else; its tasks hold only what they own.
  TaskPool pool_;
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
