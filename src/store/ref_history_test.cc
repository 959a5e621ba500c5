#include "lazypath/ref_history.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/fs.h"

namespace lazypath {
namespace {

Hash TreeHash(std::string_view seed) { return HashBytes(seed).hash; }

TEST(RefMoveTest, Vectors) {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/refmoves.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = nlohmann::json::parse(ss.str());
  ASSERT_FALSE(v["valid"].empty());
  for (const auto& c : v["valid"]) {
    const std::string bytes = c["bytes"].get<std::string>();
    auto m = ParseRefMove(bytes, "entry");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->seq, c["seq"].get<uint64_t>());
    EXPECT_EQ(RefOpName(m->op), c["op"].get<std::string>());
    auto text = [](const std::optional<Hash>& h) {
      return h ? nlohmann::json(h->ToString()) : nlohmann::json(nullptr);
    };
    EXPECT_EQ(text(m->from), c["from"]);
    EXPECT_EQ(text(m->to), c["to"]);
    EXPECT_EQ(m->time, c["time"].get<int64_t>());
    EXPECT_EQ(m->actor, c["actor"].get<std::string>());
    EXPECT_EQ(SerializeRefMove(*m), bytes);
  }
  ASSERT_FALSE(v["invalid"].empty());
  for (const auto& c : v["invalid"]) {
    auto m = ParseRefMove(c["bytes"].get<std::string>(), "history/x/~1");
    ASSERT_FALSE(m.ok()) << c["bytes"];
    EXPECT_EQ(m.status().code(), Code::kCorrupt);
    EXPECT_NE(m.status().message().find(c["error"].get<std::string>()),
              std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find("history/x/~1"), std::string::npos);
    EXPECT_EQ(m.status().message().find('\n'), std::string::npos);
  }
}

TEST(RefMoveTest, Keys) {
  EXPECT_EQ(HistoryKey("prod", 1), "history/prod/~0000000000000001");
  EXPECT_EQ(HistoryKey("team/prod", 12345),
            "history/team/prod/~0000000000012345");
  EXPECT_EQ(HistoryPrefix("team"), "history/team/~");
}

TEST(RefMoveTest, Actor) {
  EXPECT_TRUE(ValidateActor("ana@host").ok());
  EXPECT_FALSE(ValidateActor("").ok());
  EXPECT_FALSE(ValidateActor("a\nb").ok());
  EXPECT_FALSE(ValidateActor(std::string(201, 'a')).ok());
  ::setenv("LAZYPATH_ACTOR", "release bot", 1);
  auto set = DefaultActor();
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(*set, "release bot");
  ::setenv("LAZYPATH_ACTOR", "bad\tactor", 1);
  EXPECT_EQ(DefaultActor().status().code(), Code::kInvalidArgument);
  ::unsetenv("LAZYPATH_ACTOR");
  auto def = DefaultActor();
  ASSERT_TRUE(def.ok());
  EXPECT_NE(def->find('@'), std::string::npos);
  EXPECT_TRUE(ValidateActor(*def).ok());
}

class RefHistoryTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/ref_history_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(root_).ok());
    StoreOptions o;
    o.create = true;
    auto s = OpenStore(root_, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override { (void)fs::RemoveAll(root_); }
  Status Move(std::string_view name, const std::optional<Hash>& to,
              RefOp op = RefOp::kTag, int64_t time = 100) {
    auto seen = ReadRefState(*store_, name);
    if (!seen.ok()) return seen.status();
    return MoveRef(*store_, name, to, *seen, op, "tester@host", time);
  }
  std::string root_;
  std::unique_ptr<Store> store_;
};

