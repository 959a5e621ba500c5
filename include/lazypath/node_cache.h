// NodeCache: the per-machine cache shared by every process on the node.
//
// Layout under the cache directory (doc/format.md, "Node cache"):
//   blobs/<hh>/<hex>     verified blob content, read-only (0444)
//   blobs/<hh>/<hex>.x   the same content as an executable (0555)
//   trees/<hex>/         a materialised tree, published whole by rename
//   meta/<hex>.tree      verified tree bytes; meta/<hex>.index index bytes
//   meta/<hex>.boot      the boot that built or checked trees/<hex>
//   meta/<hex>.lazyboot  the boot that started lazy/<hex>
//   meta/boot            this boot's id and mark (src/cache/boot_trust.cc)
//   locks/               flock files that serialise work on one tree
//   leases/<hex>         shared flocks held by processes using a tree; the
//                        file's mtime records when the tree was last used
//   tmp/                 staging; only debris of crashed processes lingers
//   statcache/           push-side stat caches
//   stores/              push-side summaries of what each store holds
//
// Nothing enters blobs/ or trees/ before it is complete and verified; both are
// filled only by rename(2) from tmp/. Thread- and process-safe: any number of
// processes may use one cache directory at once.
//
// Durability: when the kernel names its boot (Env::BootId), nothing is synced
// when it is published, so an activation never waits for other processes'
// dirty data. A crash changes the boot id; what an earlier boot wrote is then
// checked before it is used (HasBlob, TreeTrusted; doc/reliability.md,
// "Power loss"). Without a boot id, or with LAZYPATH_SYNC=1, one syncfs(2)
// precedes every publish instead.
//
// Every file-system call that creates, writes, renames or removes something
// in the cache goes through the cache's Env (src/util/env.h), so a test can
// make any one of them fail (util/fault_env.h).
#ifndef LAZYPATH_NODE_CACHE_H_
#define LAZYPATH_NODE_CACHE_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"

namespace lazypath {

class Env;

struct CachedTree {
  Hash tree;
  bool lazy = false;  // lazy/<hex> (else trees/<hex>)
  std::string path;
  uint64_t files = 0;        // entries (0 when its metadata is gone)
  uint64_t bytes = 0;        // total size of its files (lazy: of the tree)
  int64_t last_used_ns = 0;  // wall clock of the last activation
  bool in_use = false;       // a live process holds a lease on it
};

struct CacheUsage {
  std::vector<CachedTree> trees;  // least recently used first
  uint64_t blobs = 0;             // files in blobs/ (content is stored once)
  uint64_t blob_bytes = 0;
  uint64_t unreferenced_blobs = 0;  // linked by no materialised tree
  uint64_t unreferenced_bytes = 0;
  uint64_t tmp_entries = 0;
};

struct GcReport {
  std::vector<Hash> trees_evicted;
  std::vector<Hash> trees_in_use;  // over budget, but leased: kept
  uint64_t blobs_removed = 0;
  uint64_t bytes_freed = 0;
  uint64_t tmp_removed = 0;
  uint64_t blob_bytes_after = 0;
};

struct EvictReport {
  bool evicted = false;  // removed (false: in use, or not cached)
  bool in_use = false;   // a live process leases the tree: kept
  uint64_t blobs_removed = 0;
  uint64_t bytes_freed = 0;
  uint64_t blob_bytes_after = 0;  // the blob cache's size (when evicted)
};

struct VerifyReport {
  uint64_t blobs_checked = 0;
  uint64_t bytes_checked = 0;
  std::vector<Hash> bad_blobs;          // content does not match the name
  std::vector<Hash> trees_invalidated;  // linked a bad blob; unpublished
  std::vector<Hash> trees_in_use;       // linked a bad blob but leased
  bool repaired = false;
};

class NodeCache {
 public:
  // $LAZYPATH_CACHE, else $XDG_CACHE_HOME/lazypath, else ~/.cache/lazypath.
  static std::string DefaultDir();
  // Opens (creating its layout) the cache at `dir`, or DefaultDir() if empty.
  // Its file-system calls go through `env`, which must outlive the cache;
  // nullptr means Env::Default() (this public header does not include
  // src/util/env.h).
  static Result<NodeCache> Open(const std::string& dir, Env* env = nullptr);

