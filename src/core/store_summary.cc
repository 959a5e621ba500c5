#include "core/store_summary.h"

namespace lazypath {

std::optional<std::string_view> TakeLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return line;
}

std::optional<SummaryHead> ParseSummaryHead(std::string_view bytes,
                                            std::string_view magic,
                                            std::string_view url,
                                            std::string_view key_prefix) {
  if (bytes.substr(0, magic.size()) != magic) return std::nullopt;
  std::string_view rest = bytes.substr(magic.size());
  auto stored_url = TakeLine(rest);
  if (!stored_url || *stored_url != url) return std::nullopt;
  auto count_line = TakeLine(rest);
  if (!count_line || count_line->empty() || count_line->size() > 9) {
    return std::nullopt;
  }
  uint64_t count = 0;
  for (char c : *count_line) {
    if (c < '0' || c > '9') return std::nullopt;
    count = count * 10 + static_cast<uint64_t>(c - '0');
  }
  if (count > kMaxCoveredKeys) return std::nullopt;
  SummaryHead head;
  for (uint64_t i = 0; i < count; ++i) {
    auto key = TakeLine(rest);
    if (!key || key->substr(0, key_prefix.size()) != key_prefix) {
      return std::nullopt;
    }
    head.covered.emplace(*key);
  }
  head.body = rest;
  return head;
}

std::string SerializeSummaryHead(std::string_view magic, std::string_view url,
                                 const std::set<std::string>& covered) {
  std::string out(magic);
  out += url;
  out += '\n';
  out += std::to_string(covered.size());
  out += '\n';
  for (const auto& key : covered) {
    out += key;
    out += '\n';
  }
  return out;
}

}  // namespace lazypath
