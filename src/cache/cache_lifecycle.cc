// The node cache's lifecycle: leases, usage, garbage collection, verify.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>

#include "cache/file_lock.h"
#include "lazypath/node_cache.h"
#include "lazypath/size.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

namespace {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The names in `dir`; none when it does not exist (yet).
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  auto names = fs::ListDir(dir);
  if (!names.ok() && names.status().code() == Code::kNotFound) {
    return std::vector<std::string>();
  }
  return names;
}

// Whether any regular file under `root` (following no symlink) is one of
// `inodes`: a tree's files are links to its blobs. An unreadable directory
// counts as affected, to be safe.
bool LinksAny(const std::string& root, const std::set<ino_t>& inodes) {
  std::vector<std::string> stack{root};
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    auto names = fs::ListDir(dir);
    if (!names.ok()) return true;
    for (const auto& n : *names) {
      std::string p = fs::Join(dir, n);
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        stack.push_back(std::move(p));
      } else if (S_ISREG(st.st_mode) && inodes.count(st.st_ino)) {
        return true;
      }
    }
  }
  return false;
}

struct BlobFile {
  std::string path;
  std::string name;  // <hex> or <hex>.x
  uint64_t size;
  nlink_t links;
  ino_t ino;
};

Result<std::vector<BlobFile>> ListBlobs(const std::string& blobs_dir) {
  std::vector<BlobFile> out;
  LP_ASSIGN_OR_RETURN(auto shards, ListDir(blobs_dir));
  for (const auto& shard : shards) {
    std::string sdir = fs::Join(blobs_dir, shard);
    LP_ASSIGN_OR_RETURN(auto names, ListDir(sdir));
    for (const auto& n : names) {
      std::string p = fs::Join(sdir, n);
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back(
          {p, n, static_cast<uint64_t>(st.st_size), st.st_nlink, st.st_ino});
    }
  }
  return out;
}

// The pid in a TempName ("<prefix>.tmp.<pid>.<n>.<rand>"), or 0.
pid_t TempOwner(std::string_view name) {
  size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos) return 0;
  std::string_view rest = name.substr(at + 5);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (ec != std::errc() || p == rest.data() + rest.size() || *p != '.')
    return 0;
  return pid;
}

// The pid namespace a TempName records after its pid, counter and random
// part ("<prefix>.tmp.<pid>.<n>.<rand>.<ns>"); 0 for older names.
uint64_t TempNamespace(std::string_view name) {
  size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos) return 0;
  std::string_view rest = name.substr(at + 5);
  uint64_t fields[4];
  for (int i = 0; i < 4; ++i) {
    auto [p, ec] =
        std::from_chars(rest.data(), rest.data() + rest.size(), fields[i]);
    if (ec != std::errc() ||
        (i < 3 && (p == rest.data() + rest.size() || *p != '.'))) {
      return 0;
    }
    rest.remove_prefix(static_cast<size_t>(p - rest.data()) + (i < 3 ? 1 : 0));
  }
  return rest.empty() ? fields[3] : 0;
}

bool ProcessAlive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

std::string NodeCache::GcLockPath() const { return fs::Join(dir_, "locks/gc"); }

Result<int> NodeCache::AcquireLease(const Hash& tree) const {
  std::string dir = fs::Join(dir_, "leases");
  LP_RETURN_IF_ERROR(fs::MakeDirs(dir, 0755, env_));
  std::string path = fs::Join(dir, tree.hex());
  auto lock = FileLock::Acquire(path, FileLock::Mode::kShared, env_);
  if (!lock.ok()) {
    // A read-only cache (an image's, a read-only volume) can't evict
    // anything, so its trees need no lease: hand back a descriptor that
    // holds nothing, and let the activation go on.
    auto vfs = env_->StatVfs(dir);
    if (vfs.ok() && (vfs->f_flag & ST_RDONLY)) {
      auto fd = env_->Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd.ok()) return fd->release();
    }
    return lock.status();
  }
  int fd = lock->Release();
  ::futimens(fd, nullptr);  // records the use; failure only skews LRU order
  return fd;
}

