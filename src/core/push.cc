#include "lazypath/push.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/fetch.h"
#include "core/known_blobs.h"
#include "core/materialization.h"
#include "core/push_stages.h"
#include "core/store_objects.h"
#include "core/tree_build.h"
#include "core/tree_writer.h"
#include "lazypath/node_cache.h"
#include "lazypath/profile.h"
#include "lazypath/progress.h"
#include "lazypath/ref_history.h"
#include "lazypath/store.h"
#include "pack/index.h"
#include "pack/pack.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

// Reports the store's outgoing body bytes as the "upload" phase, sampled
// every 100 ms on its own thread while it lives (only when someone listens).
// The phase starts with the first pack handed over (Expect), and its total
// grows by each pack's size, so it never shows 0 of 0 bytes.
class UploadProgress {
 public:
  UploadProgress(const ProgressFn& fn, StoreStats& stats)
      : fn_(fn), stats_(stats), start_(stats.bytes_sent.load()) {
    if (!fn) return;
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(100),
                           [this] { return stop_; })) {
        Sample();
      }
    });
  }
  ~UploadProgress() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    Sample();
  }
  UploadProgress(const UploadProgress&) = delete;
  UploadProgress& operator=(const UploadProgress&) = delete;

  // `bytes` more are about to be uploaded.
  void Expect(uint64_t bytes) {
    if (!fn_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (!progress_) {
      progress_.emplace(fn_, "upload", bytes, "bytes");
    } else {
      progress_->AddTotal(bytes);
    }
  }

 private:
  void Sample() {  // REQUIRES: mu_ held, or the thread joined
    if (!progress_) return;
    uint64_t now = stats_.bytes_sent.load() - start_;
    if (now > reported_) progress_->Add(now - reported_);
    reported_ = now;
  }
  const ProgressFn& fn_;
  StoreStats& stats_;
  const uint64_t start_;
  uint64_t reported_ = 0;
  std::optional<Progress> progress_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The profile that orders this push: `from`'s if given (it must have one),
// else the tag's current tree's, if any. A tag's profile that cannot be read
// is reported in `warning` and ignored: it must never block a push.
Result<std::optional<Profile>> PushProfile(Store& store,
                                           const PushOptions& options,
                                           std::string* warning) {
  if (!options.use_profile) return std::optional<Profile>();
  if (!options.profile_from.empty()) {
    LP_ASSIGN_OR_RETURN(Hash from, ResolveRef(store, options.profile_from));
    LP_ASSIGN_OR_RETURN(auto p, ReadProfile(store, from));
    if (!p) {
      return Status::NotFound("no profile for " + options.profile_from + " (" +
                              from.ToString() + ") in store " + store.url());
    }
    return p;
  }
  if (options.tag.empty()) return std::optional<Profile>();
  auto current = ReadRef(store, options.tag);
  if (!current.ok()) {
    if (current.status().code() == Code::kNotFound)
      return std::optional<Profile>();
    return current.status();
  }
  auto p = ReadProfile(store, *current);
  if (!p.ok()) {
    *warning = "profile of tag '" + options.tag +
               "' ignored: " + p.status().ToString();
    return std::optional<Profile>();
  }
  return *p;
}

// Whether `blobs` can already be fetched with one range read per pack.
bool Contiguous(const std::vector<Digest>& blobs,
                const std::map<Hash, BlobLocation>& known) {
  std::vector<std::pair<Hash, BlobLocation>> located;
  std::set<Hash> packs;
  for (const auto& b : blobs) {
    auto it = known.find(b.hash);
    if (it == known.end()) return false;
    located.emplace_back(b.hash, it->second);
    packs.insert(it->second.pack);
  }
  auto ranges = PlanRanges(std::move(located), "profile");
  return ranges.ok() && ranges->size() == packs.size();
}

}  // namespace

ScanOptions PushScanOptions(ScanOptions scan, const NodeCache& cache,
                            const std::string& store_url) {
  scan.stat_cache_dir = cache.StatCacheDir();
  // A file store or the node cache inside the directory is never shipped.
  scan.skip.push_back(cache.dir());
  std::string root = store_url;
  if (store_url.find("://") != std::string::npos) {
    auto path = FileUrlPath(store_url);
    root = path.ok() ? *path : "";
  }
  if (!root.empty()) {
    if (auto abs = fs::Absolute(root); abs.ok()) scan.skip.push_back(*abs);
  }
  return scan;
}

