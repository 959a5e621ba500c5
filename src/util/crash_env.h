// CrashEnv: an Env for tests that models what a power cut keeps.
//
// File data written through it (Write) is durable only once an Fsync of that
// file, or a SyncFs, follows. PowerCut(root) then damages every file under
// `root` whose data is not durable, the way a journaling file system with
// delayed allocation may after a power cut that kept the file's name: its
// bytes become zeros (size kept) or it becomes empty, and its mtime stays
// what the lost write set. Names, links and renames all survive, which is
// the worst case for a reader that trusts names. Then a new boot begins:
// BootId() changes. Reboot() begins a new boot with nothing lost (a clean
// shutdown).
//
// Test-only (header-only). Thread safety: any number of threads may call it.
#ifndef LAZYPATH_UTIL_CRASH_ENV_H_
#define LAZYPATH_UTIL_CRASH_ENV_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "util/env.h"

namespace lazypath {

class CrashEnv : public EnvWrapper {
 public:
  enum class Damage { kZeros, kEmpty };
  explicit CrashEnv(Env* target = Env::Default()) : EnvWrapper(target) {}

  // Empty: the kernel names no boot (every publish is then synced).
  void set_boot_known(bool known) {
    std::lock_guard<std::mutex> lock(mu_);
    known_ = known;
  }
  std::string BootId() override {
    std::lock_guard<std::mutex> lock(mu_);
    return known_ ? "crash-env-boot-" + std::to_string(boot_) : "";
  }

  Status Write(int fd, std::string_view data,
               const std::string& shown) override {
    Status s = EnvWrapper::Write(fd, data, shown);
    struct stat st;
    if (::fstat(fd, &st) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      unsynced_.insert({st.st_dev, st.st_ino});
    }
    return s;
  }
  Status Fsync(int fd, const std::string& shown) override {
    Status s = EnvWrapper::Fsync(fd, shown);
    struct stat st;
    if (s.ok() && ::fstat(fd, &st) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      unsynced_.erase({st.st_dev, st.st_ino});
    }
    return s;
  }
  Status SyncFs(int fd, const std::string& shown) override {
    Status s = EnvWrapper::SyncFs(fd, shown);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      unsynced_.clear();
      syncfs_++;
    }
    return s;
  }

  uint64_t syncfs_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return syncfs_;
  }
  // Files under `root` whose data a power cut would lose now.
  uint64_t UnsyncedUnder(const std::string& root) const {
    uint64_t n = 0;
    Visit(root, [&](const std::string&, const struct stat&) { ++n; });
    return n;
  }
  // Damages what is not durable under `root` (returns how many files), then
  // begins a new boot.
  uint64_t PowerCut(const std::string& root, Damage how = Damage::kZeros) {
    uint64_t n = 0;
    Visit(root, [&](const std::string& path, const struct stat& st) {
      ::chmod(path.c_str(), 0600);
      if (how == Damage::kEmpty) {
        (void)::truncate(path.c_str(), 0);
      } else {
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          std::string zeros(static_cast<size_t>(st.st_size), '\0');
          (void)!::pwrite(fd, zeros.data(), zeros.size(), 0);
          ::close(fd);
        }
      }
      ::chmod(path.c_str(), st.st_mode & 07777);
      struct timespec times[2] = {st.st_atim, st.st_mtim};
      ::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
      ++n;
    });
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_.clear();
    boot_++;
    return n;
  }
  void Reboot() {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_.clear();
    boot_++;
  }

 private:
  template <typename Fn>
  void Visit(const std::string& dir, const Fn& fn) const {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    std::set<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.insert(n);
    }
    ::closedir(d);
    for (const std::string& n : names) {
      std::string p = dir + "/" + n;
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        Visit(p, fn);
      } else if (S_ISREG(st.st_mode)) {
        bool lost;
        {
          std::lock_guard<std::mutex> lock(mu_);
          lost = unsynced_.count({st.st_dev, st.st_ino}) > 0;
        }
        if (lost) fn(p, st);
      }
    }
  }

  mutable std::mutex mu_;
  std::set<std::pair<dev_t, ino_t>> unsynced_;
  uint64_t boot_ = 1;
  bool known_ = true;
  uint64_t syncfs_ = 0;
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_CRASH_ENV_H_
