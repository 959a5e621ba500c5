#include "pack/pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace lazypath {

namespace {
Status Changed(const std::string& source) {
  return Status::Unavailable(source +
                             ": changed while being pushed; push again");
}
}  // namespace

Result<EncodedBlob> EncodeBytes(std::string raw, int level) {
  EncodedBlob out;
  LP_ASSIGN_OR_RETURN(std::string z, ZstdCompress(raw, level));
  if (z.size() < raw.size()) {
    out.bytes = std::move(z);
    out.codec = Codec::kZstd;
  } else {
    out.bytes = std::move(raw);
    out.codec = Codec::kNone;
  }
  return out;
}

Result<EncodedBlob> EncodeView(std::string_view raw, int level) {
  EncodedBlob out;
  LP_ASSIGN_OR_RETURN(std::string z, ZstdCompress(raw, level));
  if (z.size() < raw.size()) {
    out.bytes = std::move(z);
    out.codec = Codec::kZstd;
  } else {
    out.bytes = std::string(raw);
    out.codec = Codec::kNone;
  }
  return out;
}

Result<EncodedBlob> EncodeBlob(const std::string& source,
                               const Digest& expected, int level) {
  LP_ASSIGN_OR_RETURN(std::string raw, fs::ReadFile(source, expected.size));
  if (HashBytes(raw) != expected) return Changed(source);
  return EncodeBytes(std::move(raw), level);
}

PackWriter::PackWriter(std::string path, fs::Fd fd, int level)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      level_(level),
      hasher_(std::make_unique<Hasher>()) {}

Result<PackWriter> PackWriter::Create(const std::string& path, int level) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create pack", path, errno);
  PackWriter w(path, fs::Fd(fd), level);
  LP_RETURN_IF_ERROR(w.Append(kPackMagic));
  return w;
}

Status PackWriter::Append(std::string_view data) {
  if (Status s = fs::WriteAll(fd_.get(), data, path_); !s.ok()) {
    return context_.empty() ? s : s.WithContext(context_);
  }
  hasher_->Update(data);
  size_ += data.size();
#ifdef __linux__
  // Start writing back what is written so far, without waiting for it: the
  // disk works while the next frames are encoded, and Finish's fsync waits
  // only for the tail. Advisory: a failure here is found by that fsync.
  if (size_ - written_back_ >= kWritebackBytes) {
    (void)::sync_file_range(fd_.get(), static_cast<off_t>(written_back_),
                            static_cast<off_t>(size_ - written_back_),
                            SYNC_FILE_RANGE_WRITE);
    written_back_ = size_;
  }
#endif
  return Status::OK();
}

Result<FrameRef> PackWriter::AddEncoded(const EncodedBlob& blob) {
  FrameRef ref{size_, blob.bytes.size(), blob.codec};
  LP_RETURN_IF_ERROR(Append(blob.bytes));
  return ref;
}

Result<FrameRef> PackWriter::AddFile(
    const std::string& source, const Digest& expected,
    const std::function<void(uint64_t)>& on_bytes) {
  FrameRef ref{size_, 0, Codec::kZstd};
  LP_ASSIGN_OR_RETURN(fs::Fd in, fs::OpenRead(source));
  FrameEncoder enc(level_);
  Hasher check;
  auto sink = [&](std::string_view b) { return Append(b); };
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", source, errno);
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    check.Update(chunk);
    LP_RETURN_IF_ERROR(enc.Write(chunk, sink));
    if (on_bytes) on_bytes(chunk.size());
  }
  LP_RETURN_IF_ERROR(enc.Finish(sink));
  if (check.Finish() != expected) return Changed(source);
  ref.length = size_ - ref.offset;
  return ref;
}

Result<Digest> PackWriter::Finish() {
  if (::fsync(fd_.get()) != 0) {
    Status s = Status::FromErrno("fsync", path_, errno);
    return context_.empty() ? s : s.WithContext(context_);
  }
  fd_ = fs::Fd();
  return hasher_->Finish();
}

}  // namespace lazypath
