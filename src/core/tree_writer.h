// Writes one tree into a store in format 2 (doc/format.md, "Format 2"):
// the blobs, chunks, chunk lists and directory objects the store lacks, as
// frames and located frames in packs, then the push's locations object,
// then the tree record. The ref is the caller's.
//
// What is new is decided top down against KnownObjects: a directory the
// store already holds is reused whole, without descending, so an edit
// writes the directories on its path and the files that changed. A push's
// new files are written directory by directory, and then the located frames
// of its new directories, deepest first, side by side: a reader walking
// the tree reads them in few range reads.
//
// Write order: packs, then locs/<hex>, then trees/<root>; each Put is
// atomic, so a reader that finds the tree record finds everything it names,
// and a failure leaves at most unreferenced packs and locations. A source
// file that no longer matches its digest fails the write, naming the file.
//
// Files and chunks are read, checked and encoded on `threads` threads, up
// to 64 MiB ahead of the pack, and appended in order by the calling
// thread: the packs are the same whatever the thread count.
//
// Thread safety: reentrant; the callbacks run on the calling thread.
#ifndef LAZYPATH_CORE_TREE_WRITER_H_
#define LAZYPATH_CORE_TREE_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "lazypath/digest.h"
#include "lazypath/scan.h"
#include "lazypath/status.h"
#include "pack/known_objects.h"
#include "pack/locator.h"
#include "pack/pack.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

class Env;
class Store;

struct TreeInput {
  const DirectorySet* dirs = nullptr;  // BuildDirectories of the tree
  // The file each non-empty file entry is read from, by tree path.
  std::map<std::string, std::string> sources;
  // The chunk list of each chunked file, by the list's hash.
  std::map<Hash, ChunkList> chunk_lists;
  // By tree path, the files (and chunk lists) known to hold the bytes the
  // scan hashed as long as the file keeps this stamp (lazypath/scan.h): a
  // file read with its stamp unchanged is not hashed again. Any other file
  // is hashed as it is read, and refused if it no longer matches.
  std::map<std::string, FileStamp> stamps;
};

struct TreeWriteOptions {
  int level = kDefaultLevel;  // zstd level
  int threads = 0;            // readers and encoders; 0: one per core
  std::string temp_dir;       // where packs are assembled; emptied again
  Env* env = nullptr;         // for removing temporary files; never nullptr
  std::function<void(uint64_t)> on_bytes;  // file bytes as they are packed
  std::function<void(uint64_t)> on_pack;   // a pack of n bytes is uploading
};

struct WrittenTree {
  Digest root;
  uint64_t dirs_written = 0;  // located directory frames
  uint64_t blobs_written = 0;
  uint64_t chunks_written = 0;
  uint64_t chunk_lists_written = 0;
  uint64_t packs = 0;
  // Everything this push added, as recorded in locs/<hex> (empty, and no
  // object written, when it added nothing but the tree record).
  Locations locations;
  std::string locations_key;
};

// Writes the tree of `input` into `store`. `known` says what the store
// holds; the objects written are added to it, so a caller pushing several
// trees can pass the same set on.
Result<WrittenTree> WriteTree(Store& store, const TreeInput& input,
                              KnownObjects& known,
                              const TreeWriteOptions& options);

// The store keys of format 2's own objects.
std::string LocationsKey(const Hash& locations);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_TREE_WRITER_H_
