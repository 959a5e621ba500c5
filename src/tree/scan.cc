#include "lazypath/scan.h"

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

struct Walker {
  std::string root;
  const ScanOptions& opt;
  IgnoreRules rules;  // defaults, then .gitignore files
  IgnoreRules cli;    // --exclude patterns
  std::vector<TreeEntry> entries;
  std::vector<std::string> sources;
  std::vector<StatKey> keys;  // per entry (files only meaningful)
  Progress* progress = nullptr;

  Status Walk(const std::string& rel) {
    std::string abs = rel.empty() ? root : fs::Join(root, rel);
    if (opt.gitignore) {
      std::string gi = fs::Join(abs, ".gitignore");
      struct stat st;
      if (::lstat(gi.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        LP_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(gi, 64 << 20));
        LP_RETURN_IF_ERROR(rules.AddFile(rel, text, gi));
      }
    }
    LP_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(abs));
    for (const auto& name : names) {
      std::string child_rel = rel.empty() ? name : rel + "/" + name;
      std::string child_abs = fs::Join(abs, name);
      if (std::find(opt.skip.begin(), opt.skip.end(), child_abs) !=
          opt.skip.end()) {
        continue;
      }
      struct stat st;
      if (::lstat(child_abs.c_str(), &st) != 0) {
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
      if (is_dir) {
        if (::access(child_abs.c_str(), R_OK | X_OK) != 0) {
          return Status::FromErrno("unreadable directory", child_abs, errno);
        }
        LP_RETURN_IF_ERROR(Walk(child_rel));
      } else if (S_ISREG(st.st_mode)) {
        if (::access(child_abs.c_str(), R_OK) != 0) {
          return Status::FromErrno("unreadable file", child_abs, errno);
        }
        TreeEntry e;
        e.path = child_rel;
        e.kind =
            (st.st_mode & S_IXUSR) ? EntryKind::kExecutable : EntryKind::kFile;
        e.blob.size = static_cast<uint64_t>(st.st_size);
        entries.push_back(std::move(e));
        sources.push_back(child_abs);
        keys.push_back(StatKey::From(st));
      } else if (S_ISLNK(st.st_mode)) {
        std::string target(4096, '\0');
        ssize_t n = ::readlink(child_abs.c_str(), target.data(), target.size());
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
        sources.push_back(child_abs);
        keys.emplace_back();
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
  Walker w{root, options, {}, {}, {}, {}, {}, nullptr};
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
    LP_RETURN_IF_ERROR(w.Walk(""));
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
  std::vector<TreeEntry> entries;
  entries.reserve(w.entries.size());
  std::vector<std::pair<std::string, std::string>> path_source;
  path_source.reserve(w.entries.size());
  for (size_t i = 0; i < w.entries.size(); ++i) {
    TreeEntry& e = w.entries[i];
    if (e.kind != EntryKind::kSymlink &&
        w.keys[i].mtime_ns < scan_start - kRacyNs) {
      cache.Put(e.path, w.keys[i], e.blob);
    }
    path_source.emplace_back(e.path, w.sources[i]);
    entries.push_back(std::move(e));
  }
  result.tree = Tree(std::move(entries));
  std::sort(path_source.begin(), path_source.end());
  result.sources.reserve(path_source.size());
  for (auto& ps : path_source) result.sources.push_back(std::move(ps.second));
  LP_RETURN_IF_ERROR(result.tree.Validate().WithContext(root));
  if (options.portability.enabled) {
    result.warnings =
        CheckPortability(result.tree, result.sources, options.portability);
  }
  // Failing to save the stat cache only costs time on the next scan.
  (void)cache.Save();
  return result;
}

}  // namespace lazypath
