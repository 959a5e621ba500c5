// Tree: the canonical list of a directory's entries, and its digest.
//
// A tree lists regular files, executable files and symlinks by path relative
// to the tree root. Directories are implied by the paths (empty directories
// are not recorded). The byte form is specified in doc/format.md; the same
// entries always serialise to the same bytes, so the same content always has
// the same digest, whatever the mtimes, scan order or umask.
//
// Parse() accepts only canonical bytes and validates every entry (see
// Validate), because tree bytes come from a store and may be hostile.
//
// Thread safety: a Tree is a value; const methods may run concurrently.
#ifndef LAZYPATH_TREE_H_
#define LAZYPATH_TREE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"

namespace lazypath {

enum class EntryKind : char {
  kFile = 'f',
  kExecutable = 'x',
  kSymlink = 'l',
};

struct TreeEntry {
  std::string path;  // UTF-8, '/'-separated, relative, normalised
  EntryKind kind = EntryKind::kFile;
  // Files: the blob. Symlinks: the digest of the target string.
  Digest blob;
  std::string target;  // symlinks only: relative target, as readlink(2) gives
  bool operator==(const TreeEntry&) const = default;
};

// Limits that bound the work a hostile tree can cause.
inline constexpr uint64_t kMaxTreeBytes = 512ull << 20;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;
inline constexpr size_t kMaxDepth = 128;
inline constexpr size_t kMaxEntries = 10'000'000;

class Tree {
 public:
  Tree() = default;
  // Sorts `entries` by path bytes. Does not validate; call Validate().
  explicit Tree(std::vector<TreeEntry> entries);

  const std::vector<TreeEntry>& entries() const { return entries_; }
  // Checks every rule of doc/format.md: paths are valid UTF-8, relative,
  // normalised, within the limits above, strictly increasing (so unique),
  // no entry is also a parent directory of another, and every symlink target
  // is relative and stays inside the tree, even when followed through the
  // tree's other symlinks; no two paths (or the directories they imply) are
  // equal after Unicode NFC and case folding, as they would be on APFS, NTFS
  // or casefolded ext4. Errors name the offending path.
  Status Validate() const;
  std::string Serialize() const;
  Digest digest() const;  // of Serialize()
  // Parses canonical tree bytes and validates them. `what` names the source
  // in errors (a digest or a store URL).
  static Result<Tree> Parse(std::string_view bytes, std::string_view what);
  uint64_t TotalSize() const;  // sum of file sizes

 private:
  std::vector<TreeEntry> entries_;
};

// Checks a single relative path as Validate() does.
Status ValidateTreePath(std::string_view path);
// Whether a symlink at `path` with `target` resolves (lexically) inside the
// tree root.
bool SymlinkStaysInside(std::string_view path, std::string_view target);

}  // namespace lazypath

#endif  // LAZYPATH_TREE_H_
