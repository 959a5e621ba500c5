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
    tmp_ = fs::TempName(fs::Join(options_.temp_dir, "pack"));
    LP_ASSIGN_OR_RETURN(PackWriter w, PackWriter::Create(tmp_, options_.level));
    writer_.emplace(std::move(w));
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
  Status s = store_.PutFile(PackKey(pd->hash), tmp_);
  (void)options_.env->Unlink(tmp_);
  LP_RETURN_IF_ERROR(s);
  if (options_.on_finished) options_.on_finished(*pd);
  return Status::OK();
}

}  // namespace lazypath
