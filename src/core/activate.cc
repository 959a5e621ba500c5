#include "lazypath/activate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "cache/file_lock.h"
#include "core/fetch.h"
#include "core/tree_fetch.h"
#include "lazypath/node_cache.h"
#include "lazypath/store.h"
#include "util/fs.h"

namespace lazypath {

namespace {

// The chunks of the files this node assembled before: for each, the
// cache keeps its chunk list (meta/<list>.chunks) beside the digest of its
// content (meta/<list>.content), and the content is a blob while the cache
// holds it. An edited large file then fetches only the chunks it changed.
class NodeChunks : public LocalChunks {
 public:
  explicit NodeChunks(const NodeCache& cache) {
    auto names = fs::ListDir(fs::Join(cache.dir(), "meta"));
    if (!names.ok()) return;
    constexpr std::string_view kSuffix = ".chunks";
    for (const std::string& name : *names) {
      if (name.size() != 64 + kSuffix.size() || !name.ends_with(kSuffix)) {
        continue;
      }
      auto list = Hash::FromHex(std::string_view(name).substr(0, 64));
      if (!list.ok()) continue;
      auto content = cache.GetMeta(*list, ".content");
      auto bytes = cache.GetMeta(*list, ".chunks");
      if (!content.ok() || !bytes.ok()) continue;
      auto blob = Hash::Parse(*content);
      auto chunks = ChunkList::Parse(*bytes, name);
      if (!blob.ok() || !chunks.ok() || !cache.HasBlob(*blob)) continue;
      std::string path = cache.BlobPath(*blob);
      uint64_t offset = 0;
      for (const Chunk& c : chunks->chunks) {
        at_.emplace(c.hash, Where{path, offset});
        offset += c.size;
      }
    }
  }
  bool Has(const Hash& chunk) const override { return at_.count(chunk) > 0; }
  std::optional<std::string> Read(const Chunk& chunk) const override {
    auto it = at_.find(chunk.hash);
    if (it == at_.end()) return std::nullopt;
    int fd = ::open(it->second.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;  // swept since: the store has it
    fs::Fd in(fd);
    std::string bytes(chunk.size, '\0');
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got,
                          static_cast<off_t>(it->second.offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      got += static_cast<size_t>(n);
    }
    return bytes;
  }

 private:
  struct Where {
    std::string path;
    uint64_t offset;
  };
  std::map<Hash, Where> at_;
};

// Assembles a chunked file into the node cache's blobs, under its
// content's digest, from the chunks `local` holds and the rest fetched, and
// remembers its chunk list and that digest; a file the cache holds already
// is not assembled again (`*fetched` says which).
Result<Digest> FetchChunkedFile(Store& store, const FlatFile& file,
                                const NodeCache& cache,
                                const LocalChunks& local, bool* fetched) {
  const Hash& list = file.entry.hash;
  *fetched = false;
  if (auto known = cache.GetMeta(list, ".content"); known.ok()) {
    // The meta is local; the blob it names must at least be as long as
    // the file, or the file is assembled again.
    struct stat st;
    if (auto d = Hash::Parse(*known);
        d.ok() && cache.HasBlob(*d) &&
        ::stat(cache.BlobPath(*d).c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) == file.entry.size) {
      return Digest{*d, file.entry.size};
    }
  }
  *fetched = true;
  std::string tmp = fs::TempName(fs::Join(cache.TempDir(), "chunked"));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create", tmp, errno);
  fs::Fd out(fd);
  Hasher hasher;
  ChunkList chunks;
  Status s = ReadChunkedFile(
      store, file,
      [&](std::string_view b) -> Status {
        hasher.Update(b);
        while (!b.empty()) {
          ssize_t n = ::write(out.get(), b.data(), b.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return Status::FromErrno("write", tmp, errno);
          b.remove_prefix(static_cast<size_t>(n));
        }
        return Status::OK();
      },
      &local, &chunks);
  out = fs::Fd();
  if (!s.ok()) {
    (void)cache.env()->Unlink(tmp);
    return s;
  }
  Digest content = hasher.Finish();
  LP_RETURN_IF_ERROR(cache.AdoptBlob(tmp, content.hash));
  // Best effort: without them the next activation assembles the file
  // again, and an edit of it fetches every chunk.
  (void)cache.PutMeta(list, ".chunks", chunks.Serialize());
  (void)cache.PutMeta(list, ".content", content.hash.ToString());
  return content;
}

// Reads a format 2 tree (its tree record is `record`) and fetches what the
// cache lacks of it; returns its entries as the cache lays trees out.
Result<Tree> FetchFormat2(Store& store, const Hash& root,
                          const std::string& record, const NodeCache& cache,
                          const ActivateOptions& options,
                          ActivateResult* result) {
  LP_ASSIGN_OR_RETURN(
      auto files, ReadWholeTree(store, root, record, options.threads, nullptr));
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
    LP_ASSIGN_OR_RETURN(Digest content,
                        FetchChunkedFile(store, f, cache, *local, &fetched));
    entries[i].blob = content;
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
    if (store) {
      result.requests = store->stats().requests;
      result.bytes_read = store->stats().bytes_read;
    }
    result.lease_fd = lease.release();
    return result;
  };
  if (cache.HasTree(result.tree)) return finish(true);

  // One process builds a tree; the others wait here and find it published.
  LP_ASSIGN_OR_RETURN(
      FileLock lock,
      FileLock::Acquire(cache.LockPath(result.tree), FileLock::Mode::kExclusive,
                        cache.env()));
  if (cache.HasTree(result.tree)) return finish(true);
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
    if (IsTreeRecord(record)) {
      // Format 2. The cache keeps the flat listing it materialises (its
      // own layout, not covered by the digest; every object it was read
      // from was verified).
      LP_ASSIGN_OR_RETURN(tree, FetchFormat2(*store, result.tree, record, cache,
                                             options, &result));
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
    LP_ASSIGN_OR_RETURN(Index index, FetchIndex(*store, result.tree));
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
