#include "core/known_blobs.h"

#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "lazypath-store-summary 1\n";
// Bounds on a summary we read back: the file is ours, but a damaged one must
// cost a rebuild, not memory.
constexpr uint64_t kMaxSummaryBytes = kMaxIndexBytes;
constexpr uint64_t kMaxCoveredKeys = 10'000'000;

struct Summary {
  std::set<std::string> covered;
  std::map<Hash, BlobLocation> blobs;
};

// Takes one '\n'-terminated line off the front of `rest`.
std::optional<std::string_view> Line(std::string_view& rest) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return line;
}

std::optional<Summary> ParseSummary(std::string_view bytes,
                                    const std::string& url,
                                    const std::string& path) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  std::string_view rest = bytes.substr(kMagic.size());
  auto stored_url = Line(rest);
  if (!stored_url || *stored_url != url) return std::nullopt;
  auto count_line = Line(rest);
  if (!count_line || count_line->empty() || count_line->size() > 9) {
    return std::nullopt;
  }
  uint64_t count = 0;
  for (char c : *count_line) {
    if (c < '0' || c > '9') return std::nullopt;
    count = count * 10 + static_cast<uint64_t>(c - '0');
  }
  if (count > kMaxCoveredKeys) return std::nullopt;
  Summary s;
  for (uint64_t i = 0; i < count; ++i) {
    auto key = Line(rest);
    if (!key || key->substr(0, kIndexPrefix.size()) != kIndexPrefix) {
      return std::nullopt;
    }
    s.covered.emplace(*key);
  }
  auto index = Index::Parse(rest, path);
  if (!index.ok() || index->tree != HashBytes(url).hash) return std::nullopt;
  s.blobs = std::move(index->blobs);
  return s;
}

std::string SerializeSummary(const Summary& s, const std::string& url) {
  Index index;
  index.tree = HashBytes(url).hash;
  index.blobs = s.blobs;
  std::string out(kMagic);
  out += url;
  out += '\n';
  out += std::to_string(s.covered.size());
  out += '\n';
  for (const auto& key : s.covered) {
    out += key;
    out += '\n';
  }
  out += index.Serialize();
  return out;
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
  return r;
}

}  // namespace lazypath
