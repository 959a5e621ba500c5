#include "lazypath/inspect.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "cache/file_lock.h"
#include "core/chunked_files.h"
#include "core/fetch.h"
#include "core/tree_build.h"
#include "core/tree_view.h"
#include "lazypath/node_cache.h"
#include "lazypath/push.h"
#include "util/env.h"

namespace lazypath {

Result<StoreListing> ListStore(const std::string& store_url) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  StoreListing out;
  LP_ASSIGN_OR_RETURN(auto refs, store->List(std::string(kRefPrefix)));
  for (const auto& key : refs) {
    std::string name = key.substr(kRefPrefix.size());
    if (!ValidateRefName(name).ok()) continue;
    LP_ASSIGN_OR_RETURN(Hash h, ReadRef(*store, name));
    out.refs.emplace_back(name, h);
  }
  LP_ASSIGN_OR_RETURN(auto trees, store->List(std::string(kTreePrefix)));
  for (const auto& key : trees) {
    auto h = Hash::FromHex(key.substr(kTreePrefix.size()));
    if (h.ok()) out.trees.push_back(*h);
  }
  return out;
}

Result<Tree> FetchTree(Store& store, const Hash& tree) {
  LP_ASSIGN_OR_RETURN(TreeView view, LoadTreeView(store, tree));
  return std::move(view.tree);
}

Result<std::pair<Hash, Tree>> ShowTree(const std::string& store_url,
                                       const std::string& ref) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(Hash h, ResolveRef(*store, ref));
  LP_ASSIGN_OR_RETURN(Tree t, FetchTree(*store, h));
  return std::make_pair(h, std::move(t));
}

namespace {

// The regular file (or empty file) at `path` in tree `t`, following
// symlinks lexically inside the tree (at most 40 hops).
Result<const TreeEntry*> FindFile(const Tree& t, const Hash& h,
                                  const std::string& path) {
  std::string want = path;
  while (!want.empty() && want.front() == '/') want.erase(0, 1);
  for (int hop = 0; hop < 40; ++hop) {
    const auto& entries = t.entries();
    auto it = std::lower_bound(
        entries.begin(), entries.end(), want,
        [](const TreeEntry& e, const std::string& p) { return e.path < p; });
    if (it == entries.end() || it->path != want) {
      return Status::NotFound("'" + path + "' is not a file in tree " +
                              h.ToString());
    }
    if (it->kind != EntryKind::kSymlink) return &*it;
    // Resolve the link lexically inside the tree.
    std::string base = it->path.substr(0, it->path.rfind('/') + 1);
    std::string joined = base + it->target;
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= joined.size()) {
      size_t slash = joined.find('/', start);
      if (slash == std::string::npos) slash = joined.size();
      std::string comp = joined.substr(start, slash - start);
      if (comp == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!comp.empty() && comp != ".") {
        parts.push_back(comp);
      }
      start = slash + 1;
    }
    want.clear();
    for (const auto& p : parts) want += (want.empty() ? "" : "/") + p;
  }
  return Status::InvalidArgument("'" + path + "': too many symlink hops");
}

}  // namespace

Result<std::string> CatFile(const std::string& store_url,
                            const std::string& ref, const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(Hash h, ResolveRef(*store, ref));
  LP_ASSIGN_OR_RETURN(TreeView view, LoadTreeView(*store, h));
  LP_ASSIGN_OR_RETURN(const TreeEntry* e, FindFile(view.tree, h, path));
  return ReadEntry(*store, view, *e);
}