  const std::string& dir() const { return dir_; }
  Env* env() const { return env_; }  // never null
  std::string TreeDir(const Hash& tree) const;
  // Whether trees/<hex> exists (built in any boot: see TreeTrusted).
  bool HasTree(const Hash& tree) const;
  std::string BlobPath(const Hash& blob) const;
  // Whether the blob is cached and may be used: written or checked in this
  // boot, else re-hashed now (once: a good copy is then marked as checked).
  // A damaged copy stays until a fetch renames a good one over it.
  bool HasBlob(const Hash& blob) const;
  std::string TempDir() const;
  std::string LockPath(const Hash& tree) const;
  std::string StatCacheDir() const;
  std::string StoreSummaryDir() const;  // stores/ (src/core/known_blobs.h)

  // Moves verified temp files (in TempDir()) into the blob cache: each is
  // renamed into place read-only (after one syncfs(2) only when the boot is
  // unknown: see "Durability" above).
  // Renaming over an existing copy of the same blob is harmless. On failure
  // the remaining temp files are removed.
  Status AdoptBlobs(
      const std::vector<std::pair<std::string, Hash>>& verified) const;
  Status AdoptBlob(const std::string& tmp_path, const Hash& blob) const {
    return AdoptBlobs({{tmp_path, blob}});
  }
  // Verified bytes of a tree or index, kept so later activations and lazy
  // mode need no store traffic. Get* return NotFound when absent.
  Status PutMeta(const Hash& tree, std::string_view suffix,
                 std::string_view bytes) const;
  Result<std::string> GetMeta(const Hash& tree, std::string_view suffix) const;

  // Builds `tree` (whose blobs must all be cached) in a staging directory by
  // hardlinks from the blob cache, copying where a link can't be made, and
  // publishes it as TreeDir(digest) by one rename. REQUIRES: the caller holds
  // the tree's lock (LockPath) so that only one process builds it.
  Status Materialize(const Tree& tree, const Hash& digest) const;
  // Creates the file or symlink `e` as `name` in directory `dir_fd` (the
  // caller's own new directory, opened without following symlinks): a
  // hardlink to the blob, a copy where a link can't be made, an empty file,
  // or a symlink. Uses only *at(2) calls that never follow a symlink at
  // `name`. `dest` names it in errors. REQUIRES: the blob is cached.
  Status PlaceEntry(const TreeEntry& e, int dir_fd, const std::string& name,
                    const std::string& dest) const;
  // syncfs(2) on the file system holding `path`: one call that makes
  // everything written before it durable, instead of an fsync per file.
  Status SyncFileSystem(const std::string& path) const;
  // Before a publish: SyncFileSystem(path) when the boot is unknown, else
  // nothing (what this boot writes is checked after a crash instead).
  Status SyncBeforePublish(const std::string& path) const;
  std::string LazyDir(const Hash& tree) const;  // lazy/<hex>

  // --- Durability across crashes (src/cache/boot_trust.cc) ----------------
  //
  // A tree copy (trees/<hex>, or lazy/<hex> when `lazy`) carries a stamp in
  // meta/: the boot that built or last checked it, written and fsynced
  // before the copy is published. A copy is trusted when its stamp names
  // this boot, when it has no stamp (built by a version that synced every
  // publish), or when the boot is unknown.
  bool TreeTrusted(const Hash& tree, bool lazy) const;
  // Writes the stamp (durably). Call before publishing the copy.
  Status StampTree(const Hash& tree, bool lazy) const;
  // Checks an untrusted trees/<hex> against `listing` (its entries): each
  // file's kind, size, content (re-hashed unless this boot wrote or checked
  // it) and symlink target. True, and stamped, when all match. REQUIRES:
  // the tree's lock (LockPath).
  Result<bool> CheckTree(const Hash& tree, const Tree& listing) const;
  // Unpublishes a tree copy that failed its check (or, lazy, one from an
  // earlier boot), whatever leases it has: no process of this boot was
  // handed it. REQUIRES: the tree's lock (LockPath; lazy: LockPath + ".lazy").
  Status DiscardTree(const Hash& tree, bool lazy) const;
  // Distinct blobs re-hashed by HasBlob and CheckTree through this cache
  // (and its copies), and how many of them were damaged.
  uint64_t blobs_rechecked() const;
  uint64_t blobs_damaged() const;

