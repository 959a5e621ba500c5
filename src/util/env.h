// Env: the file-system calls of the node cache and the core, behind one
// interface.
//
// The node cache (src/cache) and the core (src/core) make every call that
// creates, writes, renames, links or removes a file through an Env, and so
// do the util/fs and util/dir_writer helpers they use (each takes an Env*,
// Env::Default() unless given). Production code uses Env::Default(), plain
// POSIX; a test wraps it (EnvWrapper, FaultInjectionEnv in util/fault_env.h)
// to make any one of those calls fail and check what the caller leaves
// behind. Reads (read, stat, readdir) stay direct system calls.
//
// Each method is one system call (Write: as many write(2)s as it takes to
// write everything) and reports failure as Status::FromErrno does: an
// IoError (NotFound for ENOENT) whose message names the path, the operation
// and strerror, and whose sys_errno() is the errno. Calls relative to a
// directory descriptor (the *At methods) take `shown`, the full path to name
// in that message.
//
// Thread safety: every Env, Env::Default() included, is safe to use from any
// number of threads at once.
#ifndef LAZYPATH_UTIL_ENV_H_
#define LAZYPATH_UTIL_ENV_H_

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <string>
#include <string_view>

#include "lazypath/status.h"
#include "util/fd.h"

namespace lazypath {

class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  virtual ~Env();

  // The POSIX Env: one per process, created on first use and never
  // destroyed (so it may be used until the process exits). The caller must
  // not delete it.
  static Env* Default();

  // openat(2) of `name` relative to directory `dir_fd` (AT_FDCWD: the
  // working directory) with `flags` and, for a new file, `mode`. The message
  // says "create" when `flags` create a file, "open directory" for
  // O_DIRECTORY, else "open".
  virtual Result<fs::Fd> OpenAt(int dir_fd, const std::string& name, int flags,
                                mode_t mode, const std::string& shown) = 0;
  // renameat2(2): `from` (relative to `from_dir`) to `to` (relative to
  // `to_dir`). `flags`: 0 (replace), RENAME_NOREPLACE or RENAME_EXCHANGE.
  // The message reads "<shown>: rename <from>: ...".
  virtual Status RenameAt(int from_dir, const std::string& from, int to_dir,
                          const std::string& to, unsigned flags,
                          const std::string& shown) = 0;
  // linkat(2): a new hard link `to` (relative to `to_dir`) to the file
  // `from` (relative to `from_dir`); `flags` as linkat's. "link <from>".
  virtual Status LinkAt(int from_dir, const std::string& from, int to_dir,
                        const std::string& to, int flags,
                        const std::string& shown) = 0;
  // symlinkat(2): a symlink `name` in `dir_fd` pointing at `target`.
  virtual Status SymlinkAt(const std::string& target, int dir_fd,
                           const std::string& name,
                           const std::string& shown) = 0;
  // mkdirat(2); the umask applies to `mode`.
  virtual Status MkdirAt(int dir_fd, const std::string& name, mode_t mode,
                         const std::string& shown) = 0;
  // unlinkat(2): a file, or with AT_REMOVEDIR an empty directory ("rmdir").
  virtual Status UnlinkAt(int dir_fd, const std::string& name, int flags,
                          const std::string& shown) = 0;
  // chmod(2) of a path (following a symlink) and fchmod(2) of a descriptor.
  virtual Status Chmod(const std::string& path, mode_t mode) = 0;
  virtual Status Fchmod(int fd, mode_t mode, const std::string& shown) = 0;
  // Writes all of `data` at the file offset of `fd`, retrying short writes
  // and EINTR. On failure some prefix of `data` may have been written.
  virtual Status Write(int fd, std::string_view data,
                       const std::string& shown) = 0;
  // fsync(2) and syncfs(2) (everything written on the file system holding
  // `fd` becomes durable).
  virtual Status Fsync(int fd, const std::string& shown) = 0;
  virtual Status SyncFs(int fd, const std::string& shown) = 0;
  // statvfs(2).
  virtual Result<struct statvfs> StatVfs(const std::string& path) = 0;
  // The running kernel's boot id (/proc/sys/kernel/random/boot_id, read
  // once per process): it changes with every boot, so whatever was written
  // under another id may have been cut short by a crash. Empty when the
  // kernel does not say; the node cache then syncs everything it publishes
  // (doc/reliability.md, "Power loss").
  virtual std::string BootId();

  // The same calls on paths (relative to the working directory).
  Result<fs::Fd> Open(const std::string& path, int flags, mode_t mode = 0) {
    return OpenAt(AT_FDCWD, path, flags, mode, path);
  }
  Status Rename(const std::string& from, const std::string& to) {
    return RenameAt(AT_FDCWD, from, AT_FDCWD, to, 0, to);
  }
  Status Mkdir(const std::string& path, mode_t mode) {
    return MkdirAt(AT_FDCWD, path, mode, path);
  }
  Status Unlink(const std::string& path) {
    return UnlinkAt(AT_FDCWD, path, 0, path);
  }
  Status Rmdir(const std::string& path) {
    return UnlinkAt(AT_FDCWD, path, AT_REMOVEDIR, path);
  }
};

// Forwards every call to another Env, `target`, which must outlive it. A
// test subclasses it and overrides just the calls it wants to change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<fs::Fd> OpenAt(int dir_fd, const std::string& name, int flags,
                        mode_t mode, const std::string& shown) override {
    return target_->OpenAt(dir_fd, name, flags, mode, shown);
  }
  Status RenameAt(int from_dir, const std::string& from, int to_dir,
                  const std::string& to, unsigned flags,
                  const std::string& shown) override {
    return target_->RenameAt(from_dir, from, to_dir, to, flags, shown);
  }
  Status LinkAt(int from_dir, const std::string& from, int to_dir,
                const std::string& to, int flags,
                const std::string& shown) override {
    return target_->LinkAt(from_dir, from, to_dir, to, flags, shown);
  }
  Status SymlinkAt(const std::string& target, int dir_fd,
                   const std::string& name, const std::string& shown) override {
    return target_->SymlinkAt(target, dir_fd, name, shown);
  }
  Status MkdirAt(int dir_fd, const std::string& name, mode_t mode,
                 const std::string& shown) override {
    return target_->MkdirAt(dir_fd, name, mode, shown);
  }
  Status UnlinkAt(int dir_fd, const std::string& name, int flags,
                  const std::string& shown) override {
    return target_->UnlinkAt(dir_fd, name, flags, shown);
  }
  Status Chmod(const std::string& path, mode_t mode) override {
    return target_->Chmod(path, mode);
  }
  Status Fchmod(int fd, mode_t mode, const std::string& shown) override {
    return target_->Fchmod(fd, mode, shown);
  }
  Status Write(int fd, std::string_view data,
               const std::string& shown) override {
    return target_->Write(fd, data, shown);
  }
  Status Fsync(int fd, const std::string& shown) override {
    return target_->Fsync(fd, shown);
  }
  Status SyncFs(int fd, const std::string& shown) override {
    return target_->SyncFs(fd, shown);
  }
  Result<struct statvfs> StatVfs(const std::string& path) override {
    return target_->StatVfs(path);
  }
  std::string BootId() override { return target_->BootId(); }

 private:
  Env* target_;
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_ENV_H_
