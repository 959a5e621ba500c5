// Store: where trees, indexes, packs and refs live.
//
// A Store is a flat key space of immutable objects (trees, indexes, packs,
// named by digest) plus mutable refs. Keys are '/'-separated and built only by
// the helpers below; doc/format.md gives the layout. Every Put is atomic: a
// reader sees the whole object or none of it.
//
// OpenStore picks the implementation from the URL scheme: file:// or a plain
// path (the embedded default; any local or mounted directory), s3://bucket/
// prefix (S3 and compatibles, src/store/s3_store.h), gs://bucket/prefix
// (Google Cloud Storage, src/store/gcs_store.h) and https://host/prefix
// (read-only, any static server with Range support; it cannot be listed,
// src/store/http_store.h). Unknown schemes fail with InvalidArgument naming
// the scheme, never the rest of the URL.
//
// Errors name the store URL (never a credential) and the key.
//
// Thread safety: all methods may be called concurrently from many threads.
#ifndef LAZYPATH_STORE_H_
#define LAZYPATH_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"

namespace lazypath {

using ByteSink = std::function<Status(std::string_view)>;

// An object's bytes and its version: an opaque token that changes whenever
// the object is replaced (S3's ETag, GCS's generation, a content digest in a
// file store).
struct VersionedObject {
  std::string data;
  std::string version;
};

// Traffic counters, updated by every store call.
struct StoreStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> bytes_written{0};
  // Request body bytes as they leave (PUT bodies as libcurl reads them, POST
  // bodies per request), retried attempts included; for live
  // upload progress (bytes_written counts completed objects only).
  std::atomic<uint64_t> bytes_sent{0};
};

class Store {
 public:
  virtual ~Store() = default;
  // The URL as the user gave it, with any credential removed.
  virtual const std::string& url() const = 0;
  // The whole object. NotFound when absent; Corrupt when over `max_size`.
  virtual Result<std::string> Get(const std::string& key,
                                  uint64_t max_size) = 0;
  // Streams [offset, offset+length) of an object to `sink`; fails if the
  // object is shorter. `sink` runs on the calling thread.
  virtual Status GetRange(const std::string& key, uint64_t offset,
                          uint64_t length, const ByteSink& sink) = 0;
  // Atomically creates or replaces an object.
  virtual Status Put(const std::string& key, std::string_view data) = 0;
  // Same, streaming the content of a local file.
  virtual Status PutFile(const std::string& key, const std::string& path) = 0;
  // A directory on the store's own file system where a caller may assemble
  // a file for AdoptFile, or "" when the store has none (remote stores).
  virtual std::string StagingDir() { return ""; }
  // Same as PutFile, but the store may take the file itself (a local store
  // renames it into place): afterwards `path` may be gone, and the caller
  // removes it only if it is still there. The file must be fsynced already.
  virtual Status AdoptFile(const std::string& key, const std::string& path) {
    return PutFile(key, path);
  }
  virtual Result<bool> Exists(const std::string& key) = 0;
  // Every key beginning with `prefix`, sorted.
  virtual Result<std::vector<std::string>> List(const std::string& prefix) = 0;

  // Conditional writes, used for refs. GetVersioned is Get plus the
  // object's version. PutIfVersion writes `data` only if the object is still
  // at `expected_version`, or is absent when `expected_version` is empty;
  // otherwise Conflict naming the key. Stores that cannot check and write
  // atomically return Unsupported from both (the defaults).
  virtual Result<VersionedObject> GetVersioned(const std::string& key,
                                               uint64_t max_size);
  virtual Status PutIfVersion(const std::string& key, std::string_view data,
                              const std::string& expected_version);
  // Removes an object; an absent one is success. DeleteIfVersion removes it
  // only if it is still at `expected_version` (not empty), else Conflict
  // naming the key (an absent object included). Read-only stores and the
  // defaults return Unsupported. Stores without conditional deletes send the
  // condition where the service may honour it (S3's If-Match).
  virtual Status Delete(const std::string& key);
  virtual Status DeleteIfVersion(const std::string& key,
                                 const std::string& expected_version);

  StoreStats& stats() { return stats_; }

 private:
  StoreStats stats_;
};

struct StoreOptions {
  // Create the store's root if it does not exist (pushes do; reads don't).
  bool create = false;
};

Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         const StoreOptions& options = {});
// The local path a file:// URL names: "file:///p" or "file://localhost/p",
// percent-decoded (%20 is a space). InvalidArgument for anything else
// (a host, a relative path, a query, a bad or NUL escape).
Result<std::string> FileUrlPath(std::string_view url);

// Keys of the store layout (doc/format.md).
std::string TreeKey(const Hash& tree);
std::string IndexKey(const Hash& tree);
std::string PackKey(const Hash& pack);
std::string RefKey(std::string_view name);
inline constexpr std::string_view kTreePrefix = "trees/";
inline constexpr std::string_view kIndexPrefix = "indexes/";
inline constexpr std::string_view kPackPrefix = "packs/";
inline constexpr std::string_view kRefPrefix = "refs/";

// A ref name is 1-200 bytes of [A-Za-z0-9._-] in '/'-separated components,
// none empty, "." or "..", and none starting with '.'.
Status ValidateRefName(std::string_view name);
// Reads refs/<name>: NotFound naming the ref and the store when absent.
Result<Hash> ReadRef(Store& store, std::string_view name);
// Unconditionally moves ref `name` to `tree` (last writer wins).
Status WriteRef(Store& store, std::string_view name, const Hash& tree);

// What a ref pointed at when read, for a later compare-and-swap.
struct RefState {
  std::optional<Hash> tree;  // nullopt: the ref did not exist
  std::string version;       // the store's version token of refs/<name>
  bool conditional = false;  // whether the store supports conditional writes
};
Result<RefState> ReadRefState(Store& store, std::string_view name);
// Moves ref `name` to `tree` only if it still is as `seen` recorded: a ref
// that moved meanwhile fails with Conflict naming the ref, the tree it now
// names and the one expected. A ref that already names `tree` is success.
// On a store without conditional writes (seen.conditional false) this is
// WriteRef: the last of two racing writers wins, and both trees are whole.
Status UpdateRef(Store& store, std::string_view name, const Hash& tree,
                 const RefState& seen);
// What a REF a user typed names: a full digest ("sha256:<64 hex>") as it
// is; else the ref of that name, if the store has one; else, for a digest
// prefix ("sha256:" and at least kMinDigestPrefix hex digits, or the bare
// hex digits, as git accepts), the one tree whose digest starts with it.
// NotFound naming REF and the store when nothing matches; InvalidArgument
// listing the candidates when a prefix matches several trees.
inline constexpr size_t kMinDigestPrefix = 4;
Result<Hash> ResolveRef(Store& store, std::string_view ref);
// The serialized ref document for `tree` ("sha256:<hex>\n") and its parser.
std::string SerializeRef(const Hash& tree);
Result<Hash> ParseRef(std::string_view bytes, std::string_view what);

}  // namespace lazypath

#endif  // LAZYPATH_STORE_H_
