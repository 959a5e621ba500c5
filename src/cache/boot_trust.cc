// Durability across machine crashes: what a node cache trusts after a reboot
// (doc/reliability.md, "Power loss").
//
// Publishing syncs nothing, so an activation never waits for the rest of the
// file system's dirty data (syncfs would). What this boot wrote is as good as
// the page cache until a crash, and after a crash the kernel has a new boot
// id. So:
// - every tree copy carries a stamp, the boot that built or last checked it,
//   fsynced before the copy is published (a small file's fsync does not wait
//   for other files' data). A copy stamped by another boot is checked before
//   use (eager) or started afresh (lazy).
// - a blob is trusted when its mtime is later than this boot's mark: the
//   greater of the time the boot first used the cache and the newest mtime
//   then of blobs/, its shards, trees/, lazy/ and meta/. A blob that an
//   earlier boot renamed into blobs/<hh> set that shard's mtime no earlier
//   than its own (the rename and the directory's mtime commit together in
//   the journal), so an earlier boot's blob is never later than the mark,
//   even if that boot's clock ran ahead. Anything else is re-hashed before
//   use; a good copy's mtime is then set past the mark, so it is checked once
//   per boot.
// The mark is kept in meta/boot, so every process of a boot uses the same
// one; it needs no durability (a new boot computes its own).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>

#include "cache/file_lock.h"
#include "lazypath/node_cache.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

struct NodeCache::BootState {
  std::string id;  // empty: unknown, so every publish is synced
  std::mutex mu;
  bool loaded = false;
  int64_t mark = 0;
  // Blobs re-hashed, and those found damaged (a blob can be hashed twice:
  // as a tree's file, then as the blob a fetch decides on).
  std::mutex counts_mu;
  std::set<Hash> rechecked;
  std::set<Hash> damaged;
};

namespace {

constexpr uint64_t kAnySize = UINT64_MAX;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t CoarseNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string BootRecord(const std::string& id, int64_t mark) {
  return "lazypath-boot 1 " + id + " " + std::to_string(mark) + "\n";
}

// The mark recorded for boot `id` in `path`, if that is what it records.
std::optional<int64_t> ReadMark(const std::string& path, const std::string& id,
                                Env* env) {
  auto bytes = fs::ReadFile(path, 4096, env);
  if (!bytes.ok()) return std::nullopt;
  std::string prefix = "lazypath-boot 1 " + id + " ";
  if (!bytes->starts_with(prefix) || !bytes->ends_with("\n")) {
    return std::nullopt;
  }
  const char* first = bytes->data() + prefix.size();
  const char* last = bytes->data() + bytes->size() - 1;
  int64_t mark = 0;
  auto [end, ec] = std::from_chars(first, last, mark);
  if (ec != std::errc() || end != last || mark <= 0) return std::nullopt;
  return mark;
}

// The newest mtime of `dir`'s own inode and of the directories in it
// (`shards`), or of `dir` alone.
int64_t NewestMtime(const std::string& dir, bool shards) {
  int64_t newest = 0;
  struct stat st;
  if (::lstat(dir.c_str(), &st) == 0) newest = MtimeNs(st);
  if (!shards) return newest;
  auto names = fs::ListDir(dir);
  if (!names.ok()) return newest;
  for (const std::string& n : *names) {
    std::string p = fs::Join(dir, n);
    if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      newest = std::max(newest, MtimeNs(st));
    }
  }
  return newest;
}

}  // namespace

