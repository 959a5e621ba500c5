#include "lazypath/size.h"

#include <cctype>
#include <string>

namespace lazypath {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text.substr(0, 100)) +
                                   "' is not a size such as 20G, 512M or 4096");
  };
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  size_t digits = 0;
  while (digits < s.size() &&
         std::isdigit(static_cast<unsigned char>(s[digits]))) {
    ++digits;
  }
  if (digits == 0) return bad();
  std::string unit;
  for (char c : s.substr(digits)) {
    unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  int shift = -1;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else {
    static constexpr std::string_view kUnits = "KMGT";
    size_t at = kUnits.find(unit[0]);
    std::string_view rest = std::string_view(unit).substr(1);
    if (at != std::string_view::npos &&
        (rest.empty() || rest == "B" || rest == "IB")) {
      shift = 10 * static_cast<int>(at + 1);
    }
  }
  if (shift < 0) return bad();
  uint64_t n = 0;
  for (char c : s.substr(0, digits)) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return bad();
    n = n * 10 + d;
  }
  if (shift > 0 && n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

}  // namespace lazypath
