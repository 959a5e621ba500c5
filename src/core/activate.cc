#include "lazypath/activate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "cache/file_lock.h"
#include "core/chunked_files.h"
#include "core/directory_cache.h"
#include "core/fetch.h"
#include "core/tree_fetch.h"
#include "lazypath/node_cache.h"
#include "lazypath/store.h"
#include "util/fs.h"

namespace lazypath {

namespace {

// Reads a format 2 tree (its tree record is `record`) and fetches what the
// cache lacks of it; returns its entries as the cache lays trees out.
Result<Tree> FetchFormat2(Store& store, const Hash& root,
                          const std::string& record, const NodeCache& cache,
                          const ActivateOptions& options,
                          ActivateResult* result) {
  // Directories this node read before (for an earlier tree, or lazily)
  // are not read again: a new tree costs the directories that changed.
  TreeReadStats read;
  NodeDirectoryCache dirs(cache);
  LP_ASSIGN_OR_RETURN(auto files, ReadWholeTree(store, root, record,
                                                options.threads, &read, &dirs));
  result->metadata_bytes += read.bytes;
  std::vector<TreeEntry> entries;
  entries.reserve(files.size());
  Index index;
  index.tree = root;
  std::vector<Hash> missing;
  std::vector<size_t> chunked;
  const Digest empty = HashBytes("");
  for (const FlatFile& f : files) {
    TreeEntry e;
    e.path = f.path;
    switch (f.entry.kind) {
      case DirKind::kSymlink:
        e.kind = EntryKind::kSymlink;
        e.target = f.entry.target;
        e.blob = HashBytes(e.target);
        break;
      case DirKind::kExecutable:
        e.kind = EntryKind::kExecutable;
        break;
      default:
        e.kind = EntryKind::kFile;
        break;
    }
    if (e.kind != EntryKind::kSymlink) {
      e.blob = f.entry.size == 0 ? empty : Digest{f.entry.hash, f.entry.size};
      if (f.entry.chunked()) {
        chunked.push_back(entries.size());
      } else if (f.entry.size > 0 && !cache.HasBlob(f.entry.hash) &&
                 index.blobs.emplace(f.entry.hash, f.location).second) {
        missing.push_back(f.entry.hash);
      }
    }
    entries.push_back(std::move(e));
  }
  std::optional<NodeChunks> local;
  for (size_t i : chunked) {
    const FlatFile& f = files[i];
    if (!local) local.emplace(cache);
    bool fetched = false;
    uint64_t before = store.stats().bytes_read.load();
    auto content = FetchChunkedFile(store, f, cache, *local, &fetched);
    if (!content.ok()) {
      return content.status().WithContext("tree " + root.ToString() + ", '" +
                                          f.path + "'");
    }
    entries[i].blob = *content;
    if (fetched) {
      result->blobs_fetched++;
      result->bytes_fetched += store.stats().bytes_read.load() - before;
    }
  }
  if (!missing.empty()) {
    FetchCounters counters;
    LP_RETURN_IF_ERROR(FetchBlobs(store, index, missing, cache, options.threads,
                                  options.progress, &counters));
    result->blobs_fetched += counters.blobs;
    result->bytes_fetched += counters.bytes;
  }
  Tree tree(std::move(entries));
  LP_RETURN_IF_ERROR(tree.Validate().WithContext("tree " + root.ToString()));
  return tree;
}

}  // namespace

Result<ActivateResult> Activate(const std::string& store_url,
                                const std::string& ref,
                                const ActivateOptions& options) {
  LP_ASSIGN_OR_RETURN(NodeCache cache,
                      NodeCache::Open(options.cache_dir, options.env));
  uint64_t budget = options.budget_bytes;
  if (budget == 0) {
    LP_ASSIGN_OR_RETURN(budget, NodeCache::BudgetFromEnv());
  }
  ActivateResult result;
  std::unique_ptr<Store> store;
  auto open_store = [&]() -> Status {
    if (store) return Status::OK();
    LP_ASSIGN_OR_RETURN(store, OpenStore(store_url));
    return Status::OK();
  };
  if (auto full = Hash::Parse(ref); full.ok()) {
    result.tree = *full;  // a cached tree then needs no store traffic
  } else {
    LP_RETURN_IF_ERROR(open_store());
    LP_ASSIGN_OR_RETURN(result.tree, ResolveRef(*store, ref));
  }
  result.path = cache.TreeDir(result.tree);
  // The lease comes first: once held, no Gc can evict the tree under us.
  fs::Fd lease;
  if (options.lease) {
    LP_ASSIGN_OR_RETURN(int fd, cache.AcquireLease(result.tree));
    lease = fs::Fd(fd);
  }
  auto finish = [&](bool cached) -> Result<ActivateResult> {
    result.cached = cached;
    result.blobs_rechecked = cache.blobs_rechecked();
    result.blobs_damaged = cache.blobs_damaged();
    if (store) {
      result.requests = store->stats().requests;
      result.bytes_read = store->stats().bytes_read;
    }
    result.lease_fd = lease.release();
    return result;
  };
  if (cache.HasTree(result.tree) && cache.TreeTrusted(result.tree, false)) {
    return finish(true);
  }

  // One process builds a tree; the others wait here and find it published.
  LP_ASSIGN_OR_RETURN(
      FileLock lock,
      FileLock::Acquire(cache.LockPath(result.tree), FileLock::Mode::kExclusive,
                        cache.env()));
  if (cache.HasTree(result.tree)) {
    if (cache.TreeTrusted(result.tree, false)) return finish(true);
    // Built in an earlier boot, which may have crashed before its writes
    // reached the disk: used only once checked against its listing, else
    // built again (doc/reliability.md, "Power loss").
    if (auto meta = cache.GetMeta(result.tree, ".tree"); meta.ok()) {
      auto listing = Tree::Parse(*meta, result.tree.ToString());
      if (listing.ok()) {
        LP_ASSIGN_OR_RETURN(bool good, cache.CheckTree(result.tree, *listing));
        if (good) return finish(true);
      }
    }
    LP_RETURN_IF_ERROR(cache.DiscardTree(result.tree, false));
  }
  // What an interrupted activation left behind goes before this one adds
  // its own (best effort: debris only ever costs space).
  (void)cache.RemoveDebris();

  LP_RETURN_IF_ERROR(open_store());
  // Blobs fetched below are unlinked until Materialize links them: keep Gc's
  // blob sweep out until the tree is published.
  std::optional<FileLock> gc_guard;
  {
    LP_ASSIGN_OR_RETURN(
        FileLock g, FileLock::Acquire(cache.GcLockPath(),
                                      FileLock::Mode::kShared, cache.env()));
    gc_guard.emplace(std::move(g));
  }
  Tree tree;
  if (auto meta = cache.GetMeta(result.tree, ".tree");
      meta.ok() && HashBytes(*meta).hash == result.tree) {
    LP_ASSIGN_OR_RETURN(tree, Tree::Parse(*meta, result.tree.ToString()));
  } else {
    LP_ASSIGN_OR_RETURN(std::string record, GetTreeObject(*store, result.tree));
    result.metadata_bytes += record.size();
    if (IsTreeRecord(record)) {
      // Format 2. The cache keeps the flat listing it materialises (its
      // own layout, not covered by the digest; every object it was read
      // from was verified).
      auto fetched =
          FetchFormat2(*store, result.tree, record, cache, options, &result);
      if (!fetched.ok() && fetched.status().code() == Code::kNotFound) {
        // Something the record's locators name is gone. If a prune
        // repacked the tree meanwhile (doc/lifecycle.md), the record the
        // store holds now names where it is; what was fetched stays.
        auto now = GetTreeObject(*store, result.tree);
        if (now.ok() && *now != record && IsTreeRecord(*now)) {
          result.metadata_bytes += now->size();
          fetched =
              FetchFormat2(*store, result.tree, *now, cache, options, &result);
        }
      }
      LP_ASSIGN_OR_RETURN(tree, std::move(fetched));
      LP_RETURN_IF_ERROR(cache.PutMeta(result.tree, ".tree", tree.Serialize()));
      LP_RETURN_IF_ERROR(cache.Materialize(tree, result.tree));
      result.files = tree.entries().size();
      gc_guard.reset();
      if (budget > 0) (void)cache.Gc(budget, /*wait=*/false);
      return finish(false);
    }
    LP_ASSIGN_OR_RETURN(tree,
                        ParseTreeVerified(record, result.tree, store->url()));
    LP_RETURN_IF_ERROR(cache.PutMeta(result.tree, ".tree", record));
  }
  std::vector<Hash> missing;
  {
    std::set<Hash> seen;
    for (const TreeEntry& e : tree.entries()) {
      if (e.kind == EntryKind::kSymlink || e.blob.size == 0) continue;
      if (seen.insert(e.blob.hash).second && !cache.HasBlob(e.blob.hash)) {
        missing.push_back(e.blob.hash);
      }
    }
  }
  if (!missing.empty()) {
    uint64_t before = store->stats().bytes_read;
    LP_ASSIGN_OR_RETURN(Index index, FetchIndex(*store, result.tree));
    result.metadata_bytes += store->stats().bytes_read - before;
    LP_RETURN_IF_ERROR(CheckIndexAgainstTree(index, tree, store->url()));
    FetchCounters counters;
    LP_RETURN_IF_ERROR(FetchBlobs(*store, index, missing, cache,
                                  options.threads, options.progress,
                                  &counters));
    result.blobs_fetched = counters.blobs;
    result.bytes_fetched = counters.bytes;
  }
  LP_RETURN_IF_ERROR(cache.Materialize(tree, result.tree));
  result.files = tree.entries().size();
  gc_guard.reset();  // Gc below needs it exclusively
  if (budget > 0) {
    // Best effort: a full cache must not fail an activation that worked.
    (void)cache.Gc(budget, /*wait=*/false);
  }
  return finish(false);
}

}  // namespace lazypath
