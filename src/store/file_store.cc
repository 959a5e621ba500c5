#include "store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lazypath/digest.h"
#include "util/fs.h"

namespace lazypath {

Result<std::unique_ptr<Store>> FileStore::Open(const std::string& url,
                                               const std::string& root,
                                               bool create) {
  LP_ASSIGN_OR_RETURN(std::string abs, fs::Absolute(root));
  struct stat st;
  if (::stat(abs.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno("stat", url, errno);
    if (!create) {
      return Status::NotFound("store " + url + ": no such directory");
    }
    LP_RETURN_IF_ERROR(fs::MakeDirs(abs));
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("store " + url + ": not a directory");
  }
  return std::unique_ptr<Store>(new FileStore(url, abs));
}

Status FileStore::CheckKey(const std::string& key) const {
  // Keys are built by this library, but refuse anything that could leave the
  // root all the same.
  if (key.empty() || key[0] == '/' || key.find("..") != std::string::npos ||
      key.find('\0') != std::string::npos ||
      key.find("/.") != std::string::npos) {
    return Status::InvalidArgument("store " + url_ + ": bad key '" + key + "'");
  }
  return Status::OK();
}

std::string FileStore::Path(const std::string& key) const {
  return fs::Join(root_, key);
}

Result<std::string> FileStore::Get(const std::string& key, uint64_t max_size) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  auto data = fs::ReadFile(Path(key), max_size);
  if (!data.ok()) {
    struct stat st;
    // A directory is no object (refs/a when only refs/a/b exists), as in
    // the object stores.
    if (data.status().code() == Code::kNotFound ||
        (::stat(Path(key).c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
      return Status::NotFound("store " + url_ + ": no object " + key);
    }
    return data.status().WithContext("store " + url_);
  }
  stats().bytes_read += data->size();
  return data;
}

Status FileStore::GetRange(const std::string& key, uint64_t offset,
                           uint64_t length, const ByteSink& sink) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  Status s = fs::ReadRange(Path(key), offset, length, [&](std::string_view b) {
    stats().bytes_read += b.size();
    return sink(b);
  });
  if (s.code() == Code::kNotFound) {
    return Status::NotFound("store " + url_ + ": no object " + key);
  }
  return s;
}

Status FileStore::Put(const std::string& key, std::string_view data) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  std::string tmpdir = fs::Join(root_, ".tmp");
  LP_RETURN_IF_ERROR(fs::MakeDirs(tmpdir));
  std::string dest = Path(key);
  LP_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(dest)));
  std::string tmp = fs::TempName(fs::Join(tmpdir, "put"));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create", tmp, errno);
  fs::Fd guard(fd);
  Status s = fs::WriteAll(fd, data, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync", tmp, errno);
  guard = fs::Fd();
  if (s.ok()) s = fs::RenameDurable(tmp, dest);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s.WithContext("store " + url_ + ": put " + key);
  }
  stats().bytes_written += data.size();
  stats().bytes_sent += data.size();
  return Status::OK();
}

Status FileStore::PutFile(const std::string& key, const std::string& path) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  std::string tmpdir = fs::Join(root_, ".tmp");
  LP_RETURN_IF_ERROR(fs::MakeDirs(tmpdir));
  std::string dest = Path(key);
  LP_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(dest)));
  std::string tmp = fs::TempName(fs::Join(tmpdir, "put"));
  Status s = fs::CopyFile(path, tmp, 0644);
  if (s.ok()) s = fs::RenameDurable(tmp, dest);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s.WithContext("store " + url_ + ": put " + key);
  }
  struct stat st;
  if (::stat(dest.c_str(), &st) == 0) {
    stats().bytes_written += static_cast<uint64_t>(st.st_size);
    stats().bytes_sent += static_cast<uint64_t>(st.st_size);
  }
  return Status::OK();
}

std::string FileStore::StagingDir() {
  std::string tmpdir = fs::Join(root_, ".tmp");
  return fs::MakeDirs(tmpdir).ok() ? tmpdir : "";
}

Status FileStore::AdoptFile(const std::string& key, const std::string& path) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  std::string dest = Path(key);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno("stat", path, errno)
        .WithContext("store " + url_ + ": put " + key);
  }
  // Only a file on the store's own file system is renamed; anything else
  // is copied as PutFile does.
  struct stat root;
  if (::stat(root_.c_str(), &root) != 0 || root.st_dev != st.st_dev) {
    return PutFile(key, path);
  }
  stats().requests++;
  Status s = fs::MakeDirs(fs::Dirname(dest));
  if (s.ok() && ::chmod(path.c_str(), 0644) != 0) {
    s = Status::FromErrno("chmod", path, errno);
  }
  if (s.ok()) s = fs::RenameDurable(path, dest);
  if (!s.ok()) return s.WithContext("store " + url_ + ": put " + key);
  stats().bytes_written += static_cast<uint64_t>(st.st_size);
  stats().bytes_sent += static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

