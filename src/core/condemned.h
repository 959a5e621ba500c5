// Condemned marks: what a prune intends to delete, announced before it
// deletes anything (doc/lifecycle.md).
//
// A mark is the store object prune/condemned-<time>-<id>, written once and
// never changed: the time it was written and the keys (trees/, indexes/,
// profiles/, locs/, packs/) that no kept tree used then. A later prune
// deletes a key only once a mark has named it for at least the grace
// period and the key is still unused; pushes treat every pack a mark names
// as absent, so nothing new comes to depend on a pack that may go.
//
//   "lazypath-condemned 1\n" "time <seconds since the epoch>\n"
//   "actor <who>\n" then one key per line.
//
// Thread safety: values and reentrant functions, as thread-safe as the Store.
#ifndef LAZYPATH_CORE_CONDEMNED_H_
#define LAZYPATH_CORE_CONDEMNED_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"

namespace lazypath {

class Store;

inline constexpr std::string_view kCondemnedPrefix = "prune/condemned-";
inline constexpr uint64_t kMaxMarkBytes = 256ull << 20;

struct CondemnedMark {
  std::string key;  // prune/condemned-...
  int64_t time = 0;
  std::string actor;
  std::vector<std::string> keys;
};

std::string SerializeMark(const CondemnedMark& mark);
// Corrupt naming `what` for anything but the form above.
Result<CondemnedMark> ParseMark(std::string_view bytes, std::string_view what);
// The key for a mark written at `time`: sorts by time.
std::string MarkKey(int64_t time, std::string_view id);

// Every mark in the store, in key order. A mark that cannot be read or
// parsed fails the call (naming its key): what it condemns is unknown.
Result<std::vector<CondemnedMark>> ReadMarks(Store& store);

// The pack keys (packs/<hex>) any mark names: what pushes must not reuse.
Result<std::set<std::string>> CondemnedPacks(Store& store);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_CONDEMNED_H_