Result<OpenedFile> OpenFileInTree(const std::string& store_url,
                                  const std::string& ref,
                                  const std::string& path,
                                  const std::string& cache_dir) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(Hash h, ResolveRef(*store, ref));
  LP_ASSIGN_OR_RETURN(TreeView view, LoadTreeView(*store, h));
  LP_ASSIGN_OR_RETURN(const TreeEntry* e, FindFile(view.tree, h, path));
  OpenedFile out;
  out.tree = h;
  out.size = e->blob.size;
  if (e->blob.size == 0) return out;
  auto cache = NodeCache::Open(cache_dir);
  Env* env = cache.ok() ? cache->env() : Env::Default();
  // A chunked file of a format 2 tree is named by its chunk list: it is
  // assembled into the cache's blobs as an activation assembles it (or
  // streams into the temp file below, without a writable cache).
  auto located = view.files.find(e->path);
  bool chunked = located != view.files.end() && located->second.entry.chunked();
  std::string what = "'" + path + "' of tree " + h.ToString();
  if (chunked && cache.ok() && ::access(cache->TempDir().c_str(), W_OK) == 0) {
    LP_ASSIGN_OR_RETURN(
        FileLock gc_guard,
        FileLock::Acquire(cache->GcLockPath(), FileLock::Mode::kShared, env));
    NodeChunks local(*cache);
    bool fetched = false;
    auto content =
        FetchChunkedFile(*store, located->second, *cache, local, &fetched);
    if (!content.ok()) return content.status().WithContext(what);
    LP_ASSIGN_OR_RETURN(fs::Fd fd, env->Open(cache->BlobPath(content->hash),
                                             O_RDONLY | O_CLOEXEC));
    out.fd = fd.release();
    return out;
  }
  if (!chunked && cache.ok() && cache->HasBlob(e->blob.hash)) {
    std::string blob = cache->BlobPath(e->blob.hash);
    if (auto fd = env->Open(blob, O_RDONLY | O_CLOEXEC); fd.ok()) {
      out.fd = fd->release();
      return out;
    }
    // Swept by gc since HasBlob: fetch it below.
  }
  Index idx;
  if (view.format == 1) {
    LP_ASSIGN_OR_RETURN(idx, FetchIndex(*store, h));
  } else if (!chunked) {
    idx.tree = h;
    idx.blobs.emplace(e->blob.hash, located->second.location);
  }
  if (!chunked && cache.ok() && ::access(cache->TempDir().c_str(), W_OK) == 0) {
    // Shared with activations, exclusive for gc's blob sweep: the blob
    // can't be swept between its fetch and the open below.
    LP_ASSIGN_OR_RETURN(
        FileLock gc_guard,
        FileLock::Acquire(cache->GcLockPath(), FileLock::Mode::kShared, env));
    FetchCounters counters;
    LP_RETURN_IF_ERROR(
        FetchBlobs(*store, idx, {e->blob.hash}, *cache, 1, {}, &counters)
            .WithContext(what));
    std::string blob = cache->BlobPath(e->blob.hash);
    LP_ASSIGN_OR_RETURN(fs::Fd fd, env->Open(blob, O_RDONLY | O_CLOEXEC));
    out.fd = fd.release();
    return out;
  }
  // No writable node cache (a read-only mount, say): an unnamed temp file,
  // handed over only once its whole content matched the digest.
  const char* env_tmp = std::getenv("TMPDIR");
  std::string tmp = env_tmp && *env_tmp ? env_tmp : "/tmp";
  auto fd = env->Open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (!fd.ok()) {
    return Status::FromErrno("open a temp file in", tmp,
                             fd.status().sys_errno());
  }
  auto write = [&](std::string_view b) {
    Status w = env->Write(fd->get(), b, tmp);
    if (w.ok()) return w;
    return Status::FromErrno("write a temp file in", tmp, w.sys_errno());
  };
  Status s = view.format == 1 ? StreamBlob(*store, idx, e->blob, write)
                              : StreamEntry(*store, view, *e, write);
  if (s.ok() && ::lseek(fd->get(), 0, SEEK_SET) != 0) {
    s = Status::FromErrno("seek a temp file in", tmp, errno);
  }
  if (!s.ok()) return s.WithContext(what);
  out.fd = fd->release();
  return out;
}

