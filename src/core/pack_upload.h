// PackUpload: the packs a push writes, each assembled in a temporary file
// and put into the store whole, one after another. The file is assembled
// in the store's StagingDir when it has one (a file store: then the
// finished pack is renamed into place, not copied), else in `temp_dir`.
//
// Writer() hands out the pack to append to; once that pack has reached
// `target_bytes` it is finished (fsynced, named by its digest), put into
// the store as packs/<hex> and a new one begun, before the next append.
// `on_finished` then learns the finished pack's digest, so a caller can
// name the frames it appended by pack. A temporary file never outlives the
// PackUpload, whatever fails; the store only ever sees whole packs.
//
// Thread safety: one thread at a time.
#ifndef LAZYPATH_CORE_PACK_UPLOAD_H_
#define LAZYPATH_CORE_PACK_UPLOAD_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "pack/pack.h"

namespace lazypath {

class Env;
class Store;

struct PackUploadOptions {
  std::string temp_dir;       // where packs are assembled
  int level = kDefaultLevel;  // zstd level of frames the writer encodes
  Env* env = nullptr;         // for removing temporary files; never nullptr
  uint64_t target_bytes = kPackTargetBytes;
  std::function<void(uint64_t)> on_pack;  // a pack of n bytes is uploading
  std::function<void(const Digest&)> on_finished;  // ... and is in the store
};

class PackUpload {
 public:
  PackUpload(Store& store, PackUploadOptions options);
  ~PackUpload();
  PackUpload(const PackUpload&) = delete;
  PackUpload& operator=(const PackUpload&) = delete;

  // The pack to append to, after putting a full one into the store.
  Result<PackWriter*> Writer();
  // Puts the current pack, if any, into the store.
  Status Finish();
  bool open() const { return writer_.has_value(); }

 private:
  Store& store_;
  PackUploadOptions options_;
  std::optional<PackWriter> writer_;
  std::string tmp_;
};

}  // namespace lazypath

#endif  // LAZYPATH_CORE_PACK_UPLOAD_H_
