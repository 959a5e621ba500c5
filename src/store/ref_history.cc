#include "lazypath/ref_history.h"

#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <map>

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "lazypath-refmove 1\n";
constexpr std::array<std::string_view, 4> kOpNames = {"push", "tag", "rollback",
                                                      "delete"};
constexpr size_t kSeqDigits = 16;

std::string OptionalDigest(const std::optional<Hash>& h) {
  return h ? h->ToString() : "none";
}

// Decimal without sign or leading zeros, at most `max_digits` digits.
bool ParseDecimal(std::string_view text, size_t max_digits, uint64_t* out) {
  if (text.empty() || text.size() > max_digits) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string ConflictMessage(Store& store, std::string_view name,
                            const std::optional<Hash>& now,
                            const RefState& seen, const std::string& why) {
  return "ref '" + std::string(name) + "' in store " + store.url() + " " + why +
         " (it names " + OptionalDigest(now) + ", expected " +
         OptionalDigest(seen.tree) + "); not moved";
}

// The sequence number of a history key ("<prefix><16 digits>"); nullopt
// for any other key under the prefix.
std::optional<uint64_t> EntrySeq(std::string_view key,
                                 const std::string& prefix) {
  std::string_view digits = key.substr(prefix.size());
  if (digits.size() != kSeqDigits ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  for (char c : digits) seq = seq * 10 + static_cast<uint64_t>(c - '0');
  return seq;
}

// The keys of entries 1, 2, ... up to the first one missing.
Result<std::vector<std::string>> ProbeEntries(Store& store,
                                              std::string_view name) {
  std::vector<std::string> keys;
  for (uint64_t seq = 1;; ++seq) {
    std::string key = HistoryKey(name, seq);
    LP_ASSIGN_OR_RETURN(bool there, store.Exists(key));
    if (!there) return keys;
    keys.push_back(std::move(key));
  }
}

// The keys under the ref's history prefix, sorted; probed where the store
// cannot list.
Result<std::vector<std::string>> EntryKeys(Store& store,
                                           std::string_view name) {
  auto listed = store.List(HistoryPrefix(name));
  if (!listed.ok() && listed.status().code() == Code::kUnsupported) {
    return ProbeEntries(store, name);
  }
  return listed;
}

}  // namespace

std::string_view RefOpName(RefOp op) {
  return kOpNames[static_cast<size_t>(op)];
}

Status ValidateActor(std::string_view actor) {
  if (actor.empty() || actor.size() > 200) {
    return Status::InvalidArgument("actor must be 1-200 bytes");
  }
  for (char c : actor) {
    if (c < 0x20 || c > 0x7e) {
      return Status::InvalidArgument("actor '" +
                                     std::string(actor.substr(0, 60)) +
                                     "': only printable ASCII allowed");
    }
  }
  return Status::OK();
}

Result<std::string> DefaultActor() {
  if (const char* set = std::getenv("LAZYPATH_ACTOR"); set != nullptr) {
    Status s = ValidateActor(set);
    if (!s.ok())
      return Status::InvalidArgument("LAZYPATH_ACTOR: " + s.message());
    return std::string(set);
  }
  std::string user;
  if (struct passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) {
    user = pw->pw_name;
  } else if (const char* u = std::getenv("USER"); u != nullptr) {
    user = u;
  } else {
    user = "uid" + std::to_string(::geteuid());
  }
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::string actor = user + "@" + (host[0] ? host.data() : "localhost");
  if (actor.size() > 200) actor.resize(200);
  for (char& c : actor) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return actor;
}

std::string HistoryPrefix(std::string_view ref) {
  return "history/" + std::string(ref) + "/~";
}

std::string HistoryKey(std::string_view ref, uint64_t seq) {
  std::string digits = std::to_string(seq);
  return HistoryPrefix(ref) + std::string(kSeqDigits - digits.size(), '0') +
         digits;
}

std::string SerializeRefMove(const RefMove& m) {
  std::string out(kMagic);
  out += "seq " + std::to_string(m.seq) + "\n";
  out += "prev " + OptionalDigest(m.prev) + "\n";
  out += "op " + std::string(RefOpName(m.op)) + "\n";
  out += "from " + OptionalDigest(m.from) + "\n";
  out += "to " + OptionalDigest(m.to) + "\n";
  out += "time " + std::to_string(m.time) + "\n";
  out += "actor " + m.actor + "\n";
  return out;
}

Result<RefMove> ParseRefMove(std::string_view bytes, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(std::string(what) + ": not a ref history entry (" +
                           std::string(why) + ")");
  };
  if (bytes.size() > kMaxRefMoveBytes) return bad("over 4096 bytes");
  if (bytes.substr(0, kMagic.size()) != kMagic) return bad("bad magic");
  std::string_view rest = bytes.substr(kMagic.size());
  // Each field: "<name> <value>\n", in this order, nothing after the last.
  auto field = [&](std::string_view name, std::string_view* value) -> Status {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      return bad("field '" + std::string(name) + "' missing or unterminated");
    }
    std::string_view line = rest.substr(0, nl);
    if (line.substr(0, name.size()) != name || line.size() <= name.size() ||
        line[name.size()] != ' ') {
      return bad("want field '" + std::string(name) + "'");
    }
    *value = line.substr(name.size() + 1);
    rest.remove_prefix(nl + 1);
    return Status::OK();
  };
  auto digest = [&](std::string_view name, std::string_view v,
                    std::optional<Hash>* out) -> Status {
    if (v == "none") {
      out->reset();
      return Status::OK();
    }
    auto h = Hash::Parse(v);
    if (!h.ok()) return bad(std::string(name) + ": " + h.status().message());
    *out = *h;
    return Status::OK();
  };
  RefMove m;
  std::string_view v;
  LP_RETURN_IF_ERROR(field("seq", &v));
  if (!ParseDecimal(v, kSeqDigits, &m.seq) || m.seq == 0) {
    return bad("seq: want 1-16 decimal digits, not 0, no leading zeros");
  }
  LP_RETURN_IF_ERROR(field("prev", &v));
  LP_RETURN_IF_ERROR(digest("prev", v, &m.prev));
  if ((m.seq == 1) != !m.prev) {
    return bad("prev: 'none' exactly when seq is 1");
  }
  LP_RETURN_IF_ERROR(field("op", &v));
  bool known = false;
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (v == kOpNames[i]) {
      m.op = static_cast<RefOp>(i);
      known = true;
    }
  }
  if (!known) return bad("op: want push, tag, rollback or delete");
  LP_RETURN_IF_ERROR(field("from", &v));
  LP_RETURN_IF_ERROR(digest("from", v, &m.from));
  LP_RETURN_IF_ERROR(field("to", &v));
  LP_RETURN_IF_ERROR(digest("to", v, &m.to));
  if ((m.op == RefOp::kDelete) != !m.to) {
    return bad("to: 'none' exactly when op is delete");
  }
  if (m.op == RefOp::kDelete && !m.from) return bad("delete from none");
  LP_RETURN_IF_ERROR(field("time", &v));
  uint64_t t = 0;
  // 18 digits: below 2^63, so the value fits an int64.
  if (!ParseDecimal(v, 18, &t)) {
    return bad("time: want 1-18 decimal digits, no leading zeros");
  }
  m.time = static_cast<int64_t>(t);
  LP_RETURN_IF_ERROR(field("actor", &v));
  if (Status s = ValidateActor(v); !s.ok()) return bad(s.message());
  m.actor = std::string(v);
  if (!rest.empty()) return bad("trailing bytes");
  return m;
}

