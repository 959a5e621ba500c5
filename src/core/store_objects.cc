#include "core/store_objects.h"

#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "core/condemned.h"
#include "core/store_summary.h"
#include "core/tree_writer.h"
#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "lazypath-locs-summary 2\n";
constexpr std::string_view kLocsPrefix = "locs/";
// Bounds on a summary read back: the file is ours, but a damaged one must
// cost a rebuild, not memory.
constexpr uint64_t kMaxSummaryBytes = kMaxLocationsBytes;

struct Summary {
  std::set<std::string> covered;
  KnownObjects objects;
};

std::optional<Summary> ParseSummary(std::string_view bytes,
                                    const std::string& url,
                                    const std::string& path) {
  auto head = ParseSummaryHead(bytes, kMagic, url, kLocsPrefix);
  if (!head) return std::nullopt;
  std::string_view rest = head->body;
  auto hex = TakeLine(rest);
  if (!hex) return std::nullopt;
  auto key = Hash::FromHex(*hex);
  if (!key.ok()) return std::nullopt;
  auto locations = DecodeLocations(rest, *key, path);
  if (!locations.ok()) return std::nullopt;
  Summary s;
  s.covered = std::move(head->covered);
  s.objects.Add(*locations);
  return s;
}

Result<std::string> SerializeSummary(const Summary& s, const std::string& url) {
  LP_ASSIGN_OR_RETURN(
      std::string locations,
      EncodeLocations(s.objects.ToLocations(), Codec::kZstd, 1));
  return SerializeSummaryHead(kMagic, url, s.covered) +
         HashBytes(locations).hash.hex() + "\n" + locations;
}

}  // namespace

std::string LocationsSummaryPath(const std::string& summary_dir,
                                 const std::string& store_url) {
  return fs::Join(summary_dir, "locs-" + HashBytes(store_url).hash.hex());
}

Result<StoreObjectsResult> StoreObjects(Store& store,
                                        const std::string& summary_dir,
                                        int threads, Env* env) {
  if (env == nullptr) env = Env::Default();
  StoreObjectsResult r;
  const std::string& url = store.url();
  LP_ASSIGN_OR_RETURN(auto keys, store.List(std::string(kLocsPrefix)));
  LP_ASSIGN_OR_RETURN(auto pack_keys, store.List(std::string(kPackPrefix)));
  r.locations = keys.size();
  std::set<std::string> packs(pack_keys.begin(), pack_keys.end());
  // Packs a prune has condemned may be deleted before this push publishes
  // (doc/lifecycle.md): absent for this push, kept in the summary, since a
  // condemned pack may yet be spared.
  LP_ASSIGN_OR_RETURN(auto condemned, CondemnedPacks(store));

  Summary summary;
  std::string path;
  if (!summary_dir.empty()) {
    path = LocationsSummaryPath(summary_dir, url);
    if (auto bytes = fs::ReadFile(path, kMaxSummaryBytes, env); bytes.ok()) {
      if (auto s = ParseSummary(*bytes, url, path)) summary = std::move(*s);
    }
  }
  // A covered key that is no longer listed was deleted or replaced by a
  // prune, which withdraws locations that way (doc/lifecycle.md). The
  // summary does not know which objects came from which key, so it is
  // rebuilt from the keys listed now.
  {
    std::set<std::string> listed_keys(keys.begin(), keys.end());
    for (const auto& key : summary.covered) {
      if (!listed_keys.count(key)) {
        summary = Summary{};
        r.summary_rebuilt = true;
        break;
      }
    }
  }
  std::vector<std::string> todo;
  std::set<std::string> covered;
  for (const auto& key : keys) {
    if (summary.covered.count(key)) {
      covered.insert(key);
    } else {
      todo.push_back(key);
    }
  }
  auto listed = [&](const Hash& pack) {
    return packs.count(PackKey(pack)) > 0;
  };
  // Objects whose pack is gone go before fresh locations are merged, so an
  // object also located elsewhere keeps a usable location.
  r.objects_dropped = summary.objects.DropPacks(listed);
  std::mutex mu;
  std::vector<char> merged(todo.size(), 0);
  LP_RETURN_IF_ERROR(ParallelFor(todo.size(), threads, [&](size_t i) {
    auto hash = Hash::FromHex(todo[i].substr(kLocsPrefix.size()));
    if (!hash.ok()) return Status::OK();
    auto bytes = store.Get(todo[i], kMaxLocationsBytes);
    if (!bytes.ok()) return Status::OK();
    auto locations = DecodeLocations(*bytes, *hash, url + "/" + todo[i]);
    if (!locations.ok()) return Status::OK();
    KnownObjects fresh;
    fresh.Add(*locations);
    size_t dropped = fresh.DropPacks(listed);
    std::lock_guard<std::mutex> lock(mu);
    r.objects_dropped += dropped;
    merged[i] = 1;
    summary.objects.Add(fresh.ToLocations());
    return Status::OK();
  }));
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!merged[i]) {
      r.locations_failed++;
      continue;
    }
    r.locations_fetched++;
    covered.insert(todo[i]);
  }
  summary.covered = std::move(covered);
  if (!path.empty() &&
      (r.locations_fetched + r.objects_dropped > 0 || r.summary_rebuilt)) {
    // Best effort: a summary we cannot write costs reads, not the push.
    auto bytes = SerializeSummary(summary, url);
    if (bytes.ok() && fs::MakeDirs(summary_dir, 0755, env).ok()) {
      (void)fs::WriteFileAtomic(path, *bytes, 0644, env);
    }
  }
  r.objects = std::move(summary.objects);
  r.objects_dropped += r.objects.DropPacks(
      [&](const Hash& pack) { return !condemned.count(PackKey(pack)); });
  return r;
}

}  // namespace lazypath
