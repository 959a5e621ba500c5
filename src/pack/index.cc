#include "pack/index.h"

#include <zstd.h>

#include <nlohmann/json.hpp>

namespace lazypath {

using json = nlohmann::json;

namespace {
constexpr std::string_view kFormat = "lazypath-index/1";
}

std::string Index::Serialize() const {
  std::map<Hash, size_t> pack_ids;
  json packs = json::array();
  for (const auto& [h, loc] : blobs) {
    if (pack_ids.emplace(loc.pack, pack_ids.size()).second) {
      packs.push_back(loc.pack.ToString());
    }
  }
  json arr = json::array();
  for (const auto& [h, loc] : blobs) {
    arr.push_back(json::array({h.ToString(), loc.size, pack_ids[loc.pack],
                               loc.frame.offset, loc.frame.length,
                               CodecName(loc.frame.codec)}));
  }
  json doc = {{"format", kFormat},
              {"tree", tree.ToString()},
              {"packs", packs},
              {"blobs", arr}};
  return doc.dump() + "\n";
}

Result<Index> Index::Parse(std::string_view bytes, std::string_view what) {
  std::string w(what);
  if (bytes.size() > kMaxIndexBytes) {
    return Status::Corrupt(w + ": index larger than 1 GiB");
  }
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Corrupt(w + ": index is not valid JSON");
  }
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(w + ": index " + std::string(why));
  };
  auto fmt = doc.find("format");
  if (fmt == doc.end() || !fmt->is_string() || *fmt != kFormat) {
    return bad("has an unknown format (want lazypath-index/1)");
  }
  auto tree = doc.find("tree");
  auto packs = doc.find("packs");
  auto blobs = doc.find("blobs");
  if (tree == doc.end() || !tree->is_string() || packs == doc.end() ||
      !packs->is_array() || blobs == doc.end() || !blobs->is_array()) {
    return bad("lacks tree, packs or blobs");
  }
  Index idx;
  auto th = Hash::Parse(tree->get<std::string>());
  if (!th.ok()) return bad("has a bad tree digest");
  idx.tree = *th;
  std::vector<Hash> pack_list;
  for (const auto& p : *packs) {
    if (!p.is_string()) return bad("has a bad pack digest");
    auto ph = Hash::Parse(p.get<std::string>());
    if (!ph.ok()) return bad("has a bad pack digest");
    pack_list.push_back(*ph);
  }
  for (const auto& b : *blobs) {
    if (!b.is_array() || b.size() != 6 || !b[0].is_string() ||
        !b[1].is_number_unsigned() || !b[2].is_number_unsigned() ||
        !b[3].is_number_unsigned() || !b[4].is_number_unsigned() ||
        !b[5].is_string()) {
      return bad("has a malformed blob entry");
    }
    auto bh = Hash::Parse(b[0].get<std::string>());
    if (!bh.ok()) return bad("has a bad blob digest");
    BlobLocation loc;
    loc.size = b[1].get<uint64_t>();
    uint64_t pi = b[2].get<uint64_t>();
    if (pi >= pack_list.size()) return bad("names a pack it does not list");
    loc.pack = pack_list[pi];
    loc.frame.offset = b[3].get<uint64_t>();
    loc.frame.length = b[4].get<uint64_t>();
    auto codec = ParseCodec(b[5].get<std::string>());
    if (!codec.ok()) return bad("has an unknown codec");
    loc.frame.codec = *codec;
    if (loc.frame.offset < kPackMagic.size() ||
        loc.frame.offset > UINT64_MAX - loc.frame.length) {
      return bad("has a frame outside its pack");
    }
    if (loc.frame.codec == Codec::kNone && loc.frame.length != loc.size) {
      return bad("has a raw frame whose length is not its size");
    }
    if (loc.frame.codec == Codec::kZstd &&
        loc.frame.length > ZSTD_compressBound(loc.size) + 64) {
      return bad("has a zstd frame longer than its content can need");
    }
    if (!idx.blobs.emplace(*bh, loc).second) return bad("lists a blob twice");
  }
  return idx;
}

}  // namespace lazypath
