// Chunked files on a node: format 2 files over kChunkThreshold, assembled
// into the node cache's blobs under their content's digest (doc/format.md,
// "Format 2"), by eager and lazy activation alike.
//
// For each file it assembled, the cache keeps the chunk list
// (meta/<list>.chunks) beside the digest of the content (meta/<list>.content);
// the content is a blob while the cache holds it. An edited large file then
// fetches only the chunks it changed. Those metas are hints: a chunk read
// through them is verified against its digest before use, and a missing or
// damaged one costs a fetch, never a wrong byte.
//
// Thread safety: NodeChunks is immutable after construction; FetchChunkedFile
// may run concurrently for different files (each assembles into its own
// temporary file and adopts it atomically).
#ifndef LAZYPATH_CORE_CHUNKED_FILES_H_
#define LAZYPATH_CORE_CHUNKED_FILES_H_

#include <map>
#include <optional>
#include <string>

#include "core/tree_fetch.h"
#include "lazypath/digest.h"
#include "lazypath/node_cache.h"
#include "lazypath/status.h"
#include "lazypath/store.h"

namespace lazypath {

// The chunks of the files this node assembled before, found through the
// metas above when constructed.
class NodeChunks : public LocalChunks {
 public:
  explicit NodeChunks(const NodeCache& cache);
  bool Has(const Hash& chunk) const override { return at_.count(chunk) > 0; }
  // The bytes at the chunk's place in the assembled file, unverified;
  // nullopt when that file is gone (swept since) or short.
  std::optional<std::string> Read(const Chunk& chunk) const override;

 private:
  struct Where {
    std::string path;
    uint64_t offset;
  };
  std::map<Hash, Where> at_;
};

// Assembles chunked file `file` into the cache's blobs, from the chunks
// `local` holds and the rest fetched (each verified), and records its metas;
// returns the content's digest. A file the cache holds already (its
// .content meta names a cached blob of the file's size) is not assembled
// again; `*fetched` says which. Errors name the chunk and the file.
Result<Digest> FetchChunkedFile(Store& store, const FlatFile& file,
                                const NodeCache& cache,
                                const LocalChunks& local, bool* fetched);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_CHUNKED_FILES_H_