namespace {

// The tag a push moves: what it named before the upload (the move is a
// compare-and-swap against it) and who the move is recorded as.
struct TagMove {
  RefState before;
  std::string actor;
};

Result<TagMove> ReadTag(Store& store, const PushOptions& options) {
  TagMove tag;
  if (options.tag.empty()) return tag;
  tag.actor = options.actor;
  if (tag.actor.empty()) {
    LP_ASSIGN_OR_RETURN(tag.actor, DefaultActor());
  } else {
    LP_RETURN_IF_ERROR(ValidateActor(tag.actor));
  }
  LP_ASSIGN_OR_RETURN(tag.before, ReadRefState(store, options.tag));
  return tag;
}

Status MoveTag(Store& store, const std::string& name, const Hash& tree,
               const TagMove& tag) {
  return MoveRef(store, name, tree, tag.before, RefOp::kPush, tag.actor,
                 static_cast<int64_t>(std::time(nullptr)));
}

// Everything the push moved to and from the store, retries included.
void CountTraffic(Store& store, PushResult* result) {
  result->bytes_uploaded = store.stats().bytes_written;
  result->bytes_read = store.stats().bytes_read;
  result->requests = store.stats().requests;
}

// The bytes of `built` that WriteTree will write (files whose blob or chunk
// list the store lacks), for the "pack" progress total.
uint64_t NewFileBytes(const BuiltTree& built, const KnownObjects& known) {
  uint64_t total = 0;
  std::set<Hash> seen;
  for (const auto& [path, d] : built.dirs.dirs) {
    for (const DirEntry& e : d.dir.entries) {
      if (!e.is_file() || e.size == 0 || !seen.insert(e.hash).second) continue;
      LocationKind kind =
          e.chunked() ? LocationKind::kChunkList : LocationKind::kBlob;
      if (!known.Find(e.hash, kind)) total += e.size;
    }
  }
  return total;
}

// The distinct blobs and chunks of `built`'s files (the "of N blobs" a
// push reports).
size_t DistinctFileObjects(const BuiltTree& built) {
  std::vector<Hash> distinct;
  for (const auto& [path, d] : built.dirs.dirs) {
    for (const DirEntry& e : d.dir.entries) {
      if (!e.is_file() || e.size == 0) continue;
      if (!e.chunked()) {
        distinct.push_back(e.hash);
        continue;
      }
      for (const Chunk& c : built.input.chunk_lists.at(e.hash).chunks) {
        distinct.push_back(c.hash);
      }
    }
  }
  std::sort(distinct.begin(), distinct.end());
  return static_cast<size_t>(std::unique(distinct.begin(), distinct.end()) -
                             distinct.begin());
}

// meta/<format 1 digest of a listing>.f2root on the pushing machine:
// "<root hex> <root size> <distinct blobs>\n".
constexpr std::string_view kRootMemo = ".f2root";

std::string FormatRootMemo(const Digest& root, size_t blobs) {
  return root.hash.hex() + " " + std::to_string(root.size) + " " +
         std::to_string(blobs) + "\n";
}

bool ParseRootMemo(const std::string& text, Digest* root, size_t* blobs) {
  char hex[65] = {0};
  unsigned long long size = 0, n = 0;
  if (std::sscanf(text.c_str(), "%64s %llu %llu", hex, &size, &n) != 3) {
    return false;
  }
  auto h = Hash::FromHex(hex);
  if (!h.ok()) return false;
  root->hash = *h;
  root->size = size;
  *blobs = static_cast<size_t>(n);
  return true;
}

// Push in format 2 (doc/format.md): the tree's directory objects, what the
// store lacks of its files, the push's locations object and tree record.
Result<PushResult> PushFormat2(ScanResult scanned, NodeCache& cache,
                               const std::string& store_url,
                               const PushOptions& options,
                               const PrecutChunks& precut) {
  PushResult result;
  result.format = 2;
  result.scan = scanned.stats;
  result.warnings = std::move(scanned.warnings);
  // The root digest is a function of the flat listing alone (its format 1
  // digest), so a listing pushed before from this machine needs no directory
  // objects built unless the store lacks the tree.
  const Hash listing = scanned.tree.digest().hash;
  std::unique_ptr<BuiltTree> built;
  auto build = [&]() -> Status {
    LP_ASSIGN_OR_RETURN(
        built, BuildTree(scanned, &cache, options.scan.threads, &precut));
    result.tree = built->dirs.root;
    result.blobs_total = DistinctFileObjects(*built);
    // Best effort: without it the next push builds the tree again.
    (void)cache.PutMeta(listing, kRootMemo,
                        FormatRootMemo(result.tree, result.blobs_total));
    return Status::OK();
  };
  if (auto memo = cache.GetMeta(listing, kRootMemo);
      !memo.ok() || !ParseRootMemo(*memo, &result.tree, &result.blobs_total)) {
    LP_RETURN_IF_ERROR(build());
  }
  const Hash& tree_hash = result.tree.hash;

  StoreOptions so;
  so.create = true;
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url, so));
  LP_ASSIGN_OR_RETURN(TagMove tag, ReadTag(*store, options));
  // A tree the store has is complete (its record is written last): nothing
  // more to read or write but the ref.
  LP_ASSIGN_OR_RETURN(result.tree_existed, store->Exists(TreeKey(tree_hash)));
  LP_ASSIGN_OR_RETURN(auto profile,
                      PushProfile(*store, options, &result.profile.warning));
  if (!result.tree_existed) {
    if (!built) LP_RETURN_IF_ERROR(build());
    LP_ASSIGN_OR_RETURN(
        StoreObjectsResult known,
        StoreObjects(*store, cache.StoreSummaryDir(),
                     std::max(8, DefaultThreads()),  // waits on the network
                     cache.env()));
    result.store_indexes = known.locations;
    result.indexes_fetched = known.locations_fetched;
    UploadProgress upload_progress(options.progress, store->stats());
    Progress pack_progress(options.progress, "pack",
                           NewFileBytes(*built, known.objects), "bytes");
    TreeWriteOptions write;
    write.level = options.level;
    write.threads = options.scan.threads;
    write.temp_dir = cache.TempDir();
    write.env = cache.env();
    write.on_bytes = [&](uint64_t n) { pack_progress.Add(n); };
    write.on_pack = [&](uint64_t n) { upload_progress.Expect(n); };
    LP_ASSIGN_OR_RETURN(WrittenTree written,
                        WriteTree(*store, built->input, known.objects, write));
    result.blobs_uploaded = written.blobs_written + written.chunks_written;
    result.packs_uploaded = written.packs;
  }
  // Profiles carry over as in format 1; format 2 keeps each directory's
  // files side by side, so a push does not reorder packs for them.
  if (profile && profile->tree != tree_hash) {
    Materialization rule(scanned.tree);
    std::vector<std::string> dirs = rule.InTree(profile->dirs);
    result.profile.source = profile->tree;
    result.profile.dirs = dirs.size();
    LP_ASSIGN_OR_RETURN(bool has_own, store->Exists(ProfileKey(tree_hash)));
    if (!dirs.empty() && !has_own) {
      LP_RETURN_IF_ERROR(WriteProfile(*store, Profile{tree_hash, dirs}));
      result.profile.carried = true;
    }
  }
  // A tag that names the tree already stays as it is: an unchanged re-push
  // writes nothing.
  if (!options.tag.empty() && tag.before.tree != tree_hash) {
    LP_RETURN_IF_ERROR(MoveTag(*store, options.tag, tree_hash, tag));
  }
  CountTraffic(*store, &result);
  return result;
}

}  // namespace

