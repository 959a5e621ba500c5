#include "core/push_stages.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "lazypath/store.h"
#include "pack/pack.h"
#include "util/env.h"
#include "util/parallel.h"

namespace lazypath {

PushPlan PlanPush(const ScanResult& scanned, const Hash& tree,
                  const std::map<Hash, BlobLocation>& known,
                  const std::map<Hash, size_t>& profiled, bool repack_profile) {
  PushPlan plan;
  plan.index.tree = tree;
  std::set<Hash> queued;
  const auto& entries = scanned.tree.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const TreeEntry& e = entries[i];
    if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
    auto rank = profiled.find(e.blob.hash);
    bool first = repack_profile && rank != profiled.end();
    if (auto it = known.find(e.blob.hash); it != known.end() && !first) {
      plan.index.blobs.emplace(e.blob.hash, it->second);
      continue;
    }
    if (!queued.insert(e.blob.hash).second) continue;
    size_t slash = e.path.rfind('/');
    std::string d = slash == std::string::npos ? "" : e.path.substr(0, slash);
    std::string b = e.path.substr(slash + 1);
    plan.fresh.push_back({e.blob.hash, e.blob.size, scanned.sources[i],
                          first ? rank->second : profiled.size(), d, b});
    if (first) plan.blobs_first++;
  }
  std::sort(plan.fresh.begin(), plan.fresh.end(),
            [](const NewBlob& a, const NewBlob& b) {
              return std::tie(a.rank, a.dir, a.base) <
                     std::tie(b.rank, b.dir, b.base);
            });
  for (const auto& b : plan.fresh) plan.fresh_bytes += b.size;
  return plan;
}

namespace {

// The pack being filled: a temporary file, put into the store when full.
class PackSink {
 public:
  PackSink(Store& store, const PackWriteOptions& options)
      : store_(store), options_(options) {}
  ~PackSink() {
    if (writer_) (void)options_.env->Unlink(tmp_);
  }
  PackSink(const PackSink&) = delete;
  PackSink& operator=(const PackSink&) = delete;

  // The writer to append to, after putting a full pack into the store.
  Result<PackWriter*> Writer() {
    if (writer_ && writer_->size() >= kPackTargetBytes) {
      LP_RETURN_IF_ERROR(Flush());
    }
    if (!writer_) {
      tmp_ = fs::TempName(fs::Join(options_.temp_dir, "pack"));
      LP_ASSIGN_OR_RETURN(PackWriter w,
                          PackWriter::Create(tmp_, options_.level));
      writer_.emplace(std::move(w));
    }
    return &*writer_;
  }
  void Added(const Hash& hash, const FrameRef& frame) {
    in_pack_.emplace_back(hash, frame);
  }
  // Puts the current pack, if any, into the store.
  Status Flush() {
    if (!writer_) return Status::OK();
    auto pd = writer_->Finish();
    writer_.reset();
    if (!pd.ok()) {
      (void)options_.env->Unlink(tmp_);
      return pd.status();
    }
    if (options_.on_pack) options_.on_pack(pd->size);
    Status s = store_.PutFile(PackKey(pd->hash), tmp_);
    (void)options_.env->Unlink(tmp_);
    LP_RETURN_IF_ERROR(s);
    out_.packs++;
    for (auto& [h, frame] : in_pack_) {
      out_.blobs[h] = BlobLocation{pd->hash, frame, 0};
    }
    in_pack_.clear();
    return Status::OK();
  }
  WrittenPacks Take() { return std::move(out_); }

 private:
  Store& store_;
  const PackWriteOptions& options_;
  std::optional<PackWriter> writer_;
  std::string tmp_;
  std::vector<std::pair<Hash, FrameRef>> in_pack_;
  WrittenPacks out_;
};

}  // namespace

Result<WrittenPacks> WritePacks(Store& store, const std::vector<NewBlob>& fresh,
                                const PackWriteOptions& options) {
  auto on_bytes = [&](uint64_t n) {
    if (options.on_bytes) options.on_bytes(n);
  };
  PackSink sink(store, options);
  // Encode small blobs in parallel windows, append them in order; stream
  // large ones straight into the pack.
  constexpr uint64_t kWindowBytes = 64ull << 20;
  size_t i = 0;
  while (i < fresh.size()) {
    if (fresh[i].size > kInMemoryBlobBytes) {
      LP_ASSIGN_OR_RETURN(PackWriter * writer, sink.Writer());
      LP_ASSIGN_OR_RETURN(
          FrameRef ref,
          writer->AddFile(fresh[i].source, Digest{fresh[i].hash, fresh[i].size},
                          on_bytes));
      sink.Added(fresh[i].hash, ref);
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t window = 0;
    while (j < fresh.size() && fresh[j].size <= kInMemoryBlobBytes &&
           window < kWindowBytes) {
      window += fresh[j].size;
      ++j;
    }
    std::vector<EncodedBlob> encoded(j - i);
    LP_RETURN_IF_ERROR(
        ParallelFor(j - i, options.threads, [&](size_t k) -> Status {
          const NewBlob& b = fresh[i + k];
          LP_ASSIGN_OR_RETURN(
              encoded[k],
              EncodeBlob(b.source, Digest{b.hash, b.size}, options.level));
          return Status::OK();
        }));
    for (size_t k = 0; k < encoded.size(); ++k) {
      LP_ASSIGN_OR_RETURN(PackWriter * writer, sink.Writer());
      LP_ASSIGN_OR_RETURN(FrameRef ref, writer->AddEncoded(encoded[k]));
      sink.Added(fresh[i + k].hash, ref);
      on_bytes(fresh[i + k].size);
    }
    i = j;
  }
  LP_RETURN_IF_ERROR(sink.Flush());
  WrittenPacks out = sink.Take();
  for (const auto& b : fresh) out.blobs[b.hash].size = b.size;
  return out;
}

Status PublishTree(Store& store, const Index& index,
                   std::string_view tree_bytes, bool tree_existed,
                   const std::function<void(uint64_t)>& on_put) {
  // A tree the store had gets a new index; the packs the old one names
  // stay, so a reader holding it is unaffected.
  std::string index_bytes = index.Serialize();
  if (on_put) {
    on_put(index_bytes.size() + (tree_existed ? 0 : tree_bytes.size()));
  }
  LP_RETURN_IF_ERROR(store.Put(IndexKey(index.tree), index_bytes));
  if (!tree_existed) {
    LP_RETURN_IF_ERROR(store.Put(TreeKey(index.tree), tree_bytes));
  }
  return Status::OK();
}

}  // namespace lazypath