TEST_F(RefHistoryTest, RecordsEveryMove) {
  Hash a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", a, RefOp::kPush, 1).ok());
  ASSERT_TRUE(Move("prod", b, RefOp::kTag, 2).ok());
  ASSERT_TRUE(Move("prod", b).ok());  // no move: nothing recorded
  ASSERT_TRUE(Move("prod", std::nullopt, RefOp::kDelete, 3).ok());
  EXPECT_EQ(ReadRef(*store_, "prod").status().code(), Code::kNotFound);
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].move.op, RefOp::kPush);
  EXPECT_FALSE((*h)[0].move.from);
  EXPECT_EQ((*h)[0].move.to, a);
  EXPECT_EQ((*h)[1].move.from, a);
  EXPECT_EQ((*h)[1].move.prev, (*h)[0].hash);
  EXPECT_EQ((*h)[2].move.op, RefOp::kDelete);
  EXPECT_EQ((*h)[2].move.time, 3);
  EXPECT_EQ((*h)[2].move.actor, "tester@host");
  for (const auto& e : *h) EXPECT_TRUE(e.applied);
  // Deleting what is not there.
  EXPECT_EQ(Move("prod", std::nullopt, RefOp::kDelete).code(), Code::kNotFound);
  // Refs with '/' keep separate histories from their parents.
  ASSERT_TRUE(Move("team", a).ok());
  ASSERT_TRUE(Move("team", std::nullopt, RefOp::kDelete).ok());
  ASSERT_TRUE(Move("team/prod", b).ok());
  auto team = ReadHistory(*store_, "team");
  ASSERT_TRUE(team.ok());
  EXPECT_EQ(team->size(), 2u);
  auto none = ReadHistory(*store_, "never");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(RefHistoryTest, StaleWriterConflictsAndRecordsNothing) {
  Hash a = TreeHash("a"), b = TreeHash("b"), c = TreeHash("c");
  ASSERT_TRUE(Move("prod", a).ok());
  auto seen = ReadRefState(*store_, "prod");
  ASSERT_TRUE(seen.ok());
  ASSERT_TRUE(Move("prod", b).ok());
  Status s = MoveRef(*store_, "prod", c, *seen, RefOp::kTag, "late", 5);
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_NE(s.message().find("ref 'prod'"), std::string::npos) << s.message();
  EXPECT_EQ(*ReadRef(*store_, "prod"), b);
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 2u);
}

TEST_F(RefHistoryTest, UnappliedEntriesAreMarked) {
  // A writer recorded entry 2 and died before moving the ref.
  Hash a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", a).ok());
  auto first = store_->Get(HistoryKey("prod", 1), 4096);
  ASSERT_TRUE(first.ok());
  RefMove other{2, HashBytes(*first).hash, RefOp::kTag, a, b, 7, "other"};
  ASSERT_TRUE(store_->Put(HistoryKey("prod", 2), SerializeRefMove(other)).ok());
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_TRUE((*h)[0].applied);
  EXPECT_FALSE((*h)[1].applied);
  // The next move follows it, from where the ref really is.
  ASSERT_TRUE(Move("prod", TreeHash("d")).ok());
  h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_FALSE((*h)[1].applied);
  EXPECT_EQ((*h)[2].move.from, a);
  EXPECT_TRUE((*h)[2].applied);
}

// A writer that lost the ref's compare-and-swap after recording its move:
// the move before it, which did land, stays applied.
TEST_F(RefHistoryTest, LostRaceAfterAnAppliedMove) {
  Hash x = TreeHash("x"), a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", x).ok());
  ASSERT_TRUE(Move("prod", a).ok());
  auto second = store_->Get(HistoryKey("prod", 2), 4096);
  ASSERT_TRUE(second.ok());
  RefMove stale{3, HashBytes(*second).hash, RefOp::kTag, x, b, 9, "late"};
  ASSERT_TRUE(store_->Put(HistoryKey("prod", 3), SerializeRefMove(stale)).ok());
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_TRUE((*h)[0].applied);
  EXPECT_TRUE((*h)[1].applied);
  EXPECT_FALSE((*h)[2].applied);
}

