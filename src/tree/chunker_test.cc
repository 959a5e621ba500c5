#include "tree/chunker.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "util/test_vectors.h"

namespace lazypath {
namespace {

using testing_vectors::FromHex;
using testing_vectors::Load;

const nlohmann::json& Vectors() {
  static const nlohmann::json v = Load("format2.json");
  return v;
}

// SHA-256 in counter mode, as doc/vectors/format2.py's stream().
std::string Stream(size_t n) {
  std::string out;
  for (uint64_t k = 0; out.size() < n; ++k) {
    std::string block = "lazypath-vector";
    for (int i = 7; i >= 0; --i) block += static_cast<char>(k >> (8 * i));
    Digest d = HashBytes(block);
    out.append(reinterpret_cast<const char*>(d.hash.bytes.data()), 32);
  }
  out.resize(n);
  return out;
}

std::string SegmentsData(const nlohmann::json& segments) {
  size_t need = 0;
  for (const auto& s : segments) {
    if (s[0] == "stream") need = std::max(need, s[2].get<size_t>());
  }
  std::string stream = Stream(need);
  std::string out;
  for (const auto& s : segments) {
    if (s[0] == "stream") {
      size_t a = s[1], b = s[2];
      out += stream.substr(a, b - a);
    } else {
      out += std::string(s[1].get<size_t>(), '\0');
    }
  }
  return out;
}

std::vector<Chunk> ExpectedChunks(const nlohmann::json& list) {
  std::vector<Chunk> out;
  for (const auto& c : list) {
    out.push_back(
        {c[0].get<uint64_t>(), *Hash::Parse(c[1].get<std::string>())});
  }
  return out;
}

// Feeds `data` in pieces of `piece` bytes.
std::vector<Chunk> ChunkInPieces(std::string_view data, size_t piece) {
  std::vector<Chunk> out;
  ChunkSink sink = [&](const Chunk& c, std::string_view bytes) {
    EXPECT_EQ(bytes.size(), c.size);
    EXPECT_EQ(HashBytes(bytes).hash, c.hash);
    out.push_back(c);
    return Status::OK();
  };
  Chunker chunker;
  for (size_t i = 0; i < data.size(); i += piece) {
    EXPECT_TRUE(chunker.Update(data.substr(i, piece), sink).ok());
  }
  EXPECT_TRUE(chunker.Finish(sink).ok());
  return out;
}

TEST(ChunkerTest, GearTableAndMasksMatchTheVectors) {
  const auto& v = Vectors();
  const auto& gear = GearTable();
  ASSERT_EQ(v["chunking"]["gear"].size(), 256u);
  for (int i = 0; i < 256; ++i) {
    EXPECT_EQ(gear[i], std::stoull(v["chunking"]["gear"][i].get<std::string>(),
                                   nullptr, 16))
        << i;
  }
  EXPECT_EQ(
      kChunkMaskS,
      std::stoull(v["constants"]["mask_s"].get<std::string>(), nullptr, 16));
  EXPECT_EQ(
      kChunkMaskL,
      std::stoull(v["constants"]["mask_l"].get<std::string>(), nullptr, 16));
  EXPECT_EQ(kMinChunk, v["constants"]["min_chunk"].get<uint64_t>());
  EXPECT_EQ(kAvgChunk, v["constants"]["avg_chunk"].get<uint64_t>());
  EXPECT_EQ(kMaxChunk, v["constants"]["max_chunk"].get<uint64_t>());
  EXPECT_EQ(kChunkThreshold, v["constants"]["chunk_threshold"].get<uint64_t>());
}

TEST(ChunkerTest, VectorBoundariesHoweverTheBytesArrive) {
  const auto& c = Vectors()["chunking"];
  std::string data = SegmentsData(c["segments"]);
  ASSERT_EQ(data.size(), c["size"].get<size_t>());
  EXPECT_EQ(HashBytes(data).hash.ToString(), c["digest"].get<std::string>());
  std::vector<Chunk> want = ExpectedChunks(c["chunks"]);
  // The zero-filled region repeats a chunk.
  EXPECT_NE(std::adjacent_find(want.begin(), want.end()), want.end());
  for (size_t piece :
       {data.size(), size_t{1} << 20, size_t{65537}, size_t{kMaxChunk} + 3}) {
    EXPECT_EQ(ChunkInPieces(data, piece), want) << "pieces of " << piece;
  }
}

TEST(ChunkerTest, SmallVectors) {
  const auto& c = Vectors()["chunking"];
  std::string stream = Stream(kMaxChunk + 1);
  for (const auto& s : c["small"]) {
    size_t n = s["stream_bytes"];
    EXPECT_EQ(ChunkInPieces(std::string_view(stream).substr(0, n), 4096),
              ExpectedChunks(s["chunks"]))
        << n;
  }
  EXPECT_TRUE(ChunkInPieces("", 1).empty());
}

TEST(ChunkerTest, ChunkFileStreamsAFile) {
  const auto& c = Vectors()["chunking"];
  std::string data = SegmentsData(c["segments"]);
  std::string path = testing::TempDir() + "/chunker_test_file";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  uint64_t seen = 0;
  auto chunks = ChunkFile(path, [&](const Chunk& ch, std::string_view bytes) {
    EXPECT_EQ(bytes, std::string_view(data).substr(seen, ch.size));
    seen += ch.size;
    return Status::OK();
  });
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_EQ(*chunks, ExpectedChunks(c["chunks"]));
  EXPECT_EQ(seen, data.size());
  // A sink's error stops the walk and is returned.
  auto stopped = ChunkFile(path, [](const Chunk&, std::string_view) {
    return Status::IoError("sink full");
  });
  EXPECT_EQ(stopped.status().message(), "sink full");
  std::remove(path.c_str());
  EXPECT_EQ(ChunkFile(path).status().code(), Code::kNotFound);
}

// One read gives the whole-file digest and the chunks, both as the separate
// passes give them.
TEST(ChunkerTest, HashAndChunkFileMatchesBothPasses) {
  const auto& c = Vectors()["chunking"];
  std::string data = SegmentsData(c["segments"]);
  std::string path = testing::TempDir() + "/chunker_test_hash_and_chunk";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  std::vector<Chunk> chunks{Chunk{}};  // replaced, not appended to
  uint64_t seen = 0;
  auto d = HashAndChunkFile(path, &chunks, [&](uint64_t n) { seen += n; });
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(data));
  EXPECT_EQ(chunks, ExpectedChunks(c["chunks"]));
  EXPECT_EQ(seen, data.size());
  std::remove(path.c_str());
  EXPECT_EQ(HashAndChunkFile(path, &chunks).status().code(), Code::kNotFound);
}

TEST(ChunkerTest, AnEditMovesOnlyTheChunksAroundIt) {
  std::string data = Stream(6 << 20);
  std::vector<Chunk> before = ChunkInPieces(data, 1 << 20);
  data[3 << 20] ^= 1;
  std::vector<Chunk> after = ChunkInPieces(data, 1 << 20);
  size_t same = 0;
  for (const Chunk& c : after) {
    same += std::find(before.begin(), before.end(), c) != before.end();
  }
  EXPECT_GE(same + 2, after.size()) << "of " << after.size();
  // Inserting a byte shifts everything after it, yet only the chunks
  // around the insertion change.
  data.insert(data.begin() + (1 << 20), 'x');
  std::vector<Chunk> shifted = ChunkInPieces(data, 1 << 20);
  same = 0;
  for (const Chunk& c : shifted) {
    same += std::find(after.begin(), after.end(), c) != after.end();
  }
  EXPECT_GE(same + 2, shifted.size()) << "of " << shifted.size();
}

TEST(ChunkerTest, ZerosAreCutAtTheLargestChunk) {
  std::vector<Chunk> chunks =
      ChunkInPieces(std::string(5 << 20, '\0'), 1 << 20);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], chunks[1]);
  EXPECT_EQ(chunks[0].size, kMaxChunk);
  EXPECT_EQ(chunks[2].size, (5u << 20) - 2 * kMaxChunk);
}

