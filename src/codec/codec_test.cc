#include "codec/codec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace lazypath {
namespace {

std::string Sample(size_t n) {
  std::string s;
  while (s.size() < n)
    s += "def f(x):\n    return x * " + std::to_string(s.size()) + "\n";
  s.resize(n);
  return s;
}

TEST(CodecTest, RoundTripInMemory) {
  for (size_t n : {1, 100, 70000, 1 << 20}) {
    std::string data = Sample(n);
    auto z = ZstdCompress(data, 3);
    ASSERT_TRUE(z.ok());
    auto back = DecodeFrame(Codec::kZstd, *z, n, "t");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data);
  }
}

// The thread's compression context is reused: a frame depends only on its
// input and level, not on what the thread compressed before (a large input
// included, which also resets the scratch buffer).
TEST(CodecTest, ReusedCompressionContextGivesTheSameFrames) {
  std::string small = Sample(5000), large = Sample(20 << 20);
  auto first = ZstdCompress(small, 3);
  ASSERT_TRUE(first.ok());
  for (int level : {1, 5, 3}) ASSERT_TRUE(ZstdCompress(large, level).ok());
  auto again = ZstdCompress(small, 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  auto other = ZstdCompress(small, 1);
  ASSERT_TRUE(other.ok());
  auto back = DecodeFrame(Codec::kZstd, *other, small.size(), "t");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, small);
}

TEST(CodecTest, StreamingEncoderMatchesDecoderFedInPieces) {
  std::string data = Sample(5 << 20);
  std::string frame;
  FrameEncoder enc(1);
  auto sink = [&](std::string_view b) {
    frame.append(b);
    return Status::OK();
  };
  for (size_t i = 0; i < data.size(); i += 123457) {
    ASSERT_TRUE(enc.Write(std::string_view(data).substr(i, 123457), sink).ok());
  }
  ASSERT_TRUE(enc.Finish(sink).ok());
  std::string out;
  FrameDecoder dec(Codec::kZstd, data.size(), "t");
  for (size_t i = 0; i < frame.size(); i += 1000) {
    ASSERT_TRUE(dec.Feed(std::string_view(frame).substr(i, 1000),
                         [&](std::string_view b) {
                           out.append(b);
                           return Status::OK();
                         })
                    .ok());
  }
  ASSERT_TRUE(dec.Finish().ok());
  EXPECT_EQ(out, data);
}

// Decoders reuse their thread's zstd context: two alive at once must not
// share it, and one abandoned midway must not leak state into the next.
TEST(CodecTest, DecodersOnOneThreadStayIndependent) {
  std::string a = Sample(300000), b = Sample(200000) + "tail";
  std::string za = *ZstdCompress(a, 3), zb = *ZstdCompress(b, 3);
  auto collect = [](std::string& out) {
    return [&out](std::string_view x) {
      out.append(x);
      return Status::OK();
    };
  };
  std::string out_a, out_b;
  {
    FrameDecoder da(Codec::kZstd, a.size(), "a");
    FrameDecoder db(Codec::kZstd, b.size(), "b");
    for (size_t i = 0; i < std::max(za.size(), zb.size()); i += 777) {
      if (i < za.size()) {
        ASSERT_TRUE(
            da.Feed(std::string_view(za).substr(i, 777), collect(out_a)).ok());
      }
      if (i < zb.size()) {
        ASSERT_TRUE(
            db.Feed(std::string_view(zb).substr(i, 777), collect(out_b)).ok());
      }
    }
    ASSERT_TRUE(da.Finish().ok());
    ASSERT_TRUE(db.Finish().ok());
  }
  EXPECT_EQ(out_a, a);
  EXPECT_EQ(out_b, b);
  {
    std::string ignored;
    FrameDecoder half(Codec::kZstd, a.size(), "half");
    ASSERT_TRUE(half.Feed(std::string_view(za).substr(0, za.size() / 2),
                          collect(ignored))
                    .ok());
  }  // abandoned mid-frame
  std::string again;
  FrameDecoder next(Codec::kZstd, b.size(), "next");
  ASSERT_TRUE(next.Feed(zb, collect(again)).ok());
  ASSERT_TRUE(next.Finish().ok());
  EXPECT_EQ(again, b);
}

TEST(CodecTest, RejectsOutputPastDeclaredSize) {
  std::string data = Sample(10000);
  auto z = ZstdCompress(data, 3);
  auto r = DecodeFrame(Codec::kZstd, *z, 9999, "blob X");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("blob X"), std::string::npos);
  EXPECT_FALSE(DecodeFrame(Codec::kNone, data, 9999, "t").ok());
}

TEST(CodecTest, RejectsShortTruncatedAndTrailing) {
  std::string data = Sample(10000);
  auto z = ZstdCompress(data, 3);
  EXPECT_FALSE(DecodeFrame(Codec::kZstd, *z, 10001, "t").ok());  // short
  EXPECT_FALSE(
      DecodeFrame(Codec::kZstd, z->substr(0, z->size() - 3), 10000, "t").ok());
  EXPECT_FALSE(DecodeFrame(Codec::kZstd, *z + "x", 10000, "t").ok());
  std::string flipped = *z;
  flipped[flipped.size() / 2] ^= 0x55;
  auto r = DecodeFrame(Codec::kZstd, flipped, 10000, "t");
  // A flipped byte either fails to decode or decodes to other bytes; the
  // caller's digest check catches the second case.
  if (r.ok()) {
    EXPECT_NE(*r, data);
  }
  EXPECT_FALSE(DecodeFrame(Codec::kNone, data.substr(1), 10000, "t").ok());
}

TEST(CodecTest, CodecNames) {
  EXPECT_EQ(*ParseCodec("zstd"), Codec::kZstd);
  EXPECT_EQ(*ParseCodec("none"), Codec::kNone);
  EXPECT_FALSE(ParseCodec("gzip").ok());
}

}  // namespace
}  // namespace lazypath