Result<RefDiff> DiffRefs(const std::string& store_url,
                         const std::string& from_ref,
                         const std::string& to_ref) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  RefDiff out;
  LP_ASSIGN_OR_RETURN(out.from, ResolveRef(*store, from_ref));
  LP_ASSIGN_OR_RETURN(out.to, ResolveRef(*store, to_ref));
  if (out.to == out.from) {
    LP_RETURN_IF_ERROR(FetchTree(*store, out.from).status());
    return out;
  }
  LP_ASSIGN_OR_RETURN(std::string ra, GetTreeObject(*store, out.from));
  LP_ASSIGN_OR_RETURN(std::string rb, GetTreeObject(*store, out.to));
  if (IsTreeRecord(ra) && IsTreeRecord(rb)) {
    // Both format 2: equal subtrees are skipped, never read.
    LP_ASSIGN_OR_RETURN(ChangedFiles changed,
                        ReadChangedFiles(*store, out.from, ra, out.to, rb,
                                         /*threads=*/8, nullptr));
    std::vector<TreeEntry> a, b;
    for (const FlatFile& f : changed.from) a.push_back(ViewEntry(f));
    for (const FlatFile& f : changed.to) b.push_back(ViewEntry(f));
    out.diff = DiffTrees(Tree(std::move(a)), Tree(std::move(b)));
    return out;
  }
  LP_ASSIGN_OR_RETURN(Tree a, FetchTree(*store, out.from));
  LP_ASSIGN_OR_RETURN(Tree b, FetchTree(*store, out.to));
  out.diff = DiffTrees(a, b);
  return out;
}

Result<RefDiff> DiffRefAgainstDir(const std::string& store_url,
                                  const std::string& from_ref,
                                  const std::string& dir, ScanOptions scan,
                                  const std::string& cache_dir) {
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  RefDiff out;
  LP_ASSIGN_OR_RETURN(out.from, ResolveRef(*store, from_ref));
  LP_ASSIGN_OR_RETURN(TreeView a, LoadTreeView(*store, out.from));
  if (auto cache = NodeCache::Open(cache_dir); cache.ok()) {
    scan = PushScanOptions(scan, *cache, store_url);  // as push scans
  }
  LP_ASSIGN_OR_RETURN(ScanResult scanned, ScanDirectory(dir, scan));
  if (a.format == 1) {
    out.to = scanned.tree.digest().hash;
    out.diff = DiffTrees(a.tree, scanned.tree);
    return out;
  }
  // Against a format 2 tree: the digest a format 2 push would give, and
  // large files named by their chunk lists, as the tree names them.
  auto memo = NodeCache::Open(cache_dir);
  LP_ASSIGN_OR_RETURN(std::unique_ptr<BuiltTree> built,
                      BuildTree(scanned, memo.ok() ? &*memo : nullptr));
  out.to = built->dirs.root.hash;
  std::vector<TreeEntry> entries = scanned.tree.entries();
  for (TreeEntry& e : entries) {
    if (e.kind == EntryKind::kSymlink || e.blob.size <= kChunkThreshold) {
      continue;
    }
    const std::string parent = e.path.rfind('/') == std::string::npos
                                   ? ""
                                   : e.path.substr(0, e.path.rfind('/'));
    const std::string name = e.path.substr(e.path.rfind('/') + 1);
    for (const DirEntry& d : built->dirs.dirs.at(parent).dir.entries) {
      if (d.name == name) e.blob.hash = d.hash;
    }
  }
  out.diff = DiffTrees(a.tree, Tree(std::move(entries)));
  return out;
}

namespace {

// `expect` as TagTree reads it: "none" (absent) or a full digest.
Result<std::optional<Hash>> ParseExpect(const std::string& text) {
  if (text == "none") return std::optional<Hash>();
  auto h = Hash::Parse(text);
  if (!h.ok()) {
    return Status::InvalidArgument("expected tree '" + text +
                                   "': want sha256:<64 hex> or 'none'");
  }
  return std::optional<Hash>(*h);
}

// Conflict unless the ref, as read, is what `expect` says it must be.
Status CheckExpect(const Store& store, const std::string& name,
                   const RefState& before,
                   const std::optional<std::string>& expect,
                   std::string_view verb) {
  if (!expect) return Status::OK();
  LP_ASSIGN_OR_RETURN(std::optional<Hash> expected, ParseExpect(*expect));
  if (before.tree == expected) return Status::OK();
  return Status::Conflict(
      "ref '" + name + "' in store " + store.url() + " names " +
      (before.tree ? before.tree->ToString() : "nothing") + ", not " +
      (expected ? expected->ToString() : "nothing") + "; not " +
      std::string(verb));
}

// NotFound unless the store holds tree `h` whole (HasTree: format 1's tree
// and index, or format 2's tree record).
Status RequireTree(Store& store, const Hash& h) {
  LP_ASSIGN_OR_RETURN(bool whole, HasTree(store, h));
  if (!whole) {
    return Status::NotFound("tree " + h.ToString() + " not in store " +
                            store.url());
  }
  return Status::OK();
}

Result<std::string> ActorOrDefault(const std::string& actor) {
  if (actor.empty()) return DefaultActor();
  LP_RETURN_IF_ERROR(ValidateActor(actor));
  return actor;
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

Result<Hash> TagTree(const std::string& store_url, const std::string& ref,
                     const std::string& name,
                     const std::optional<std::string>& expect,
                     const std::string& actor) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  if (expect) LP_RETURN_IF_ERROR(ParseExpect(*expect).status());
  LP_ASSIGN_OR_RETURN(std::string who, ActorOrDefault(actor));
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(RefState before, ReadRefState(*store, name));
  LP_RETURN_IF_ERROR(CheckExpect(*store, name, before, expect, "tagged"));
  LP_ASSIGN_OR_RETURN(Hash h, ResolveRef(*store, ref));
  LP_RETURN_IF_ERROR(RequireTree(*store, h));
  LP_RETURN_IF_ERROR(MoveRef(*store, name, h, before, RefOp::kTag, who, Now()));
  return h;
}

Result<std::vector<HistoryEntry>> RefLog(const std::string& store_url,
                                         const std::string& name) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  return ReadHistory(*store, name);
}