TEST(ChunkListTest, VectorSerialisesAndParsesExactly) {
  const auto& c = Vectors()["chunking"];
  ChunkList list{ExpectedChunks(c["chunks"])};
  std::string bytes = FromHex(c["chunk_list_hex"]);
  EXPECT_EQ(list.Serialize(), bytes);
  EXPECT_EQ(HashBytes(bytes).hash.ToString(),
            c["chunk_list_digest"].get<std::string>());
  auto parsed = ChunkList::Parse(bytes, "vector");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->chunks, list.chunks);
  EXPECT_EQ(parsed->TotalSize(), c["size"].get<uint64_t>());
  EXPECT_TRUE(parsed->CheckFileSize(c["size"], "vector").ok());
  std::vector<SlotShape> shapes = parsed->SlotShapes();
  ASSERT_EQ(shapes.size(), list.chunks.size());
  EXPECT_EQ(shapes[0], (SlotShape{SlotType::kFrame, list.chunks[0].size, 0}));
}

TEST(ChunkListTest, InvalidVectorsAreRefusedWithTheirReason) {
  const auto& cases = Vectors()["invalid"]["chunk_lists"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto r = ChunkList::Parse(FromHex(c["hex"]), "vector-source");
    Status s =
        r.ok() ? r->CheckFileSize(c["file_size"], "vector-source") : r.status();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::kCorrupt);
    EXPECT_NE(s.message().find(c["error"].get<std::string>()),
              std::string::npos)
        << s.message();
    EXPECT_EQ(s.message().rfind("vector-source: ", 0), 0u) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
}

TEST(ChunkListTest, RefusesOversizedObjectsBeforeReadingThem) {
  std::string big = "LZC2" + std::string(kMaxObjectBytes, '\0');
  auto r = ChunkList::Parse(big, "big");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("larger than 64 MiB"), std::string::npos);
}

}  // namespace
}  // namespace lazypath