Result<std::vector<HistoryEntry>> ReadHistory(Store& store,
                                              std::string_view name) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  const std::string prefix = HistoryPrefix(name);
  LP_ASSIGN_OR_RETURN(auto keys, EntryKeys(store, name));
  std::vector<HistoryEntry> out;
  std::map<Hash, uint64_t> seq_of;  // entry hash -> its seq
  for (const auto& key : keys) {
    auto seq = EntrySeq(key, prefix);
    if (!seq) continue;  // not an entry (documented: ignored)
    const std::string what = "store " + store.url() + ": " + key;
    auto bytes = store.Get(key, kMaxRefMoveBytes);
    if (!bytes.ok()) {
      if (bytes.status().code() == Code::kCorrupt) {
        return Status::Corrupt(what + ": not a ref history entry (over " +
                               std::to_string(kMaxRefMoveBytes) + " bytes)");
      }
      return bytes.status();
    }
    LP_ASSIGN_OR_RETURN(RefMove move, ParseRefMove(*bytes, what));
    if (move.seq != *seq) {
      return Status::Corrupt(what + ": entry says seq " +
                             std::to_string(move.seq) +
                             ", its key another (the history was rewritten)");
    }
    if (!out.empty() && out.back().move.seq + 1 != *seq) {
      return Status::Corrupt(what + ": entry " +
                             std::to_string(out.back().move.seq + 1) +
                             " is missing from the history");
    }
    HistoryEntry e{std::move(move), HashBytes(*bytes).hash, false};
    seq_of[e.hash] = *seq;
    out.push_back(std::move(e));
  }
  // Each entry names the one before it; the oldest present may name one
  // no longer stored.
  for (size_t i = 0; i < out.size(); ++i) {
    const RefMove& m = out[i].move;
    const std::string what =
        "store " + store.url() + ": " + HistoryKey(name, m.seq);
    auto it = m.prev ? seq_of.find(*m.prev) : seq_of.end();
    if (it != seq_of.end() && it->second >= m.seq) {
      return Status::Corrupt(what +
                             ": the history loops (its predecessor is "
                             "entry " +
                             std::to_string(it->second) + ")");
    }
    if (i > 0 && m.prev != out[i - 1].hash) {
      return Status::Corrupt(what + ": does not follow entry " +
                             std::to_string(out[i - 1].move.seq) +
                             " (its prev is not that entry's hash)");
    }
  }
  if (out.empty()) return out;
  std::optional<Hash> now;
  auto ref = ReadRef(store, name);
  if (ref.ok()) {
    now = *ref;
  } else if (ref.status().code() != Code::kNotFound) {
    return ref.status();
  }
  // Newest first: a move is applied when it left the ref as the next
  // applied move (or the ref now) found it.
  std::optional<Hash> after = now;
  for (auto it = out.rbegin(); it != out.rend(); ++it) {
    it->applied = it->move.to == after;
    if (it->applied) after = it->move.from;
  }
  return out;
}

