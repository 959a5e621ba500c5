#include "tree/name_fold.h"

#include <gtest/gtest.h>

namespace lazypath {
namespace {

TEST(NameFoldTest, AsciiFastPathAgreesWithUtf8proc) {
  // Every printable ASCII byte, folded alone (fast path) and beside a
  // non-ASCII letter (utf8proc), folds the same way.
  for (int c = 0x20; c < 0x7f; ++c) {
    std::string ascii(1, static_cast<char>(c));
    std::string mixed = ascii + "\xc3\xa9";  // + 'é'
    EXPECT_EQ(FoldName(mixed), FoldName(ascii) + "\xc3\xa9") << c;
  }
  EXPECT_EQ(FoldName("Pkg/Mod.PY"), "pkg/mod.py");
}

TEST(NameFoldTest, NormalisationAndCaseFolding) {
  EXPECT_EQ(FoldName("caf\xc3\xa9"), FoldName("cafe\xcc\x81"));  // NFC, NFD
  EXPECT_EQ(FoldName("\xc3\x89"), FoldName("e\xcc\x81"));        // 'É', 'é'
  EXPECT_EQ(FoldName("\xe2\x84\xaa"), FoldName("K"));  // KELVIN SIGN, 'K'
  EXPECT_NE(FoldName("cafe"), FoldName("caf\xc3\xa9"));
}

TEST(NameFoldTest, Utf8Validity) {
  EXPECT_TRUE(ValidUtf8("caf\xc3\xa9"));
  EXPECT_FALSE(ValidUtf8("\xff"));
  EXPECT_FALSE(ValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(ValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(ValidUtf8("\xc3"));              // truncated
}

TEST(NameFoldTest, ShowNameSpellsOutCodePoints) {
  EXPECT_EQ(ShowName("a.py"), "'a.py'");
  EXPECT_EQ(ShowName("cafe\xcc\x81"), "'cafe\xcc\x81' (cafe<U+0301>)");
}

}  // namespace
}  // namespace lazypath
