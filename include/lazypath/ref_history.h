// Ref history: every move of a ref (push --tag, tag, rollback, tag
// --delete), recorded in the store.
//
// Each move is one immutable object, `history/<ref>/~<seq>` (doc/format.md,
// "Ref history"), created only if absent, before the ref itself moves. The
// sequence number orders the moves; each entry also names its predecessor
// by the SHA-256 of its bytes, so a rewritten, missing or looping history is
// detected. A writer that dies between the two writes leaves an entry whose
// move did not happen: readers mark it not applied (HistoryEntry::applied)
// rather than failing.
//
// Two writers racing for one ref: one creates entry N first, the other gets
// Conflict; a ref moved between a writer's read and its write is Conflict as
// in UpdateRef. Thread-safe as the Store is.
#ifndef LAZYPATH_REF_HISTORY_H_
#define LAZYPATH_REF_HISTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/store.h"

namespace lazypath {

// What moved a ref.
enum class RefOp { kPush, kTag, kRollback, kDelete };
std::string_view RefOpName(RefOp op);

// One recorded move: the ref went from `from` to `to` (nullopt: absent) at
// `time` (seconds since the Unix epoch, UTC), moved by `actor`.
struct RefMove {
  uint64_t seq = 0;          // 1 for a ref's first move
  std::optional<Hash> prev;  // SHA-256 of entry seq-1's bytes; none for 1
  RefOp op = RefOp::kTag;
  std::optional<Hash> from;  // nullopt: the ref did not exist
  std::optional<Hash> to;    // nullopt: the move deleted the ref
  int64_t time = 0;
  std::string actor;  // 1-200 bytes of printable ASCII
};

// An entry's canonical bytes, and the strict parser: Corrupt naming `what`
// and the cause for anything else (trailing bytes, bad digests, oversize).
inline constexpr size_t kMaxRefMoveBytes = 4096;
std::string SerializeRefMove(const RefMove& move);
Result<RefMove> ParseRefMove(std::string_view bytes, std::string_view what);

// InvalidArgument unless `actor` is 1-200 bytes of 0x20-0x7e.
Status ValidateActor(std::string_view actor);
// Who moves refs from this process: $LAZYPATH_ACTOR if set (validated),
// else user@host (the effective user's name, the host name; bytes outside
// printable ASCII become '?').
Result<std::string> DefaultActor();

// The keys: "history/<ref>/~" and that plus the sequence number as 16
// zero-padded decimal digits.
std::string HistoryPrefix(std::string_view ref);
std::string HistoryKey(std::string_view ref, uint64_t seq);

struct HistoryEntry {
  RefMove move;
  Hash hash;             // of the entry's bytes
  bool applied = false;  // whether the ref moved as recorded (see Log)
};

// The history of ref `name`, oldest first, verified: each entry's sequence
// number matches its key, each names its predecessor's hash (the oldest one
// present may name one no longer stored). Corrupt naming the key for an
// unreadable entry, a gap, a broken chain or a loop. Which entries are
// applied is decided newest first: an entry is applied when its `to` is
// what the ref names now (absent, for a delete) if no newer entry is
// applied, else the `from` of the oldest newer applied entry. A store that
// cannot list (https://) is probed from entry 1 up to the first missing.
Result<std::vector<HistoryEntry>> ReadHistory(Store& store,
                                              std::string_view name);

// Records and performs one move of ref `name` to `to` (nullopt: delete it),
// which `seen` (ReadRefState) showed at `seen.tree`. Conflict, writing
// nothing, when the ref no longer is as seen; Conflict when another writer
// recorded a move first; then the ref moves as in UpdateRef (a delete is
// DeleteIfVersion where the store has conditional writes). A move to the
// tree the ref already names (or names by now) records nothing. Two writers
// making the same move (pushes of one tree to one tag) both succeed: the
// one that finds the move recorded by the other moves the ref if the other
// has not yet, and records nothing.
Status MoveRef(Store& store, std::string_view name,
               const std::optional<Hash>& to, const RefState& seen, RefOp op,
               const std::string& actor, int64_t time);

}  // namespace lazypath

#endif  // LAZYPATH_REF_HISTORY_H_