// Forwards to a store; with `race`, another writer creates each history
// entry just before this one tries to; with `no_list`, it cannot list (as
// https:// stores).
class WrappedStore : public Store {
 public:
  explicit WrappedStore(Store& base) : base_(base) {}
  bool race = false;
  // With `race`: the other writer records this same move, not junk.
  std::string race_entry = "the other writer's entry";
  bool no_list = false;
  bool fail_refs = false;  // every ref write fails, as if the writer died
  const std::string& url() const override { return base_.url(); }
  Result<std::string> Get(const std::string& k, uint64_t m) override {
    return base_.Get(k, m);
  }
  Status GetRange(const std::string& k, uint64_t o, uint64_t l,
                  const ByteSink& s) override {
    return base_.GetRange(k, o, l, s);
  }
  Status Put(const std::string& k, std::string_view d) override {
    return base_.Put(k, d);
  }
  Status PutFile(const std::string& k, const std::string& p) override {
    return base_.PutFile(k, p);
  }
  Result<bool> Exists(const std::string& k) override { return base_.Exists(k); }
  Result<std::vector<std::string>> List(const std::string& p) override {
    if (no_list) return Status::Unsupported("no listing");
    return base_.List(p);
  }
  Result<VersionedObject> GetVersioned(const std::string& k,
                                       uint64_t m) override {
    return base_.GetVersioned(k, m);
  }
  Status PutIfVersion(const std::string& k, std::string_view d,
                      const std::string& v) override {
    if (fail_refs && k.rfind("refs/", 0) == 0) {
      return Status::IoError("killed before the ref moved");
    }
    if (race && k.rfind("history/", 0) == 0) {
      Status s = base_.PutIfVersion(k, race_entry, "");
      if (!s.ok()) return s;
    }
    return base_.PutIfVersion(k, d, v);
  }

 private:
  Store& base_;
};

TEST_F(RefHistoryTest, RacingRecordConflicts) {
  Hash a = TreeHash("a");
  ASSERT_TRUE(Move("prod", a).ok());
  WrappedStore racing(*store_);
  racing.race = true;
  auto seen = ReadRefState(racing, "prod");
  ASSERT_TRUE(seen.ok());
  Status s =
      MoveRef(racing, "prod", TreeHash("b"), *seen, RefOp::kTag, "me", 9);
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("another writer"), std::string::npos)
      << s.message();
  EXPECT_EQ(*ReadRef(*store_, "prod"), a);
}

// Two pushes of one tree to one tag: the one that loses the history race
// still succeeds, and the ref lands even if the winner never moved it.
TEST_F(RefHistoryTest, RacingWriterOfTheSameMoveSucceeds) {
  Hash a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", a).ok());
  auto first = store_->Get(HistoryKey("prod", 1), 4096);
  ASSERT_TRUE(first.ok());
  WrappedStore racing(*store_);
  racing.race = true;
  racing.race_entry = SerializeRefMove(
      {2, HashBytes(*first).hash, RefOp::kPush, a, b, 9, "the other"});
  auto seen = ReadRefState(racing, "prod");
  ASSERT_TRUE(seen.ok());
  Status s = MoveRef(racing, "prod", b, *seen, RefOp::kPush, "me", 9);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(*ReadRef(*store_, "prod"), b);
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].move.actor, "the other");
  EXPECT_TRUE((*h)[1].applied);
}

// A writer that finds this very move recorded but the ref not yet moved
// (the other writer is between its two writes) moves the ref itself and
// records nothing more.
TEST_F(RefHistoryTest, MoveRecordedButNotAppliedIsFinished) {
  Hash a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", a).ok());
  auto first = store_->Get(HistoryKey("prod", 1), 4096);
  ASSERT_TRUE(first.ok());
  auto seen = ReadRefState(*store_, "prod");
  ASSERT_TRUE(seen.ok());
  RefMove other{2, HashBytes(*first).hash, RefOp::kPush, a, b, 9, "other"};
  ASSERT_TRUE(store_->Put(HistoryKey("prod", 2), SerializeRefMove(other)).ok());
  ASSERT_TRUE(MoveRef(*store_, "prod", b, *seen, RefOp::kPush, "me", 9).ok());
  EXPECT_EQ(*ReadRef(*store_, "prod"), b);
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_TRUE((*h)[1].applied);
}

