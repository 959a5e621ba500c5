#include "lazypath/lazy.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "cache/file_lock.h"
#include "core/fetch.h"
#include "core/lazy_format2.h"
#include "core/materialization.h"
#include "core/tree_fetch.h"
#include "core/tree_paths.h"
#include "lazypath/profile.h"
#include "pack/index.h"
#include "util/dir_writer.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

namespace {

constexpr mode_t kDoneMode = 0755;
constexpr mode_t kPlaceholderMode = 0700;

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

// Runs `op` on a format 2 tree. When it fails with NotFound, something the
// tree record's locators name may be gone because a prune repacked the tree
// and rewrote its record (doc/lifecycle.md); if the store's record changed,
// `op` runs once more on the new one.
template <typename Op>
auto OnCurrentRecord(LazyFormat2& f2, Op op) -> decltype(op()) {
  auto r = op();
  if (r.ok() || StatusOf(r).code() != Code::kNotFound) return r;
  auto changed = f2.Refresh();
  if (!changed.ok() || !*changed) return r;
  return op();
}

using tree_paths::Child;
using tree_paths::Parent;

// A format 2 tree cannot list its directories without reading them all, so
// the process that materialises all of them (MaterializePath("")) leaves
// meta/<tree>.lazyall naming the lazy root it completed: device, inode and
// change time. Nothing changes a lazy root once all is done, and gc removes
// a lazy tree whole (and this meta with it); a root built again is another
// inode with another change time, so a stale stamp never matches.
std::string RootStamp(const std::string& root) {
  struct stat st;
  if (::lstat(root.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

}  // namespace

LazyTree::~LazyTree() {
  if (lease_fd_ >= 0) ::close(lease_fd_);
}

int LazyTree::TakeLeaseFd() {
  int fd = lease_fd_;
  lease_fd_ = -1;
  return fd;
}

uint64_t LazyTree::requests() const {
  std::lock_guard<std::mutex> lock(store_mu_);
  return store_ ? store_->stats().requests.load() : 0;
}

uint64_t LazyTree::bytes_read() const {
  std::lock_guard<std::mutex> lock(store_mu_);
  return store_ ? store_->stats().bytes_read.load() : 0;
}

uint64_t LazyTree::metadata_bytes() const {
  return tree_bytes_ + (f2_ ? f2_->metadata_bytes() : 0);
}

Result<Store*> LazyTree::OpenedStore() {
  std::lock_guard<std::mutex> lock(store_mu_);
  if (!store_) {
    LP_ASSIGN_OR_RETURN(store_, OpenStore(store_url_));
  }
  return store_.get();
}

ActivateResult LazyTree::Snapshot() const {
  ActivateResult r;
  r.tree = tree_;
  r.path = root_;
  r.mode = ActivationMode::kLazy;
  r.cached = complete_ || dirs_materialized_ == 0;
  r.blobs_fetched = blobs_fetched_;
  r.bytes_fetched = bytes_fetched_;
  r.requests = requests();
  r.bytes_read = bytes_read();
  r.metadata_bytes = metadata_bytes();
  r.blobs_rechecked = cache_->blobs_rechecked();
  r.blobs_damaged = cache_->blobs_damaged();
  return r;
}

std::vector<std::string> LazyTree::MaterializedDirs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return order_;
}

Result<std::unique_ptr<LazyTree>> LazyTree::Open(const std::string& store_url,
                                                 const std::string& ref,
                                                 const LazyOptions& options) {
  std::unique_ptr<LazyTree> t(new LazyTree());
  t->store_url_ = store_url;
  t->threads_ = options.threads;
  LP_ASSIGN_OR_RETURN(NodeCache cache,
                      NodeCache::Open(options.cache_dir, options.env));
  t->cache_ = std::make_unique<NodeCache>(std::move(cache));
  if (auto full = Hash::Parse(ref); full.ok()) {
    t->tree_ = *full;  // a cached tree then needs no store traffic
  } else {
    LP_ASSIGN_OR_RETURN(t->store_, OpenStore(store_url));
    LP_ASSIGN_OR_RETURN(t->tree_, ResolveRef(*t->store_, ref));
  }
  if (options.lease) {
    LP_ASSIGN_OR_RETURN(t->lease_fd_, t->cache_->AcquireLease(t->tree_));
  }
  // A lazy copy an earlier boot started may hold what a crash cut short:
  // it starts afresh (its blobs are checked as they are used again).
  if (!t->cache_->TreeTrusted(t->tree_, /*lazy=*/true)) {
    LP_ASSIGN_OR_RETURN(
        FileLock lock,
        FileLock::Acquire(t->cache_->LockPath(t->tree_) + ".lazy",
                          FileLock::Mode::kExclusive, t->cache_->env()));
    if (!t->cache_->TreeTrusted(t->tree_, true)) {
      LP_RETURN_IF_ERROR(t->cache_->DiscardTree(t->tree_, true));
    }
  }
  if (t->cache_->HasTree(t->tree_) &&  // materialised eagerly before
      t->cache_->TreeTrusted(t->tree_, false)) {
    t->complete_ = true;
    t->root_ = t->cache_->TreeDir(t->tree_);
    return t;
  }
  // The tree and index, from the node cache when an earlier activation kept
  // them, else from the store (verified, then kept). A format 2 tree needs
  // only its tree record now; its directories are read as they are needed.
  auto open_store = [&]() -> Status { return t->OpenedStore().status(); };
  LazyTree* self = t.get();
  auto f2_store = [self]() { return self->OpenedStore(); };
  if (auto rec = t->cache_->GetMeta(t->tree_, ".record"); rec.ok()) {
    auto f2 = LazyFormat2::Open(t->tree_, *rec, *t->cache_, f2_store);
    if (f2.ok()) t->f2_ = std::move(*f2);  // else damaged: read it again
  }
  auto meta = t->cache_->GetMeta(t->tree_, ".tree");
  if (t->f2_) {
    // Kept by an earlier lazy activation of this format 2 tree.
  } else if (meta.ok() && HashBytes(*meta).hash == t->tree_) {
    LP_ASSIGN_OR_RETURN(t->tree_entries_,
                        Tree::Parse(*meta, t->tree_.ToString()));
  } else {
    LP_RETURN_IF_ERROR(open_store());
    LP_ASSIGN_OR_RETURN(std::string bytes, GetTreeObject(*t->store_, t->tree_));
    t->tree_bytes_ += bytes.size();
    if (IsTreeRecord(bytes)) {
      LP_ASSIGN_OR_RETURN(
          t->f2_, LazyFormat2::Open(t->tree_, bytes, *t->cache_, f2_store));
      LP_RETURN_IF_ERROR(t->cache_->PutMeta(t->tree_, ".record", bytes));
    } else {
      LP_ASSIGN_OR_RETURN(t->tree_entries_,
                          ParseTreeVerified(bytes, t->tree_, t->store_->url()));
      LP_RETURN_IF_ERROR(t->cache_->PutMeta(t->tree_, ".tree", bytes));
    }
  }
  if (t->f2_) {
    LP_RETURN_IF_ERROR(t->f2_->SetOnDemand(options.on_demand));
    t->root_ = t->cache_->LazyDir(t->tree_);
    if (auto stamp = t->cache_->GetMeta(t->tree_, ".lazyall");
        stamp.ok() && !stamp->empty() && *stamp == RootStamp(t->root_)) {
      t->complete_ = true;  // every directory done by an earlier process
      return t;
    }
    // Which directories exist is known only as they are read: the tree is
    // never complete() here, and an import of a done directory costs a
    // stat.
    LP_RETURN_IF_ERROR(t->MaterializeDir("").status());
    return t;
  }
  // The index is fetched now, so later imports cost no extra round trip,
  // but parsed only when a directory needs blobs (LoadIndex).
  if (!t->cache_->GetMeta(t->tree_, ".index").ok()) {
    LP_RETURN_IF_ERROR(open_store());
    LP_ASSIGN_OR_RETURN(Index fetched, FetchIndex(*t->store_, t->tree_));
    LP_RETURN_IF_ERROR(
        CheckIndexAgainstTree(fetched, t->tree_entries_, store_url));
    const std::string bytes = fetched.Serialize();
    t->tree_bytes_ += bytes.size();
    LP_RETURN_IF_ERROR(t->cache_->PutMeta(t->tree_, ".index", bytes));
    t->index_ = std::make_unique<Index>(std::move(fetched));
  }

  t->rule_ = std::make_unique<Materialization>(t->tree_entries_);
  LP_RETURN_IF_ERROR(
      t->rule_->SetOnDemand(options.on_demand, t->tree_.ToString()));
  t->root_ = t->cache_->LazyDir(t->tree_);
  // Every directory materialised already (by earlier processes): nothing
  // is left to do, and no import hook is needed.
  bool all_done = true;
  for (const auto& dir : t->rule_->Directories()) {
    if (!t->IsDone(dir)) {
      all_done = false;
      break;
    }
  }
  if (all_done) {
    t->complete_ = true;
    return t;
  }
  LP_RETURN_IF_ERROR(t->MaterializeDir("").status());
  return t;
}

Status LazyTree::LoadIndex() {
  if (index_) return Status::OK();
  LP_ASSIGN_OR_RETURN(std::string bytes, cache_->GetMeta(tree_, ".index"));
  LP_ASSIGN_OR_RETURN(
      Index idx, Index::Parse(bytes, "cached index of " + tree_.ToString()));
  if (idx.tree != tree_) {
    return Status::Corrupt("cached index of " + tree_.ToString() +
                           " describes another tree");
  }
  LP_RETURN_IF_ERROR(CheckIndexAgainstTree(idx, tree_entries_, store_url_));
  index_ = std::make_unique<Index>(std::move(idx));
  return Status::OK();
}

bool LazyTree::IsDirectory(std::string_view rel) const {
  if (f2_) {
    if (complete_) return false;
    // A directory that cannot be read is reported as one, so that
    // MaterializeDir, which the import hook calls next, reports why.
    auto is = OnCurrentRecord(*f2_, [&] { return f2_->IsDirectory(rel); });
    return !is.ok() || *is;
  }
  return rule_ && rule_->IsDirectory(rel);
}

Result<std::vector<std::string>> LazyTree::SubdirsOf(
    const std::string& rel) const {
  if (f2_) {
    return OnCurrentRecord(*f2_, [&] { return f2_->Subdirs(rel); });
  }
  return rule_->Subdirs(rel);
}

bool LazyTree::IsDone(const std::string& rel) const {
  if (complete_ || done_.count(rel)) return true;
  struct stat st;
  std::string p = rel.empty() ? root_ : fs::Join(root_, rel);
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         (st.st_mode & 07777) == kDoneMode;
}

Result<bool> LazyTree::MaterializeDir(std::string_view rel_view) {
  std::string rel(rel_view);
  if (complete_) return false;  // everything is on disk already
  if (!IsDirectory(rel)) {
    return Status::NotFound("'" + rel + "' is not a directory of tree " +
                            tree_.ToString());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (complete_ || done_.count(rel)) return false;
  // Ancestors first: a directory's placeholder exists only once its parent
  // is materialised.
  std::vector<std::string> chain;
  for (std::string d = rel;; d = std::string(Parent(d))) {
    chain.push_back(d);
    if (d.empty()) break;
  }
  bool did = false;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (done_.count(*it)) continue;
    if (IsDone(*it)) {
      done_.insert(*it);
      continue;
    }
    Status s = Build(*it);
    if (!s.ok()) return s;
    did = true;
  }
  return did;
}

struct LazyTree::Gathered {
  std::vector<DirectoryPlan::Dir> dirs;  // parents first
  std::vector<TreeEntry> files;          // paths relative to the directory
};

Status LazyTree::Gather(const std::string& rel, Gathered* out) {
  FetchCounters counters;
  if (f2_) {
    auto gather = [&]() -> Status {
      LP_ASSIGN_OR_RETURN(LazyFormat2::Plan plan, f2_->PlanDir(rel));
      LP_ASSIGN_OR_RETURN(out->files,
                          f2_->Fetch(plan.files, threads_, &counters));
      out->dirs = std::move(plan.dirs);
      return Status::OK();
    };
    LP_RETURN_IF_ERROR(OnCurrentRecord(*f2_, gather));
  } else {
    DirectoryPlan plan = rule_->Plan(rel);
    std::vector<Hash> missing;
    std::set<Hash> seen;
    for (const auto& f : plan.files) {
      TreeEntry e = *f.entry;
      e.path = f.path;
      if (e.kind != EntryKind::kSymlink && e.blob.size > 0 &&
          seen.insert(e.blob.hash).second && !cache_->HasBlob(e.blob.hash)) {
        missing.push_back(e.blob.hash);
      }
      out->files.push_back(std::move(e));
    }
    if (!missing.empty()) {
      LP_RETURN_IF_ERROR(LoadIndex());
      LP_ASSIGN_OR_RETURN(Store * store, OpenedStore());
      LP_RETURN_IF_ERROR(FetchBlobs(*store, *index_, missing, *cache_, threads_,
                                    {}, &counters));
    }
    out->dirs = std::move(plan.dirs);
  }
  blobs_fetched_ += counters.blobs;
  bytes_fetched_ += counters.bytes;
  return Status::OK();
}

Status LazyTree::Build(const std::string& rel) {
  Env* env = cache_->env();
  // One process at a time builds directories of this tree.
  LP_ASSIGN_OR_RETURN(FileLock lock,
                      FileLock::Acquire(cache_->LockPath(tree_) + ".lazy",
                                        FileLock::Mode::kExclusive, env));
  if (IsDone(rel)) {
    done_.insert(rel);
    return Status::OK();
  }
  // Fetch what the blob cache lacks, keeping gc's sweep out until published.
  LP_ASSIGN_OR_RETURN(
      FileLock gc_guard,
      FileLock::Acquire(cache_->GcLockPath(), FileLock::Mode::kShared, env));
  Gathered plan;
  LP_RETURN_IF_ERROR(Gather(rel, &plan)
                         .WithContext("materialise '" + rel + "' of tree " +
                                      tree_.ToString()));
  std::string stage = fs::TempName(
      fs::Join(cache_->TempDir(), "lazy-" + tree_.hex().substr(0, 16)));
  auto fail = [&](Status s) {
    (void)fs::RemoveAll(stage, env);
    return s.WithContext("materialise '" + rel + "' of tree " +
                         tree_.ToString());
  };
  LP_RETURN_IF_ERROR(env->Mkdir(stage, kDoneMode));
  // Every write goes through DirWriter, which follows no symlink.
  auto writer = fs::DirWriter::Open(stage, env);
  if (!writer.ok()) return fail(writer.status());
  // Parents before children: the plan lists each subtree top-down.
  for (const auto& d : plan.dirs) {
    Status s =
        writer->MakeDir(d.path, d.placeholder ? kPlaceholderMode : kDoneMode);
    if (!s.ok()) return fail(s);
  }
  for (const TreeEntry& f : plan.files) {
    auto [parent, name] = fs::DirWriter::Split(f.path);
    auto dir = writer->Dir(parent);
    if (!dir.ok()) return fail(dir.status());
    Status s =
        cache_->PlaceEntry(f, *dir, std::string(name), writer->Show(f.path));
    if (!s.ok()) return fail(s);
  }
  if (Status s = env->Chmod(stage, kDoneMode); !s.ok()) return fail(s);
  Status s = cache_->SyncBeforePublish(stage);
  // The root comes first: its stamp, durable before it is visible, names
  // the boot whose writes this copy holds.
  if (s.ok() && rel.empty()) s = cache_->StampTree(tree_, /*lazy=*/true);
  if (!s.ok()) return fail(s);
  if (rel.empty()) {
    LP_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(root_), 0755, env));
    s = env->Rename(stage, root_);
    if (!s.ok()) {
      return fail(Status::FromErrno("publish " + stage, root_, s.sys_errno()));
    }
  } else {
    // Swap the placeholder for the full directory in one step, then remove
    // the placeholder (now at the staging path).
    // The placeholder's parent is opened without following symlinks, and
    // the placeholder must be our directory, not a link to elsewhere.
    std::string target = fs::Join(root_, rel);
    auto root = fs::DirWriter::Open(root_, env);
    if (!root.ok()) return fail(root.status());
    auto [parent, name] = fs::DirWriter::Split(rel);
    auto dir = root->Dir(parent);
    if (!dir.ok()) return fail(dir.status());
    std::string n(name);
    struct stat st;
    if (::fstatat(*dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      return fail(
          Status::Corrupt("placeholder " + target + " is not a directory"));
    }
    s = env->RenameAt(AT_FDCWD, stage, *dir, n, RENAME_EXCHANGE, target);
    if (!s.ok()) {
      return fail(Status::FromErrno("publish " + stage, target, s.sys_errno()));
    }
    (void)fs::RemoveAll(stage, env);
  }
  done_.insert(rel);
  order_.push_back(rel);
  dirs_materialized_++;
  return Status::OK();
}

Status LazyTree::MaterializePath(std::string_view rel_view) {
  std::string rel(rel_view);
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (complete_) return Status::OK();
  if (!IsDirectory(rel)) {
    std::string_view parent = Parent(rel);
    if (!IsDirectory(parent)) {
      return Status::NotFound("'" + rel + "' is not in tree " +
                              tree_.ToString());
    }
    return MaterializeDir(parent).status();
  }
  // The directory and everything below it.
  std::vector<std::string> stack{rel};
  while (!stack.empty()) {
    std::string d = std::move(stack.back());
    stack.pop_back();
    LP_RETURN_IF_ERROR(MaterializeDir(d).status());
    LP_ASSIGN_OR_RETURN(auto subs, SubdirsOf(d));
    for (const auto& name : subs) stack.push_back(Child(d, name));
  }
  if (f2_ && rel.empty()) {
    // Best effort: without it the next process installs the import hook.
    std::string stamp = RootStamp(root_);
    if (!stamp.empty()) (void)cache_->PutMeta(tree_, ".lazyall", stamp);
  }
  return Status::OK();
}

Result<PrefetchStats> LazyTree::Prefetch() {
  PrefetchStats st;
  if (complete_) return st;
  LP_ASSIGN_OR_RETURN(Store * store, OpenedStore());
  LP_ASSIGN_OR_RETURN(auto profile, ReadProfile(*store, tree_));
  if (!profile) return st;
  st.profile = true;
  std::vector<std::string> todo;
  if (f2_) {
    for (const auto& d : profile->dirs) {
      if (!IsDirectory(d)) continue;
      st.profile_dirs++;
      std::lock_guard<std::mutex> lock(mu_);
      if (!IsDone(d)) todo.push_back(d);
    }
    return PrefetchFormat2(std::move(todo), st);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& d : profile->dirs) {
      if (!IsDirectory(d)) continue;
      st.profile_dirs++;
      if (!IsDone(d)) todo.push_back(d);
    }
    if (!todo.empty()) LP_RETURN_IF_ERROR(LoadIndex());
  }
  if (todo.empty()) return st;
  {
    // Under the tree's build lock, so that processes starting together
    // fetch the set once; theirs then find every blob cached.
    LP_ASSIGN_OR_RETURN(
        FileLock lock,
        FileLock::Acquire(cache_->LockPath(tree_) + ".lazy",
                          FileLock::Mode::kExclusive, cache_->env()));
    LP_ASSIGN_OR_RETURN(
        FileLock gc_guard,
        FileLock::Acquire(cache_->GcLockPath(), FileLock::Mode::kShared,
                          cache_->env()));
    std::vector<Hash> missing;
    for (const auto& b : rule_->Blobs(todo)) {
      if (!cache_->HasBlob(b.hash)) missing.push_back(b.hash);
    }
    if (!missing.empty()) {
      uint64_t before = store->stats().requests;
      FetchCounters counters;
      LP_RETURN_IF_ERROR(
          FetchBlobs(*store, *index_, missing, *cache_, threads_, {}, &counters)
              .WithContext("prefetch profile of tree " + tree_.ToString()));
      st.requests = store->stats().requests - before;
      st.blobs = counters.blobs;
      st.bytes = counters.bytes;
      blobs_fetched_ += counters.blobs;
      bytes_fetched_ += counters.bytes;
    }
  }
  for (const auto& d : todo) {
    LP_ASSIGN_OR_RETURN(bool did, MaterializeDir(d));
    if (did) st.dirs++;
  }
  return st;
}

