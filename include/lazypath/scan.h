// Scanning a directory into a Tree.
//
// The walk honours gitignore semantics: every .gitignore in the tree, the
// built-in defaults (.git, __pycache__, .venv; off with default_excludes =
// false) and extra `excludes` patterns, which take precedence over both.
// Ignored directories are not descended into. Files are hashed in parallel and
// streamed, so a multi-GB file is never held in memory.
//
// A stat cache (like git's index) remembers the digest of each file by
// (inode, size, mtime, ctime, mode); an unchanged file is not read again.
// Entries modified within a second of the scan are not cached, as their
// mtime cannot yet tell a later edit apart.
//
// Refused, with an error naming the path: symlinks that leave the tree or are
// absolute, sockets, FIFOs, devices, unreadable files or directories, and
// names that are not valid UTF-8.
//
// Thread safety: ScanDirectory may run concurrently on different roots; two
// concurrent scans of the same root may each rewrite its stat cache (both
// results are valid).
#ifndef LAZYPATH_SCAN_H_
#define LAZYPATH_SCAN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lazypath/portability.h"
#include "lazypath/progress.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"

namespace lazypath {

struct ScanOptions {
  std::vector<std::string> excludes;  // gitignore patterns, relative to root
  bool default_excludes = true;
  bool gitignore = true;  // read .gitignore files found in the tree
  int threads = 0;        // 0: one per core
  // Directory holding stat caches (one file per scanned root). Empty: none.
  std::string stat_cache_dir;
  // Absolute, normalised paths the scan leaves out with everything below
  // them (push: the store and the node cache when they lie inside the
  // directory, so a push never ships its own store).
  std::vector<std::string> skip;
  ProgressFn progress;
  // With portability.enabled, ScanResult::warnings lists what may break the
  // tree on another machine (lazypath/portability.h).
  PortabilityOptions portability;
  // When set, a file larger than `large_file_bytes` that needs hashing is
  // hashed by `hash_large` (its source path, a progress callback) instead:
  // a push cuts it into chunks in the same read. Called from the scan's
  // threads, concurrently; it returns the digest of the bytes it read.
  uint64_t large_file_bytes = 0;
  std::function<Result<Digest>(const std::string&,
                               const std::function<void(uint64_t)>&)>
      hash_large;
};

struct ScanStats {
  uint64_t files = 0;         // regular files in the tree
  uint64_t bytes = 0;         // their total size
  uint64_t files_hashed = 0;  // files whose contents were read
  uint64_t bytes_hashed = 0;
};

// What a scan saw of a file whose contents it hashed itself: a reader that
// later finds the file with the same stamp reads the bytes that were hashed
// (a write moves ctime, which no program can set back), so it need not hash
// them again. A stamp is kept only for files unchanged for a second before
// the scan began, so a write in the same clock tick as the scan's stat
// cannot hide; any other entry's stamp is empty.
struct FileStamp {
  uint64_t ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool empty() const { return ctime_ns == 0; }
  bool operator==(const FileStamp&) const = default;
};

// The stamp of the file `fd` is open on now ({} if it cannot be read).
FileStamp StampOf(int fd);

struct ScanResult {
  Tree tree;
  // Absolute source path of each entry, in tree.entries() order.
  std::vector<std::string> sources;
  // Each entry's stamp, in tree.entries() order: empty unless this scan
  // hashed the file (not found in the stat cache) and it was not racy.
  std::vector<FileStamp> stamps;
  ScanStats stats;
  std::vector<std::string> warnings;  // CheckPortability(), one line each
};

Result<ScanResult> ScanDirectory(const std::string& dir,
                                 const ScanOptions& options);

}  // namespace lazypath

#endif  // LAZYPATH_SCAN_H_