Result<PushResult> Push(const std::string& dir, const std::string& store_url,
                        const PushOptions& options) {
  if (!options.tag.empty()) LP_RETURN_IF_ERROR(ValidateRefName(options.tag));
  if (options.format != 1 && options.format != 2) {
    return Status::InvalidArgument("format " + std::to_string(options.format) +
                                   ": want 1 or 2");
  }
  LP_ASSIGN_OR_RETURN(NodeCache cache,
                      NodeCache::Open(options.cache_dir, options.env));
  ScanOptions scan_opts = PushScanOptions(options.scan, cache, store_url);
  scan_opts.progress = options.progress;
  // Format 2 cuts the large files it hashes in the same read.
  PrecutChunks precut;
  if (options.format == 2) {
    scan_opts.large_file_bytes = kChunkThreshold;
    scan_opts.hash_large = precut.Hook();
  }
  LP_ASSIGN_OR_RETURN(ScanResult scanned, ScanDirectory(dir, scan_opts));
  if (options.strict && !scanned.warnings.empty()) {
    return Status::InvalidArgument(PortabilityRefusal(scanned.warnings));
  }
  if (options.format == 2) {
    return PushFormat2(std::move(scanned), cache, store_url, options, precut);
  }

  PushResult result;
  result.scan = scanned.stats;
  result.warnings = std::move(scanned.warnings);
  const std::string tree_bytes = scanned.tree.Serialize();
  result.tree = HashBytes(tree_bytes);
  const Hash& tree_hash = result.tree.hash;

  StoreOptions so;
  so.create = true;
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url, so));
  // The tag moves only if no other push or tag moved it while this one
  // uploaded (UpdateRef).
  LP_ASSIGN_OR_RETURN(TagMove tag, ReadTag(*store, options));

  std::set<Hash> distinct;
  for (const auto& e : scanned.tree.entries()) {
    if (e.kind != EntryKind::kSymlink && e.blob.size > 0) {
      distinct.insert(e.blob.hash);
    }
  }
  result.blobs_total = distinct.size();

  LP_ASSIGN_OR_RETURN(bool has_tree, store->Exists(TreeKey(tree_hash)));
  LP_ASSIGN_OR_RETURN(bool has_index, store->Exists(IndexKey(tree_hash)));
  result.tree_existed = has_tree && has_index;

  LP_ASSIGN_OR_RETURN(auto profile,
                      PushProfile(*store, options, &result.profile.warning));
  std::vector<std::string> profiled_dirs;
  std::vector<Digest> profiled_blobs;
  std::map<Hash, size_t> profiled;  // blob -> rank
  if (profile) {
    // What lazy activation will fetch for each profiled directory. A push
    // does not know the on_demand lists its activations will pass, so it
    // lays out on-demand directories too; a prefetch then skips them.
    Materialization rule(scanned.tree);
    profiled_dirs = rule.InTree(profile->dirs);
    result.profile.source = profile->tree;
    result.profile.dirs = profiled_dirs.size();
    profiled_blobs = rule.Blobs(profiled_dirs);
    for (const auto& b : profiled_blobs) {
      profiled.emplace(b.hash, profiled.size());
    }
  }
  // Blob locations to reuse: for a tree the store has, its own index (only
  // the profiled blobs may move); else every index of the store.
  std::map<Hash, BlobLocation> known;
  if (result.tree_existed) {
    LP_ASSIGN_OR_RETURN(Index existing, FetchIndex(*store, tree_hash));
    known = std::move(existing.blobs);
  } else {
    LP_ASSIGN_OR_RETURN(
        KnownBlobsResult kb,
        KnownBlobs(*store, cache.StoreSummaryDir(),
                   std::max(8, DefaultThreads()),  // waits on the network
                   cache.env()));
    known = std::move(kb.blobs);
    result.store_indexes = kb.indexes;
    result.indexes_fetched = kb.indexes_fetched;
  }
  bool repack_profile =
      !profiled_blobs.empty() && !Contiguous(profiled_blobs, known);
  if (!result.tree_existed || repack_profile) {
    UploadProgress upload_progress(options.progress, store->stats());
    PushPlan plan =
        PlanPush(scanned, tree_hash, known, profiled, repack_profile);
    result.profile.blobs_first = plan.blobs_first;
    Progress pack_progress(options.progress, "pack", plan.fresh_bytes, "bytes");
    PackWriteOptions write;
    write.level = options.level;
    write.threads = options.scan.threads;
    write.temp_dir = cache.TempDir();
    write.env = cache.env();
    write.on_bytes = [&](uint64_t n) { pack_progress.Add(n); };
    write.on_pack = [&](uint64_t n) { upload_progress.Expect(n); };
    LP_ASSIGN_OR_RETURN(WrittenPacks written,
                        WritePacks(*store, plan.fresh, write));
    result.packs_uploaded = written.packs;
    result.blobs_uploaded = plan.fresh.size();
    for (auto& [hash, location] : written.blobs) {
      plan.index.blobs[hash] = location;
    }
    LP_RETURN_IF_ERROR(
        PublishTree(*store, plan.index, tree_bytes, result.tree_existed,
                    [&](uint64_t n) { upload_progress.Expect(n); }));
  }
  // Carry the profile over, before the ref moves to the new tree.
  if (profile && profile->tree != tree_hash && !profiled_dirs.empty()) {
    LP_ASSIGN_OR_RETURN(bool has_own, store->Exists(ProfileKey(tree_hash)));
    if (!has_own) {
      LP_RETURN_IF_ERROR(
          WriteProfile(*store, Profile{tree_hash, profiled_dirs}));
      result.profile.carried = true;
    }
  }
  if (!options.tag.empty()) {
    LP_RETURN_IF_ERROR(MoveTag(*store, options.tag, tree_hash, tag));
  }
  CountTraffic(*store, &result);
  return result;
}

}  // namespace lazypath
