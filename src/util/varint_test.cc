#include "util/varint.h"

#include <gtest/gtest.h>

#include <string>

namespace lazypath {
namespace {

std::string Enc(uint64_t v) {
  std::string s;
  PutVarint(s, v);
  return s;
}

TEST(VarintTest, MinimalEncodings) {
  EXPECT_EQ(Enc(0), std::string("\x00", 1));
  EXPECT_EQ(Enc(127), "\x7f");
  EXPECT_EQ(Enc(128), "\x80\x01");
  EXPECT_EQ(Enc(300), "\xac\x02");
  EXPECT_EQ(Enc(UINT64_MAX), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                     uint64_t{16383}, uint64_t{16384}, uint64_t{1} << 32,
                     (uint64_t{1} << 63) - 1, uint64_t{1} << 63, UINT64_MAX}) {
    std::string s = Enc(v);
    EXPECT_EQ(s.size(), VarintLength(v));
    ByteReader r(s);
    uint64_t got = 0;
    ASSERT_TRUE(r.Varint(&got)) << v << ": " << r.error();
    EXPECT_EQ(got, v);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(VarintTest, RefusesEveryOtherEncoding) {
  struct Case {
    std::string bytes;
    std::string_view error;
  };
  const Case cases[] = {
      {"", "truncated"},
      {"\x80", "truncated"},
      {std::string("\x80\x00", 2), "non-minimal varint"},
      {std::string("\x81\x80\x00", 3), "non-minimal varint"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 10),
       "non-minimal varint"},
      {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", "varint over 2^64-1"},
      {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x01",
       "varint longer than 10 bytes"},
  };
  for (const Case& c : cases) {
    ByteReader r(c.bytes);
    uint64_t v = 0;
    EXPECT_FALSE(r.Varint(&v));
    EXPECT_EQ(r.error(), c.error);
    EXPECT_EQ(r.offset(), 0u);  // nothing consumed
  }
}

TEST(VarintTest, ReaderBytesAndBytesStayInBounds) {
  const std::string bytes("ab\x05", 3);  // the reader borrows these
  ByteReader r(bytes);
  std::string_view two;
  ASSERT_TRUE(r.Bytes(2, &two));
  EXPECT_EQ(two, "ab");
  std::string_view more;
  EXPECT_FALSE(r.Bytes(2, &more));
  EXPECT_EQ(r.error(), "truncated");
  uint8_t b = 0;
  ASSERT_TRUE(r.Byte(&b));
  EXPECT_EQ(b, 5);
  EXPECT_FALSE(r.Byte(&b));
  EXPECT_TRUE(r.at_end());
}

}  // namespace
}  // namespace lazypath
