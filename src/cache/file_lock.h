// FileLock: an advisory flock(2) on a lock file, released on destruction or
// when the holding process dies (so a crash never leaves a stale lock).
//
// Thread safety: a FileLock is owned by one thread; flock locks belong to the
// open file description, so two FileLocks on one path in one process exclude
// each other like two processes do. The lock file is opened through `env`
// (util/env.h); flock(2) itself is a direct call.
#ifndef LAZYPATH_CACHE_FILE_LOCK_H_
#define LAZYPATH_CACHE_FILE_LOCK_H_

#include <optional>
#include <string>

#include "lazypath/status.h"
#include "util/env.h"
#include "util/fd.h"

namespace lazypath {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Creates `path` if needed and blocks until the lock is held.
  static Result<FileLock> Acquire(const std::string& path, Mode mode,
                                  Env* env = Env::Default());
  // Like Acquire but never waits: nullopt when another holder conflicts.
  static Result<std::optional<FileLock>> TryAcquire(const std::string& path,
                                                    Mode mode,
                                                    Env* env = Env::Default());
  // Hands the descriptor (and so the lock) to the caller, who must close it.
  int Release() { return fd_.release(); }
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(fs::Fd fd) : fd_(std::move(fd)) {}
  fs::Fd fd_;  // closing it drops the lock
};

}  // namespace lazypath

#endif  // LAZYPATH_CACHE_FILE_LOCK_H_
