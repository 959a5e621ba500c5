#include "lazypath/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <thread>

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

// A directory entry as getdents(2) gives it: d_type spares a stat for
// deciding how to walk (DT_UNKNOWN on file systems that don't fill it in).
struct Name {
  std::string name;
  unsigned char type;  // DT_*
  bool operator<(const Name& o) const { return name < o.name; }
};

// The entries of the directory open as `fd` (at `abs`), sorted by name,
// without "." and "..".
Result<std::vector<Name>> ReadDirFd(int fd, const std::string& abs) {
  // fdopendir takes ownership of its fd: hand it a duplicate.
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Status::FromErrno("cannot read directory", abs, errno);
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int e = errno;
    ::close(dup);
    return Status::FromErrno("cannot read directory", abs, e);
  }
  std::vector<Name> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    out.push_back(Name{std::string(n), e->d_type});
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

const char* SpecialKind(mode_t mode) {
  return S_ISSOCK(mode)   ? "a socket"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISCHR(mode)  ? "a character device"
                          : "not a regular file";
}

Status Special(const std::string& abs, mode_t mode) {
  return Status::Unsupported(abs + ": is " + SpecialKind(mode) +
                             "; only files, directories and symlinks "
                             "can be shipped (exclude it)");
}

mode_t ModeOfType(unsigned char type) {
  switch (type) {
    case DT_SOCK:
      return S_IFSOCK;
    case DT_FIFO:
      return S_IFIFO;
    case DT_BLK:
      return S_IFBLK;
    case DT_CHR:
      return S_IFCHR;
    default:
      return 0;
  }
}

// The walk has two stages. The first, on one thread, reads directories
// (their d_type tells files from directories), applies the ignore rules,
// which grow with every .gitignore met, and records each file and symlink
// with its directory. The second stats those entries, each directory's on
// one of `threads` threads, relative to the directory's fd: the stat of
// every entry, the bulk of a scan, runs in parallel.
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

  // The files and symlinks of one directory, still to be stat'ed.
  struct Pending {
    std::string abs;
    std::vector<std::pair<size_t, std::string>> items;  // entry index, name
  };
  std::vector<Pending> pending;

  // `fd` is the directory `abs` open for reading. Entries are reached
  // relative to it (a lookup of one component instead of the whole path);
  // tree paths nest at most 128 deep (ValidateTreePath), so at most that
  // many directories are open at once.
  Status Walk(const std::string& rel, const std::string& abs, int fd) {
    LP_ASSIGN_OR_RETURN(std::vector<Name> names, ReadDirFd(fd, abs));
    if (opt.gitignore && std::binary_search(names.begin(), names.end(),
                                            Name{".gitignore", DT_UNKNOWN})) {
      std::string gi = fs::Join(abs, ".gitignore");
      struct stat st;
      if (::fstatat(fd, ".gitignore", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode)) {
        LP_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(gi, 64 << 20));
        LP_RETURN_IF_ERROR(rules.AddFile(rel, text, gi));
      }
    }
    Pending here{abs, {}};
    for (const auto& [name, type] : names) {
      std::string child_rel = rel.empty() ? name : rel + "/" + name;
      std::string child_abs = fs::Join(abs, name);
      if (std::find(opt.skip.begin(), opt.skip.end(), child_abs) !=
          opt.skip.end()) {
        continue;
      }
      struct stat st;
      bool have_stat = false;
      mode_t kind = 0;  // S_IFMT bits
      switch (type) {
        case DT_DIR:
          kind = S_IFDIR;
          break;
        case DT_REG:
          kind = S_IFREG;
          break;
        case DT_LNK:
          kind = S_IFLNK;
          break;
        default:
          kind = ModeOfType(type);
          if (kind == 0) {  // DT_UNKNOWN: ask
            if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
              return Status::FromErrno("stat", child_abs, errno);
            }
            have_stat = true;
            kind = st.st_mode & S_IFMT;
          }
      }
      const bool is_dir = kind == S_IFDIR;
      std::optional<bool> flag = cli.Match(child_rel, is_dir);
      if (flag ? *flag : rules.IsIgnored(child_rel, is_dir)) continue;
      Status pv = ValidateTreePath(child_rel);
      if (!pv.ok()) {
        return Status::Unsupported(child_abs + ": cannot ship this name (" +
                                   pv.message() + ")");
      }
      if (is_dir) {
        Fd sub(::openat(fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.get() < 0 || ::fstat(sub.get(), &st) != 0 ||
            (!OwnerMayRead(st, true) &&
             ::faccessat(fd, name.c_str(), R_OK | X_OK, 0) != 0)) {
          return Status::FromErrno("unreadable directory", child_abs, errno);
        }
        if (progress) progress->Add(1);
        LP_RETURN_IF_ERROR(Walk(child_rel, child_abs, sub.get()));
        continue;
      }
      if (kind != S_IFREG && kind != S_IFLNK) return Special(child_abs, kind);
      TreeEntry e;
      e.path = std::move(child_rel);
      entries.push_back(std::move(e));
      sources.push_back(std::move(child_abs));
      keys.emplace_back();
      modes.push_back(0);
      const size_t index = entries.size() - 1;
      if (have_stat) {
        LP_RETURN_IF_ERROR(Fill(index, fd, name, st));
      } else {
        here.items.emplace_back(index, name);
      }
    }
    if (!here.items.empty()) pending.push_back(std::move(here));
    return Status::OK();
  }

  // Stats the pending entries (the second stage).
  Status StatPending(int threads) {
    return ParallelFor(pending.size(), threads, [&](size_t j) -> Status {
      const Pending& dir = pending[j];
      Fd fd(::open(dir.abs.c_str(),
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd.get() < 0) {
        return Status::FromErrno("cannot read directory", dir.abs, errno);
      }
      for (const auto& [index, name] : dir.items) {
        struct stat st;
        if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          return Status::FromErrno("stat", sources[index], errno);
        }
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
          return S_ISDIR(st.st_mode)
                     ? Status::Unavailable(sources[index] +
                                           ": changed while being scanned; "
                                           "push again")
                     : Special(sources[index], st.st_mode);
        }
        LP_RETURN_IF_ERROR(Fill(index, fd.get(), name, st));
      }
      return Status::OK();
    });
  }

  // Completes entry `index` (a file or symlink named `name` in directory
  // `fd`) from its stat. Safe on distinct indices concurrently.
  Status Fill(size_t index, int fd, const std::string& name,
              const struct stat& st) {
    TreeEntry& e = entries[index];
    const std::string& abs = sources[index];
    modes[index] = st.st_mode;
    if (S_ISREG(st.st_mode)) {
      if (!OwnerMayRead(st, false) &&
          ::faccessat(fd, name.c_str(), R_OK, 0) != 0) {
        return Status::FromErrno("unreadable file", abs, errno);
      }
      e.kind =
          (st.st_mode & S_IXUSR) ? EntryKind::kExecutable : EntryKind::kFile;
      e.blob.size = static_cast<uint64_t>(st.st_size);
      keys[index] = StatKey::From(st);
    } else {
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(fd, name.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno("readlink", abs, errno);
      target.resize(static_cast<size_t>(n));
      if (!SymlinkStaysInside(e.path, target)) {
        return Status::Unsupported(abs + ": symlink to '" + target +
                                   "' leaves the tree; only symlinks that "
                                   "stay inside it can be shipped");
      }
      e.kind = EntryKind::kSymlink;
      e.blob = HashBytes(target);
      e.target = std::move(target);
    }
    if (progress) progress->Add(1);
    return Status::OK();
  }
};

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

