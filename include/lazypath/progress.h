// Progress reporting for long operations (scan, hash, pack, upload, fetch).
//
// A ProgressFn receives (phase, done, total, unit). Progress objects call it
// at most about ten times a second plus once at the end of each phase, and
// never concurrently: calls are serialised by an internal mutex, so the
// callback may take a lock of its own (the Python binding takes the GIL).
// The callback may be called from any thread that does work for the
// operation. An empty ProgressFn disables reporting at no cost.
#ifndef LAZYPATH_PROGRESS_H_
#define LAZYPATH_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace lazypath {

using ProgressFn = std::function<void(const std::string& phase, uint64_t done,
                                      uint64_t total, const std::string& unit)>;

class Progress {
 public:
  Progress(const ProgressFn& fn, std::string phase, uint64_t total,
           std::string unit);
  ~Progress();  // reports the final count once
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Thread-safe.
  void Add(uint64_t n);
  // Grows the total, for a phase whose size becomes known as it goes (the
  // upload of packs as each is written). Thread-safe.
  void AddTotal(uint64_t n);

 private:
  void Report(bool force);
  const ProgressFn& fn_;
  std::string phase_;
  std::atomic<uint64_t> total_;
  std::string unit_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace lazypath

#endif  // LAZYPATH_PROGRESS_H_
