#include "util/env.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace lazypath {

namespace {

const char* OpenVerb(int flags) {
  if ((flags & O_TMPFILE) == O_TMPFILE) return "create a temp file in";
  if (flags & O_CREAT) return "create";
  if (flags & O_DIRECTORY) return "open directory";
  return "open";
}

class PosixEnv final : public Env {
 public:
  Result<fs::Fd> OpenAt(int dir_fd, const std::string& name, int flags,
                        mode_t mode, const std::string& shown) override {
    int fd = ::openat(dir_fd, name.c_str(), flags, mode);
    if (fd < 0) return Status::FromErrno(OpenVerb(flags), shown, errno);
    return fs::Fd(fd);
  }
  Status RenameAt(int from_dir, const std::string& from, int to_dir,
                  const std::string& to, unsigned flags,
                  const std::string& shown) override {
    int rc = flags == 0 ? ::renameat(from_dir, from.c_str(), to_dir, to.c_str())
                        : ::renameat2(from_dir, from.c_str(), to_dir,
                                      to.c_str(), flags);
    if (rc != 0) return Status::FromErrno("rename " + from, shown, errno);
    return Status::OK();
  }
  Status LinkAt(int from_dir, const std::string& from, int to_dir,
                const std::string& to, int flags,
                const std::string& shown) override {
    if (::linkat(from_dir, from.c_str(), to_dir, to.c_str(), flags) != 0) {
      return Status::FromErrno("link " + from, shown, errno);
    }
    return Status::OK();
  }
  Status SymlinkAt(const std::string& target, int dir_fd,
                   const std::string& name, const std::string& shown) override {
    if (::symlinkat(target.c_str(), dir_fd, name.c_str()) != 0) {
      return Status::FromErrno("symlink", shown, errno);
    }
    return Status::OK();
  }
  Status MkdirAt(int dir_fd, const std::string& name, mode_t mode,
                 const std::string& shown) override {
    if (::mkdirat(dir_fd, name.c_str(), mode) != 0) {
      return Status::FromErrno("mkdir", shown, errno);
    }
    return Status::OK();
  }
  Status UnlinkAt(int dir_fd, const std::string& name, int flags,
                  const std::string& shown) override {
    if (::unlinkat(dir_fd, name.c_str(), flags) != 0) {
      return Status::FromErrno(flags & AT_REMOVEDIR ? "rmdir" : "unlink", shown,
                               errno);
    }
    return Status::OK();
  }
  Status Chmod(const std::string& path, mode_t mode) override {
    if (::chmod(path.c_str(), mode) != 0) {
      return Status::FromErrno("chmod", path, errno);
    }
    return Status::OK();
  }
  Status Fchmod(int fd, mode_t mode, const std::string& shown) override {
    if (::fchmod(fd, mode) != 0)
      return Status::FromErrno("chmod", shown, errno);
    return Status::OK();
  }
  Status Write(int fd, std::string_view data,
               const std::string& shown) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write", shown, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }
  Status Fsync(int fd, const std::string& shown) override {
    if (::fsync(fd) != 0) return Status::FromErrno("fsync", shown, errno);
    return Status::OK();
  }
  Status SyncFs(int fd, const std::string& shown) override {
    if (::syncfs(fd) != 0) return Status::FromErrno("syncfs", shown, errno);
    return Status::OK();
  }
  Result<struct statvfs> StatVfs(const std::string& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) {
      return Status::FromErrno("statvfs", path, errno);
    }
    return vfs;
  }
};

}  // namespace

Env::~Env() = default;

std::string Env::BootId() {
  // Read once: it cannot change while this process runs.
  static const std::string id = [] {
    std::string out;
    int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-') {
        out.push_back(c);
      } else if (c != '\n') {
        return std::string();  // not a boot id
      }
    }
    return out;
  }();
  return id;
}

Env* Env::Default() {
  // Never destroyed: threads still running at exit may use it.
  static Env* const env = new PosixEnv();
  return env;
}

}  // namespace lazypath
