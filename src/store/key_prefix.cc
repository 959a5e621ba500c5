#include "store/key_prefix.h"

namespace lazypath {

Result<std::string> NormalizeKeyPrefix(std::string prefix,
                                       const std::string& shown,
                                       std::string_view scheme) {
  auto malformed = [&](const char* why) {
    return Status::InvalidArgument("store " + shown + ": malformed " +
                                   std::string(scheme) + " URL (" + why + ")");
  };
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.empty()) return prefix;
  size_t start = 0;
  while (start <= prefix.size()) {
    size_t end = prefix.find('/', start);
    if (end == std::string::npos) end = prefix.size();
    std::string_view comp = std::string_view(prefix).substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..") {
      return malformed("empty, '.' or '..' component in the prefix");
    }
    start = end + 1;
  }
  for (unsigned char c : prefix) {
    if (c < 0x20 || c == 0x7F) return malformed("control byte in prefix");
  }
  return prefix;
}

}  // namespace lazypath
