#include "core/condemned.h"

#include <cinttypes>
#include <cstdio>

#include "lazypath/store.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "lazypath-condemned 1\n";

// The next line of `rest` (without its LF); false when there is none.
bool NextLine(std::string_view& rest, std::string_view& line) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

}  // namespace

std::string SerializeMark(const CondemnedMark& mark) {
  std::string out(kMagic);
  out += "time " + std::to_string(mark.time) + "\n";
  out += "actor " + mark.actor + "\n";
  for (const auto& k : mark.keys) out += k + "\n";
  return out;
}

Result<CondemnedMark> ParseMark(std::string_view bytes, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(std::string(what) + ": " + std::string(why));
  };
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return bad("not a condemned mark");
  }
  std::string_view rest = bytes.substr(kMagic.size());
  std::string_view line;
  CondemnedMark m;
  if (!NextLine(rest, line) || line.substr(0, 5) != "time ") {
    return bad("no time");
  }
  std::string_view t = line.substr(5);
  if (t.empty() || t.size() > 18) return bad("bad time");
  for (char c : t) {
    if (c < '0' || c > '9') return bad("bad time");
    m.time = m.time * 10 + (c - '0');
  }
  if (!NextLine(rest, line) || line.substr(0, 6) != "actor ") {
    return bad("no actor");
  }
  m.actor = std::string(line.substr(6));
  while (!rest.empty()) {
    if (!NextLine(rest, line)) return bad("truncated key");
    if (line.empty() || line.find('/') == std::string_view::npos) {
      return bad("bad key");
    }
    m.keys.emplace_back(line);
  }
  return m;
}

std::string MarkKey(int64_t time, std::string_view id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016" PRId64, time);
  return std::string(kCondemnedPrefix) + buf + "-" + std::string(id);
}

Result<std::vector<CondemnedMark>> ReadMarks(Store& store) {
  LP_ASSIGN_OR_RETURN(auto keys, store.List(std::string(kCondemnedPrefix)));
  std::vector<CondemnedMark> out;
  for (const auto& key : keys) {
    auto bytes = store.Get(key, kMaxMarkBytes);
    if (!bytes.ok() && bytes.status().code() == Code::kNotFound) {
      continue;  // removed by a prune that finished meanwhile
    }
    if (!bytes.ok()) return bytes.status();
    LP_ASSIGN_OR_RETURN(CondemnedMark m,
                        ParseMark(*bytes, store.url() + "/" + key));
    m.key = key;
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::set<std::string>> CondemnedPacks(Store& store) {
  LP_ASSIGN_OR_RETURN(auto marks, ReadMarks(store));
  std::set<std::string> out;
  for (const auto& m : marks) {
    for (const auto& k : m.keys) {
      if (k.rfind(kPackPrefix, 0) == 0) out.insert(k);
    }
  }
  return out;
}

}  // namespace lazypath