namespace {

// Whether the entry at `key` records a move from `from` to `to`.
bool SameMoveRecorded(Store& store, const std::string& key,
                      const std::optional<Hash>& from, const Hash& to) {
  auto bytes = store.Get(key, kMaxRefMoveBytes);
  if (!bytes.ok()) return false;
  auto entry = ParseRefMove(*bytes, key);
  return entry.ok() && entry->from == from && entry->to == to;
}

// The ref move of an entry another writer recorded: done by whichever
// writer gets there first; a Conflict is fine once the ref names `to`.
Status FinishRecordedMove(Store& store, std::string_view name, const Hash& to,
                          const RefState& seen) {
  Status s = UpdateRef(store, name, to, seen);
  if (s.code() != Code::kConflict) return s;
  LP_ASSIGN_OR_RETURN(RefState now, ReadRefState(store, name));
  return now.tree == to ? Status::OK() : s;
}

}  // namespace

Status MoveRef(Store& store, std::string_view name,
               const std::optional<Hash>& to, const RefState& seen, RefOp op,
               const std::string& actor, int64_t time) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  LP_RETURN_IF_ERROR(ValidateActor(actor));
  if (!to && !seen.tree) {
    return Status::NotFound("ref '" + std::string(name) + "' not in store " +
                            store.url());
  }
  if (seen.tree == to) return Status::OK();
  // The newest entry first, then the ref: a move recorded meanwhile makes
  // the create below fail, whether or not its ref write happened yet.
  const std::string prefix = HistoryPrefix(name);
  LP_ASSIGN_OR_RETURN(auto keys, EntryKeys(store, name));
  RefMove move;
  move.seq = 1;
  bool newest_is_this_move = false;
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    auto last = EntrySeq(*it, prefix);
    if (!last) continue;
    LP_ASSIGN_OR_RETURN(std::string bytes, store.Get(*it, kMaxRefMoveBytes));
    move.seq = *last + 1;
    move.prev = HashBytes(bytes).hash;
    auto newest = ParseRefMove(bytes, *it);
    newest_is_this_move =
        to && newest.ok() && newest->from == seen.tree && newest->to == to;
    break;
  }
  if (move.seq >= 10'000'000'000'000'000ULL) {
    return Status::InvalidArgument("ref '" + std::string(name) +
                                   "': history is full");
  }
  if (move.seq == 1) move.prev.reset();
  LP_ASSIGN_OR_RETURN(RefState now, ReadRefState(store, name));
  if (now.tree == to) return Status::OK();  // another writer did this move
  if (now.tree != seen.tree) {
    return Status::Conflict(
        ConflictMessage(store, name, now.tree, seen, "moved meanwhile"));
  }
  // Another writer recorded this very move and has yet to move the ref.
  if (newest_is_this_move) return FinishRecordedMove(store, name, *to, seen);
  move.op = op;
  move.from = seen.tree;
  move.to = to;
  move.time = time;
  move.actor = actor;
  const std::string key = HistoryKey(name, move.seq);
  const std::string bytes = SerializeRefMove(move);
  Status s = store.PutIfVersion(key, bytes, "");
  if (s.code() == Code::kUnsupported) s = store.Put(key, bytes);
  if (s.code() == Code::kConflict) {
    // Another writer recorded entry N first. When it recorded this very
    // move (two pushes of one tree to one tag), the move is ours too: make
    // sure the ref lands, whichever of us writes it.
    if (to && SameMoveRecorded(store, key, seen.tree, *to)) {
      return FinishRecordedMove(store, name, *to, seen);
    }
    return Status::Conflict(
        ConflictMessage(store, name, now.tree, seen,
                        "was moved by another writer (history entry " +
                            std::to_string(move.seq) + " exists)"));
  }
  LP_RETURN_IF_ERROR(s);
  if (to) return FinishRecordedMove(store, name, *to, seen);
  s = seen.conditional ? store.DeleteIfVersion(RefKey(name), seen.version)
                       : store.Delete(RefKey(name));
  if (s.code() == Code::kConflict) {
    return Status::Conflict(ConflictMessage(store, name, std::nullopt, seen,
                                            "moved while it was deleted"));
  }
  return s;
}

}  // namespace lazypath
