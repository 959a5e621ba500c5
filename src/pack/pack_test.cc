#include "pack/pack.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pack/index.h"
#include "util/fs.h"

namespace lazypath {
namespace {

nlohmann::json LoadPackVectors() {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/pack.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

TEST(PackTest, VectorIndexLocatesVerifiedBlobs) {
  auto v = LoadPackVectors();
  std::string pack = FromHex(v["pack_hex"]);
  EXPECT_EQ(HashBytes(pack).hash.ToString(),
            v["pack_digest"].get<std::string>());
  EXPECT_EQ(pack.substr(0, 8), kPackMagic);
  auto idx = Index::Parse(v["index"].get<std::string>(), "vector index");
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  EXPECT_EQ(idx->Serialize(), v["index"].get<std::string>());
  ASSERT_EQ(idx->blobs.size(), v["blobs"].size());
  for (const auto& [digest, content] : v["blobs"].items()) {
    Hash h = *Hash::Parse(digest);
    const BlobLocation& loc = idx->blobs.at(h);
    auto data = DecodeFrame(
        loc.frame.codec,
        std::string_view(pack).substr(loc.frame.offset, loc.frame.length),
        loc.size, digest);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(*data, content.get<std::string>());
    EXPECT_EQ(HashBytes(*data).hash, h);
  }
}

TEST(PackTest, InvalidIndexVectors) {
  auto v = LoadPackVectors();
  for (const auto& c : v["invalid_indexes"]) {
    auto r = Index::Parse(c["bytes"].get<std::string>(), "idx-source");
    ASSERT_FALSE(r.ok()) << c["bytes"];
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << r.status().message();
  }
}

class PackWriterTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/pack_writer_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(dir_).ok());
    ASSERT_TRUE(fs::MakeDirs(dir_).ok());
  }
  std::string Write(const std::string& name, const std::string& data) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  std::string dir_;
};

TEST_F(PackWriterTest, WritesFramesThatDecodeBack) {
  std::string small = "x = 1\n";
  std::string text;
  while (text.size() < (9u << 20))
    text += "def g(): return " + std::to_string(text.size()) + "\n";
  std::string a = Write("a", small), b = Write("b", text);
  auto w = PackWriter::Create(dir_ + "/p.pack", 3);
  ASSERT_TRUE(w.ok());
  auto enc = EncodeBlob(a, HashBytes(small), 3);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->codec, Codec::kNone);  // too small for zstd to help
  auto ra = w->AddEncoded(*enc);
  std::vector<uint64_t> steps;  // progress inside the large file
  auto rb =
      w->AddFile(b, HashBytes(text), [&](uint64_t n) { steps.push_back(n); });
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_GE(steps.size(), 9u);
  uint64_t sum = 0;
  for (uint64_t n : steps) sum += n;
  EXPECT_EQ(sum, text.size());
  auto pd = w->Finish();
  ASSERT_TRUE(pd.ok());
  auto pack = fs::ReadFile(dir_ + "/p.pack");
  EXPECT_EQ(HashBytes(*pack), *pd);
  EXPECT_LT(rb->length, text.size() / 4);
  auto back = DecodeFrame(rb->codec, pack->substr(rb->offset, rb->length),
                          text.size(), "b");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
  EXPECT_EQ(pack->substr(ra->offset, ra->length), small);
}

TEST_F(PackWriterTest, FileChangedSinceScanIsCaught) {
  std::string a = Write("a", "old");
  auto enc = EncodeBlob(a, HashBytes("new"), 3);
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.status().message().find("changed while being pushed"),
            std::string::npos);
  auto w = PackWriter::Create(dir_ + "/p2.pack", 3);
  auto r = w->AddFile(a, HashBytes("new"));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace lazypath
