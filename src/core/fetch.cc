#include "core/fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>

#include "codec/codec.h"
#include "util/env.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

Result<std::string> GetTreeObject(Store& store, const Hash& tree) {
  auto bytes = store.Get(TreeKey(tree), kMaxTreeBytes);
  if (!bytes.ok() && bytes.status().code() == Code::kNotFound) {
    return Status::NotFound("tree " + tree.ToString() + " not in store " +
                            store.url());
  }
  return bytes;
}

Result<Tree> ParseTreeVerified(std::string_view bytes, const Hash& tree,
                               const std::string& store_url) {
  if (HashBytes(bytes).hash != tree) {
    return Status::Corrupt("tree " + tree.ToString() + " in store " +
                           store_url + ": content does not match its digest");
  }
  return Tree::Parse(bytes, "tree " + tree.ToString());
}

Result<std::pair<Tree, std::string>> FetchTreeVerified(Store& store,
                                                       const Hash& tree) {
  LP_ASSIGN_OR_RETURN(std::string bytes, GetTreeObject(store, tree));
  LP_ASSIGN_OR_RETURN(Tree t, ParseTreeVerified(bytes, tree, store.url()));
  return std::make_pair(std::move(t), std::move(bytes));
}

Result<Index> FetchIndex(Store& store, const Hash& tree) {
  auto bytes = store.Get(IndexKey(tree), kMaxIndexBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound) {
      return Status::NotFound("index of tree " + tree.ToString() +
                              " not in store " + store.url());
    }
    return bytes.status();
  }
  LP_ASSIGN_OR_RETURN(
      Index idx,
      Index::Parse(*bytes, store.url() + " index of " + tree.ToString()));
  if (idx.tree != tree) {
    return Status::Corrupt("index of " + tree.ToString() + " in store " +
                           store.url() + " describes tree " +
                           idx.tree.ToString());
  }
  return idx;
}

Status CheckIndexAgainstTree(const Index& index, const Tree& tree,
                             const std::string& store_url) {
  // An index lists each distinct non-empty blob of its tree once: more
  // entries than the tree has blobs is padding meant to cost work.
  if (index.blobs.size() > tree.entries().size()) {
    return Status::Corrupt("index of " + index.tree.ToString() + " in store " +
                           store_url + ": lists " +
                           std::to_string(index.blobs.size()) +
                           " blobs for a tree of " +
                           std::to_string(tree.entries().size()) + " entries");
  }
  for (const TreeEntry& e : tree.entries()) {
    if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
    auto it = index.blobs.find(e.blob.hash);
    if (it != index.blobs.end() && it->second.size != e.blob.size) {
      return Status::Corrupt("index of " + index.tree.ToString() +
                             " in store " + store_url + ": blob " +
                             e.blob.hash.ToString() +
                             " has a size that disagrees with the tree");
    }
  }
  return Status::OK();
}

namespace {

// Decodes the frames of one range as its bytes stream in, writing each blob
// to a temp file and adopting it into the cache once verified.
class RangeSink {
 public:
  using Verified = std::function<void(std::string tmp, const Hash& blob)>;
  RangeSink(const BlobRange& range, const NodeCache& cache, Store& store,
            Progress* progress, FetchCounters* counters, Verified verified)
      : verified_(std::move(verified)),
        range_(range),
        cache_(cache),
        store_(store),
        progress_(progress),
        counters_(counters),
        pos_(range.offset) {}
  ~RangeSink() {
    if (fd_.valid()) {
      fd_ = fs::Fd();
      (void)cache_.env()->Unlink(tmp_);
    }
  }

  Status Consume(std::string_view data) {
    if (progress_) progress_->Add(data.size());
    while (!data.empty() && next_ < range_.blobs.size()) {
      const auto& [hash, loc] = range_.blobs[next_];
      if (pos_ < loc.frame.offset) {  // a gap: frames we don't need
        uint64_t skip =
            std::min<uint64_t>(data.size(), loc.frame.offset - pos_);
        data.remove_prefix(skip);
        pos_ += skip;
        continue;
      }
      if (!decoder_) LP_RETURN_IF_ERROR(Begin(hash, loc));
      uint64_t frame_end = loc.frame.offset + loc.frame.length;
      size_t take = static_cast<size_t>(
          std::min<uint64_t>(data.size(), frame_end - pos_));
      LP_RETURN_IF_ERROR(
          decoder_->Feed(data.substr(0, take), [&](std::string_view out) {
            hasher_->Update(out);
            return cache_.env()->Write(fd_.get(), out, tmp_);
          }));
      data.remove_prefix(take);
      pos_ += take;
      if (pos_ == frame_end) LP_RETURN_IF_ERROR(End(hash, loc));
    }
    return Status::OK();
  }

  Status Done() const {
    if (next_ != range_.blobs.size()) {
      return Status::Corrupt("store " + store_.url() + ": pack " +
                             range_.pack.ToString() + " ended early");
    }
    return Status::OK();
  }

 private:
  std::string What(const Hash& h) const {
    return "blob " + h.ToString() + " in pack " + range_.pack.ToString() +
           " of store " + store_.url();
  }

