#include "lazypath/prune.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "codec/codec.h"
#include "core/condemned.h"
#include "core/repack_format2.h"
#include "core/tree_reader.h"
#include "core/tree_writer.h"
#include "lazypath/profile.h"
#include "lazypath/ref_history.h"
#include "lazypath/tree.h"
#include "pack/index.h"
#include "pack/locator.h"
#include "pack/pack.h"

namespace lazypath {

namespace {

constexpr std::string_view kLocsPrefix = "locs/";
constexpr std::string_view kLockMagic = "lazypath-prune-lock 1\n";
constexpr std::string_view kTreeRecordMagic = "LZT2";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  std::string h(buf);
  for (char& c : h) {
    if (c < 0x21 || c > 0x7e) c = '?';
  }
  return h.empty() ? "?" : h;
}

std::string RandomId() {
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) id += kHex[rd() % 16];
  return id;
}

// The lock's fields; missing ones stay empty or 0.
struct LockInfo {
  int64_t time = 0;
  std::string actor, host, id;
  int64_t pid = 0;
};

LockInfo ParseLock(std::string_view bytes) {
  LockInfo info;
  if (!StartsWith(bytes, kLockMagic)) return info;
  bytes.remove_prefix(kLockMagic.size());
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view k = line.substr(0, sp), v = line.substr(sp + 1);
    if (k == "time") info.time = std::atoll(std::string(v).c_str());
    if (k == "pid") info.pid = std::atoll(std::string(v).c_str());
    if (k == "actor") info.actor = std::string(v);
    if (k == "host") info.host = std::string(v);
    if (k == "id") info.id = std::string(v);
  }
  return info;
}

std::string SerializeLock(const LockInfo& l) {
  return std::string(kLockMagic) + "time " + std::to_string(l.time) +
         "\nactor " + l.actor + "\nhost " + l.host + "\npid " +
         std::to_string(l.pid) + "\nid " + l.id + "\n";
}

