// Test helper: a directory scanned and built as a format 2 push builds it
// (files over kChunkThreshold chunked, everything else one blob), ready for
// WriteTree. Tests only.
#ifndef LAZYPATH_CORE_FORMAT2_TESTING_H_
#define LAZYPATH_CORE_FORMAT2_TESTING_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/tree_writer.h"
#include "lazypath/scan.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

struct Built {
  DirectorySet dirs;
  TreeInput input;  // input.dirs is set by whoever holds the Built
};

inline Built BuildFormat2(const std::string& dir) {
  Built b;
  ScanOptions so;
  so.default_excludes = false;
  auto scanned = ScanDirectory(dir, so);
  EXPECT_TRUE(scanned.ok()) << scanned.status().ToString();
  if (!scanned.ok()) return b;
  std::vector<FlatEntry> flat;
  const auto& entries = scanned->tree.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    FlatEntry f{entries[i], {}};
    if (entries[i].kind != EntryKind::kSymlink) {
      b.input.sources[entries[i].path] = scanned->sources[i];
      if (entries[i].blob.size > kChunkThreshold) {
        auto chunks = ChunkFile(scanned->sources[i]);
        EXPECT_TRUE(chunks.ok()) << chunks.status().ToString();
        ChunkList list{*chunks};
        f.chunk_list = HashBytes(list.Serialize());
        b.input.chunk_lists[f.chunk_list.hash] = list;
      }
    }
    flat.push_back(f);
  }
  auto dirs = BuildDirectories(flat);
  EXPECT_TRUE(dirs.ok()) << dirs.status().ToString();
  if (dirs.ok()) b.dirs = std::move(*dirs);
  return b;
}

}  // namespace lazypath

#endif  // LAZYPATH_CORE_FORMAT2_TESTING_H_
