// Data-parallel loops over an index range.
//
// ParallelFor runs fn(i) for every i in [0, n) on up to `threads` threads
// (0 = hardware concurrency) and returns the first non-OK Status by index
// order among those that ran. After one failure, indices not yet started are
// skipped. fn must be safe to call concurrently for distinct i.
#ifndef LAZYPATH_UTIL_PARALLEL_H_
#define LAZYPATH_UTIL_PARALLEL_H_

#include <cstddef>
#include <functional>

#include "lazypath/status.h"

namespace lazypath {

int DefaultThreads();
Status ParallelFor(size_t n, int threads,
                   const std::function<Status(size_t)>& fn);

}  // namespace lazypath

#endif  // LAZYPATH_UTIL_PARALLEL_H_
