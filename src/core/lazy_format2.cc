#include "core/lazy_format2.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "core/chunked_files.h"
#include "core/directory_cache.h"
#include "core/tree_paths.h"
#include "pack/index.h"
#include "pack/locator.h"
#include "util/python_name.h"

namespace lazypath {

namespace {

using tree_paths::Base;
using tree_paths::Child;
using tree_paths::Parent;

// Located frames of one push's directories sit side by side: read those
// this close together in one request.
constexpr uint64_t kDirectoryGapBytes = 64ull << 10;
// One directory's files sit side by side too; a prefilled __init__.py lives
// with its own package's files, elsewhere: never read what lies between.
constexpr uint64_t kFileGapBytes = 16ull << 10;

const DirEntry* FindEntry(const Directory& dir, std::string_view name,
                          size_t* index) {
  // Entries are sorted by name bytes.
  auto it = std::lower_bound(
      dir.entries.begin(), dir.entries.end(), name,
      [](const DirEntry& e, std::string_view n) { return e.name < n; });
  if (it == dir.entries.end() || it->name != name) return nullptr;
  *index = static_cast<size_t>(it - dir.entries.begin());
  return &*it;
}

// Placeholders are importable packages: the rule of materialization.h.
bool IsPackage(const DirEntry& e) {
  return IsModuleName(e.name) && (e.flags & kDirCode);
}

}  // namespace

Result<std::unique_ptr<LazyFormat2>> LazyFormat2::Open(const Hash& root,
                                                       std::string_view record,
                                                       const NodeCache& cache,
                                                       StoreFn store) {
  std::unique_ptr<LazyFormat2> t(new LazyFormat2());
  t->root_ = root;
  t->cache_ = &cache;
  t->store_ = std::move(store);
  LP_ASSIGN_OR_RETURN(LocatedDirectory top, DecodeRoot(root, record));
  t->dirs_.emplace("",
                   std::make_shared<const LocatedDirectory>(std::move(top)));
  t->record_ = std::string(record);
  return t;
}

Result<bool> LazyFormat2::Refresh() {
  LP_ASSIGN_OR_RETURN(Store * store, store_());
  LP_ASSIGN_OR_RETURN(std::string record, GetTreeObject(*store, root_));
  metadata_bytes_ += record.size();
  std::lock_guard<std::mutex> lock(mu_);
  if (record == record_) return false;
  LP_ASSIGN_OR_RETURN(LocatedDirectory top, DecodeRoot(root_, record));
  dirs_.clear();
  dirs_.emplace("", std::make_shared<const LocatedDirectory>(std::move(top)));
  (void)cache_->PutMeta(root_, ".record", record);  // best effort
  record_ = std::move(record);
  return true;
}

Result<std::vector<LazyFormat2::DirPtr>> LazyFormat2::ReadChildren(
    const std::vector<ChildRef>& refs) {
  std::vector<DirPtr> out(refs.size());
  std::vector<ChildRef> from_store;
  std::vector<size_t> where;
  const NodeDirectoryCache held(*cache_);
  for (size_t k = 0; k < refs.size(); ++k) {
    if (auto d = held.Find(*refs[k].parent, refs[k].index)) {
      out[k] = std::make_shared<const LocatedDirectory>(std::move(*d));
      continue;
    }
    from_store.push_back(refs[k]);
    where.push_back(k);
  }
  if (from_store.empty()) return out;  // no store needed
  LP_ASSIGN_OR_RETURN(Store * store, store_());
  TreeReadStats stats;
  LP_ASSIGN_OR_RETURN(
      auto read, ReadChildDirectories(*store, from_store, kDirectoryGapBytes, 4,
                                      &stats, &held));
  metadata_bytes_ += stats.bytes;
  for (size_t j = 0; j < read.size(); ++j) {
    out[where[j]] =
        std::make_shared<const LocatedDirectory>(std::move(read[j]));
  }
  return out;
}

Result<LazyFormat2::DirPtr> LazyFormat2::Dir(std::string_view rel) {
  if (auto it = dirs_.find(rel); it != dirs_.end()) return it->second;
  DirPtr parent;
  LP_ASSIGN_OR_RETURN(const DirEntry* e, EntryOf(rel, &parent));
  if (!e || e->kind != DirKind::kDirectory) return DirPtr();
  size_t i = static_cast<size_t>(e - parent->dir.entries.data());
  LP_ASSIGN_OR_RETURN(auto read, ReadChildren({ChildRef{parent.get(), i}}));
  dirs_.emplace(std::string(rel), read[0]);
  return read[0];
}

Result<const DirEntry*> LazyFormat2::EntryOf(std::string_view rel,
                                             DirPtr* parent) {
  if (rel.empty()) return static_cast<const DirEntry*>(nullptr);
  LP_ASSIGN_OR_RETURN(*parent, Dir(Parent(rel)));
  if (!*parent) return static_cast<const DirEntry*>(nullptr);
  size_t i = 0;
  return FindEntry((*parent)->dir, Base(rel), &i);
}

Status LazyFormat2::SetOnDemand(const std::vector<std::string>& dirs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string, std::less<>> out;
  for (std::string d : dirs) {
    while (!d.empty() && d.back() == '/') d.pop_back();
    if (d.empty()) continue;
    DirPtr parent;
    LP_ASSIGN_OR_RETURN(const DirEntry* e, EntryOf(d, &parent));
    if (!e || e->kind != DirKind::kDirectory) continue;
    if (IsPackage(*e)) {
      return Status::InvalidArgument(
          "on-demand directory '" + d + "' of tree " + root_.ToString() +
          " holds Python code: it is fetched when imported already");
    }
    out.insert(std::move(d));
  }
  on_demand_ = std::move(out);
  return Status::OK();
}

Result<bool> LazyFormat2::IsDirectory(std::string_view rel) {
  std::lock_guard<std::mutex> lock(mu_);
  if (rel.empty() || dirs_.count(rel)) return true;
  DirPtr parent;
  LP_ASSIGN_OR_RETURN(const DirEntry* e, EntryOf(rel, &parent));
  return e && e->kind == DirKind::kDirectory;
}

Result<std::vector<std::string>> LazyFormat2::Subdirs(std::string_view rel) {
  std::lock_guard<std::mutex> lock(mu_);
  LP_ASSIGN_OR_RETURN(DirPtr d, Dir(rel));
  if (!d) {
    return Status::NotFound("'" + std::string(rel) +
                            "' is not a directory of tree " + root_.ToString());
  }
  std::vector<std::string> out;
  for (const DirEntry& e : d->dir.entries) {
    if (e.kind == DirKind::kDirectory) out.push_back(e.name);
  }
  return out;
}

Result<LazyFormat2::Plan> LazyFormat2::PlanDir(std::string_view rel) {
  std::lock_guard<std::mutex> lock(mu_);
  LP_ASSIGN_OR_RETURN(DirPtr top, Dir(rel));
  if (!top) {
    return Status::NotFound("'" + std::string(rel) +
                            "' is not a directory of tree " + root_.ToString());
  }
  Plan plan;
  const std::string strip = rel.empty() ? "" : std::string(rel) + "/";
  auto relative = [&](std::string path) { return path.substr(strip.size()); };
  // Level by level: the directory, then the subdirectories that come with
  // it in full, each level's objects read in one batch.
  std::vector<DirPtr> level{top};
  while (!level.empty()) {
    std::vector<ChildRef> full;
    for (const DirPtr& d : level) {
      for (size_t i = 0; i < d->dir.entries.size(); ++i) {
        const DirEntry& e = d->dir.entries[i];
        if (e.kind != DirKind::kDirectory) {
          LP_ASSIGN_OR_RETURN(FlatFile f, LocateFile(*d, i));
          f.path = relative(std::move(f.path));
          plan.files.push_back(std::move(f));
          continue;
        }
        LP_ASSIGN_OR_RETURN(std::string path, ChildPath(d->path, e.name));
        if (on_demand_.count(path)) {
          plan.dirs.push_back({relative(path), true});
        } else if (IsPackage(e)) {
          plan.dirs.push_back({relative(path), true});
          if (!(e.flags & kDirInit)) continue;
          FlatFile init;
          LP_ASSIGN_OR_RETURN(init.path, ChildPath(path, "__init__.py"));
          init.path = relative(std::move(init.path));
          const Slot& slot = d->locator.slots[i];
          if (e.init_size > kChunkThreshold) {
            // Its chunk list is located in the child: read the child.
            LP_ASSIGN_OR_RETURN(DirPtr child, Dir(path));
            size_t k = 0;
            if (!child || !FindEntry(child->dir, "__init__.py", &k)) {
              return Status::Corrupt("directory " + e.hash.ToString() +
                                     " has no __init__.py its parent claims");
            }
            LP_ASSIGN_OR_RETURN(FlatFile f, LocateFile(*child, k));
            init.entry = f.entry;
            init.location = f.location;
            init.lsize = f.lsize;
          } else {
            init.entry.kind = DirKind::kFile;
            init.entry.name = "__init__.py";
            init.entry.size = e.init_size;
            init.entry.hash = e.init_hash;
            if (e.init_size > 0) {
              init.location.pack = d->locator.PackOf(slot.init, d->holding);
              init.location.frame =
                  FrameRef{slot.init.offset, slot.init.length, slot.init.codec};
              init.location.size = e.init_size;
            }
          }
          plan.files.push_back(std::move(init));
        } else {
          plan.dirs.push_back({relative(path), false});
          full.push_back(ChildRef{d.get(), i});
        }
      }
    }
    LP_ASSIGN_OR_RETURN(auto read, ReadChildren(full));
    for (const DirPtr& d : read) dirs_.emplace(d->path, d);
    level = std::move(read);
  }
  return plan;
}

Result<std::vector<TreeEntry>> LazyFormat2::Fetch(
    const std::vector<FlatFile>& files, int threads, FetchCounters* counters) {
  std::vector<TreeEntry> out(files.size());
  Index index;
  index.tree = root_;
  std::vector<Hash> missing;
  std::optional<NodeChunks> local;
  const Digest empty = HashBytes("");
  for (size_t i = 0; i < files.size(); ++i) {
    const FlatFile& f = files[i];
    TreeEntry& e = out[i];
    e.path = f.path;
    if (f.entry.kind == DirKind::kSymlink) {
      e.kind = EntryKind::kSymlink;
      e.target = f.entry.target;
      e.blob = HashBytes(e.target);
      continue;
    }
    e.kind = f.entry.kind == DirKind::kExecutable ? EntryKind::kExecutable
                                                  : EntryKind::kFile;
    if (f.entry.size == 0) {
      e.blob = empty;
    } else if (f.entry.chunked()) {
      if (!local) local.emplace(*cache_);
      LP_ASSIGN_OR_RETURN(Store * store, store_());
      bool fetched = false;
      uint64_t before = store->stats().bytes_read.load();
      LP_ASSIGN_OR_RETURN(
          e.blob, FetchChunkedFile(*store, f, *cache_, *local, &fetched));
      if (fetched) {
        counters->blobs++;
        counters->bytes += store->stats().bytes_read.load() - before;
      }
    } else {
      e.blob = Digest{f.entry.hash, f.entry.size};
      if (!cache_->HasBlob(f.entry.hash) &&
          index.blobs.emplace(f.entry.hash, f.location).second) {
        missing.push_back(f.entry.hash);
      }
    }
  }
  if (!missing.empty()) {
    LP_ASSIGN_OR_RETURN(Store * store, store_());
    LP_RETURN_IF_ERROR(FetchBlobs(*store, index, missing, *cache_, threads, {},
                                  counters, kFileGapBytes));
  }
  return out;
}

}  // namespace lazypath
