#include "util/varint.h"

namespace lazypath {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

bool ByteReader::Varint(uint64_t* v) {
  uint64_t value = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (pos_ + i >= in_.size()) {
      error_ = "truncated";
      return false;
    }
    uint8_t b = static_cast<uint8_t>(in_[pos_ + i]);
    if (i == 9 && b > 1) {
      // The tenth byte carries bit 63 only; more is a longer encoding or a
      // value past 64 bits.
      error_ =
          (b & 0x80) ? "varint longer than 10 bytes" : "varint over 2^64-1";
      return false;
    }
    value |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) {
        error_ = "non-minimal varint";
        return false;
      }
      pos_ += i + 1;
      *v = value;
      return true;
    }
  }
  error_ = "varint longer than 10 bytes";  // unreachable: i == 9 returns
  return false;
}

bool ByteReader::Byte(uint8_t* b) {
  if (pos_ >= in_.size()) {
    error_ = "truncated";
    return false;
  }
  *b = static_cast<uint8_t>(in_[pos_++]);
  return true;
}

bool ByteReader::Bytes(size_t n, std::string_view* out) {
  if (n > remaining()) {
    error_ = "truncated";
    return false;
  }
  *out = in_.substr(pos_, n);
  pos_ += n;
  return true;
}

}  // namespace lazypath
