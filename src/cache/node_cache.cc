#include "lazypath/node_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

#include "util/dir_writer.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

namespace {
// Links `from` at `name` in `dir_fd`, falling back to a copy where hardlinks
// can't be made (another file system, a link-count limit, a file system
// without links). linkat(2) never follows a symlink at `name` (EEXIST).
Status LinkOrCopy(Env* env, const std::string& from, int dir_fd,
                  const std::string& name, int mode, const std::string& shown) {
  Status s = env->LinkAt(AT_FDCWD, from, dir_fd, name, 0, shown);
  if (s.ok()) return s;
  int err = s.sys_errno();
  if (err == EXDEV || err == EMLINK || err == EPERM || err == ENOTSUP ||
      err == EOPNOTSUPP) {
    return fs::CopyFileAt(from, dir_fd, name, mode, shown, env);
  }
  return s;
}
}  // namespace

std::string NodeCache::DefaultDir() {
  if (const char* v = std::getenv("LAZYPATH_CACHE"); v && *v) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v && *v) {
    return fs::Join(v, "lazypath");
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::Join(fs::Join(home, ".cache"), "lazypath");
  }
  return "/tmp/lazypath-cache";
}

Result<NodeCache> NodeCache::Open(const std::string& dir, Env* env) {
  if (env == nullptr) env = Env::Default();
  LP_ASSIGN_OR_RETURN(std::string abs,
                      fs::Absolute(dir.empty() ? DefaultDir() : dir));
  for (const char* sub :
       {"blobs", "trees", "lazy", "meta", "locks", "leases", "tmp"}) {
    Status s = fs::MakeDirs(fs::Join(abs, sub), 0755, env);
    if (!s.ok()) return s.WithContext("node cache " + abs);
  }
  NodeCache cache(abs, env);
  // Settled before this process writes anything, so what it writes is later
  // than the mark (src/cache/boot_trust.cc).
  (void)cache.BootMark();
  return cache;
}

std::string NodeCache::TreeDir(const Hash& tree) const {
  return fs::Join(dir_, "trees/" + tree.hex());
}

bool NodeCache::HasTree(const Hash& tree) const {
  return fs::Exists(TreeDir(tree));
}

std::string NodeCache::BlobPath(const Hash& blob) const {
  std::string hex = blob.hex();
  return fs::Join(dir_, "blobs/" + hex.substr(0, 2) + "/" + hex);
}

std::string NodeCache::LazyDir(const Hash& tree) const {
  return fs::Join(dir_, "lazy/" + tree.hex());
}

std::string NodeCache::TempDir() const { return fs::Join(dir_, "tmp"); }

std::string NodeCache::LockPath(const Hash& tree) const {
  return fs::Join(dir_, "locks/" + tree.hex());
}

std::string NodeCache::StatCacheDir() const {
  return fs::Join(dir_, "statcache");
}

std::string NodeCache::StoreSummaryDir() const {
  return fs::Join(dir_, "stores");
}

Status NodeCache::AdoptBlobs(
    const std::vector<std::pair<std::string, Hash>>& verified) const {
  if (verified.empty()) return Status::OK();
  Status s = SyncBeforePublish(dir_);
  std::set<std::string> shards;
  size_t i = 0;
  for (; i < verified.size() && s.ok(); ++i) {
    const auto& [tmp, blob] = verified[i];
    std::string dest = BlobPath(blob);
    std::string shard = fs::Dirname(dest);
    if (shards.insert(shard).second) s = fs::MakeDirs(shard, 0755, env_);
    if (s.ok()) s = env_->Chmod(tmp, 0444);
    if (s.ok()) s = env_->Rename(tmp, dest);
  }
  if (!s.ok()) {
    for (size_t k = i > 0 ? i - 1 : 0; k < verified.size(); ++k) {
      (void)env_->Unlink(verified[k].first);
    }
  }
  return s;
}

Status NodeCache::PutMeta(const Hash& tree, std::string_view suffix,
                          std::string_view bytes) const {
  return fs::WriteFileAtomic(
      fs::Join(dir_, "meta/" + tree.hex() + std::string(suffix)), bytes, 0444,
      env_);
}

Result<std::string> NodeCache::GetMeta(const Hash& tree,
                                       std::string_view suffix) const {
  return fs::ReadFile(
      fs::Join(dir_, "meta/" + tree.hex() + std::string(suffix)), UINT64_MAX,
      env_);
}

