#include "cache/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace lazypath {

namespace {
Result<fs::Fd> OpenLockFile(const std::string& path, Env* env) {
  auto fd = env->Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (!fd.ok()) {
    return Status::FromErrno("open lock", path, fd.status().sys_errno());
  }
  return fd;
}
}  // namespace

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode,
                                   Env* env) {
  LP_ASSIGN_OR_RETURN(fs::Fd guard, OpenLockFile(path, env));
  int fd = guard.get();
  int op = mode == Mode::kExclusive ? LOCK_EX : LOCK_SH;
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return Status::FromErrno("lock", path, errno);
  }
  return FileLock(std::move(guard));
}

Result<std::optional<FileLock>> FileLock::TryAcquire(const std::string& path,
                                                     Mode mode, Env* env) {
  LP_ASSIGN_OR_RETURN(fs::Fd guard, OpenLockFile(path, env));
  int fd = guard.get();
  int op = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  while (::flock(fd, op) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<FileLock>();
    if (errno != EINTR) return Status::FromErrno("lock", path, errno);
  }
  return std::optional<FileLock>(FileLock(std::move(guard)));
}

}  // namespace lazypath
