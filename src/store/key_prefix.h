// The key prefix of a bucket store URL (s3://bucket/prefix, gs://bucket/
// prefix): the part after the bucket, under which every key lives.
//
// Pure function; thread-safe.
#ifndef LAZYPATH_STORE_KEY_PREFIX_H_
#define LAZYPATH_STORE_KEY_PREFIX_H_

#include <string>
#include <string_view>

#include "lazypath/status.h"

namespace lazypath {

// Strips trailing '/' from `prefix` and checks what is left: '/'-separated
// components, none empty, "." or "..", and no control bytes. On failure,
// InvalidArgument "store <shown>: malformed <scheme> URL (<why>)"; `shown` is
// the URL as it may be printed (no query, no credentials).
Result<std::string> NormalizeKeyPrefix(std::string prefix,
                                       const std::string& shown,
                                       std::string_view scheme);

}  // namespace lazypath

#endif  // LAZYPATH_STORE_KEY_PREFIX_H_