bool ProcessGone(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string When(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Takes prune/lock (created only if absent), breaking a stale one. Returns
// the bytes written, to check later that the lock is still ours.
Result<std::string> TakeLock(Store& store, const PruneOptions& o,
                             const std::string& actor, int64_t now) {
  const std::string key(kPruneLockKey);
  LockInfo mine{now, actor, HostName(), RandomId(),
                static_cast<int64_t>(getpid())};
  const std::string bytes = SerializeLock(mine);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status s = store.PutIfVersion(key, bytes, "");
    if (s.ok()) return bytes;
    if (s.code() == Code::kUnsupported) {
      return Status::Unsupported("prune " + store.url() +
                                 ": the store cannot create objects "
                                 "conditionally, so prunes cannot exclude "
                                 "each other");
    }
    if (s.code() != Code::kConflict) return s;
    auto held = store.GetVersioned(key, 1 << 16);
    if (!held.ok() && held.status().code() == Code::kNotFound) continue;
    if (!held.ok()) return held.status();
    LockInfo other = ParseLock(held->data);
    bool stale = now - other.time > o.lock_timeout ||
                 (other.host == mine.host && ProcessGone(other.pid));
    if (!stale) {
      return Status::Conflict("prune " + store.url() +
                              ": another prune holds " + key + " since " +
                              When(other.time) + " (" + other.actor + ", pid " +
                              std::to_string(other.pid) + " on " + other.host +
                              "); try again when it is done");
    }
    Status d = store.DeleteIfVersion(key, held->version);
    if (!d.ok() && d.code() != Code::kConflict) return d;
  }
  return Status::Conflict("prune " + store.url() + ": another prune took " +
                          key + " first");
}

Status CheckLock(Store& store, const std::string& mine) {
  auto held = store.Get(std::string(kPruneLockKey), 1 << 16);
  if (held.ok() && *held == mine) return Status::OK();
  return Status::Conflict("prune " + store.url() + ": lost " +
                          std::string(kPruneLockKey) +
                          " (it was broken as stale); nothing was deleted");
}

void ReleaseLock(Store& store, const std::string& mine) {
  auto held = store.GetVersioned(std::string(kPruneLockKey), 1 << 16);
  if (held.ok() && held->data == mine) {
    (void)store.DeleteIfVersion(std::string(kPruneLockKey), held->version);
  }
}

// The ref names with a history in the store.
Result<std::set<std::string>> HistoryRefs(Store& store) {
  LP_ASSIGN_OR_RETURN(auto keys, store.List("history/"));
  std::set<std::string> names;
  for (const auto& k : keys) {
    size_t tilde = k.rfind("/~");
    if (tilde == std::string::npos || tilde <= 8) continue;
    names.insert(k.substr(8, tilde - 8));
  }
  return names;
}

Result<std::map<std::string, Hash>> CurrentRefs(Store& store) {
  LP_ASSIGN_OR_RETURN(auto keys, store.List(std::string(kRefPrefix)));
  std::map<std::string, Hash> out;
  for (const auto& k : keys) {
    std::string name = k.substr(kRefPrefix.size());
    auto tree = ReadRef(store, name);
    if (!tree.ok() && tree.status().code() == Code::kNotFound) continue;
    if (!tree.ok()) return tree.status();
    out.emplace(name, *tree);
  }
  return out;
}

std::string TreeHex(const std::string& key, std::string_view prefix) {
  return key.substr(prefix.size());
}

// Everything one run learns about the store and decides from it.
class Pruner {
 public:
  Pruner(Store& store, const PruneOptions& o, int64_t now)
      : store_(store), o_(o), now_(now) {}

  Status Load();
  Status Decide();
  Result<PruneReport> Run(const std::string& actor);

 private:
  void MarkPack(const Hash& pack) { live_packs_.insert(PackKey(pack)); }
  void MarkLocator(const Locator& loc, const Hash& holding) {
    for (const Hash& p : loc.packs) {
      const Hash& pack = p == kHoldingPack ? holding : p;
      format2_packs_.insert(PackKey(pack));
      MarkPack(pack);
    }
  }
  // `kept`: a kept tree's walk, which also records what a repack needs.
  Status WalkFormat2(const Hash& root, std::string_view record, bool kept);
  Status WalkFormat1(const Hash& root);
  // The locations objects that locate a directory or chunk list the kept
  // trees do not reach, each with what replaces it (those records dropped).
  // Fails, and the run with it, when a replacement cannot be encoded:
  // condemning what a location still stands for would be unsafe.
  struct Withdrawal {
    std::string key;          // the locations object replaced
    std::string replacement;  // its key; empty when nothing is left
    std::string bytes;        // the replacement's
    Locations kept;           // what the replacement holds
    uint64_t withdrawn = 0;   // directory and chunk list records dropped
  };
  Result<std::vector<Withdrawal>> PlanWithdrawals() const;
  // Carries out `plan`, appending each locations object replaced or deleted
  // to `done`; locations_ then holds the replacements instead.
  Status Withdraw(const std::vector<Withdrawal>& plan,
                  std::vector<std::string>& done);
  // The format 1 packs whose dead share passes kRepackDeadShare, with the
  // live frames of each (by offset).
  std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>>
  RepackCandidates() const;
  Result<uint64_t> Repack(
      const std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>>&
          candidates);
  // The format 2 packs kept trees use whose dead share passes
  // kRepackDeadShare, counting as dead the located frames that repacking
  // them rewrites (so that one run leaves no pack the next would repack).
  std::set<Hash> Format2Candidates();
  // Moves what the kept trees use out of `packs` (core/repack_format2.h),
  // then withdraws the locations the move left behind (counted in `r`).
  Status RepackFormat2Packs(const std::set<Hash>& packs, PruneReport& r);
  bool Old(const std::string& key) const;
  void Extent(const Hash& pack, uint64_t end) {
    uint64_t& e = extent_[PackKey(pack)];
    e = std::max(e, end);
  }
  uint64_t Bytes(const std::string& key) const {
    auto it = sizes_.find(key);
    if (it != sizes_.end()) return it->second;
    auto e = extent_.find(key);
    return e == extent_.end() ? 0 : e->second;
  }

  Store& store_;
  const PruneOptions& o_;
  int64_t now_;

  std::vector<std::string> trees_, indexes_, profiles_, locs_, packs_;
  std::set<Hash> kept_;        // trees the rules keep
  std::set<Hash> in_history_;  // trees any recorded move names
  std::vector<CondemnedMark> marks_;
  std::map<std::string, int64_t> marked_;   // key -> earliest mark time
  std::map<std::string, uint64_t> sizes_;   // objects read, by key
  std::map<std::string, uint64_t> extent_;  // pack key -> located end
  // Every locations object, by key.
  std::map<std::string, Locations> locations_;
  // Packs format 2 names (locators walked, locations objects): never
  // repacked as format 1 packs.
  std::set<std::string> format2_packs_;
  // The indexes of the trees walked (kept and young), by key.
  std::map<std::string, Index> live_indexes_;

  std::set<std::string> live_;  // trees, indexes, profiles
  std::set<std::string> live_packs_;
  // Located frames the tree walks read, by pack and offset.
  std::set<std::pair<Hash, uint64_t>> walked_;
  // What the kept trees' walks read of format 2: their records and located
  // frames (repack_.records, repack_.walked), and the length of every frame
  // their locators name, by pack and offset (kept_frames_).
  Format2RepackInput repack_;
  std::map<Hash, std::map<uint64_t, uint64_t>> kept_frames_;

  std::vector<Withdrawal> withdrawals_;  // step 3

  std::vector<std::string> to_delete_;  // in deletion order
  std::vector<std::string> to_condemn_;
  // A tree not kept that could not be walked: what it reaches is unknown,
  // so this run condemns but deletes nothing.
  Status young_error_;
};

Status Pruner::Load() {
  // Only <prefix><64 hex> keys are objects prune may judge; anything
  // else under these prefixes is left alone.
  auto list = [&](std::string_view prefix,
                  std::vector<std::string>& out) -> Status {
    LP_ASSIGN_OR_RETURN(auto keys, store_.List(std::string(prefix)));
    for (auto& k : keys) {
      if (Hash::FromHex(TreeHex(k, prefix)).ok()) out.push_back(std::move(k));
    }
    return Status::OK();
  };
  LP_RETURN_IF_ERROR(list(kTreePrefix, trees_));
  LP_RETURN_IF_ERROR(list(kIndexPrefix, indexes_));
  LP_RETURN_IF_ERROR(list(kProfilePrefix, profiles_));
  LP_RETURN_IF_ERROR(list(kLocsPrefix, locs_));
  LP_RETURN_IF_ERROR(list(kPackPrefix, packs_));
  LP_ASSIGN_OR_RETURN(marks_, ReadMarks(store_));
  for (const auto& m : marks_) {
    for (const auto& k : m.keys) {
      auto [it, fresh] = marked_.emplace(k, m.time);
      if (!fresh) it->second = std::min(it->second, m.time);
    }
  }

  LP_ASSIGN_OR_RETURN(auto refs, CurrentRefs(store_));
  for (const auto& [name, tree] : refs) kept_.insert(tree);
  LP_ASSIGN_OR_RETURN(auto names, HistoryRefs(store_));
  for (const auto& name : names) {
    LP_ASSIGN_OR_RETURN(auto history, ReadHistory(store_, name));
    size_t n = history.size();
    for (size_t i = 0; i < n; ++i) {
      const RefMove& m = history[i].move;
      if (m.from) in_history_.insert(*m.from);
      if (m.to) in_history_.insert(*m.to);
      bool last = n - i <= static_cast<size_t>(o_.keep_last);
      if (last && m.to) kept_.insert(*m.to);
      if (o_.keep_within > 0 && m.time >= now_ - o_.keep_within) {
        if (m.from) kept_.insert(*m.from);
        if (m.to) kept_.insert(*m.to);
      }
    }
  }

  // Where every located object and frame is, from the locations objects.
  for (const auto& key : locs_) {
    LP_ASSIGN_OR_RETURN(Hash h, Hash::FromHex(TreeHex(key, kLocsPrefix)));
    LP_ASSIGN_OR_RETURN(std::string bytes, store_.Get(key, kMaxLocationsBytes));
    sizes_[key] = bytes.size();
    LP_ASSIGN_OR_RETURN(Locations locs,
                        DecodeLocations(bytes, h, store_.url() + "/" + key));
    for (const Hash& p : locs.packs) format2_packs_.insert(PackKey(p));
    for (const auto& r : locs.records) {
      Extent(locs.packs[r.frame.pack], r.frame.offset + r.frame.length);
    }
    locations_.emplace(key, std::move(locs));
  }
  return Status::OK();
}

bool Pruner::Old(const std::string& key) const {
  int64_t threshold = o_.grace;
  if (StartsWith(key, kTreePrefix)) {
    auto h = Hash::FromHex(TreeHex(key, kTreePrefix));
    // An unnamed tree's age is unknown: it is at least as old as its first
    // condemnation, which must then pass keep_within too.
    if (h.ok() && !in_history_.count(*h)) {
      threshold = std::max(threshold, o_.keep_within);
    }
  }
  auto it = marked_.find(key);
  if (it == marked_.end()) return threshold == 0;
  return now_ - it->second >= threshold;
}

Status Pruner::WalkFormat1(const Hash& root) {
  const std::string key = IndexKey(root);
  auto bytes = store_.Get(key, kMaxIndexBytes);
  if (!bytes.ok() && bytes.status().code() == Code::kNotFound) {
    return Status::OK();  // a tree without its index is not activatable
  }
  if (!bytes.ok()) return bytes.status();
  sizes_[key] = bytes->size();
  live_.insert(key);
  LP_ASSIGN_OR_RETURN(Index index,
                      Index::Parse(*bytes, store_.url() + "/" + key));
  for (const auto& [blob, loc] : index.blobs) MarkPack(loc.pack);
  live_indexes_.emplace(key, std::move(index));
  return Status::OK();
}

Status Pruner::WalkFormat2(const Hash& root, std::string_view record,
                           bool kept) {
  // Every frame a kept tree's locator names, for the dead share of packs.
  auto frames = [&](const Locator& loc, const Hash& holding) {
    MarkLocator(loc, holding);
    if (!kept) return;
    for (const Slot& slot : loc.slots) {
      if (slot.type == SlotType::kNone) continue;
      for (const PackFrame* f : {&slot.frame, &slot.init}) {
        if (f == &slot.init && slot.type != SlotType::kLocatedInit) continue;
        const Hash& pack = loc.PackOf(*f, holding);
        kept_frames_[pack][f->offset] = f->length;
        Extent(pack, f->offset + f->length);
      }
    }
  };
  if (kept) repack_.records.emplace(root, std::string(record));
  return WalkLocated(store_, root, record, walked_,
                     kept ? &repack_.walked : nullptr, frames);
}

// A push reuses a located directory or chunk list without reading it: the
// location stands for the whole subtree (pack/known_objects.h). One that no
// kept tree reaches may stand for packs this run condemns, so its location
// is withdrawn now, before the mark is written: a push that starts after
// the mark cannot reuse it, and one that started before and reused it
// publishes a tree the next run walks (doc/lifecycle.md). A blob stands
// for nothing but its own frame: its record stays while its pack is live
// and goes with it (pushes stop using a condemned pack anyway), so what a
// run writes holds only live records and the next run finds it unchanged.
Result<std::vector<Pruner::Withdrawal>> Pruner::PlanWithdrawals() const {
  std::vector<Withdrawal> plan;
  for (const auto& [key, locs] : locations_) {
    Locations kept;
    uint64_t dropped = 0, withdrawn = 0;
    for (const auto& r : locs.records) {
      const Hash& pack = locs.packs[r.frame.pack];
      const bool used = r.kind == LocationKind::kBlob
                            ? live_packs_.count(PackKey(pack)) > 0
                            : walked_.count({pack, r.frame.offset}) > 0;
      if (!used) {
        dropped++;
        withdrawn += r.kind != LocationKind::kBlob;
        continue;
      }
      kept.Add(r, pack);
    }
    if (dropped == 0) continue;
    Withdrawal w;
    w.key = key;
    w.withdrawn = withdrawn;
    if (!kept.records.empty()) {
      auto bytes = EncodeLocations(kept, Codec::kZstd, 3);
      if (!bytes.ok()) {
        return bytes.status().WithContext("prune " + store_.url() +
                                          ": rewriting " + key);
      }
      w.replacement = LocationsKey(HashBytes(*bytes).hash);
      w.bytes = std::move(*bytes);
      w.kept = std::move(kept);
    }
    plan.push_back(std::move(w));
  }
  return plan;
}

// Replacement first, then the old object: a push listing in between sees
// both, which is what it saw before.
Status Pruner::Withdraw(const std::vector<Withdrawal>& plan,
                        std::vector<std::string>& done) {
  for (const auto& w : plan) {
    if (!w.replacement.empty()) {
      Status s = store_.Put(w.replacement, w.bytes);
      if (!s.ok()) {
        return s.WithContext("prune " + store_.url() + ": writing " +
                             w.replacement + " to replace " + w.key);
      }
    }
    Status s = store_.Delete(w.key);
    if (!s.ok() && s.code() != Code::kNotFound) {
      return s.WithContext("prune " + store_.url() + ": deleting " + w.key);
    }
    done.push_back(w.key);
    locations_.erase(w.key);
    if (!w.replacement.empty()) {
      sizes_[w.replacement] = w.bytes.size();
      locations_.emplace(w.replacement, w.kept);
    }
  }
  return Status::OK();
}

Status Pruner::Decide() {
  // Format 1 frames, for the byte counts; every index is read once.
  for (const auto& key : indexes_) {
    auto bytes = store_.Get(key, kMaxIndexBytes);
    if (!bytes.ok() && bytes.status().code() == Code::kNotFound) continue;
    if (!bytes.ok()) return bytes.status();
    sizes_[key] = bytes->size();
    auto index = Index::Parse(*bytes, store_.url() + "/" + key);
    if (!index.ok()) continue;  // dead unless its tree is kept (then: error)
    for (const auto& [blob, loc] : index->blobs) {
      Extent(loc.pack, loc.frame.offset + loc.frame.length);
    }
  }
  // Kept trees decide what is condemned; trees not kept but not yet
  // condemned long enough ago (young) also protect what they reach from
  // deletion, though they are condemned themselves.
  std::vector<Hash> kept, young;
  for (const auto& key : trees_) {
    auto h = Hash::FromHex(TreeHex(key, kTreePrefix));
    if (!h.ok()) continue;  // not a tree key: left alone
    if (kept_.count(*h)) {
      kept.push_back(*h);
    } else if (!Old(key)) {
      young.push_back(*h);
    }
  }
  Progress progress(o_.progress, "walk", kept.size() + young.size(), "trees");
  auto walk = [&](const std::vector<Hash>& roots, bool is_kept) -> Status {
    for (const Hash& root : roots) {
      const std::string key = TreeKey(root);
      auto bytes = store_.Get(key, 2 * kMaxObjectBytes + kMaxTreeBytes);
      if (!bytes.ok() && bytes.status().code() == Code::kNotFound) {
        progress.Add(1);
        continue;  // gone already; nothing to keep
      }
      if (!bytes.ok()) return bytes.status();
      sizes_[key] = bytes->size();
      live_.insert(key);
      live_.insert(ProfileKey(root));
      if (StartsWith(*bytes, kTreeRecordMagic)) {
        LP_RETURN_IF_ERROR(WalkFormat2(root, *bytes, is_kept));
      } else {
        LP_RETURN_IF_ERROR(WalkFormat1(root));
      }
      progress.Add(1);
    }
    for (const auto& [key, locs] : locations_) {
      for (const Hash& p : locs.packs) {
        if (live_packs_.count(PackKey(p))) live_.insert(key);
      }
    }
    return Status::OK();
  };
  // Keys in deletion order: trees and profiles, indexes, locations
  // objects, packs (doc/lifecycle.md); those `live` lacks.
  auto unused = [&](const std::set<std::string>& live,
                    const std::set<std::string>& packs) {
    std::vector<std::string> out;
    for (const auto* group : {&trees_, &profiles_, &indexes_, &locs_}) {
      for (const auto& key : *group) {
        if (!live.count(key)) out.push_back(key);
      }
    }
    for (const auto& key : packs_) {
      if (!packs.count(key)) out.push_back(key);
    }
    return out;
  };
  LP_RETURN_IF_ERROR(walk(kept, true));
  LP_ASSIGN_OR_RETURN(withdrawals_, PlanWithdrawals());
  // A replaced locations object is deleted with the withdrawal, not judged.
  std::set<std::string> replaced;
  for (const auto& w : withdrawals_) replaced.insert(w.key);
  std::erase_if(locs_, [&](const std::string& k) { return replaced.count(k); });
  for (const auto& key : unused(live_, live_packs_)) {
    if (!marked_.count(key)) to_condemn_.push_back(key);
  }
  young_error_ = walk(young, false);
  if (!young_error_.ok()) {
    to_delete_.clear();
    return Status::OK();
  }
  to_delete_ = unused(live_, live_packs_);
  std::erase_if(to_delete_, [&](const std::string& k) { return !Old(k); });
  return Status::OK();
}

Result<PruneReport> Pruner::Run(const std::string& actor) {
  PruneReport r;
  r.dry_run = o_.dry_run;
  r.trees = trees_.size();
  r.packs = packs_.size();
  r.condemned = to_condemn_;
  r.trees_condemned = std::count_if(
      to_condemn_.begin(), to_condemn_.end(),
      [](const std::string& k) { return StartsWith(k, kTreePrefix); });
  r.locations_rewritten = withdrawals_.size();
  for (const auto& w : withdrawals_) r.objects_withdrawn += w.withdrawn;
  // Sizes are known once read: tree records prune deletes are read then.
  auto finish = [&](const std::vector<std::string>& deleted) {
    r.deleted = deleted;
    for (const auto* group : {&trees_, &indexes_, &locs_, &packs_}) {
      for (const auto& key : *group) r.bytes_before += Bytes(key);
    }
    uint64_t freed = 0, added = 0;
    for (const auto& w : withdrawals_) {
      r.bytes_before += Bytes(w.key);
      freed += Bytes(w.key);
      added += w.bytes.size();
    }
    for (const auto& key : deleted) {
      if (StartsWith(key, kTreePrefix)) r.trees_deleted++;
      if (StartsWith(key, kPackPrefix)) r.packs_deleted++;
      freed += Bytes(key);
    }
    r.trees_kept = r.trees - r.trees_deleted;
    r.packs_kept = r.packs - r.packs_deleted;
    r.bytes_after = r.bytes_before + added;
    r.bytes_after -= std::min(freed, r.bytes_after);
  };
  if (o_.dry_run) {
    LP_RETURN_IF_ERROR(young_error_);
    r.packs_repacked = RepackCandidates().size() + Format2Candidates().size();
    for (const auto& w : withdrawals_) r.rewritten.push_back(w.key);
    finish(to_delete_);
    return r;
  }

  // Phase 0: withdraw the locations of what no kept tree reaches, before
  // the mark that condemns what they stand for.
  LP_RETURN_IF_ERROR(Withdraw(withdrawals_, r.rewritten));

  // Phase 1: announce before deleting anything.
  if (!to_condemn_.empty()) {
    CondemnedMark mark;
    mark.time = now_;
    mark.actor = actor;
    mark.keys = to_condemn_;
    mark.key = MarkKey(now_, RandomId().substr(0, 8));
    LP_RETURN_IF_ERROR(store_.Put(mark.key, SerializeMark(mark)));
    marks_.push_back(std::move(mark));
  }
  if (!young_error_.ok()) {
    return young_error_.WithContext(
        "prune " + store_.url() +
        ": a tree no rule keeps could not be read; it is condemned and "
        "nothing was deleted");
  }

  // Phase 2: what was condemned long enough ago and is still dead.
  std::vector<std::string> deleted;
  std::map<std::string, std::string> saved;  // deleted tree records
  Progress progress(o_.progress, "delete", to_delete_.size(), "objects");
  auto remove = [&](const std::string& key) -> Status {
    Status s = store_.Delete(key);
    if (!s.ok()) {
      return s.WithContext("prune " + store_.url() + ": deleting " + key);
    }
    deleted.push_back(key);
    progress.Add(1);
    return Status::OK();
  };
  size_t i = 0;
  for (; i < to_delete_.size() && StartsWith(to_delete_[i], kTreePrefix); ++i) {
    const std::string& key = to_delete_[i];
    auto bytes = store_.Get(key, 2 * kMaxObjectBytes + kMaxTreeBytes);
    if (!bytes.ok() && bytes.status().code() != Code::kNotFound) {
      return bytes.status();
    }
    if (bytes.ok()) {
      sizes_[key] = bytes->size();
      saved.emplace(key, std::move(*bytes));
    }
    LP_RETURN_IF_ERROR(remove(key));
  }
  // A ref moved to a tree deleted above (a tag or a push of that very tree
  // racing this run): put its record back and stop; the next run decides
  // again with the ref in view.
  if (!saved.empty()) {
    LP_ASSIGN_OR_RETURN(auto refs, CurrentRefs(store_));
    for (const auto& [name, tree] : refs) {
      auto it = saved.find(TreeKey(tree));
      if (it == saved.end()) continue;
      LP_RETURN_IF_ERROR(store_.Put(it->first, it->second));
      std::erase(deleted, it->first);
      r.restored.push_back(tree.ToString());
      saved.erase(it);
    }
  }
  if (r.restored.empty()) {
    for (; i < to_delete_.size(); ++i)
      LP_RETURN_IF_ERROR(remove(to_delete_[i]));
    // Every key of an old mark is deleted or spared now: the mark is done.
    for (const auto& m : marks_) {
      if (now_ - m.time >= o_.grace) LP_RETURN_IF_ERROR(store_.Delete(m.key));
    }
    LP_ASSIGN_OR_RETURN(r.packs_repacked, Repack(RepackCandidates()));
    const std::set<Hash> f2 = Format2Candidates();
    if (!f2.empty()) {
      LP_RETURN_IF_ERROR(RepackFormat2Packs(f2, r));
      r.packs_repacked += f2.size();
    }
  }
  finish(deleted);
  return r;
}

std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>>
Pruner::RepackCandidates() const {
  std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>> live;
  for (const auto& [key, index] : live_indexes_) {
    for (const auto& [blob, loc] : index.blobs) {
      live[loc.pack].emplace(loc.frame.offset, std::make_pair(blob, loc));
    }
  }
  std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>> out;
  for (auto& [pack, frames] : live) {
    const std::string key = PackKey(pack);
    if (format2_packs_.count(key) || marked_.count(key)) continue;
    auto e = extent_.find(key);
    if (e == extent_.end() || e->second <= kPackMagic.size()) continue;
    uint64_t used = 0;
    for (const auto& [offset, f] : frames) used += f.second.frame.length;
    const uint64_t total = e->second - kPackMagic.size();
    if (used >= total || (total - used) * 100 <= total * kRepackDeadShare) {
      continue;
    }
    out.emplace(pack, std::move(frames));
  }
  return out;
}

// Copies each candidate's live frames, verified, into a new pack, then
// points every live index at it. The old pack stays: nothing names it any
// more, so the next run condemns it and a later one deletes it, a grace
// period after readers of the old indexes could still have needed it.
Result<uint64_t> Pruner::Repack(
    const std::map<Hash, std::map<uint64_t, std::pair<Hash, BlobLocation>>>&
        candidates) {
  uint64_t repacked = 0;
  for (const auto& [pack, frames] : candidates) {
    std::string bytes(kPackMagic);
    std::map<uint64_t, uint64_t> moved;  // old offset -> new
    for (const auto& [offset, f] : frames) {
      const auto& [blob, loc] = f;
      std::string frame;
      LP_RETURN_IF_ERROR(store_.GetRange(
          PackKey(pack), offset, loc.frame.length, [&](std::string_view b) {
            frame.append(b);
            return Status::OK();
          }));
      const std::string what = "repacking pack " + pack.hex() + ": frame at " +
                               std::to_string(offset);
      LP_ASSIGN_OR_RETURN(std::string data,
                          DecodeFrame(loc.frame.codec, frame, loc.size, what));
      if (HashBytes(data) != Digest{blob, loc.size}) {
        return Status::Corrupt(what + ": blob " + blob.hex() +
                               " does not match its digest; nothing moved");
      }
      moved[offset] = bytes.size();
      bytes += frame;
    }
    const Hash fresh = HashBytes(bytes).hash;
    LP_RETURN_IF_ERROR(store_.Put(PackKey(fresh), bytes));
    for (auto& [key, index] : live_indexes_) {
      bool names = false;
      for (auto& [blob, loc] : index.blobs) {
        if (loc.pack != pack) continue;
        names = true;
        loc.pack = fresh;
        loc.frame.offset = moved.at(loc.frame.offset);
      }
      if (names) LP_RETURN_IF_ERROR(store_.Put(key, index.Serialize()));
    }
    repacked++;
  }
  return repacked;
}

std::set<Hash> Pruner::Format2Candidates() {
  std::set<Hash> indexed;  // format 1 indexes name them too: left alone
  for (const auto& [key, index] : live_indexes_) {
    for (const auto& [blob, loc] : index.blobs) indexed.insert(loc.pack);
  }
  // Repacking some packs rewrites located frames above what moves, which
  // may be in other packs: those lose live bytes, so the choice is made
  // again until it stands (it only grows).
  std::set<Hash> out;
  std::set<FrameKey> dead;
  for (;;) {
    std::set<Hash> next;
    for (const auto& [pack, frames] : kept_frames_) {
      const std::string key = PackKey(pack);
      if (marked_.count(key) || indexed.count(pack)) continue;
      auto e = extent_.find(key);
      if (e == extent_.end() || e->second <= kPackMagic.size()) continue;
      uint64_t used = 0;
      for (const auto& [offset, length] : frames) {
        if (!dead.count({pack, offset})) used += length;
      }
      const uint64_t total = e->second - kPackMagic.size();
      if (used >= total || (total - used) * 100 <= total * kRepackDeadShare) {
        continue;
      }
      next.insert(pack);
    }
    if (next == out) return out;
    out = std::move(next);
    repack_.packs = out;
    dead = LocatedToRewrite(repack_);
  }
}

Status Pruner::RepackFormat2Packs(const std::set<Hash>& packs, PruneReport& r) {
  repack_.packs = packs;
  repack_.progress = o_.progress;
  LP_ASSIGN_OR_RETURN(Format2Repacked out, RepackFormat2(store_, repack_));
  // What the old packs held is withdrawn at once, so that pushes from now
  // on reuse the copies (and no push names the old packs again); a push
  // that found the old locations earlier is the case doc/lifecycle.md
  // covers for any withdrawal.
  for (const Hash& p : packs) live_packs_.erase(PackKey(p));
  for (const auto& key : out.replaced) walked_.erase(key);
  LP_ASSIGN_OR_RETURN(auto plan, PlanWithdrawals());
  LP_RETURN_IF_ERROR(Withdraw(plan, r.rewritten));
  r.locations_rewritten += plan.size();
  for (const auto& w : plan) r.objects_withdrawn += w.withdrawn;
  return Status::OK();
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "invalid duration '" + std::string(text.substr(0, 40)) +
        "': expected a number of seconds or N followed by s, m, h, d or w");
  };
  if (text.empty() || text.size() > 20) return bad();
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) {
    digits.remove_suffix(1);
  } else {
    unit = 1;
  }
  if (digits.empty() || digits.size() > 12) return bad();
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
  }
  return n * unit;
}

