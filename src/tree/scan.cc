#include "lazypath/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>

#include "tree/ignore.h"
#include "tree/stat_cache.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

// Whether this process may read (and, for a directory, search) the entry
// `st` describes, from its mode alone where that is exact: for the file's
// owner only the owner bits count (ACLs included). Anyone else asks the
// kernel (faccessat), as groups, ACLs and capabilities then decide.
bool OwnerMayRead(const struct stat& st, bool dir) {
  static const uid_t euid = ::geteuid();
  if (st.st_uid != euid) return false;
  const mode_t want = dir ? (S_IRUSR | S_IXUSR) : S_IRUSR;
  return (st.st_mode & want) == want;
}

// The names in the directory open as `fd` (at `abs`), sorted, without "."
// and "..".
Result<std::vector<std::string>> ReadDirFd(int fd, const std::string& abs) {
  // fdopendir takes ownership of its fd: hand it a duplicate.
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Status::FromErrno("cannot read directory", abs, errno);
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int e = errno;
    ::close(dup);
    return Status::FromErrno("cannot read directory", abs, e);
  }
  std::vector<std::string> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  int e = errno;
  ::closedir(d);
  if (e != 0) return Status::FromErrno("cannot read directory", abs, e);
  std::sort(out.begin(), out.end());
  return out;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Walker {
  std::string root;
  const ScanOptions& opt;
  IgnoreRules rules;  // defaults, then .gitignore files
  IgnoreRules cli;    // --exclude patterns
  std::vector<TreeEntry> entries;
  std::vector<std::string> sources;
  std::vector<StatKey> keys;    // per entry (files only meaningful)
  std::vector<uint32_t> modes;  // per entry: st_mode
  Progress* progress = nullptr;

  // `fd` is the directory `abs` open for reading. Entries are reached
  // relative to it (a lookup of one component instead of the whole path);
  // tree paths nest at most 128 deep (ValidateTreePath), so at most that
  // many directories are open at once.
  Status Walk(const std::string& rel, const std::string& abs, int fd) {
    LP_ASSIGN_OR_RETURN(std::vector<std::string> names, ReadDirFd(fd, abs));
    if (opt.gitignore &&
        std::binary_search(names.begin(), names.end(), ".gitignore")) {
      std::string gi = fs::Join(abs, ".gitignore");
      struct stat st;
      if (::fstatat(fd, ".gitignore", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode)) {
        LP_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(gi, 64 << 20));
        LP_RETURN_IF_ERROR(rules.AddFile(rel, text, gi));
      }
    }
    for (const auto& name : names) {
      std::string child_rel = rel.empty() ? name : rel + "/" + name;
      std::string child_abs = fs::Join(abs, name);
      if (std::find(opt.skip.begin(), opt.skip.end(), child_abs) !=
          opt.skip.end()) {
        continue;
      }
      struct stat st;
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Status::FromErrno("stat", child_abs, errno);
      }
      bool is_dir = S_ISDIR(st.st_mode);
      std::optional<bool> flag = cli.Match(child_rel, is_dir);
      if (flag ? *flag : rules.IsIgnored(child_rel, is_dir)) continue;
      Status pv = ValidateTreePath(child_rel);
      if (!pv.ok()) {
        return Status::Unsupported(child_abs + ": cannot ship this name (" +
                                   pv.message() + ")");
      }
      auto may_read = [&](int how) {
        if (OwnerMayRead(st, is_dir)) return true;
        return ::faccessat(fd, name.c_str(), how, 0) == 0;
      };
      if (is_dir) {
        if (!may_read(R_OK | X_OK)) {
          return Status::FromErrno("unreadable directory", child_abs, errno);
        }
        Fd sub(::openat(fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.get() < 0) {
          return Status::FromErrno("unreadable directory", child_abs, errno);
        }
        LP_RETURN_IF_ERROR(Walk(child_rel, child_abs, sub.get()));
      } else if (S_ISREG(st.st_mode)) {
        if (!may_read(R_OK)) {
          return Status::FromErrno("unreadable file", child_abs, errno);
        }
        TreeEntry e;
        e.path = child_rel;
        e.kind =
            (st.st_mode & S_IXUSR) ? EntryKind::kExecutable : EntryKind::kFile;
        e.blob.size = static_cast<uint64_t>(st.st_size);
        entries.push_back(std::move(e));
        sources.push_back(std::move(child_abs));
        keys.push_back(StatKey::From(st));
        modes.push_back(st.st_mode);
      } else if (S_ISLNK(st.st_mode)) {
        std::string target(4096, '\0');
        ssize_t n =
            ::readlinkat(fd, name.c_str(), target.data(), target.size());
        if (n < 0) return Status::FromErrno("readlink", child_abs, errno);
        target.resize(static_cast<size_t>(n));
        if (!SymlinkStaysInside(child_rel, target)) {
          return Status::Unsupported(child_abs + ": symlink to '" + target +
                                     "' leaves the tree; only symlinks that "
                                     "stay inside it can be shipped");
        }
        TreeEntry e;
        e.path = child_rel;
        e.kind = EntryKind::kSymlink;
        e.blob = HashBytes(target);
        e.target = std::move(target);
        entries.push_back(std::move(e));
        sources.push_back(std::move(child_abs));
        keys.emplace_back();
        modes.push_back(st.st_mode);
      } else {
        const char* what = S_ISSOCK(st.st_mode)   ? "a socket"
                           : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                                                  : "not a regular file";
        return Status::Unsupported(child_abs + ": is " + what +
                                   "; only files, directories and symlinks "
                                   "can be shipped (exclude it)");
      }
      if (progress) progress->Add(1);
    }
    return Status::OK();
  }
};

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Result<ScanResult> ScanDirectory(const std::string& dir,
                                 const ScanOptions& options) {
  LP_ASSIGN_OR_RETURN(std::string root, fs::Absolute(dir));
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound(root + ": no such directory");
    }
    return Status::FromErrno("stat", root, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(root + ": not a directory");
  }
  const int64_t scan_start = NowNs();
  Walker w{root, options, {}, {}, {}, {}, {}, {}, nullptr};
  if (options.default_excludes) {
    for (const auto& p : IgnoreRules::DefaultPatterns()) {
      LP_RETURN_IF_ERROR(w.rules.AddPattern(p));
    }
  }
  // --exclude patterns outrank .gitignore files and the defaults. The
  // gitignore rules grow during the walk, so the flag rules live apart and
  // are consulted first.
  for (const auto& p : options.excludes) {
    Status s = w.cli.AddPattern(p);
    if (!s.ok()) return s.WithContext("--exclude '" + p + "'");
  }
  {
    Progress progress(options.progress, "scan", 0, "entries");
    w.progress = &progress;
    Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root_fd.get() < 0) {
      return Status::FromErrno("cannot read directory", root, errno);
    }
    LP_RETURN_IF_ERROR(w.Walk("", root, root_fd.get()));
    w.progress = nullptr;
  }
  ScanResult result;

  StatCache cache = StatCache::Load(options.stat_cache_dir, root);
  std::vector<size_t> to_hash;
  uint64_t total_to_hash = 0;
  for (size_t i = 0; i < w.entries.size(); ++i) {
    TreeEntry& e = w.entries[i];
    if (e.kind == EntryKind::kSymlink) continue;
    result.stats.files++;
    result.stats.bytes += e.blob.size;
    if (auto d = cache.Lookup(e.path, w.keys[i])) {
      e.blob = *d;
    } else {
      to_hash.push_back(i);
      total_to_hash += e.blob.size;
    }
  }
  {
    Progress progress(options.progress, "hash", total_to_hash, "bytes");
    LP_RETURN_IF_ERROR(
        ParallelFor(to_hash.size(), options.threads, [&](size_t k) -> Status {
          size_t i = to_hash[k];
          auto d = HashFile(w.sources[i], [&](uint64_t n) { progress.Add(n); });
          if (!d.ok()) return d.status();
          w.entries[i].blob = *d;
          return Status::OK();
        }));
  }
  for (size_t i : to_hash) {
    result.stats.files_hashed++;
    result.stats.bytes_hashed += w.entries[i].blob.size;
  }
  constexpr int64_t kRacyNs = 1'000'000'000;
  for (size_t i = 0; i < w.entries.size(); ++i) {
    const TreeEntry& e = w.entries[i];
    if (e.kind != EntryKind::kSymlink &&
        w.keys[i].mtime_ns < scan_start - kRacyNs) {
      cache.Put(e.path, w.keys[i], e.blob);
    }
  }
  // The tree sorts its entries by path: put sources and modes in that order.
  std::vector<size_t> order(w.entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return w.entries[a].path < w.entries[b].path;
  });
  std::vector<TreeEntry> entries;
  entries.reserve(order.size());
  result.sources.reserve(order.size());
  std::vector<uint32_t> modes;
  modes.reserve(order.size());
  for (size_t i : order) {
    entries.push_back(std::move(w.entries[i]));
    result.sources.push_back(std::move(w.sources[i]));
    modes.push_back(w.modes[i]);
  }
  result.tree = Tree(std::move(entries));
  LP_RETURN_IF_ERROR(result.tree.Validate().WithContext(root));
  if (options.portability.enabled) {
    result.warnings = CheckPortability(result.tree, modes, options.portability);
  }
  // Failing to save the stat cache only costs time on the next scan.
  (void)cache.Save();
  return result;
}

}  // namespace lazypath
