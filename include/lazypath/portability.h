// Portability of a scanned tree: what may break it on the machines it goes to.
//
// CheckPortability() finds, in one pass over a scanned tree, what works on
// the pushing machine but may not on a node (doc/policy.md, "Push-time
// portability checks"):
//
//   * a top-level name that differs only in case from a standard-library
//     module or from a top-level name on the target's sys.path (each
//     imports, or materialises, as the other on a case-insensitive file
//     system: APFS, NTFS, casefolded ext4);
//   * a path component longer than kEcryptfsNameMax bytes (eCryptfs, e.g. an
//     encrypted home holding the node cache, stores names up to 143 bytes;
//     ext4, xfs, btrfs and tmpfs allow 255, which the scan already enforces);
//   * a path longer than kPortablePathMax bytes, so that
//     `<node cache>/trees/<64 hex>/<path>` stays within PATH_MAX (4096, with
//     its NUL) for a node cache directory of up to kCachePrefixBudget bytes;
//   * a file not readable by others at the source: the node cache makes
//     every file readable by every user of every node (0444/0555), so a mode
//     that kept it private is lost.
//
// Each problem is one line "<path>: <cause>", in tree order. The check reads
// only the tree and lstat()s the sources; it never fails.
//
// Thread safety: a pure function of its arguments (and the sources' modes).
#ifndef LAZYPATH_PORTABILITY_H_
#define LAZYPATH_PORTABILITY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "lazypath/tree.h"

namespace lazypath {

inline constexpr size_t kEcryptfsNameMax = 143;
inline constexpr size_t kCachePrefixBudget = 150;
// 4096 - 1 (NUL) - kCachePrefixBudget - "/trees/" - 64 hex - "/"
inline constexpr size_t kPortablePathMax =
    4096 - 1 - kCachePrefixBudget - 7 - 64 - 1;

struct PortabilityOptions {
  bool enabled = false;
  // The target interpreter's sys.stdlib_module_names.
  std::vector<std::string> stdlib_names;
  // Top-level module names importable from the target's sys.path.
  std::vector<std::string> target_names;
};

// REQUIRES: `modes` (each entry's st_mode on the pushing machine) is
// parallel to tree.entries(), or empty (then modes are not checked).
std::vector<std::string> CheckPortability(const Tree& tree,
                                          const std::vector<uint32_t>& modes,
                                          const PortabilityOptions& options);

// The InvalidArgument message of a strict push refused for `problems`
// (REQUIRES: not empty): the first problem and the count.
std::string PortabilityRefusal(const std::vector<std::string>& problems);

}  // namespace lazypath

#endif  // LAZYPATH_PORTABILITY_H_
