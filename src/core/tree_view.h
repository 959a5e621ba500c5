// A tree as the inspecting verbs see it (show, ls, cat, diff, open_file),
// whatever format the store holds it in: its entries flat, in path order,
// and a way to read each file's verified content.
//
// Format 1 trees are read from trees/<hex> and their index; format 2 trees
// (told apart by the tree record's magic) by walking their directory
// objects (tree_fetch.h). In a format 2 view a chunked file's entry carries
// its chunk list's hash and the file's size as its blob digest: the digest
// the tree itself names it by.
//
// Thread safety: values; functions are reentrant.
#ifndef LAZYPATH_CORE_TREE_VIEW_H_
#define LAZYPATH_CORE_TREE_VIEW_H_

#include <map>
#include <string>

#include "codec/codec.h"
#include "core/tree_fetch.h"
#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"

namespace lazypath {

class Store;

struct TreeView {
  Hash digest;
  int format = 1;
  Tree tree;
  // Format 2: where each non-empty file's bytes are, by path.
  std::map<std::string, FlatFile> files;
};

// A format 2 entry as a view lists it (see above).
TreeEntry ViewEntry(const FlatFile& f);

// Reads and verifies tree `digest`. NotFound names the tree and the store.
Result<TreeView> LoadTreeView(Store& store, const Hash& digest,
                              int threads = 8);

// Streams the verified content of `entry` (a file of `view`) to `sink`.
// The sink may see bytes before they are verified; the content is good
// only if this returns OK.
Status StreamEntry(Store& store, const TreeView& view, const TreeEntry& entry,
                   const ByteSink& sink);

// The same into memory.
Result<std::string> ReadEntry(Store& store, const TreeView& view,
                              const TreeEntry& entry);

// Whether the store holds tree `digest` whole enough to activate: format 1
// needs its tree and index, format 2 its tree record.
Result<bool> HasTree(Store& store, const Hash& digest);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_TREE_VIEW_H_
