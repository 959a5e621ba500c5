#include "lazypath/progress.h"

namespace lazypath {

Progress::Progress(const ProgressFn& fn, std::string phase, uint64_t total,
                   std::string unit)
    : fn_(fn),
      phase_(std::move(phase)),
      total_(total),
      unit_(std::move(unit)),
      last_(std::chrono::steady_clock::now()) {
  Report(true);
}

Progress::~Progress() { Report(true); }

void Progress::Add(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  Report(false);
}

void Progress::AddTotal(uint64_t n) {
  total_.fetch_add(n, std::memory_order_relaxed);
  Report(false);
}

void Progress::Report(bool force) {
  if (!fn_) return;
  auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  if (force) {
    lock.lock();
  } else {
    if (!lock.try_lock()) return;
    if (now - last_ < std::chrono::milliseconds(100)) return;
  }
  last_ = now;
  fn_(phase_, done_.load(), total_.load(), unit_);
}

}  // namespace lazypath
