#include "core/push_stages.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "core/pack_upload.h"
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

Result<WrittenPacks> WritePacks(Store& store, const std::vector<NewBlob>& fresh,
                                const PackWriteOptions& options) {
  auto on_bytes = [&](uint64_t n) {
    if (options.on_bytes) options.on_bytes(n);
  };
  WrittenPacks out;
  std::vector<std::pair<Hash, FrameRef>> in_pack;  // of the open pack
  PackUploadOptions upload;
  upload.temp_dir = options.temp_dir;
  upload.level = options.level;
  upload.env = options.env;
  upload.on_pack = options.on_pack;
  upload.on_finished = [&](const Digest& pack) {
    out.packs++;
    for (auto& [h, frame] : in_pack) {
      out.blobs[h] = BlobLocation{pack.hash, frame, 0};
    }
    in_pack.clear();
  };
  PackUpload packs(store, std::move(upload));
  // Encode small blobs in parallel windows, append them in order; stream
  // large ones straight into the pack.
  constexpr uint64_t kWindowBytes = 64ull << 20;
  size_t i = 0;
  while (i < fresh.size()) {
    if (fresh[i].size > kInMemoryBlobBytes) {
      LP_ASSIGN_OR_RETURN(PackWriter * writer, packs.Writer());
      LP_ASSIGN_OR_RETURN(
          FrameRef ref,
          writer->AddFile(fresh[i].source, Digest{fresh[i].hash, fresh[i].size},
                          on_bytes));
      in_pack.emplace_back(fresh[i].hash, ref);
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
      LP_ASSIGN_OR_RETURN(PackWriter * writer, packs.Writer());
      LP_ASSIGN_OR_RETURN(FrameRef ref, writer->AddEncoded(encoded[k]));
      in_pack.emplace_back(fresh[i + k].hash, ref);
      on_bytes(fresh[i + k].size);
    }
    i = j;
  }
  LP_RETURN_IF_ERROR(packs.Finish());
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
