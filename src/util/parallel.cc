#include "util/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace lazypath {

int DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 64u));
}

Status ParallelFor(size_t n, int threads,
                   const std::function<Status(size_t)>& fn) {
  if (n == 0) return Status::OK();
  if (threads <= 0) threads = DefaultThreads();
  size_t workers = std::min<size_t>(static_cast<size_t>(threads), n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  size_t first_bad = n;
  Status first;
  auto run = [&] {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_bad) {
          first_bad = i;
          first = std::move(s);
        }
        failed.store(true);
      }
    }
  };
  if (workers == 1) {
    run();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (size_t t = 0; t + 1 < workers; ++t) pool.emplace_back(run);
    run();
    for (auto& t : pool) t.join();
  }
  return first;
}

}  // namespace lazypath
