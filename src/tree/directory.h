// Directory objects: format 2's Merkle tree, one object per directory.
//
// A directory object lists one directory's entries sorted by name bytes:
// files, executable files, symlinks and subdirectories. A subdirectory
// entry names the child's object by SHA-256 and size and carries aggregates
// of the child's whole subtree (how many entries and bytes, whether it holds
// code, its __init__.py), so a reader can plan a fetch, or prefill a package,
// without reading the child. The root object's digest is the tree digest
// users see; an edit rewrites only the objects on its path. The byte form is
// specified in doc/format.md ("Format 2").
//
// Parse accepts only canonical bytes and checks every rule that one object
// can be checked against alone, because directory objects come from a store
// and may be hostile. CheckChild (or ParseChild) checks a parent's claims
// about a child once the child is read. Errors are one-line Corrupt statuses
// naming the object (its digest, or the caller's `what`) and the cause.
//
// Thread safety: values; const methods may run concurrently.
#ifndef LAZYPATH_TREE_DIRECTORY_H_
#define LAZYPATH_TREE_DIRECTORY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"
#include "tree/chunker.h"
#include "util/format2.h"

namespace lazypath {

enum class DirKind : char {
  kFile = 'f',
  kExecutable = 'x',
  kSymlink = 'l',
  kDirectory = 'd',
};

// Flags of a subdirectory entry.
inline constexpr uint8_t kDirCode = 1;  // a .py/.pyc/.so/.pyd file beneath
inline constexpr uint8_t kDirInit = 2;  // the child holds a file __init__.py

inline constexpr size_t kMaxDirectoryEntries = 1'000'000;
inline constexpr uint64_t kMaxDirectoryBytes = kMaxObjectBytes;
inline constexpr size_t kMaxSymlinkTargetBytes = 4095;
// "LZD2" and a count of 0: the root of an empty tree.
inline constexpr uint64_t kEmptyDirectoryBytes = 5;
// A child object holds at least one entry: a subdirectory is never empty.
inline constexpr uint64_t kMinChildDirectoryBytes = 9;

struct DirEntry {
  DirKind kind = DirKind::kFile;
  std::string name;  // 1-255 bytes of UTF-8; no '/', no NUL, not . or ..
  // Files: the file's size. Directories: the child object's byte length.
  uint64_t size = 0;
  // Files of size > 0: the blob's SHA-256, or for a chunked file (size >
  // kChunkThreshold) its chunk list's. Directories: the child object's.
  Hash hash;
  uint64_t list_size = 0;  // chunked files: the chunk list's byte length
  std::string target;      // symlinks: relative, 1-4095 bytes
  // Directories: aggregates of the child's whole subtree.
  uint64_t entries = 0;  // its non-directory entries (>= 1)
  uint64_t bytes = 0;    // the total size of its files
  uint8_t flags = 0;     // kDirCode | kDirInit
  // kDirInit: the size and hash fields of the child's __init__.py entry.
  uint64_t init_size = 0;
  Hash init_hash;

  bool is_file() const {
    return kind == DirKind::kFile || kind == DirKind::kExecutable;
  }
  bool chunked() const { return is_file() && size > kChunkThreshold; }
  // A directory whose locator slot carries its __init__.py as an init frame
  // (SlotType::kLocatedInit): a non-empty one no larger than kChunkThreshold.
  bool init_framed() const {
    return kind == DirKind::kDirectory && (flags & kDirInit) && init_size > 0 &&
           init_size <= kChunkThreshold;
  }
  bool operator==(const DirEntry&) const = default;
};

class Directory {
 public:
  std::vector<DirEntry> entries;

  // The canonical bytes, entries in the order held. Fields an entry's kind
  // does not encode are ignored (Parse leaves them zero).
  std::string Serialize() const;
  // Checks every local rule: entry count, names, strictly increasing name
  // bytes, no two names equal after NFC and case folding, field ranges and
  // flags, and that each symlink stays inside the tree when this directory
  // sits at `depth` (the root is 0). Does not check the serialised size.
  Status Validate(size_t depth, std::string_view what) const;
  // Parses and validates canonical bytes of a directory at `depth`.
  static Result<Directory> Parse(std::string_view bytes, size_t depth,
                                 std::string_view what);

  // The entry a parent holds for this directory under `name`, when this
  // directory's object has digest `self`. Fails if the aggregates overflow.
  Result<DirEntry> EntryFor(std::string name, const Digest& self) const;
  // Whether a parent's entry agrees with the child it names: entries, bytes
  // and CODE as computed from the child's entries and its own subdirectory
  // claims, INIT and the __init__.py fields as the child holds them. Does
  // not check the digest (ParseChild does).
  static Status CheckChild(const DirEntry& claim, const Directory& child);
  // Verifies `bytes` against the claim's hash and size, parses them as a
  // directory at `depth` and runs CheckChild. Errors name the digest.
  static Result<Directory> ParseChild(const DirEntry& claim,
                                      std::string_view bytes, size_t depth);

  // The slot each entry needs in this directory's locator, in entry order:
  // none for symlinks and empty files, a frame for other files, a located
  // frame for chunked files (their chunk list) and subdirectories, and a
  // located frame plus an init frame for a subdirectory whose __init__.py
  // is one non-empty blob.
  std::vector<SlotShape> SlotShapes() const;
};

// "dir/name" ("name" under the root ""), refused with Corrupt when the path
// would exceed kMaxDepth components or kMaxPathBytes bytes. Readers that
// descend call it for every directory they enter.
Result<std::string> ChildPath(std::string_view dir_path, std::string_view name);

struct BuiltDirectory {
  std::string bytes;
  Digest digest;
  Directory dir;
  size_t depth = 0;  // the root is 0
};

struct DirectorySet {
  std::map<std::string, BuiltDirectory> dirs;  // by path; "" is the root
  Digest root;  // the tree digest: the root object's SHA-256 and size
};

// One entry of a flat tree listing as the builder takes it: a format 1
// entry, plus the chunk list of a file over kChunkThreshold (hash and byte
// length of its chunk list object; zero for every other entry).
struct FlatEntry {
  TreeEntry entry;
  Digest chunk_list;
};

// Builds the directory objects of a whole tree, bottom up, from its flat
// entries in any order. A file's size and hash come from `entry.blob`;
// a file over kChunkThreshold must carry its chunk list, and no other may
// (InvalidArgument). Refuses, naming the path, everything Validate refuses:
// bad paths, a path that is both a file and a directory, colliding names,
// escaping symlinks. The root of an empty tree is the empty directory object.
Result<DirectorySet> BuildDirectories(const std::vector<FlatEntry>& entries);
// The same for a tree without chunked files.
Result<DirectorySet> BuildDirectories(const std::vector<TreeEntry>& entries);

}  // namespace lazypath

#endif  // LAZYPATH_TREE_DIRECTORY_H_
