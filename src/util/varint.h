// Varints and a bounds-checked byte reader: the primitives of format 2.
//
// A varint is an unsigned LEB128 number, 1 to 10 bytes, in its one minimal
// encoding (doc/format.md, "Format 2"). ByteReader walks an object front to
// back and refuses anything that does not fit the bytes left, so a parser
// built on it can check a count against remaining() before allocating.
//
// Thread safety: PutVarint is a pure function. A ByteReader is a value over
// borrowed bytes; use one per thread.
#ifndef LAZYPATH_UTIL_VARINT_H_
#define LAZYPATH_UTIL_VARINT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lazypath {

// Appends `v` as a minimal varint.
void PutVarint(std::string& out, uint64_t v);
// The number of bytes PutVarint writes for `v` (1-10).
size_t VarintLength(uint64_t v);

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  // Each getter returns false on failure and then leaves its cause in
  // error(): "truncated", "non-minimal varint", "varint longer than 10
  // bytes" or "varint over 2^64-1". Nothing is consumed on failure.
  bool Varint(uint64_t* v);
  bool Byte(uint8_t* b);
  // `*out` borrows the reader's bytes.
  bool Bytes(size_t n, std::string_view* out);

  size_t remaining() const { return in_.size() - pos_; }
  size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::string_view error() const { return error_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string_view error_;
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_VARINT_H_
