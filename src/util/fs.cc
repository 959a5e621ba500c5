#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <random>
#include <vector>

namespace lazypath::fs {

Result<Fd> OpenRead(const std::string& path, Env* env) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
  // writer forever. It changes nothing for the regular files we accept.
  LP_ASSIGN_OR_RETURN(Fd fd,
                      env->Open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Status::FromErrno("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    const char* what = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                                              : "not a regular file";
    return Status::Unsupported(path + ": is " + what +
                               ", not a regular file; refusing to read it");
  }
  return fd;
}

Result<std::string> ReadFile(const std::string& path, uint64_t max_size,
                             Env* env) {
  LP_ASSIGN_OR_RETURN(Fd fd, OpenRead(path, env));
  // Read straight into a string one byte larger than the file (one
  // allocation, no copies: the spare byte's read sees the end). A file that
  // grows meanwhile is read on to its end.
  struct stat st;
  size_t size = 1 << 16;
  if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    size = static_cast<size_t>(std::min<uint64_t>(
               static_cast<uint64_t>(st.st_size), max_size)) +
           1;
  }
  std::string out(size, '\0');
  size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() + std::max(have, size));
    ssize_t n = ::read(fd.get(), out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", path, errno);
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
    if (have > max_size) {
      return Status::Corrupt(path + ": larger than " +
                             std::to_string(max_size) + " bytes");
    }
  }
  out.resize(have);
  return out;
}

Status ReadRange(const std::string& path, uint64_t offset, uint64_t length,
                 const std::function<Status(std::string_view)>& sink) {
  LP_ASSIGN_OR_RETURN(Fd fd, OpenRead(path));
  std::vector<char> buf(std::min<uint64_t>(length, 1 << 20) + 1);
  uint64_t done = 0;
  while (done < length) {
    size_t want = std::min<uint64_t>(length - done, buf.size());
    ssize_t n =
        ::pread(fd.get(), buf.data(), want, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", path, errno);
    }
    if (n == 0) {
      return Status::Corrupt(
          path + ": ends at " + std::to_string(offset + done) +
          ", expected bytes up to " + std::to_string(offset + length));
    }
    LP_RETURN_IF_ERROR(
        sink(std::string_view(buf.data(), static_cast<size_t>(n))));
    done += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status WriteAll(int fd, std::string_view data, const std::string& path,
                Env* env) {
  return env->Write(fd, data, path);
}

Status FsyncDir(const std::string& dir, Env* env) {
  LP_ASSIGN_OR_RETURN(Fd fd,
                      env->Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Status s = env->Fsync(fd.get(), dir);
  if (!s.ok() && s.sys_errno() != EINVAL) return s;
  return Status::OK();
}

Status RenameDurable(const std::string& from, const std::string& to, Env* env) {
  Status s = env->Rename(from, to);
  if (!s.ok())
    return Status::FromErrno("rename from " + from, to, s.sys_errno());
  return FsyncDir(Dirname(to), env);
}

uint64_t PidNamespace() {
  static const uint64_t ns = [] {
    struct stat st;
    return ::stat("/proc/self/ns/pid", &st) == 0
               ? static_cast<uint64_t>(st.st_ino)
               : uint64_t{0};
  }();
  return ns;
}

std::string TempName(std::string_view prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(prefix);
  s += ".tmp.";
  s += std::to_string(::getpid());
  s += ".";
  s += std::to_string(counter.fetch_add(1));
  s += ".";
  s += std::to_string(rng() % 1000000007ULL);
  s += ".";
  s += std::to_string(PidNamespace());
  return s;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode,
                       Env* env) {
  std::string tmp = TempName(path);
  LP_ASSIGN_OR_RETURN(Fd fd,
                      env->Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                static_cast<mode_t>(mode)));
  Status s = env->Write(fd.get(), data, tmp);
  if (s.ok()) s = env->Fchmod(fd.get(), static_cast<mode_t>(mode), tmp);
  if (s.ok()) s = env->Fsync(fd.get(), tmp);
  fd = Fd();
  if (s.ok()) s = RenameDurable(tmp, path, env);
  if (!s.ok()) (void)env->Unlink(tmp);
  return s;
}

Status MakeDirs(const std::string& path, int mode, Env* env) {
  if (path.empty()) return Status::OK();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::IoError(path + ": exists and is not a directory");
  }
  std::string parent = Dirname(path);
  if (parent != path && !parent.empty()) {
    LP_RETURN_IF_ERROR(MakeDirs(parent, mode, env));
  }
  Status s = env->Mkdir(path, static_cast<mode_t>(mode));
  if (!s.ok() && s.sys_errno() != EEXIST) return s;
  return Status::OK();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return Status::FromErrno("cannot read directory", dir, errno);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status RemoveAll(const std::string& path, Env* env) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno("stat", path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    // Directories of a materialised tree may be read-only; make them
    // writable so their entries can go.
    (void)env->Chmod(path, 0700);
    LP_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(path));
    for (const auto& n : names) {
      LP_RETURN_IF_ERROR(RemoveAll(Join(path, n), env));
    }
    Status s = env->Rmdir(path);
    if (!s.ok() && s.sys_errno() != ENOENT) return s;
    return Status::OK();
  }
  Status s = env->Unlink(path);
  if (!s.ok() && s.sys_errno() != ENOENT) return s;
  return Status::OK();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string s(a);
  if (s.back() != '/') s += '/';
  s += b;
  return s;
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Result<std::string> Absolute(std::string_view path) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  std::string full;
  if (path[0] != '/') {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr) {
      return Status::FromErrno("getcwd", ".", errno);
    }
    full = buf;
    full += '/';
  }
  full += path;
  std::vector<std::string_view> parts;
  std::string_view rest(full);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view()
                                           : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  if (out.empty()) out = "/";
  return out;
}

Status CopyFile(const std::string& from, const std::string& to, int mode,
                Env* env) {
  return CopyFileAt(from, AT_FDCWD, to, mode, to, env);
}

Status CopyFileAt(const std::string& from, int dir_fd, const std::string& name,
                  int mode, const std::string& to, Env* env) {
  LP_ASSIGN_OR_RETURN(Fd in, OpenRead(from, env));
  LP_ASSIGN_OR_RETURN(
      Fd out, env->OpenAt(dir_fd, name,
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0600, to));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", from, errno);
    }
    if (n == 0) break;
    LP_RETURN_IF_ERROR(env->Write(
        out.get(), std::string_view(buf, static_cast<size_t>(n)), to));
  }
  LP_RETURN_IF_ERROR(env->Fchmod(out.get(), static_cast<mode_t>(mode), to));
  return env->Fsync(out.get(), to);
}

}  // namespace lazypath::fs