Result<RefChange> RollbackRef(const std::string& store_url,
                              const std::string& name,
                              const std::optional<std::string>& to,
                              uint64_t steps,
                              const std::optional<std::string>& expect,
                              const std::string& actor) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  if (to && steps != 0) {
    return Status::InvalidArgument("rollback: give a tree or steps, not both");
  }
  if (!to && steps == 0) steps = 1;
  if (expect) LP_RETURN_IF_ERROR(ParseExpect(*expect).status());
  LP_ASSIGN_OR_RETURN(std::string who, ActorOrDefault(actor));
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(RefState before, ReadRefState(*store, name));
  LP_RETURN_IF_ERROR(CheckExpect(*store, name, before, expect, "rolled back"));
  LP_ASSIGN_OR_RETURN(auto history, ReadHistory(*store, name));
  std::vector<const RefMove*> applied;
  for (const auto& e : history) {
    if (e.applied) applied.push_back(&e.move);
  }
  const std::string what = "ref '" + name + "' in store " + store->url();
  std::optional<Hash> target;
  if (to) {
    LP_ASSIGN_OR_RETURN(target, ResolveRef(*store, *to));
    bool named = false;
    for (const RefMove* m : applied)
      named |= m->from == target || m->to == target;
    if (!named) {
      return Status::InvalidArgument(what + " never named " +
                                     target->ToString() +
                                     " in its recorded history");
    }
  } else {
    if (steps > applied.size()) {
      return Status::InvalidArgument(
          what + ": cannot go back " + std::to_string(steps) +
          " moves; its history records " + std::to_string(applied.size()));
    }
    target = applied[applied.size() - steps]->from;
    if (!target) {
      return Status::InvalidArgument(what + " did not exist " +
                                     std::to_string(steps) +
                                     " moves ago (to remove it: tag --delete)");
    }
  }
  LP_RETURN_IF_ERROR(RequireTree(*store, *target));
  RefChange change{before.tree, target, before.tree != target};
  LP_RETURN_IF_ERROR(
      MoveRef(*store, name, target, before, RefOp::kRollback, who, Now()));
  return change;
}

Result<RefChange> DeleteRef(const std::string& store_url,
                            const std::string& name,
                            const std::optional<std::string>& expect,
                            const std::string& actor) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  if (expect) LP_RETURN_IF_ERROR(ParseExpect(*expect).status());
  LP_ASSIGN_OR_RETURN(std::string who, ActorOrDefault(actor));
  LP_ASSIGN_OR_RETURN(auto store, OpenStore(store_url));
  LP_ASSIGN_OR_RETURN(RefState before, ReadRefState(*store, name));
  LP_RETURN_IF_ERROR(CheckExpect(*store, name, before, expect, "deleted"));
  LP_RETURN_IF_ERROR(
      MoveRef(*store, name, std::nullopt, before, RefOp::kDelete, who, Now()));
  return RefChange{before.tree, std::nullopt, true};
}

}  // namespace lazypath
