// File names as file systems compare them, and as errors show them.
//
// Shared by format 1 trees and format 2 directory objects: both refuse two
// names that a case-insensitive, normalising file system (APFS, NTFS, ext4
// with casefold) would see as one, since one would silently replace or merge
// with the other.
//
// Thread safety: pure functions.
#ifndef LAZYPATH_TREE_NAME_FOLD_H_
#define LAZYPATH_TREE_NAME_FOLD_H_

#include <string>
#include <string_view>

namespace lazypath {

// Whether `s` is well-formed UTF-8: shortest forms only, no surrogates,
// nothing past U+10FFFF.
bool ValidUtf8(std::string_view s);

// `s` after Unicode NFC and case folding (utf8proc). For pure-ASCII `s` this
// is ASCII tolower, without calling utf8proc. REQUIRES: ValidUtf8(s); for
// anything else the result is empty.
std::string FoldName(std::string_view s);

// `s` quoted, followed by its code points when it has non-ASCII ones, so
// that NFC and NFD spellings of one name can be told apart in a message:
// 'cafe<U+0301>' shows as "'café' (cafe<U+0301>)".
std::string ShowName(std::string_view s);

}  // namespace lazypath

#endif  // LAZYPATH_TREE_NAME_FOLD_H_