NodeCache::NodeCache(std::string dir, Env* env)
    : dir_(std::move(dir)), env_(env), boot_(std::make_shared<BootState>()) {
  // LAZYPATH_SYNC=1 asks for the other way: sync before every publish.
  const char* sync = std::getenv("LAZYPATH_SYNC");
  if (sync != nullptr && std::string_view(sync) == "1") return;
  // A read-only cache (an image's, a read-only volume) was written
  // elsewhere and is written by nobody here: a crash here cannot tear it,
  // and nothing checked could be marked so.
  struct statvfs vfs;
  if (::statvfs(dir_.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return;
  boot_->id = env_->BootId();
}

int64_t NodeCache::BootMark() const {
  std::lock_guard<std::mutex> guard(boot_->mu);
  if (boot_->loaded || boot_->id.empty()) return boot_->mark;
  const std::string path = fs::Join(dir_, "meta/boot");
  std::optional<int64_t> mark = ReadMark(path, boot_->id, env_);
  if (!mark) {
    // First use in this boot: one process computes the mark, the others
    // read it. Without the lock (a read-only cache) this process uses its
    // own, which can only be later, so it re-hashes more, never less.
    auto lock = FileLock::Acquire(fs::Join(dir_, "locks/boot"),
                                  FileLock::Mode::kExclusive, env_);
    if (lock.ok()) mark = ReadMark(path, boot_->id, env_);
    if (!mark) {
      int64_t m = NowNs();
      m = std::max(m, NewestMtime(fs::Join(dir_, "blobs"), true));
      for (const char* sub : {"trees", "lazy", "meta"}) {
        m = std::max(m, NewestMtime(fs::Join(dir_, sub), false));
      }
      mark = m;
      // File times come from the kernel's coarse clock: wait (a tick, a few
      // ms, once per boot) until it has passed the mark, so that whatever
      // is written from now on is later than the mark.
      for (int i = 0; i < 50 && CoarseNowNs() <= m; ++i) {
        struct timespec ms = {0, 1'000'000};
        ::nanosleep(&ms, nullptr);
      }
      // Best effort: without it, the next process computes a later mark.
      if (lock.ok()) {
        (void)fs::WriteFileAtomic(path, BootRecord(boot_->id, m), 0644, env_);
      }
    }
  }
  boot_->loaded = true;
  boot_->mark = *mark;
  return *mark;
}

bool NodeCache::CheckFile(const std::string& path, const struct stat& st,
                          const Hash& want, uint64_t size) const {
  if (boot_->id.empty()) return true;  // every publish was synced
  if (!S_ISREG(st.st_mode)) return false;
  if (size != kAnySize && static_cast<uint64_t>(st.st_size) != size) {
    return false;
  }
  const int64_t mark = BootMark();
  if (MtimeNs(st) > mark) return true;  // written or checked in this boot
  auto got = HashFile(path);
  const bool good = got.ok() && got->hash == want &&
                    static_cast<uint64_t>(st.st_size) == got->size;
  {
    std::lock_guard<std::mutex> counts(boot_->counts_mu);
    boot_->rechecked.insert(want);
    if (!good) boot_->damaged.insert(want);
  }
  if (!good) return false;
  // Checked: say so in its mtime, so no process of this boot re-hashes it.
  // Best effort and a direct call (the file's content is not touched): a
  // file someone else owns is re-hashed each time instead.
  const int64_t t = std::max(NowNs(), mark + 1);
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = t / 1'000'000'000;
  times[1].tv_nsec = t % 1'000'000'000;
  (void)::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return true;
}

bool NodeCache::HasBlob(const Hash& blob) const {
  const std::string p = BlobPath(blob);
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) return false;
  return CheckFile(p, st, blob, kAnySize);
}

Status NodeCache::SyncBeforePublish(const std::string& path) const {
  if (boot_->id.empty()) return SyncFileSystem(path);
  return Status::OK();
}

namespace {
std::string StampSuffix(bool lazy) { return lazy ? ".lazyboot" : ".boot"; }
}  // namespace

bool NodeCache::TreeTrusted(const Hash& tree, bool lazy) const {
  if (boot_->id.empty()) return true;
  auto stamp = fs::ReadFile(
      fs::Join(dir_, "meta/" + tree.hex() + StampSuffix(lazy)), 256, env_);
  if (!stamp.ok()) return stamp.status().code() == Code::kNotFound;
  return *stamp == boot_->id + "\n";
}

Status NodeCache::StampTree(const Hash& tree, bool lazy) const {
  if (boot_->id.empty()) return Status::OK();
  return fs::WriteFileAtomic(
      fs::Join(dir_, "meta/" + tree.hex() + StampSuffix(lazy)),
      boot_->id + "\n", 0644, env_);
}

Result<bool> NodeCache::CheckTree(const Hash& tree, const Tree& listing) const {
  const std::string root = TreeDir(tree);
  for (const TreeEntry& e : listing.entries()) {
    const std::string p = fs::Join(root, e.path);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) return false;
    if (e.kind == EntryKind::kSymlink) {
      if (!S_ISLNK(st.st_mode)) return false;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(p.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<size_t>(n) != e.target.size() ||
          target.compare(0, e.target.size(), e.target) != 0) {
        return false;
      }
      continue;
    }
    if (e.blob.size == 0) {
      if (!S_ISREG(st.st_mode) || st.st_size != 0) return false;
      continue;
    }
    if (!CheckFile(p, st, e.blob.hash, e.blob.size)) return false;
  }
  LP_RETURN_IF_ERROR(StampTree(tree, false));
  return true;
}

Status NodeCache::DiscardTree(const Hash& tree, bool lazy) const {
  const std::string path = lazy ? LazyDir(tree) : TreeDir(tree);
  const std::string doomed = fs::TempName(fs::Join(TempDir(), "discard"));
  Status s = env_->Rename(path, doomed);
  if (!s.ok()) return s.code() == Code::kNotFound ? Status::OK() : s;
  (void)fs::RemoveAll(doomed, env_);
  // The metadata stays (fsynced when written, and checked when read), but
  // not the claim that every lazy directory is done.
  if (lazy) {
    (void)env_->Unlink(fs::Join(dir_, "meta/" + tree.hex() + ".lazyall"));
  }
  return Status::OK();
}

uint64_t NodeCache::blobs_rechecked() const {
  std::lock_guard<std::mutex> counts(boot_->counts_mu);
  return boot_->rechecked.size();
}

uint64_t NodeCache::blobs_damaged() const {
  std::lock_guard<std::mutex> counts(boot_->counts_mu);
  return boot_->damaged.size();
}

}  // namespace lazypath
