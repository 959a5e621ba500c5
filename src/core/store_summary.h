// The head both per-machine store summaries share (known_blobs.h for
// format 1, store_objects.h for format 2): a magic line, the store URL, the
// count of store keys the summary covers and those keys, one per line. The
// body after it is each summary's own.
//
// The files are local, but a damaged one must cost a rebuild, never memory
// or a wrong answer: ParseSummaryHead refuses (nullopt) a wrong magic or
// URL, a count that is not 1-9 digits or over kMaxCoveredKeys, and a key
// without the expected prefix. Thread safety: pure functions.
#ifndef LAZYPATH_CORE_STORE_SUMMARY_H_
#define LAZYPATH_CORE_STORE_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace lazypath {

inline constexpr uint64_t kMaxCoveredKeys = 10'000'000;

struct SummaryHead {
  std::set<std::string> covered;
  std::string_view body;  // what follows the head, in the parsed bytes
};

std::optional<SummaryHead> ParseSummaryHead(std::string_view bytes,
                                            std::string_view magic,
                                            std::string_view url,
                                            std::string_view key_prefix);

std::string SerializeSummaryHead(std::string_view magic, std::string_view url,
                                 const std::set<std::string>& covered);

// Takes one '\n'-terminated line off the front of `rest`.
std::optional<std::string_view> TakeLine(std::string_view& rest);

}  // namespace lazypath

#endif  // LAZYPATH_CORE_STORE_SUMMARY_H_
