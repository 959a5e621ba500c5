// IgnoreRules: decides which paths of a scanned tree are left out, using
// gitignore syntax and semantics exactly as git 2.39 implements them (dir.c
// and wildmatch.c): comments, escapes, trailing-space trimming, `!`
// negation, anchoring, directory-only rules, `*`, `?`, `[...]` with POSIX
// classes and `**`, all case-sensitive.
//
// Thread safety: after the last Add* call, const methods may be called
// concurrently. Add* calls must not overlap with any other call.
#ifndef LAZYPATH_TREE_IGNORE_H_
#define LAZYPATH_TREE_IGNORE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"

namespace lazypath {

class IgnoreRules {
 public:
  IgnoreRules() = default;
  IgnoreRules(const IgnoreRules&) = default;
  IgnoreRules& operator=(const IgnoreRules&) = default;
  IgnoreRules(IgnoreRules&&) = default;
  IgnoreRules& operator=(IgnoreRules&&) = default;

  // The built-in defaults, meant to be added with AddPattern before anything
  // else so that they have the lowest precedence: ".git", "__pycache__" and
  // ".venv", each matching a file or directory of that name at any depth.
  static std::vector<std::string> DefaultPatterns();

  // Adds the lines of a .gitignore file found in directory `base`: "" for the
  // scan root, else a '/'-separated relative path with no leading or trailing
  // slash and no empty, "." or ".." component. Its rules apply only to paths
  // below `base`, and anchored patterns are relative to `base`.
  //
  // `contents` is parsed as git parses a .gitignore: a leading UTF-8 BOM is
  // skipped, lines end at '\n' (one '\r' before it is dropped), blank lines
  // and lines starting with '#' are skipped, unescaped trailing spaces are
  // removed. Git accepts every line (a malformed pattern simply never
  // matches), so this never fails because of `contents`; it returns
  // InvalidArgument, naming `source`, only when `base` is malformed, in which
  // case nothing is added.
  Status AddFile(std::string_view base, std::string_view contents,
                 std::string_view source);

  // Adds one pattern relative to the scan root (for --exclude flags), with
  // higher precedence than anything added before it. Like git's
  // `--exclude=<pattern>`, the pattern is taken verbatim: no comment or
  // blank-line handling and no trailing-space trimming. Returns
  // InvalidArgument, adding nothing, if `pattern` contains a NUL byte (no
  // command-line argument can).
  Status AddPattern(std::string_view pattern);

  // True when `path` (relative to the scan root, '/'-separated, no leading or
  // trailing slash) is ignored; `is_dir` says whether it is a directory
  // (directory-only rules such as "build/" match only when it is true).
  //
  // Precedence: rules added later win over rules added earlier (callers add
  // the defaults, then .gitignore files from the root downwards, then
  // --exclude patterns); within one file the last matching line wins; a
  // rule from a .gitignore in directory D applies only to paths below D. A
  // path no rule matches is not ignored, and neither is the root "".
  //
  // Like git, this looks at `path` alone: a path inside an ignored directory
  // is not reported ignored unless a rule matches it too. Callers are
  // expected not to descend into ignored directories, as git does not.
  bool IsIgnored(std::string_view path, bool is_dir) const;

  // The verdict of the highest-precedence rule matching `path`: true
  // (ignored), false (re-included by a negation), or nullopt when no rule
  // matches. Lets a caller layer one rule set above another, as the scanner
  // does with --exclude patterns over .gitignore files.
  std::optional<bool> Match(std::string_view path, bool is_dir) const;

 private:
  // One parsed pattern line, precompiled for matching.
  struct Rule {
    enum class Kind : unsigned char {
      kLiteral,   // the whole text is literal: compare for equality
      kEndsWith,  // basename rule "*literal": compare the suffix
      kGlob,      // literal prefix, then wildmatch on the rest
    };
    Kind kind = Kind::kLiteral;
    bool negative = false;       // the line started with '!'
    bool dir_only = false;       // the line ended with '/'
    bool basename_only = false;  // no '/' inside: match the last component
    // Pattern text after removing '!', the trailing '/' and, for rules that
    // match the whole relative path, one leading '/'.
    std::string pattern;
    // Length of the leading part of `pattern` free of glob characters.
    std::size_t literal_prefix = 0;
  };

  // Rules sharing one base directory, in the order they were added.
  struct Group {
    std::string base;  // "" or a relative directory path without slashes
    std::vector<Rule> rules;
  };

  // Parses one pattern line as git's parse_path_pattern does; false when
  // the line can never match anything (e.g. "!" or "/").
  static bool ParseRule(std::string_view line, Rule* rule);
  // `name` is the path relative to the rule's base, `basename` its last
  // component.
  static bool Matches(const Rule& rule, std::string_view name,
                      std::string_view basename);
  // The rule list to append to for `base`: the last group's if it has the
  // same base, else a new group's.
  std::vector<Rule>& RulesFor(std::string_view base);

  std::vector<Group> groups_;
};

}  // namespace lazypath

#endif  // LAZYPATH_TREE_IGNORE_H_