Result<PrefetchStats> LazyTree::PrefetchFormat2(std::vector<std::string> todo,
                                                PrefetchStats st) {
  if (todo.empty()) return st;
  {
    // As for format 1: the whole set's blobs in one go, under the build
    // lock, then each directory built from the cache.
    LP_ASSIGN_OR_RETURN(
        FileLock lock,
        FileLock::Acquire(cache_->LockPath(tree_) + ".lazy",
                          FileLock::Mode::kExclusive, cache_->env()));
    LP_ASSIGN_OR_RETURN(
        FileLock gc_guard,
        FileLock::Acquire(cache_->GcLockPath(), FileLock::Mode::kShared,
                          cache_->env()));
    std::vector<FlatFile> files;
    for (const auto& d : todo) {
      LP_ASSIGN_OR_RETURN(LazyFormat2::Plan plan, f2_->PlanDir(d));
      for (auto& f : plan.files) files.push_back(std::move(f));
    }
    LP_ASSIGN_OR_RETURN(Store * store, OpenedStore());
    uint64_t before = store->stats().requests;
    FetchCounters counters;
    LP_RETURN_IF_ERROR(
        f2_->Fetch(files, threads_, &counters)
            .status()
            .WithContext("prefetch profile of tree " + tree_.ToString()));
    st.requests = store->stats().requests - before;
    st.blobs = counters.blobs;
    st.bytes = counters.bytes;
    blobs_fetched_ += counters.blobs;
    bytes_fetched_ += counters.bytes;
  }
  for (const auto& d : todo) {
    LP_ASSIGN_OR_RETURN(bool did, MaterializeDir(d));
    if (did) st.dirs++;
  }
  return st;
}

}  // namespace lazypath