Result<PruneReport> Prune(Store& store, const PruneOptions& options) {
  const std::string& url = store.url();
  if (options.keep_last < 0 || options.keep_within < 0 || options.grace < 0 ||
      options.lock_timeout < 0) {
    return Status::InvalidArgument(
        "prune " + url +
        ": keep_last, keep_within, grace and lock_timeout "
        "must not be negative");
  }
  if (StartsWith(url, "https://") || StartsWith(url, "http://")) {
    return Status::Unsupported("prune " + url +
                               ": https:// stores are read-only");
  }
  const uint64_t requests_before = store.stats().requests.load();
  int64_t now =
      options.now != 0 ? options.now : static_cast<int64_t>(std::time(nullptr));
  std::string actor = options.actor;
  if (actor.empty()) {
    LP_ASSIGN_OR_RETURN(actor, DefaultActor());
  }
  LP_RETURN_IF_ERROR(ValidateActor(actor));

  std::string lock;
  if (!options.dry_run) {
    LP_ASSIGN_OR_RETURN(lock, TakeLock(store, options, actor, now));
  }
  auto run = [&]() -> Result<PruneReport> {
    Pruner p(store, options, now);
    LP_RETURN_IF_ERROR(p.Load());
    LP_RETURN_IF_ERROR(p.Decide());
    if (!options.dry_run) LP_RETURN_IF_ERROR(CheckLock(store, lock));
    return p.Run(actor);
  };
  Result<PruneReport> r = run();
  if (!options.dry_run) ReleaseLock(store, lock);
  if (!r.ok()) return r.status();
  r->requests = store.stats().requests.load() - requests_before;
  return r;
}

}  // namespace lazypath