  Status Begin(const Hash& h, const BlobLocation& loc) {
    tmp_ = fs::TempName(fs::Join(cache_.TempDir(), h.hex().substr(0, 16)));
    LP_ASSIGN_OR_RETURN(
        fd_, cache_.env()->Open(tmp_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                0600));
    decoder_.emplace(loc.frame.codec, loc.size, What(h));
    hasher_ = std::make_unique<Hasher>();
    return Status::OK();
  }

  Status End(const Hash& h, const BlobLocation& loc) {
    LP_RETURN_IF_ERROR(decoder_->Finish());
    decoder_.reset();
    Digest got = hasher_->Finish();
    if (got.hash != h || got.size != loc.size) {
      return Status::Corrupt(What(h) + ": content does not match its digest");
    }
    // Durability comes from one syncfs when the batch is adopted.
    fd_ = fs::Fd();
    verified_(std::move(tmp_), h);
    counters_->blobs++;
    ++next_;
    return Status::OK();
  }

  Verified verified_;
  const BlobRange& range_;
  const NodeCache& cache_;
  Store& store_;
  Progress* progress_;
  FetchCounters* counters_;
  uint64_t pos_;
  size_t next_ = 0;
  std::optional<FrameDecoder> decoder_;
  std::unique_ptr<Hasher> hasher_;
  std::string tmp_;
  fs::Fd fd_;
};

}  // namespace

Status FetchBlobs(Store& store, const Index& index,
                  const std::vector<Hash>& blobs, const NodeCache& cache,
                  int threads, const ProgressFn& progress,
                  FetchCounters* counters, uint64_t gap) {
  std::vector<std::pair<Hash, BlobLocation>> located;
  located.reserve(blobs.size());
  for (const Hash& h : blobs) {
    auto it = index.blobs.find(h);
    if (it == index.blobs.end()) {
      return Status::Corrupt("index of " + index.tree.ToString() +
                             " in store " + store.url() +
                             " does not locate blob " + h.ToString());
    }
    located.emplace_back(h, it->second);
  }
  LP_ASSIGN_OR_RETURN(
      std::vector<BlobRange> ranges,
      PlanRanges(std::move(located), "index of " + index.tree.ToString(), gap));
  uint64_t total = 0;
  for (const auto& r : ranges) total += r.length;
  Progress prog(progress, "fetch", total, "bytes");
  std::mutex mu;
  std::vector<std::pair<std::string, Hash>> verified;
  auto on_verified = [&](std::string tmp, const Hash& blob) {
    std::lock_guard<std::mutex> lock(mu);
    verified.emplace_back(std::move(tmp), blob);
  };
  Status s = ParallelFor(ranges.size(), threads, [&](size_t i) -> Status {
    const BlobRange& r = ranges[i];
    RangeSink sink(r, cache, store, &prog, counters, on_verified);
    Status s = store.GetRange(PackKey(r.pack), r.offset, r.length,
                              [&](std::string_view b) {
                                counters->bytes += b.size();
                                return sink.Consume(b);
                              });
    if (!s.ok()) return s;
    return sink.Done();
  });
  // Errors name the tree as well as the blob or temp file (a full or
  // read-only cache shows up here first).
  std::string what =
      "fetch tree " + index.tree.ToString() + " into " + cache.dir();
  if (!s.ok()) {
    for (const auto& v : verified) (void)cache.env()->Unlink(v.first);
    return s.WithContext(what);
  }
  return cache.AdoptBlobs(verified).WithContext(what);
}

Status StreamBlob(Store& store, const Index& index, const Digest& blob,
                  const ByteSink& sink) {
  if (blob.size == 0) return Status::OK();
  auto it = index.blobs.find(blob.hash);
  if (it == index.blobs.end()) {
    return Status::Corrupt("index of " + index.tree.ToString() +
                           " does not locate blob " + blob.hash.ToString());
  }
  const BlobLocation& loc = it->second;
  std::string what = "blob " + blob.hash.ToString() + " in pack " +
                     loc.pack.ToString() + " of store " + store.url();
  Hasher hasher;
  FrameDecoder dec(loc.frame.codec, loc.size, what);
  LP_RETURN_IF_ERROR(store.GetRange(PackKey(loc.pack), loc.frame.offset,
                                    loc.frame.length, [&](std::string_view b) {
                                      return dec.Feed(b,
                                                      [&](std::string_view o) {
                                                        hasher.Update(o);
                                                        return sink(o);
                                                      });
                                    }));
  LP_RETURN_IF_ERROR(dec.Finish());
  Digest got = hasher.Finish();
  if (got.hash != blob.hash || got.size != blob.size) {
    return Status::Corrupt(what + ": content does not match its digest");
  }
  return Status::OK();
}

Result<std::string> ReadBlob(Store& store, const Index& index,
                             const Digest& blob) {
  std::string out;
  LP_RETURN_IF_ERROR(StreamBlob(store, index, blob, [&](std::string_view o) {
    out.append(o);
    return Status::OK();
  }));
  return out;
}

}  // namespace lazypath
