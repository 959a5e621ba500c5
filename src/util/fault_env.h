// FaultInjectionEnv: an Env for tests that fails one chosen call.
//
// Wraps another Env (EnvWrapper) and counts the calls made through it. Armed
// by FailNth(n, err, op), it fails the n-th call of kind `op` made after
// arming (of any kind for Op::kAny) with errno `err`, without passing that
// call on; every other call is forwarded. The failure reads like a real one
// (Status::FromErrno: the path, the call, strerror(err); sys_errno() == err)
// with "(injected)" after the call's name. A test loops n = 1, 2, ... and
// stops at the first n for which injected() stays false: by then the
// operation under test has seen each of its calls fail, one at a time.
//
// Test-only (header-only; no production code includes it). Thread safety:
// any number of threads may call it (a mutex guards the counters); with
// several threads, which call is the n-th depends on scheduling.
#ifndef LAZYPATH_UTIL_FAULT_ENV_H_
#define LAZYPATH_UTIL_FAULT_ENV_H_

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>

#include "util/env.h"

namespace lazypath {

class FaultInjectionEnv : public EnvWrapper {
 public:
  enum class Op {
    kAny,
    kOpen,
    kRename,
    kLink,
    kSymlink,
    kMkdir,
    kUnlink,
    kRmdir,
    kChmod,  // chmod and fchmod
    kWrite,
    kFsync,
    kSyncFs,
    kStatVfs,
  };
  static const char* OpName(Op op) {
    switch (op) {
      case Op::kAny:
        return "any";
      case Op::kOpen:
        return "open";
      case Op::kRename:
        return "rename";
      case Op::kLink:
        return "link";
      case Op::kSymlink:
        return "symlink";
      case Op::kMkdir:
        return "mkdir";
      case Op::kUnlink:
        return "unlink";
      case Op::kRmdir:
        return "rmdir";
      case Op::kChmod:
        return "chmod";
      case Op::kWrite:
        return "write";
      case Op::kFsync:
        return "fsync";
      case Op::kSyncFs:
        return "syncfs";
      case Op::kStatVfs:
        return "statvfs";
    }
    return "?";
  }

  explicit FaultInjectionEnv(Env* target = Env::Default())
      : EnvWrapper(target) {}

