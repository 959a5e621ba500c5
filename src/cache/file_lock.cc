#include "cache/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace lazypath {

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return Status::FromErrno("open lock", path, errno);
  fs::Fd guard(fd);
  int op = mode == Mode::kExclusive ? LOCK_EX : LOCK_SH;
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return Status::FromErrno("lock", path, errno);
  }
  return FileLock(std::move(guard));
}

Result<std::optional<FileLock>> FileLock::TryAcquire(const std::string& path,
                                                     Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return Status::FromErrno("open lock", path, errno);
  fs::Fd guard(fd);
  int op = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  while (::flock(fd, op) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<FileLock>();
    if (errno != EINTR) return Status::FromErrno("lock", path, errno);
  }
  return std::optional<FileLock>(FileLock(std::move(guard)));
}

}  // namespace lazypath