  // --- Lifecycle (src/cache/cache_lifecycle.cc) ---------------------------
  //
  // A lease is a shared flock on leases/<hex>, held by every process that
  // uses a tree; it vanishes with the process. Gc never evicts a leased tree.
  // Returns the lease's file descriptor: closing it ends the lease. Also
  // records the time of use. On a read-only cache, where nothing can be
  // evicted, returns a descriptor that holds no lease.
  Result<int> AcquireLease(const Hash& tree) const;
  // Held shared by activations from fetch to publish, exclusively by Gc
  // while it sweeps blobs, so Gc never removes a blob about to be linked.
  std::string GcLockPath() const;
  Result<CacheUsage> Usage() const;
  // Removes what processes that died mid-write left in tmp/ (and the temp
  // siblings of atomic writes in meta/, statcache/, stores/): at once when
  // the owner was in this pid namespace, after ten minutes otherwise (it
  // may be alive in another). Returns how many entries went. Safe beside
  // running activations: it never touches a live owner's entries.
  Result<uint64_t> RemoveDebris() const;
  // Removes crash debris from tmp/, evicts least recently used trees that
  // no live process leases until the blobs fit in `budget_bytes`, and removes
  // blobs no tree links. budget UINT64_MAX: debris and unreferenced blobs
  // only; 0: everything not in use (cache clear). With `wait` false, returns
  // an empty report at once if another Gc or an activation holds the lock.
  Result<GcReport> Gc(uint64_t budget_bytes, bool wait = true) const;
  // Removes tree `tree` (eager and lazy copies) unless a live process holds
  // its lease, then the blobs no remaining tree links. Reports whether it
  // was evicted (not when in use, or not cached) and what was freed.
  Result<EvictReport> Evict(const Hash& tree) const;
  // Re-hashes every blob. With `repair`, removes bad blobs and unpublishes
  // the trees that link them (unless leased), so the next activation
  // fetches good copies.
  Result<VerifyReport> Verify(bool repair) const;
  // LAZYPATH_CACHE_MAX in the grammar of lazypath/size.h; 0 when unset.
  static Result<uint64_t> BudgetFromEnv();

 private:
  struct BootState;  // this boot's id and mark, shared by copies
  NodeCache(std::string dir, Env* env);
  Result<std::string> ExecutableBlob(const Hash& blob) const;
  // The mtime after which a file in the cache was written in this boot;
  // established on first use (src/cache/boot_trust.cc).
  int64_t BootMark() const;
  // Whether the file at `path` (whose lstat is `st`) holds blob `want` of
  // `size` bytes (UINT64_MAX: any): trusted by its mtime, else re-hashed
  // and, when good, marked as checked.
  bool CheckFile(const std::string& path, const struct stat& st,
                 const Hash& want, uint64_t size) const;
  // Renames trees/<hex> (or lazy/<hex>) away and deletes it; drops the
  // metadata with the last copy. False if it wasn't there. REQUIRES: the
  // tree's lease held exclusively.
  bool Unpublish(const Hash& tree, bool lazy) const;
  struct BlobSweep {
    uint64_t removed = 0, bytes_freed = 0;
    uint64_t bytes_left = 0;  // of the blobs that stay
  };
  // Removes blobs no tree links.
  Result<BlobSweep> SweepBlobs() const;
  std::string dir_;
  Env* env_;
  std::shared_ptr<BootState> boot_;
};

}  // namespace lazypath

#endif  // LAZYPATH_NODE_CACHE_H_