Result<std::string> NodeCache::ExecutableBlob(const Hash& blob) const {
  std::string x = BlobPath(blob) + ".x";
  // Renamed over below when an earlier boot left it damaged.
  if (struct stat st;
      ::lstat(x.c_str(), &st) == 0 && CheckFile(x, st, blob, UINT64_MAX)) {
    return x;
  }
  std::string tmp = fs::TempName(fs::Join(TempDir(), blob.hex() + ".x"));
  Status s = fs::CopyFile(BlobPath(blob), tmp, 0555, env_);
  if (s.ok()) s = fs::RenameDurable(tmp, x, env_);
  if (!s.ok()) {
    (void)env_->Unlink(tmp);
    return s;
  }
  return x;
}

Status NodeCache::PlaceEntry(const TreeEntry& e, int dir_fd,
                             const std::string& name,
                             const std::string& dest) const {
  if (e.kind == EntryKind::kSymlink) {
    return env_->SymlinkAt(e.target, dir_fd, name, dest);
  }
  bool exec = e.kind == EntryKind::kExecutable;
  int mode = exec ? 0555 : 0444;
  if (e.blob.size == 0) {
    LP_ASSIGN_OR_RETURN(
        fs::Fd fd,
        env_->OpenAt(dir_fd, name,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     static_cast<mode_t>(mode), dest));
    // Best effort: the file already has `mode` less the umask.
    (void)env_->Fchmod(fd.get(), static_cast<mode_t>(mode), dest);
    return Status::OK();
  }
  std::string src = BlobPath(e.blob.hash);
  if (exec) {
    LP_ASSIGN_OR_RETURN(src, ExecutableBlob(e.blob.hash));
  }
  return LinkOrCopy(env_, src, dir_fd, name, mode, dest);
}

Status NodeCache::SyncFileSystem(const std::string& path) const {
  auto fd = env_->Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!fd.ok()) {
    return Status::FromErrno("open", path, fd.status().sys_errno());
  }
  return env_->SyncFs(fd->get(), path);
}

Status NodeCache::Materialize(const Tree& tree, const Hash& digest) const {
  std::string stage =
      fs::TempName(fs::Join(TempDir(), "tree-" + digest.hex().substr(0, 16)));
  LP_RETURN_IF_ERROR(env_->Mkdir(stage, 0755));
  auto fail = [&](Status s) {
    (void)fs::RemoveAll(stage, env_);
    return s.WithContext("materialise " + digest.ToString());
  };
  // Paths were validated (no '..', no absolute, no entry that is also a
  // parent) and the staging directory is new; still, every write goes
  // through DirWriter, which follows no symlink, so even a validator bug
  // cannot write outside the stage.
  auto writer = fs::DirWriter::Open(stage, env_);
  if (!writer.ok()) return fail(writer.status());
  std::set<std::string, std::less<>> made_dirs;
  for (const TreeEntry& e : tree.entries()) {
    // Create the parents in order; each exactly once, so an EEXIST means
    // something other than our directory is in the way.
    size_t slash = e.path.find('/');
    while (slash != std::string::npos) {
      std::string parent = e.path.substr(0, slash);
      if (made_dirs.insert(parent).second) {
        Status s = writer->MakeDir(parent, 0755);
        if (!s.ok()) return fail(s);
      }
      slash = e.path.find('/', slash + 1);
    }
    auto [parent, name] = fs::DirWriter::Split(e.path);
    auto dir = writer->Dir(parent);
    if (!dir.ok()) return fail(dir.status());
    Status s = PlaceEntry(e, *dir, std::string(name), writer->Show(e.path));
    if (!s.ok()) return fail(s);
  }
  // Durable before visible: the stamp, so a crash makes the next boot check
  // the copy (and, with no boot id, one syncfs for everything above).
  Status s = SyncBeforePublish(stage);
  if (s.ok()) s = StampTree(digest, /*lazy=*/false);
  if (!s.ok()) return fail(s);
  std::string dest = TreeDir(digest);
  s = env_->Rename(stage, dest);
  if (!s.ok()) {
    int err = s.sys_errno();
    if ((err == EEXIST || err == ENOTEMPTY) && HasTree(digest)) {
      // Published by someone else: the same content.
      (void)fs::RemoveAll(stage, env_);
      return Status::OK();
    }
    return fail(Status::FromErrno("publish " + stage, dest, err));
  }
  return fs::FsyncDir(fs::Dirname(dest), env_);
}

}  // namespace lazypath
