// Reading a store without activating: list refs and trees, show a tree,
// read one file; and moving refs: point a ref at a tree, roll it back,
// delete it, and read its recorded history (lazypath/ref_history.h).
//
// Every tree is verified against its digest and every blob against its own
// digest before it is returned. Thread-safe.
#ifndef LAZYPATH_INSPECT_H_
#define LAZYPATH_INSPECT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/ref_history.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"
#include "lazypath/store.h"
#include "lazypath/tree.h"
#include "lazypath/tree_diff.h"

namespace lazypath {

struct StoreListing {
  std::vector<std::pair<std::string, Hash>> refs;  // sorted by name
  std::vector<Hash> trees;                         // sorted
};

Result<StoreListing> ListStore(const std::string& store_url);
// Fetches and verifies a tree; with its digest.
Result<Tree> FetchTree(Store& store, const Hash& tree);
Result<std::pair<Hash, Tree>> ShowTree(const std::string& store_url,
                                       const std::string& ref);
// The content of the file at `path` in the tree; symlinks are followed
// within the tree (at most 40 hops).
Result<std::string> CatFile(const std::string& store_url,
                            const std::string& ref, const std::string& path);
// The same file for reading at any size: its blob, verified, in the node
// cache at `cache_dir` ("" = the default; fetched there, streaming, if
// missing), opened read-only. Where the cache can't be written (a read-only
// mount), an unnamed temp file in $TMPDIR (else /tmp) holding the verified
// content instead. The caller owns `fd` (-1 for an empty file); it stays
// readable even if gc removes the blob afterwards.
struct OpenedFile {
  int fd = -1;
  uint64_t size = 0;
  Hash tree;
};
Result<OpenedFile> OpenFileInTree(const std::string& store_url,
                                  const std::string& ref,
                                  const std::string& path,
                                  const std::string& cache_dir);
// What changed from tree `from_ref` to tree `to_ref` (both verified), with
// their digests.
// Between two format 2 trees, subtrees with the same digest are skipped
// unread (ReadChangedFiles); blobs_new then counts against FROM's files in
// the directories read, so a blob FROM holds only in a skipped directory
// is counted as new.
struct RefDiff {
  Hash from, to;
  TreeDiff diff;
};
Result<RefDiff> DiffRefs(const std::string& store_url,
                         const std::string& from_ref,
                         const std::string& to_ref);
// The same with TO the tree a push of directory `dir` would make now
// (scanned with `scan`, using the node cache's stat cache at `cache_dir`
// when it can be opened; nothing is uploaded). `to` is that tree's digest.
Result<RefDiff> DiffRefAgainstDir(const std::string& store_url,
                                  const std::string& from_ref,
                                  const std::string& dir, ScanOptions scan,
                                  const std::string& cache_dir);
// Points ref `name` at the tree `ref` names, after checking the store holds
// that tree and its index. Returns the tree's digest. With `expect`, only if
// ref `name` now names that digest ("sha256:..."), or does not exist
// ("none"); Conflict otherwise. Without it, a ref moved by someone else
// between this call's read and write is still a Conflict (UpdateRef).
// Every move is recorded (MoveRef) as made by `actor` ("" = DefaultActor()).
Result<Hash> TagTree(const std::string& store_url, const std::string& ref,
                     const std::string& name,
                     const std::optional<std::string>& expect = std::nullopt,
                     const std::string& actor = "");

// The recorded moves of ref `name`, oldest first (ReadHistory); empty for
// a ref never moved by a recording writer.
Result<std::vector<HistoryEntry>> RefLog(const std::string& store_url,
                                         const std::string& name);

// A ref move as a verb made it: what the ref named before and after
// (nullopt: absent). `moved` is false when it already was as asked.
struct RefChange {
  std::optional<Hash> from;
  std::optional<Hash> to;
  bool moved = false;
};

// Moves ref `name` back to a tree it named before: with `to` (a REF, as
// ResolveRef reads it) that tree, which must be the `from` or `to` of an
// applied move in its history; else the tree it named `steps` applied
// moves ago (the `from` of the steps-th newest; steps >= 1). InvalidArgument
// when the history is too short, names no such tree, or the ref did not
// exist then; NotFound when the store lacks the tree or its index. The
// move is a compare-and-swap against the ref as read at the start (and
// `expect`, as in TagTree), and is recorded as a rollback.
Result<RefChange> RollbackRef(
    const std::string& store_url, const std::string& name,
    const std::optional<std::string>& to, uint64_t steps,
    const std::optional<std::string>& expect = std::nullopt,
    const std::string& actor = "");

// Removes ref `name` (NotFound when absent), recorded as a delete; with
// `expect`, only if it names that digest. The tree stays in the store.
Result<RefChange> DeleteRef(
    const std::string& store_url, const std::string& name,
    const std::optional<std::string>& expect = std::nullopt,
    const std::string& actor = "");

}  // namespace lazypath

#endif  // LAZYPATH_INSPECT_H_
