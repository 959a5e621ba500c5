#include "lazypath/digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <vector>

namespace lazypath {
namespace {

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(HashBytes("").hash.ToString(),
            "sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Digest abc = HashBytes("abc");
  EXPECT_EQ(abc.hash.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(abc.size, 3u);
  EXPECT_EQ(EmptyHash(), HashBytes("").hash);
}

TEST(DigestTest, IncrementalEqualsOneShot) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Hasher h;
  for (size_t i = 0; i < data.size(); i += 333)
    h.Update(std::string_view(data).substr(i, 333));
  EXPECT_EQ(h.Finish(), HashBytes(data));
}

TEST(DigestTest, ParseRoundTripAndRejects) {
  Hash h = HashBytes("lazypath").hash;
  auto parsed = Hash::Parse(h.ToString());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, h);
  EXPECT_FALSE(Hash::Parse(h.hex()).ok());                        // no prefix
  EXPECT_FALSE(Hash::Parse("sha256:" + h.hex().substr(1)).ok());  // short
  std::string upper = h.ToString();
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(Hash::Parse("sha256:" + upper.substr(7)).ok());  // uppercase
  EXPECT_FALSE(Hash::Parse("md5:" + h.hex()).ok());
  auto err = Hash::Parse("sha256:zz");
  EXPECT_EQ(err.status().code(), Code::kInvalidArgument);
  EXPECT_NE(err.status().message().find("sha256:zz"), std::string::npos);
}

TEST(DigestTest, HashFileStreamsAndMatches) {
  std::string path = testing::TempDir() + "/digest_test_file";
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  std::ofstream(path, std::ios::binary) << data;
  auto d = HashFile(path);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(data));
  std::remove(path.c_str());
  auto missing = HashFile(path);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace lazypath

namespace lazypath {
namespace {

TEST(HashFileTest, ReportsEachChunkOfALargeFile) {
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/hashfile-progress-" + std::to_string(::getpid());
  std::string data(5 * (1 << 20) + 123, 'x');
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(data.data(), 1, data.size(), f), data.size());
    std::fclose(f);
  }
  std::vector<uint64_t> steps;
  auto d = HashFile(path, [&](uint64_t n) { steps.push_back(n); });
  ::unlink(path.c_str());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(data));
  ASSERT_GE(steps.size(), 6u);  // 1 MiB at a time, not once at the end
  uint64_t sum = 0;
  for (uint64_t n : steps) sum += n;
  EXPECT_EQ(sum, data.size());
}

}  // namespace
}  // namespace lazypath