TEST_F(RefHistoryTest, AWriterDyingBeforeTheRefMovesLeavesItUnapplied) {
  Hash a = TreeHash("a");
  ASSERT_TRUE(Move("prod", a).ok());
  WrappedStore dying(*store_);
  dying.fail_refs = true;
  auto seen = ReadRefState(dying, "prod");
  ASSERT_TRUE(seen.ok());
  Status s = MoveRef(dying, "prod", TreeHash("b"), *seen, RefOp::kTag, "me", 1);
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ(*ReadRef(*store_, "prod"), a);
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_TRUE((*h)[0].applied);
  EXPECT_FALSE((*h)[1].applied);
}

TEST_F(RefHistoryTest, StoresThatCannotListAreProbed) {
  ASSERT_TRUE(Move("prod", TreeHash("a")).ok());
  ASSERT_TRUE(Move("prod", TreeHash("b")).ok());
  WrappedStore https(*store_);
  https.no_list = true;
  auto h = ReadHistory(https, "prod");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_TRUE((*h)[1].applied);
  auto none = ReadHistory(https, "other");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(RefHistoryTest, DamagedHistoriesFailNamingTheKey) {
  Hash a = TreeHash("a"), b = TreeHash("b");
  ASSERT_TRUE(Move("prod", a).ok());
  ASSERT_TRUE(Move("prod", b).ok());
  ASSERT_TRUE(Move("prod", a).ok());
  auto expect_corrupt = [&](std::string_view want) {
    auto h = ReadHistory(*store_, "prod");
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.status().code(), Code::kCorrupt);
    EXPECT_NE(h.status().message().find(want), std::string::npos)
        << h.status().message();
    EXPECT_NE(h.status().message().find("history/prod/~"), std::string::npos);
    EXPECT_EQ(h.status().message().find('\n'), std::string::npos);
  };
  const std::string k1 = HistoryKey("prod", 1), k2 = HistoryKey("prod", 2),
                    k3 = HistoryKey("prod", 3);
  auto e1 = *store_->Get(k1, 4096), e2 = *store_->Get(k2, 4096),
       e3 = *store_->Get(k3, 4096);

  ASSERT_TRUE(store_->Put(k2, e2 + "junk").ok());
  expect_corrupt("trailing bytes");
  ASSERT_TRUE(store_->Put(k2, std::string(5000, 'x')).ok());
  expect_corrupt("over 4096 bytes");
  ASSERT_TRUE(store_->Put(k2, e3).ok());  // entry 3's bytes at key 2
  expect_corrupt("says seq 3");
  ASSERT_TRUE(store_->Put(k2, e2).ok());

  // Entry 2 rewritten: entry 3 no longer follows it.
  auto m2 = *ParseRefMove(e2, "e2");
  m2.actor = "forger";
  ASSERT_TRUE(store_->Put(k2, SerializeRefMove(m2)).ok());
  expect_corrupt("does not follow entry 2");
  // Entry 2 naming entry 3 as its predecessor: a loop.
  m2 = *ParseRefMove(e2, "e2");
  m2.prev = HashBytes(e3).hash;
  ASSERT_TRUE(store_->Put(k2, SerializeRefMove(m2)).ok());
  expect_corrupt("loops");
  ASSERT_TRUE(store_->Put(k2, e2).ok());

  // A gap in the middle.
  ASSERT_TRUE(store_->Delete(k2).ok());
  expect_corrupt("entry 2 is missing");
  ASSERT_TRUE(store_->Put(k2, e2).ok());
  ASSERT_TRUE(ReadHistory(*store_, "prod").ok());

  // The oldest entries removed (pruned): the rest still reads.
  ASSERT_TRUE(store_->Delete(k1).ok());
  auto h = ReadHistory(*store_, "prod");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->size(), 2u);
}

}  // namespace
}  // namespace lazypath
