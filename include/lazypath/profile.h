// Profile: the directories a program materialised at startup, in order.
//
// A profile is recorded once (lazypath profile, or LAZYPATH_PROFILE=record)
// and stored beside its tree at profiles/<tree hex> (doc/format.md gives the
// byte form and limits). Two things use it: a push whose tag already has a
// profile writes the blobs of the profiled directories first, contiguous and
// in profile order, so that lazy activation can fetch them all with one
// coalesced range read per pack; and lazy activation prefetches that set in
// the background while the program starts (LazyTree::Prefetch). Which blobs
// a profiled directory stands for is decided by one rule that both use with
// lazy activation itself (src/core/materialization.h).
//
// A profile is advisory: it is not part of the tree's digest, and a wrong or
// stale one costs only bytes, never correctness (every directory it names is
// checked against the tree, and imports fall back to on-demand).
//
// Thread safety: Profile is a value; the functions are thread-safe.
#ifndef LAZYPATH_PROFILE_H_
#define LAZYPATH_PROFILE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/store.h"

namespace lazypath {

// Limits that bound the work a hostile profile can cause.
inline constexpr uint64_t kMaxProfileBytes = 16ull << 20;
inline constexpr size_t kMaxProfileDirs = 65536;
inline constexpr std::string_view kProfilePrefix = "profiles/";

struct Profile {
  Hash tree;
  // Directories of the tree, "" for its root, each once, in the order the
  // program first needed them.
  std::vector<std::string> dirs;
};

// The canonical bytes (compact JSON, one LF). REQUIRES: Validate() is OK.
std::string SerializeProfile(const Profile& profile);
// Checks the limits, that every directory is "" or a valid tree path, and
// that none appears twice. Errors name the offending directory.
Status ValidateProfile(const Profile& profile);
// Parses and validates profile bytes; `what` names the source in errors.
// Corrupt on anything doc/format.md does not allow.
Result<Profile> ParseProfile(std::string_view bytes, std::string_view what);

std::string ProfileKey(const Hash& tree);
// Validates and atomically writes profiles/<hex>.
Status WriteProfile(Store& store, const Profile& profile);
// Reads profiles/<hex>: nullopt when the store has none; Corrupt when it
// does not parse or describes another tree.
Result<std::optional<Profile>> ReadProfile(Store& store, const Hash& tree);

}  // namespace lazypath

#endif  // LAZYPATH_PROFILE_H_
