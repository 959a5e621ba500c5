#include "doctor/names.h"

namespace lazypath::doctor {

std::string JoinLikeImportlib(std::string_view a, std::string_view b) {
  std::string out;
  bool first = true;
  for (std::string_view part : {a, b}) {
    if (part.empty()) continue;
    size_t end = part.find_last_not_of('/');
    if (!first) out += '/';
    first = false;
    if (end != std::string_view::npos) out += part.substr(0, end + 1);
  }
  return out;
}

std::string NormalizeDistName(std::string_view name) {
  std::string out;
  bool in_sep = false;
  for (char ch : name) {
    if (ch == '-' || ch == '_' || ch == '.') {
      if (!in_sep) out += '_';
      in_sep = true;
      continue;
    }
    in_sep = false;
    out += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace lazypath::doctor
