// Content identity: SHA-256 hashes and digests (hash plus size).
//
// The text form of a hash is "sha256:" followed by 64 lowercase hex digits.
// That is what users see in manifests, the CLI and --json. Hashing streams:
// a file of any size is read in fixed-size chunks, never held in memory.
//
// Thread safety: Hash and Digest are values. A Hasher is not thread-safe;
// use one per thread.
#ifndef LAZYPATH_DIGEST_H_
#define LAZYPATH_DIGEST_H_

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lazypath/status.h"

namespace lazypath {

struct Hash {
  std::array<uint8_t, 32> bytes{};

  std::string hex() const;                 // 64 lowercase hex digits
  void AppendHex(std::string& out) const;  // hex() appended to `out`
  std::string ToString() const;            // "sha256:<hex>"
  // Accepts "sha256:<hex>" only: 64 lowercase hex digits, nothing else.
  static Result<Hash> Parse(std::string_view text);
  // Accepts bare 64 lowercase hex digits.
  static Result<Hash> FromHex(std::string_view hex);
  auto operator<=>(const Hash&) const = default;
};

struct HashHasher {
  size_t operator()(const Hash& h) const;
};

struct Digest {
  Hash hash;
  uint64_t size = 0;
  auto operator<=>(const Digest&) const = default;
};

// The digest of zero bytes; every store and cache has it implicitly.
const Hash& EmptyHash();

// Incremental SHA-256 over OpenSSL's EVP interface.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Update(std::string_view data);
  // Finishes the hash; the Hasher may not be used afterwards.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t size_ = 0;
};

Digest HashBytes(std::string_view data);
// Streams the file at `path` through SHA-256 in 1 MiB chunks (one reused
// buffer per thread). `on_bytes`, if set, is called after each chunk with
// its size, so a caller can show progress inside a large file.
Result<Digest> HashFile(const std::string& path,
                        const std::function<void(uint64_t)>& on_bytes = {});

}  // namespace lazypath

#endif  // LAZYPATH_DIGEST_H_
