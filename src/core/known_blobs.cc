#include "core/known_blobs.h"

#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "core/condemned.h"
#include "core/store_summary.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "lazypath-store-summary 1\n";
// Bounds on a summary we read back: the file is ours, but a damaged one must
// cost a rebuild, not memory.
constexpr uint64_t kMaxSummaryBytes = kMaxIndexBytes;

struct Summary {
  std::set<std::string> covered;
  std::map<Hash, BlobLocation> blobs;
};

std::optional<Summary> ParseSummary(std::string_view bytes,
                                    const std::string& url,
                                    const std::string& path) {
  auto head = ParseSummaryHead(bytes, kMagic, url, kIndexPrefix);
  if (!head) return std::nullopt;
  auto index = Index::Parse(head->body, path);
  if (!index.ok() || index->tree != HashBytes(url).hash) return std::nullopt;
  Summary s;
  s.covered = std::move(head->covered);
  s.blobs = std::move(index->blobs);
  return s;
}

std::string SerializeSummary(const Summary& s, const std::string& url) {
  Index index;
  index.tree = HashBytes(url).hash;
  index.blobs = s.blobs;
  return SerializeSummaryHead(kMagic, url, s.covered) + index.Serialize();
}

}  // namespace

std::string StoreSummaryPath(const std::string& summary_dir,
                             const std::string& store_url) {
  return fs::Join(summary_dir, HashBytes(store_url).hash.hex());
}

Result<KnownBlobsResult> KnownBlobs(Store& store,
                                    const std::string& summary_dir, int threads,
                                    Env* env) {
  KnownBlobsResult r;
  const std::string& url = store.url();
  LP_ASSIGN_OR_RETURN(auto keys, store.List(std::string(kIndexPrefix)));
  LP_ASSIGN_OR_RETURN(auto pack_keys, store.List(std::string(kPackPrefix)));
  r.indexes = keys.size();
  std::set<std::string> packs(pack_keys.begin(), pack_keys.end());
  // Packs a prune has condemned may be deleted before this push publishes
  // (doc/lifecycle.md): they are as good as absent, but only for this push;
  // the summary keeps them, since a condemned pack may yet be spared.
  LP_ASSIGN_OR_RETURN(auto condemned, CondemnedPacks(store));

  Summary summary;
  std::string path;
  if (!summary_dir.empty()) {
    path = StoreSummaryPath(summary_dir, url);
    if (auto bytes = fs::ReadFile(path, kMaxSummaryBytes, env); bytes.ok()) {
      if (auto s = ParseSummary(*bytes, url, path)) summary = std::move(*s);
    }
  }
  // Keys no longer listed stay covered only while listed: a key that comes
  // back (a tree pushed again) is read again.
  std::vector<std::string> todo;
  std::set<std::string> covered;
  for (const auto& key : keys) {
    if (summary.covered.count(key)) {
      covered.insert(key);
    } else {
      todo.push_back(key);
    }
  }
  // Locations whose pack is gone are dropped before fresh indexes are
  // merged, so that a blob also located elsewhere keeps a usable location.
  auto listed = [&](const BlobLocation& loc) {
    if (packs.count(PackKey(loc.pack))) return true;
    r.locations_dropped++;
    return false;
  };
  std::erase_if(summary.blobs,
                [&](const auto& kv) { return !listed(kv.second); });
  // Each index is merged as soon as it is parsed and then dropped, so memory
  // holds the union, not every index at once.
  std::mutex mu;
  std::vector<char> merged(todo.size(), 0);
  Status st = ParallelFor(todo.size(), threads, [&](size_t i) {
    auto bytes = store.Get(todo[i], kMaxIndexBytes);
    if (!bytes.ok()) return Status::OK();
    auto idx = Index::Parse(*bytes, url + "/" + todo[i]);
    if (!idx.ok()) return Status::OK();
    std::lock_guard<std::mutex> lock(mu);
    merged[i] = 1;
    for (auto& [h, loc] : idx->blobs) {
      if (!summary.blobs.count(h) && listed(loc)) summary.blobs.emplace(h, loc);
    }
    return Status::OK();
  });
  LP_RETURN_IF_ERROR(st);
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!merged[i]) {
      r.indexes_failed++;
      continue;
    }
    r.indexes_fetched++;
    covered.insert(todo[i]);
  }
  summary.covered = std::move(covered);
  if (!path.empty() && r.indexes_fetched + r.locations_dropped > 0) {
    // Best effort: a cache we cannot write costs reads, not the push.
    if (fs::MakeDirs(summary_dir, 0755, env).ok()) {
      (void)fs::WriteFileAtomic(path, SerializeSummary(summary, url), 0644,
                                env);
    }
  }
  r.blobs = std::move(summary.blobs);
  std::erase_if(r.blobs, [&](const auto& kv) {
    if (!condemned.count(PackKey(kv.second.pack))) return false;
    r.locations_dropped++;
    return true;
  });
  return r;
}

}  // namespace lazypath
