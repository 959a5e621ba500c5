// TaskPool: a fixed set of worker threads running queued tasks in the order
// they were submitted (started in order; they may finish in any order).
//
// Callers that need results in order pair each task with a std::future
// and wait for the futures in submission order (tree_writer does).
//
// Threads and lifetime: Submit may be called from any thread. The
// destructor discards tasks not yet started and waits for the running
// ones, so a task must not capture anything that dies before the pool; a
// task must not throw. A pool of zero threads runs each task inside Submit.
#ifndef LAZYPATH_UTIL_TASK_POOL_H_
#define LAZYPATH_UTIL_TASK_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lazypath {

class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Submit(std::function<void()> task);
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                        // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_TASK_POOL_H_
