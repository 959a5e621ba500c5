#include "core/pack_upload.h"

#include <utility>

#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

PackUpload::PackUpload(Store& store, PackUploadOptions options)
    : store_(store), options_(std::move(options)) {}

PackUpload::~PackUpload() {
  if (writer_) (void)options_.env->Unlink(tmp_);
}

Result<PackWriter*> PackUpload::Writer() {
  if (writer_ && writer_->size() >= options_.target_bytes) {
    LP_RETURN_IF_ERROR(Finish());
  }
  if (!writer_) {
    // Assembled where the store can take the file as it is, if it can.
    std::string dir = store_.StagingDir();
    tmp_ =
        fs::TempName(fs::Join(dir.empty() ? options_.temp_dir : dir, "pack"));
    // In the store, writing the pack is the put: errors say so.
    const std::string context = "store " + store_.url() + ": put packs/";
    auto w = PackWriter::Create(tmp_, options_.level);
    if (!w.ok()) {
      return dir.empty() ? w.status() : w.status().WithContext(context);
    }
    writer_.emplace(std::move(*w));
    if (!dir.empty()) writer_->set_context(context);
  }
  return &*writer_;
}

Status PackUpload::Finish() {
  if (!writer_) return Status::OK();
  auto pd = writer_->Finish();
  writer_.reset();
  if (!pd.ok()) {
    (void)options_.env->Unlink(tmp_);
    return pd.status();
  }
  if (options_.on_pack) options_.on_pack(pd->size);
  Status s = store_.AdoptFile(PackKey(pd->hash), tmp_);
  (void)options_.env->Unlink(tmp_);
  LP_RETURN_IF_ERROR(s);
  if (options_.on_finished) options_.on_finished(*pd);
  return Status::OK();
}

}  // namespace lazypath