  // From now on, fails the `n`-th call of kind `op` (1-based) with `err`.
  // Resets the counts and injected(); n == 0 injects nothing (but counts).
  void FailNth(uint64_t n, int err = EIO, Op op = Op::kAny) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_at_ = n;
    err_ = err;
    op_ = op;
    calls_ = 0;
    injected_ = false;
    injected_path_.clear();
  }
  void Disarm() { FailNth(0); }
  // Calls of the armed kind since FailNth (kAny: all calls), the failed one
  // included.
  uint64_t calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Whether the armed failure has happened, and the path it named.
  bool injected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_;
  }
  std::string injected_path() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_path_;
  }
  Op injected_op() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_op_;
  }

  Result<fs::Fd> OpenAt(int dir_fd, const std::string& name, int flags,
                        mode_t mode, const std::string& shown) override {
    if (int err = Fail(Op::kOpen, shown)) {
      return Injected(Op::kOpen, shown, err);
    }
    return EnvWrapper::OpenAt(dir_fd, name, flags, mode, shown);
  }
  Status RenameAt(int from_dir, const std::string& from, int to_dir,
                  const std::string& to, unsigned flags,
                  const std::string& shown) override {
    if (int err = Fail(Op::kRename, shown)) {
      return Injected(Op::kRename, shown, err);
    }
    return EnvWrapper::RenameAt(from_dir, from, to_dir, to, flags, shown);
  }
  Status LinkAt(int from_dir, const std::string& from, int to_dir,
                const std::string& to, int flags,
                const std::string& shown) override {
    if (int err = Fail(Op::kLink, shown)) {
      return Injected(Op::kLink, shown, err);
    }
    return EnvWrapper::LinkAt(from_dir, from, to_dir, to, flags, shown);
  }
  Status SymlinkAt(const std::string& target, int dir_fd,
                   const std::string& name, const std::string& shown) override {
    if (int err = Fail(Op::kSymlink, shown)) {
      return Injected(Op::kSymlink, shown, err);
    }
    return EnvWrapper::SymlinkAt(target, dir_fd, name, shown);
  }
  Status MkdirAt(int dir_fd, const std::string& name, mode_t mode,
                 const std::string& shown) override {
    if (int err = Fail(Op::kMkdir, shown)) {
      return Injected(Op::kMkdir, shown, err);
    }
    return EnvWrapper::MkdirAt(dir_fd, name, mode, shown);
  }
  Status UnlinkAt(int dir_fd, const std::string& name, int flags,
                  const std::string& shown) override {
    Op op = (flags & AT_REMOVEDIR) ? Op::kRmdir : Op::kUnlink;
    if (int err = Fail(op, shown)) {
      return Injected(op, shown, err);
    }
    return EnvWrapper::UnlinkAt(dir_fd, name, flags, shown);
  }
  Status Chmod(const std::string& path, mode_t mode) override {
    if (int err = Fail(Op::kChmod, path)) {
      return Injected(Op::kChmod, path, err);
    }
    return EnvWrapper::Chmod(path, mode);
  }
  Status Fchmod(int fd, mode_t mode, const std::string& shown) override {
    if (int err = Fail(Op::kChmod, shown)) {
      return Injected(Op::kChmod, shown, err);
    }
    return EnvWrapper::Fchmod(fd, mode, shown);
  }
  Status Write(int fd, std::string_view data,
               const std::string& shown) override {
    if (int err = Fail(Op::kWrite, shown)) {
      return Injected(Op::kWrite, shown, err);
    }
    return EnvWrapper::Write(fd, data, shown);
  }
  Status Fsync(int fd, const std::string& shown) override {
    if (int err = Fail(Op::kFsync, shown)) {
      return Injected(Op::kFsync, shown, err);
    }
    return EnvWrapper::Fsync(fd, shown);
  }
  Status SyncFs(int fd, const std::string& shown) override {
    if (int err = Fail(Op::kSyncFs, shown)) {
      return Injected(Op::kSyncFs, shown, err);
    }
    return EnvWrapper::SyncFs(fd, shown);
  }
  Result<struct statvfs> StatVfs(const std::string& path) override {
    if (int err = Fail(Op::kStatVfs, path)) {
      return Injected(Op::kStatVfs, path, err);
    }
    return EnvWrapper::StatVfs(path);
  }

 private:
  // Counts a call; returns the errno to fail it with (recording it), or 0
  // to pass it on.
  int Fail(Op op, const std::string& shown) {
    std::lock_guard<std::mutex> lock(mu_);
    if (op_ != Op::kAny && op_ != op) return 0;
    if (++calls_ != fail_at_) return 0;
    injected_ = true;
    injected_path_ = shown;
    injected_op_ = op;
    return err_;
  }
  static Status Injected(Op op, const std::string& shown, int err) {
    return Status::FromErrno(std::string(OpName(op)) + " (injected)", shown,
                             err);
  }

  mutable std::mutex mu_;
  uint64_t fail_at_ = 0;
  int err_ = EIO;
  Op op_ = Op::kAny;
  uint64_t calls_ = 0;
  bool injected_ = false;
  std::string injected_path_;
  Op injected_op_ = Op::kAny;
};

// Makes fsync(2) and syncfs(2) succeed without syncing; forwards the rest.
// For fault-injection loops, which run an operation hundreds of times and
// never crash the machine: durability is moot there, and on a busy disk
// every sync would wait for everyone's dirty data. Test-only.
class NoSyncEnv : public EnvWrapper {
 public:
  explicit NoSyncEnv(Env* target = Env::Default()) : EnvWrapper(target) {}
  Status Fsync(int, const std::string&) override { return Status::OK(); }
  Status SyncFs(int, const std::string&) override { return Status::OK(); }
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_FAULT_ENV_H_
