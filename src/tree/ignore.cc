#include "tree/ignore.h"

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lazypath {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Characters that make a pattern a glob (git's is_glob_special).
bool IsGlobSpecial(unsigned char c) {
  return c == '*' || c == '?' || c == '[' || c == '\\';
}

// Length of the leading part of `s` free of glob characters (git's
// simple_length).
std::size_t SimpleLength(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && !IsGlobSpecial(static_cast<unsigned char>(s[i]))) {
    ++i;
  }
  return i;
}

// Removes unescaped trailing spaces (not tabs), as git's
// trim_trailing_spaces does. A line ending in a lone backslash is kept as is.
std::string_view TrimTrailingSpaces(std::string_view line) {
  std::size_t last_space = std::string_view::npos;
  for (std::size_t i = 0; i < line.size(); ++i) {
    switch (line[i]) {
      case ' ':
        if (last_space == std::string_view::npos) last_space = i;
        break;
      case '\\':
        ++i;
        if (i == line.size()) return line;
        last_space = std::string_view::npos;
        break;
      default:
        last_space = std::string_view::npos;
        break;
    }
  }
  return last_space == std::string_view::npos ? line
                                              : line.substr(0, last_space);
}

// POSIX character classes as git evaluates them: ASCII only, with git's own
// ctype table (so [:space:] is " \t\n\r", without '\v' and '\f').
bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(unsigned char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(unsigned char c) { return IsAlpha(c) || IsDigit(c); }
bool IsGraph(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

// Evaluates the class `name` (as in "[:name:]") for `c`; false in *known
// when `name` is not a class git knows.
bool ClassMatches(std::string_view name, unsigned char c, bool* known) {
  *known = true;
  if (name == "alnum") return IsAlnum(c);
  if (name == "alpha") return IsAlpha(c);
  if (name == "blank") return c == ' ' || c == '\t';
  if (name == "cntrl") return c < 0x20 || c == 0x7f;
  if (name == "digit") return IsDigit(c);
  if (name == "graph") return IsGraph(c);
  if (name == "lower") return IsLower(c);
  if (name == "print") return c >= 0x20 && c <= 0x7e;
  if (name == "punct") return IsGraph(c) && !IsAlnum(c);
  if (name == "space") return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  if (name == "upper") return IsUpper(c);
  if (name == "xdigit") {
    return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  *known = false;
  return false;
}

// A line-by-line port of git's wildmatch.c (dowild) without WM_CASEFOLD. Git
// works on NUL-terminated strings; At() returns 0 past the end to match.
//
// DoWild(p, t) depends only on (p, t), so once a match has recursed a lot
// its results are memoized. That changes no verdict but bounds the time of
// patterns such as "/**/**/**/**/**/x" that take git exponential time.
class WildMatcher {
 public:
  enum Result : unsigned char {
    kMatch,
    kNoMatch,
    kAbortAll,
    kAbortToStarStar,
    kUnknown,  // memo only
  };

  WildMatcher(std::string_view pattern, std::string_view text, bool pathname)
      : pat_(pattern), text_(text), pathname_(pathname) {}

  bool Run() { return DoWild(0, 0) == kMatch; }

 private:
  // Calls before memoizing, and the largest memo table (in entries).
  static constexpr int kMemoAfterCalls = 512;
  static constexpr std::size_t kMaxMemo = std::size_t{1} << 24;

  static unsigned char At(std::string_view s, std::size_t i) {
    return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
  }

  Result DoWild(std::size_t p, std::size_t t) {
    const std::size_t width = text_.size() + 1;
    if (memo_.empty() && ++calls_ > kMemoAfterCalls &&
        (pat_.size() + 1) * width <= kMaxMemo) {
      memo_.assign((pat_.size() + 1) * width, kUnknown);
    }
    if (memo_.empty() || p > pat_.size() || t >= width) {
      return DoWildUncached(p, t);
    }
    Result& slot = memo_[p * width + t];
    if (slot == kUnknown) slot = DoWildUncached(p, t);
    return slot;
  }

  Result DoWildUncached(std::size_t p, std::size_t t) {
    const std::size_t start = p;  // git's `pattern` for this call
    for (unsigned char p_ch; (p_ch = At(pat_, p)) != 0; ++t, ++p) {
      unsigned char t_ch = At(text_, t);
      if (t_ch == 0 && p_ch != '*') return kAbortAll;
      switch (p_ch) {
        case '\\':
          // Literal match with the next character; a trailing backslash
          // compares against 0 and fails.
          p_ch = At(pat_, ++p);
          [[fallthrough]];
        default:
          if (t_ch != p_ch) return kNoMatch;
          continue;
        case '?':
          if (pathname_ && t_ch == '/') return kNoMatch;
          continue;
        case '*': {
          bool match_slash;
          if (At(pat_, ++p) == '*') {
            // prev_p may point before this call's pattern start.
            const bool at_start = p < start + 2;
            const std::size_t prev_p = p - 2;
            while (At(pat_, ++p) == '*') {
            }
            const unsigned char next = At(pat_, p);
            if (!pathname_) {
              match_slash = true;
            } else if ((at_start || At(pat_, prev_p) == '/') &&
                       (next == 0 || next == '/' ||
                        (next == '\\' && At(pat_, p + 1) == '/'))) {
              // "**/" may match nothing at all: try the rest right here.
              if (next == '/' && DoWild(p + 1, t) == kMatch) return kMatch;
              match_slash = true;
            } else {
              match_slash = false;
            }
          } else {
            match_slash = !pathname_;
          }
          if (At(pat_, p) == 0) {
            // A trailing "**" matches everything, a trailing "*" only what
            // has no more slashes.
            if (!match_slash && text_.find('/', t) != std::string_view::npos) {
              return kNoMatch;
            }
            return kMatch;
          }
          if (!match_slash && At(pat_, p) == '/') {
            // One "*" followed by "/" matches up to the next slash, which the
            // loop increment then consumes along with the pattern's.
            const std::size_t slash = text_.find('/', t);
            if (slash == std::string_view::npos) return kNoMatch;
            t = slash;
            break;
          }
          while (true) {
            if (t_ch == 0) break;
            // When the star is followed by a literal, skip ahead to its next
            // occurrence (not past a slash unless the star may match one).
            if (!IsGlobSpecial(At(pat_, p))) {
              p_ch = At(pat_, p);
              while ((t_ch = At(text_, t)) != 0 &&
                     (match_slash || t_ch != '/')) {
                if (t_ch == p_ch) break;
                ++t;
              }
              if (t_ch != p_ch) return kNoMatch;
            }
            const Result matched = DoWild(p, t);
            if (matched != kNoMatch) {
              if (!match_slash || matched != kAbortToStarStar) return matched;
            } else if (!match_slash && t_ch == '/') {
              return kAbortToStarStar;
            }
            t_ch = At(text_, ++t);
          }
          return kAbortAll;
        }
        case '[': {
          p_ch = At(pat_, ++p);
          if (p_ch == '^') p_ch = '!';
          const bool negated = p_ch == '!';
          if (negated) p_ch = At(pat_, ++p);
          unsigned char prev_ch = 0;
          bool matched = false;
          do {
            if (p_ch == 0) return kAbortAll;
            if (p_ch == '\\') {
              p_ch = At(pat_, ++p);
              if (p_ch == 0) return kAbortAll;
              if (t_ch == p_ch) matched = true;
            } else if (p_ch == '-' && prev_ch != 0 && At(pat_, p + 1) != 0 &&
                       At(pat_, p + 1) != ']') {
              p_ch = At(pat_, ++p);
              if (p_ch == '\\') {
                p_ch = At(pat_, ++p);
                if (p_ch == 0) return kAbortAll;
              }
              if (t_ch <= p_ch && t_ch >= prev_ch) matched = true;
              p_ch = 0;  // a range cannot start a range
            } else if (p_ch == '[' && At(pat_, p + 1) == ':') {
              const std::size_t s = p += 2;
              while ((p_ch = At(pat_, p)) != 0 && p_ch != ']') ++p;
              if (p_ch == 0) return kAbortAll;
              if (p == s || At(pat_, p - 1) != ':') {
                // No ":]": the '[' is an ordinary member of the set.
                p = s - 2;
                p_ch = '[';
                if (t_ch == p_ch) matched = true;
                continue;
              }
              bool known;
              if (ClassMatches(pat_.substr(s, p - s - 1), t_ch, &known)) {
                matched = true;
              }
              if (!known) return kAbortAll;
              p_ch = 0;  // a class cannot start a range
            } else if (t_ch == p_ch) {
              matched = true;
            }
          } while (prev_ch = p_ch, (p_ch = At(pat_, ++p)) != ']');
          if (matched == negated || (pathname_ && t_ch == '/')) return kNoMatch;
          continue;
        }
      }
    }
    return At(text_, t) != 0 ? kNoMatch : kMatch;
  }

  std::string_view pat_;
  std::string_view text_;
  bool pathname_;
  int calls_ = 0;
  std::vector<Result> memo_;  // (p, t) at p * (text size + 1) + t
};

// True when `base` is "" or a relative path of non-empty components other
// than "." and "..", separated by single slashes.
bool IsValidBase(std::string_view base) {
  if (base.empty()) return true;
  if (base.find('\0') != std::string_view::npos) return false;
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = base.find('/', pos);
    const std::string_view part = base.substr(
        pos,
        slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    pos = slash + 1;
  }
}

}  // namespace

std::vector<std::string> IgnoreRules::DefaultPatterns() {
  return {".git", "__pycache__", ".venv"};
}

bool IgnoreRules::ParseRule(std::string_view line, Rule* rule) {
  // Mirrors git's parse_path_pattern plus the per-kind set-up that
  // match_basename and match_pathname do on every call.
  if (!line.empty() && line.front() == '!') {
    rule->negative = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    rule->dir_only = true;
    line.remove_suffix(1);
  }
  rule->basename_only = line.find('/') == std::string_view::npos;
  std::size_t prefix = SimpleLength(line);
  if (rule->basename_only) {
    const bool ends_with = !line.empty() && line.front() == '*' &&
                           SimpleLength(line.substr(1)) == line.size() - 1;
    if (prefix == line.size()) {
      rule->kind = Rule::Kind::kLiteral;
    } else if (ends_with) {
      rule->kind = Rule::Kind::kEndsWith;
    } else {
      rule->kind = Rule::Kind::kGlob;
    }
  } else {
    if (line.front() == '/') {
      line.remove_prefix(1);
      --prefix;
    }
    rule->kind =
        prefix == line.size() ? Rule::Kind::kLiteral : Rule::Kind::kGlob;
  }
  // An empty pattern ("", "!", "/", "//", ...) is accepted by git but can
  // never match a non-empty name.
  if (line.empty()) return false;
  rule->pattern = std::string(line);
  rule->literal_prefix = prefix;
  return true;
}

std::vector<IgnoreRules::Rule>& IgnoreRules::RulesFor(std::string_view base) {
  if (groups_.empty() || groups_.back().base != base) {
    groups_.push_back(Group{std::string(base), {}});
  }
  return groups_.back().rules;
}

Status IgnoreRules::AddFile(std::string_view base, std::string_view contents,
                            std::string_view source) {
  if (!IsValidBase(base)) {
    return Status::InvalidArgument(
        std::string(source) + ": invalid .gitignore directory \"" +
        std::string(base) +
        "\" (want \"\" or a relative '/'-separated path without empty, "
        "\".\" or \"..\" components)");
  }
  // git's add_patterns_from_buffer.
  if (contents.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
    contents.remove_prefix(kUtf8Bom.size());
  }
  std::vector<Rule> parsed;
  std::size_t pos = 0;
  while (pos < contents.size()) {
    std::size_t end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line.back() == '\r') line.remove_suffix(1);
    line = line.substr(0, line.find('\0'));  // git sees a C string
    Rule rule;
    if (ParseRule(TrimTrailingSpaces(line), &rule)) {
      parsed.push_back(std::move(rule));
    }
  }
  if (!parsed.empty()) {
    std::vector<Rule>& rules = RulesFor(base);
    rules.insert(rules.end(), std::make_move_iterator(parsed.begin()),
                 std::make_move_iterator(parsed.end()));
  }
  return Status::OK();
}

Status IgnoreRules::AddPattern(std::string_view pattern) {
  if (pattern.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("exclude pattern contains a NUL byte");
  }
  Rule rule;
  if (ParseRule(pattern, &rule)) RulesFor("").push_back(std::move(rule));
  return Status::OK();
}

bool IgnoreRules::Matches(const Rule& rule, std::string_view name,
                          std::string_view basename) {
  // Mirrors git's match_basename and match_pathname; `pattern` is already
  // stripped of any leading '/'.
  const std::string_view text = rule.basename_only ? basename : name;
  const std::string_view pattern = rule.pattern;
  switch (rule.kind) {
    case Rule::Kind::kLiteral:
      return text == pattern;
    case Rule::Kind::kEndsWith: {
      const std::string_view suffix = pattern.substr(1);
      return text.size() >= suffix.size() &&
             text.substr(text.size() - suffix.size()) == suffix;
    }
    case Rule::Kind::kGlob:
      break;
  }
  const std::size_t prefix = rule.literal_prefix;
  if (text.size() < prefix ||
      text.substr(0, prefix) != pattern.substr(0, prefix)) {
    return false;
  }
  // Like git, match only the part after the literal prefix; with
  // WM_PATHNAME that makes a "**" right after the prefix act as a full
  // "**" even when no '/' precedes it ("/foo**/bar" matches
  // "foox/y/bar"), as in git.
  return WildMatcher(pattern.substr(prefix), text.substr(prefix),
                     /*pathname=*/!rule.basename_only)
      .Run();
}

std::optional<bool> IgnoreRules::Match(std::string_view path,
                                       bool is_dir) const {
  if (path.empty()) return std::nullopt;
  const std::size_t slash = path.rfind('/');
  const std::string_view basename =
      slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (auto group = groups_.rbegin(); group != groups_.rend(); ++group) {
    std::string_view name = path;
    if (!group->base.empty()) {
      const std::size_t n = group->base.size();
      if (path.size() <= n + 1 || path[n] != '/' ||
          path.substr(0, n) != group->base) {
        continue;
      }
      name = path.substr(n + 1);
    }
    for (auto rule = group->rules.rbegin(); rule != group->rules.rend();
         ++rule) {
      if (rule->dir_only && !is_dir) continue;
      if (Matches(*rule, name, basename)) return !rule->negative;
    }
  }
  return std::nullopt;
}

bool IgnoreRules::IsIgnored(std::string_view path, bool is_dir) const {
  return Match(path, is_dir).value_or(false);
}

}  // namespace lazypath
