#include "lazypath/digest.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fs.h"

namespace lazypath {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kPrefix = "sha256:";
}  // namespace

std::string Hash::hex() const {
  std::string s;
  AppendHex(s);
  return s;
}

void Hash::AppendHex(std::string& out) const {
  const size_t at = out.size();
  out.resize(at + 64);
  char* p = out.data() + at;
  for (size_t i = 0; i < 32; ++i) {
    p[2 * i] = kHexDigits[bytes[i] >> 4];
    p[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
}

std::string Hash::ToString() const { return std::string(kPrefix) + hex(); }

Result<Hash> Hash::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument(
        "'" + std::string(hex.substr(0, 80)) +
        "' is not a sha256 digest (want 64 hex digits)");
  }
  Hash h;
  for (size_t i = 0; i < 64; ++i) {
    char c = hex[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return Status::InvalidArgument(
          "'" + std::string(hex) +
          "' is not a sha256 digest (want lowercase hex digits)");
    }
    h.bytes[i / 2] =
        static_cast<uint8_t>(h.bytes[i / 2] | (i % 2 ? v : v << 4));
  }
  return h;
}

Result<Hash> Hash::Parse(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return Status::InvalidArgument(
        "'" + std::string(text.substr(0, 80)) +
        "' is not a digest (want sha256:<64 hex digits>)");
  }
  auto h = FromHex(text.substr(kPrefix.size()));
  if (!h.ok()) {
    return Status::InvalidArgument(
        "'" + std::string(text.substr(0, 80)) +
        "' is not a digest (want sha256:<64 lowercase hex digits>)");
  }
  return h;
}

size_t HashHasher::operator()(const Hash& h) const {
  size_t v;
  std::memcpy(&v, h.bytes.data(), sizeof v);
  return v;
}

const Hash& EmptyHash() {
  static const Hash empty = HashBytes("").hash;
  return empty;
}

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Hasher::~Hasher() { EVP_MD_CTX_free(impl_->ctx); }

void Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
  size_ += data.size();
}

Digest Hasher::Finish() {
  Digest d;
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, d.hash.bytes.data(), &len);
  d.size = size_;
  return d;
}

Digest HashBytes(std::string_view data) {
  Hasher h;
  h.Update(data);
  return h.Finish();
}

Result<Digest> HashFile(const std::string& path,
                        const std::function<void(uint64_t)>& on_bytes) {
  LP_ASSIGN_OR_RETURN(fs::Fd fd, fs::OpenRead(path));
  Hasher h;
  // One buffer per thread, not one allocated and zero-filled per file.
  constexpr size_t kBufBytes = 1 << 20;
  thread_local std::unique_ptr<char[]> buf(new char[kBufBytes]);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.get(), kBufBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", path, errno);
    }
    if (n == 0) break;
    h.Update(std::string_view(buf.get(), static_cast<size_t>(n)));
    if (on_bytes) on_bytes(static_cast<uint64_t>(n));
  }
  return h.Finish();
}

}  // namespace lazypath
