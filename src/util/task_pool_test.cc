#include "util/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace lazypath {
namespace {

TEST(TaskPool, RunsEveryTaskOnItsThreads) {
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  {
    TaskPool pool(2);
    EXPECT_EQ(pool.threads(), 2);
    std::vector<std::future<void>> done;
    for (int i = 0; i < 100; ++i) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      pool.Submit([&, p] {
        ran++;
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
        p->set_value();
      });
    }
    for (auto& f : done) f.wait();
  }
  EXPECT_EQ(ran.load(), 100);
  EXPECT_LE(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(TaskPool, ZeroThreadsRunsInline) {
  TaskPool pool(0);
  std::thread::id where;
  pool.Submit([&] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(TaskPool, DestructorWaitsForRunningAndDropsQueued) {
  std::atomic<int> ran{0};
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<bool> finished{false};
  std::thread releaser;
  {
    TaskPool pool(1);
    pool.Submit([&] {
      started.set_value();
      go.wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      finished = true;
    });
    for (int i = 0; i < 10; ++i) pool.Submit([&] { ran++; });
    started.get_future().wait();
    // The pool is destroyed while the first task still runs: it must wait
    // for it, and never start the ten queued behind it.
    releaser = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      release.set_value();
    });
  }
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(ran.load(), 0);
  releaser.join();
}

}  // namespace
}  // namespace lazypath