Result<VersionedObject> FileStore::GetVersioned(const std::string& key,
                                                uint64_t max_size) {
  LP_ASSIGN_OR_RETURN(std::string data, Get(key, max_size));
  std::string version = HashBytes(data).hash.hex();
  return VersionedObject{std::move(data), std::move(version)};
}

Result<fs::Fd> FileStore::LockRefs() {
  std::string lock_path = fs::Join(root_, ".refs.lock");
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open", lock_path, errno);
  fs::Fd lock(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return Status::FromErrno("flock", lock_path, errno);
  }
  return lock;
}

Status FileStore::PutIfVersion(const std::string& key, std::string_view data,
                               const std::string& expected_version) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  LP_ASSIGN_OR_RETURN(fs::Fd lock, LockRefs());
  std::string current;
  auto now = GetVersioned(key, 1 << 20);
  if (now.ok()) {
    current = now->version;
  } else if (now.status().code() != Code::kNotFound) {
    return now.status();
  }
  if (current != expected_version) {
    const char* what = current.empty()            ? " was deleted"
                       : expected_version.empty() ? " was created"
                                                  : " changed";
    return Status::Conflict("store " + url_ + ": " + key + what +
                            " since it was read");
  }
  return Put(key, data);  // the flock is released when `lock` closes
}

Status FileStore::Delete(const std::string& key) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  std::string path = Path(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("unlink", path, errno)
        .WithContext("store " + url_ + ": delete " + key);
  }
  return fs::FsyncDir(fs::Dirname(path));
}

Status FileStore::DeleteIfVersion(const std::string& key,
                                  const std::string& expected_version) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  LP_ASSIGN_OR_RETURN(fs::Fd lock, LockRefs());
  auto now = GetVersioned(key, 1 << 20);
  if (!now.ok() && now.status().code() != Code::kNotFound) return now.status();
  if (!now.ok() || now->version != expected_version) {
    return Status::Conflict("store " + url_ + ": " + key +
                            (now.ok() ? " changed" : " was deleted") +
                            " since it was read");
  }
  LP_RETURN_IF_ERROR(Delete(key));
  // Directories a removed ref leaves empty would block a ref of their name
  // (refs/team after refs/team/prod): remove them, below refs/, while
  // holding the lock every conditional writer takes.
  std::string dir = fs::Dirname(key);
  while (dir.size() > kRefPrefix.size() &&
         dir.compare(0, kRefPrefix.size(), kRefPrefix) == 0) {
    if (::rmdir(Path(dir).c_str()) != 0) break;  // not empty, or gone
    dir = fs::Dirname(dir);
  }
  return Status::OK();  // the flock is released when `lock` closes
}

Result<bool> FileStore::Exists(const std::string& key) {
  LP_RETURN_IF_ERROR(CheckKey(key));
  stats().requests++;
  struct stat st;
  if (::stat(Path(key).c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::FromErrno("stat", url_ + "/" + key, errno);
}

Result<std::vector<std::string>> FileStore::List(const std::string& prefix) {
  stats().requests++;
  // Prefixes used by the library name a directory ("refs/", "packs/") or a
  // directory plus a name prefix; walk from the directory part.
  std::string dir_part = prefix.substr(0, prefix.rfind('/') + 1);
  std::vector<std::string> out;
  std::vector<std::string> stack{dir_part};
  while (!stack.empty()) {
    std::string rel = std::move(stack.back());
    stack.pop_back();
    std::string abs = rel.empty() ? root_ : fs::Join(root_, rel);
    DIR* d = ::opendir(abs.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) continue;
      return Status::FromErrno("list", url_ + "/" + rel, errno);
    }
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n.empty() || n[0] == '.') continue;  // ., .., .tmp and debris
      std::string key = rel + std::string(n);
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::stat(fs::Join(root_, key).c_str(), &st) == 0 &&
                 S_ISDIR(st.st_mode);
      }
      if (is_dir) {
        stack.push_back(key + "/");
      } else if (key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(std::move(key));
      }
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lazypath