FileStamp StampOf(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return {};
  StatKey k = StatKey::From(st);
  return FileStamp{k.ino, k.size, k.mtime_ns, k.ctime_ns};
}

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
  Walker w{root, options, {}, {}, {}, {}, {}, {}, nullptr, {}};
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
  // The walk's buffers are sized by the last scan (its cache file's size)
  // rather than grown, copying, as entries are met.
  const std::string cache_file =
      StatCache::FileFor(options.stat_cache_dir, root);
  if (struct stat cs;
      !cache_file.empty() && ::stat(cache_file.c_str(), &cs) == 0) {
    const size_t n = StatCache::MaxEntries(static_cast<uint64_t>(cs.st_size));
    w.entries.reserve(n);
    w.sources.reserve(n);
    w.keys.reserve(n);
    w.modes.reserve(n);
  }
  // The stat cache is read and parsed while the walk runs.
  StatCache cache;
  std::thread loader([&] {
    if (!cache_file.empty()) cache = StatCache::LoadFile(cache_file);
  });
  Status walked = [&] {
    Progress progress(options.progress, "scan", 0, "entries");
    w.progress = &progress;
    Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root_fd.get() < 0) {
      return Status::FromErrno("cannot read directory", root, errno);
    }
    Status s = w.Walk("", root, root_fd.get());
    if (s.ok()) s = w.StatPending(options.threads);
    w.progress = nullptr;
    return s;
  }();
  loader.join();
  LP_RETURN_IF_ERROR(walked);
  ScanResult result;

  std::vector<size_t> to_hash;
  std::vector<bool> from_cache(w.entries.size());
  uint64_t total_to_hash = 0;
  for (size_t i = 0; i < w.entries.size(); ++i) {
    TreeEntry& e = w.entries[i];
    if (e.kind == EntryKind::kSymlink) continue;
    result.stats.files++;
    result.stats.bytes += e.blob.size;
    if (auto d = cache.Lookup(e.path, w.keys[i])) {
      e.blob = *d;
      from_cache[i] = true;
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
          auto on_bytes = [&](uint64_t n) { progress.Add(n); };
          auto d = options.hash_large &&
                           w.entries[i].blob.size > options.large_file_bytes
                       ? options.hash_large(w.sources[i], on_bytes)
                       : HashFile(w.sources[i], on_bytes);
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
  std::vector<FileStamp> stamps(w.entries.size());
  for (size_t i : to_hash) {
    const StatKey& k = w.keys[i];
    if (k.mtime_ns < scan_start - kRacyNs &&
        k.ctime_ns < scan_start - kRacyNs) {
      stamps[i] = FileStamp{k.ino, k.size, k.mtime_ns, k.ctime_ns};
    }
  }
  cache.Reserve(w.entries.size());
  for (size_t i = 0; i < w.entries.size(); ++i) {
    const TreeEntry& e = w.entries[i];
    if (e.kind != EntryKind::kSymlink &&
        w.keys[i].mtime_ns < scan_start - kRacyNs) {
      cache.Put(e.path, w.keys[i], e.blob, from_cache[i]);
    }
  }
  // Before the entries move (Put keeps views of their paths). Failing to
  // save only costs time on the next scan.
  (void)cache.Save();
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
  result.stamps.reserve(order.size());
  for (size_t i : order) {
    entries.push_back(std::move(w.entries[i]));
    result.sources.push_back(std::move(w.sources[i]));
    result.stamps.push_back(stamps[i]);
    modes.push_back(w.modes[i]);
  }
  result.tree = Tree(std::move(entries));
  LP_RETURN_IF_ERROR(result.tree.Validate().WithContext(root));
  if (options.portability.enabled) {
    result.warnings = CheckPortability(result.tree, modes, options.portability);
  }
  return result;
}

}  // namespace lazypath