Result<CacheUsage> NodeCache::Usage() const {
  CacheUsage u;
  for (const char* kind : {"trees", "lazy"}) {
    LP_ASSIGN_OR_RETURN(auto trees, ListDir(fs::Join(dir_, kind)));
    for (const auto& name : trees) {
      auto h = Hash::FromHex(name);
      if (!h.ok()) continue;
      CachedTree t;
      t.tree = *h;
      t.lazy = std::string_view(kind) == "lazy";
      t.path = fs::Join(fs::Join(dir_, kind), name);
      if (auto meta = GetMeta(t.tree, ".tree"); meta.ok()) {
        if (auto parsed = Tree::Parse(*meta, name); parsed.ok()) {
          t.files = parsed->entries().size();
          t.bytes = parsed->TotalSize();
        }
      }
      std::string lease = fs::Join(dir_, "leases/" + name);
      struct stat st;
      if (::stat(lease.c_str(), &st) == 0) {
        t.last_used_ns =
            int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
        auto probe =
            FileLock::TryAcquire(lease, FileLock::Mode::kExclusive, env_);
        t.in_use = probe.ok() && !probe->has_value();
      } else if (::stat(t.path.c_str(), &st) == 0) {
        // Never leased (activated by another tool): its publication time.
        t.last_used_ns =
            int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
      }
      u.trees.push_back(t);
    }
  }
  std::sort(u.trees.begin(), u.trees.end(),
            [](const CachedTree& a, const CachedTree& b) {
              return a.last_used_ns < b.last_used_ns;
            });
  LP_ASSIGN_OR_RETURN(auto blobs, ListBlobs(fs::Join(dir_, "blobs")));
  for (const auto& b : blobs) {
    u.blobs++;
    u.blob_bytes += b.size;
    if (b.links == 1) {
      u.unreferenced_blobs++;
      u.unreferenced_bytes += b.size;
    }
  }
  LP_ASSIGN_OR_RETURN(auto tmp, ListDir(TempDir()));
  u.tmp_entries = tmp.size();
  return u;
}

Result<uint64_t> NodeCache::RemoveDebris() const {
  // Debris of processes that died mid-write: anything in tmp/, and the
  // temp siblings that atomic writes leave in meta/, statcache/ and
  // stores/. The owner's pid and pid namespace are in the name: an owner
  // in this process's namespace that is gone left debris, removed at once.
  // Where the namespace is another (a cache shared between containers) or
  // not recorded, a dead-looking pid may be a live process we can't see, so
  // the entry also has to be ten minutes old.
  const int64_t now = NowNs();
  const uint64_t our_ns = fs::PidNamespace();
  uint64_t removed = 0;
  std::vector<std::string> debris;
  for (const std::string& d :
       {TempDir(), fs::Join(dir_, "meta"), StatCacheDir(), StoreSummaryDir()}) {
    LP_ASSIGN_OR_RETURN(auto names, ListDir(d));
    for (const auto& name : names) {
      if (d == TempDir() || TempOwner(name) != 0) {
        debris.push_back(fs::Join(d, name));
      }
    }
  }
  for (const auto& p : debris) {
    std::string_view name = std::string_view(p).substr(p.rfind('/') + 1);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    int64_t age =
        now - (int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec);
    pid_t owner = TempOwner(name);
    if (owner == ::getpid() || ProcessAlive(owner)) continue;
    bool visible = our_ns != 0 && TempNamespace(name) == our_ns;
    if (visible || age > 600ll * 1'000'000'000) {
      if (fs::RemoveAll(p, env_).ok()) removed++;
    }
  }
  return removed;
}

Result<GcReport> NodeCache::Gc(uint64_t budget_bytes, bool wait) const {
  GcReport r;
  std::optional<FileLock> gc_lock;
  if (wait) {
    LP_ASSIGN_OR_RETURN(
        FileLock l,
        FileLock::Acquire(GcLockPath(), FileLock::Mode::kExclusive, env_));
    gc_lock.emplace(std::move(l));
  } else {
    LP_ASSIGN_OR_RETURN(
        gc_lock,
        FileLock::TryAcquire(GcLockPath(), FileLock::Mode::kExclusive, env_));
    if (!gc_lock) return r;
  }
  LP_ASSIGN_OR_RETURN(r.tmp_removed, RemoveDebris());
  LP_ASSIGN_OR_RETURN(BlobSweep swept, SweepBlobs());
  auto count = [&r](const BlobSweep& s) {
    r.blobs_removed += s.removed;
    r.bytes_freed += s.bytes_freed;
    return s.bytes_left;
  };
  uint64_t total = count(swept);
  if (total > budget_bytes) {
    LP_ASSIGN_OR_RETURN(CacheUsage u, Usage());
    for (const CachedTree& t : u.trees) {
      if (total <= budget_bytes) break;
      std::string lease = fs::Join(dir_, "leases/" + t.tree.hex());
      LP_ASSIGN_OR_RETURN(
          auto excl,
          FileLock::TryAcquire(lease, FileLock::Mode::kExclusive, env_));
      if (!excl) {
        r.trees_in_use.push_back(t.tree);
        continue;
      }
      if (!Unpublish(t.tree, t.lazy)) continue;
      r.trees_evicted.push_back(t.tree);
      LP_ASSIGN_OR_RETURN(swept, SweepBlobs());
      total = count(swept);
    }
  }
  r.blob_bytes_after = total;
  return r;
}

