// Sizes as users write them: "20G", "512M", "4096", "1.5"-free integers.
//
// The one grammar for every size lazypath reads (`cache gc --max`,
// LAZYPATH_CACHE_MAX): decimal digits, then optionally a unit K, M, G or T
// (powers of 1024), in either case, optionally followed by "B" or "iB"
// ("20G", "20g", "20GiB", "20GB"); a bare number, or one ending in "B", is
// bytes. Spaces around the text are ignored. Pure function; thread-safe.
#ifndef LAZYPATH_SIZE_H_
#define LAZYPATH_SIZE_H_

#include <cstdint>
#include <string_view>

#include "lazypath/status.h"

namespace lazypath {

// InvalidArgument naming `text` when it is not a size, or overflows 64 bits.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace lazypath

#endif  // LAZYPATH_SIZE_H_
