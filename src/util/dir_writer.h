// DirWriter: builds a directory tree below a root without ever following a
// symlink.
//
// Materialisation writes names that come from a store. Paths are validated
// before they get here, but a path string resolved by the kernel follows any
// symlink on the way, so a validator bug or a planted link would turn a
// write into one outside the cache. DirWriter instead opens every directory
// one component at a time relative to its parent's descriptor, with
// O_NOFOLLOW | O_DIRECTORY, and callers create entries with the *at(2)
// calls (mkdirat, linkat, symlinkat, openat with O_NOFOLLOW) relative to
// Dir()'s descriptor: a symlink anywhere on the way is an error (ELOOP or
// ENOTDIR), never followed.
//
// Descriptors are cached along the most recently used path (a stack), so a
// caller visiting directories in sorted or depth-first order opens each
// directory once and holds at most depth + 1 descriptors. Its own calls go
// through the Env it was opened with (util/env.h). Not thread-safe: one
// writer per thread.
#ifndef LAZYPATH_UTIL_DIR_WRITER_H_
#define LAZYPATH_UTIL_DIR_WRITER_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazypath/status.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath::fs {

class DirWriter {
 public:
  // Opens directory `root` (itself not a symlink). Errors name `root`.
  // `env` must outlive the writer.
  static Result<DirWriter> Open(const std::string& root,
                                Env* env = Env::Default());

  const std::string& root() const { return root_; }
  // The descriptor of directory `rel` below the root ("" is the root),
  // valid until the next call. NotFound/Corrupt-free: errors carry errno
  // (ELOOP or ENOTDIR where a component is a symlink or a file).
  Result<int> Dir(std::string_view rel);
  // Creates directory `rel` (its parent must exist) with exactly `mode`
  // (umask does not apply). Fails if anything exists at `rel`.
  Status MakeDir(std::string_view rel, mode_t mode);
  // The last component of `rel` and its parent directory.
  static std::pair<std::string_view, std::string_view> Split(
      std::string_view rel);
  // root/rel, for messages.
  std::string Show(std::string_view rel) const;

 private:
  DirWriter(std::string root, Fd fd, Env* env);
  std::string root_;
  Env* env_;
  // (relative path, descriptor) from the root down the last path used.
  std::vector<std::pair<std::string, Fd>> stack_;
};

}  // namespace lazypath::fs

#endif  // LAZYPATH_UTIL_DIR_WRITER_H_