bool NodeCache::Unpublish(const Hash& tree, bool lazy) const {
  // Unpublish by rename (atomic for readers), then delete at leisure.
  std::string path = lazy ? LazyDir(tree) : TreeDir(tree);
  std::string doomed = fs::TempName(fs::Join(TempDir(), "evict"));
  if (!env_->Rename(path, doomed).ok()) return false;
  (void)fs::RemoveAll(doomed, env_);
  (void)env_->Unlink(
      fs::Join(dir_, "meta/" + tree.hex() + (lazy ? ".lazyboot" : ".boot")));
  // The tree's metadata goes with its last materialised copy. The lease
  // file stays: a process may already have it open and be waiting for the
  // lock, and a new file at the same path would not be locked by it.
  if (!fs::Exists(lazy ? TreeDir(tree) : LazyDir(tree))) {
    for (const char* suffix : {".tree", ".index", ".record", ".lazyall"}) {
      (void)env_->Unlink(fs::Join(dir_, "meta/" + tree.hex() + suffix));
    }
  }
  return true;
}

Result<NodeCache::BlobSweep> NodeCache::SweepBlobs() const {
  LP_ASSIGN_OR_RETURN(auto blobs, ListBlobs(fs::Join(dir_, "blobs")));
  BlobSweep s;
  for (const auto& b : blobs) {
    if (b.links == 1 && env_->Unlink(b.path).ok()) {
      s.removed++;
      s.bytes_freed += b.size;
    } else {
      s.bytes_left += b.size;
    }
  }
  return s;
}

Result<EvictReport> NodeCache::Evict(const Hash& tree) const {
  EvictReport r;
  LP_ASSIGN_OR_RETURN(
      FileLock gc_lock,
      FileLock::Acquire(GcLockPath(), FileLock::Mode::kExclusive, env_));
  LP_ASSIGN_OR_RETURN(
      auto excl, FileLock::TryAcquire(fs::Join(dir_, "leases/" + tree.hex()),
                                      FileLock::Mode::kExclusive, env_));
  if (!excl) {
    r.in_use = true;
    return r;
  }
  for (bool lazy : {false, true})
    r.evicted = Unpublish(tree, lazy) || r.evicted;
  if (!r.evicted) return r;
  LP_ASSIGN_OR_RETURN(BlobSweep swept, SweepBlobs());
  r.blobs_removed = swept.removed;
  r.bytes_freed = swept.bytes_freed;
  r.blob_bytes_after = swept.bytes_left;
  return r;
}

Result<VerifyReport> NodeCache::Verify(bool repair) const {
  VerifyReport r;
  r.repaired = repair;
  std::optional<FileLock> gc_lock;
  if (repair) {
    LP_ASSIGN_OR_RETURN(
        FileLock l,
        FileLock::Acquire(GcLockPath(), FileLock::Mode::kExclusive, env_));
    gc_lock.emplace(std::move(l));
  }
  LP_ASSIGN_OR_RETURN(auto blobs, ListBlobs(fs::Join(dir_, "blobs")));
  std::set<ino_t> bad_inodes;
  std::vector<std::string> bad_paths;
  for (const auto& b : blobs) {
    std::string_view hex(b.name);
    if (hex.size() > 2 && hex.substr(hex.size() - 2) == ".x") {
      hex.remove_suffix(2);
    }
    auto want = Hash::FromHex(hex);
    auto got = HashFile(b.path);
    r.blobs_checked++;
    r.bytes_checked += b.size;
    if (want.ok() && got.ok() && got->hash == *want) continue;
    if (want.ok()) r.bad_blobs.push_back(*want);
    bad_inodes.insert(b.ino);
    bad_paths.push_back(b.path);
  }
  if (!repair || bad_inodes.empty()) return r;
  // Trees share inodes with the blobs they link: find the ones affected,
  // eager and lazy alike.
  LP_ASSIGN_OR_RETURN(CacheUsage usage, Usage());
  for (const CachedTree& ct : usage.trees) {
    const std::string name = ct.tree.hex();
    // What is on disk, not what metadata says it should be: a lazy tree
    // of format 2 has no flat listing, and only its materialised files can
    // link a bad blob anyway.
    if (!LinksAny(ct.path, bad_inodes)) continue;
    std::string lease = fs::Join(dir_, "leases/" + name);
    LP_ASSIGN_OR_RETURN(
        auto excl,
        FileLock::TryAcquire(lease, FileLock::Mode::kExclusive, env_));
    if (!excl) {
      r.trees_in_use.push_back(ct.tree);
      continue;
    }
    std::string doomed = fs::TempName(fs::Join(TempDir(), "bad"));
    if (env_->Rename(ct.path, doomed).ok()) {
      (void)fs::RemoveAll(doomed, env_);
      r.trees_invalidated.push_back(ct.tree);
    }
  }
  for (const auto& p : bad_paths) (void)env_->Unlink(p);
  return r;
}

Result<uint64_t> NodeCache::BudgetFromEnv() {
  const char* v = std::getenv("LAZYPATH_CACHE_MAX");
  if (v == nullptr || *v == '\0') return uint64_t{0};
  auto n = ParseSize(v);
  if (!n.ok()) {
    return Status::InvalidArgument("LAZYPATH_CACHE_MAX='" + std::string(v) +
                                   "': want a size such as 20G, 512M or 4096");
  }
  return n;
}

}  // namespace lazypath
