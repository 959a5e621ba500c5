// Test helper: a directory scanned and built as a format 2 push builds it
// (files over kChunkThreshold chunked, everything else one blob), ready for
// WriteTree. Tests only.
#ifndef LAZYPATH_CORE_FORMAT2_TESTING_H_
#define LAZYPATH_CORE_FORMAT2_TESTING_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/tree_build.h"
#include "core/tree_writer.h"
#include "lazypath/scan.h"
#include "tree/chunker.h"
#include "tree/directory.h"

namespace lazypath {

// The tree of `dir` as push builds it, for WriteTree.
inline std::unique_ptr<BuiltTree> BuildFormat2(const std::string& dir) {
  ScanOptions so;
  so.default_excludes = false;
  auto scanned = ScanDirectory(dir, so);
  EXPECT_TRUE(scanned.ok()) << scanned.status().ToString();
  if (!scanned.ok()) return std::make_unique<BuiltTree>();
  auto built = BuildTree(*scanned);
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  return built.ok() ? std::move(*built) : std::make_unique<BuiltTree>();
}

}  // namespace lazypath

#endif  // LAZYPATH_CORE_FORMAT2_TESTING_H_
