#include "core/tree_view.h"

#include "core/fetch.h"
#include "lazypath/store.h"

namespace lazypath {

TreeEntry ViewEntry(const FlatFile& f) {
  TreeEntry e;
  e.path = f.path;
  if (f.entry.kind == DirKind::kSymlink) {
    e.kind = EntryKind::kSymlink;
    e.target = f.entry.target;
    e.blob = HashBytes(e.target);
  } else {
    e.kind = f.entry.kind == DirKind::kExecutable ? EntryKind::kExecutable
                                                  : EntryKind::kFile;
    e.blob =
        f.entry.size == 0 ? HashBytes("") : Digest{f.entry.hash, f.entry.size};
  }
  return e;
}

Result<TreeView> LoadTreeView(Store& store, const Hash& digest, int threads) {
  TreeView view;
  view.digest = digest;
  LP_ASSIGN_OR_RETURN(std::string record, GetTreeObject(store, digest));
  if (!IsTreeRecord(record)) {
    LP_ASSIGN_OR_RETURN(view.tree,
                        ParseTreeVerified(record, digest, store.url()));
    return view;
  }
  view.format = 2;
  LP_ASSIGN_OR_RETURN(auto files,
                      ReadWholeTree(store, digest, record, threads, nullptr));
  std::vector<TreeEntry> entries;
  entries.reserve(files.size());
  for (FlatFile& f : files) {
    entries.push_back(ViewEntry(f));
    if (f.entry.is_file() && f.entry.size > 0) {
      view.files.emplace(f.path, std::move(f));
    }
  }
  view.tree = Tree(std::move(entries));
  LP_RETURN_IF_ERROR(
      view.tree.Validate().WithContext("tree " + digest.ToString()));
  return view;
}

Status StreamEntry(Store& store, const TreeView& view, const TreeEntry& entry,
                   const ByteSink& sink) {
  if (entry.kind == EntryKind::kSymlink || entry.blob.size == 0) {
    return Status::OK();
  }
  if (view.format == 1) {
    LP_ASSIGN_OR_RETURN(Index index, FetchIndex(store, view.digest));
    return StreamBlob(store, index, entry.blob, sink);
  }
  auto it = view.files.find(entry.path);
  if (it == view.files.end()) {
    return Status::NotFound("'" + entry.path + "' is not a file in tree " +
                            view.digest.ToString());
  }
  const FlatFile& f = it->second;
  if (f.entry.chunked()) return ReadChunkedFile(store, f, sink);
  Index one;
  one.tree = view.digest;
  one.blobs.emplace(f.entry.hash, f.location);
  return StreamBlob(store, one, entry.blob, sink);
}

Result<std::string> ReadEntry(Store& store, const TreeView& view,
                              const TreeEntry& entry) {
  std::string out;
  LP_RETURN_IF_ERROR(StreamEntry(store, view, entry, [&](std::string_view b) {
    out.append(b);
    return Status::OK();
  }));
  return out;
}

Result<bool> HasTree(Store& store, const Hash& digest) {
  LP_ASSIGN_OR_RETURN(bool has_tree, store.Exists(TreeKey(digest)));
  if (!has_tree) return false;
  LP_ASSIGN_OR_RETURN(bool has_index, store.Exists(IndexKey(digest)));
  if (has_index) return true;
  std::string magic;
  Status s = store.GetRange(TreeKey(digest), 0, 4, [&](std::string_view b) {
    magic.append(b);
    return Status::OK();
  });
  if (!s.ok()) return false;
  return IsTreeRecord(magic);
}

}  // namespace lazypath
