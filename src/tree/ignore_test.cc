#include "tree/ignore.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"

namespace lazypath {
namespace {

namespace fs = std::filesystem;

// Rules from one .gitignore with the given contents in directory `base`.
IgnoreRules FromFile(std::string_view contents, std::string_view base = "") {
  IgnoreRules rules;
  Status status = rules.AddFile(base, contents, "test/.gitignore");
  EXPECT_TRUE(status.ok()) << status.message();
  return rules;
}

bool File(const IgnoreRules& rules, std::string_view path) {
  return rules.IsIgnored(path, /*is_dir=*/false);
}

bool Dir(const IgnoreRules& rules, std::string_view path) {
  return rules.IsIgnored(path, /*is_dir=*/true);
}

TEST(IgnoreRulesTest, NoRulesIgnoreNothing) {
  IgnoreRules rules;
  EXPECT_FALSE(File(rules, "a"));
  EXPECT_FALSE(Dir(rules, "a/b"));
}

TEST(IgnoreRulesTest, RootIsNeverIgnored) {
  IgnoreRules rules = FromFile("*\n");
  EXPECT_FALSE(Dir(rules, ""));
  EXPECT_TRUE(Dir(rules, "a"));
}

TEST(IgnoreRulesTest, BlankLinesAndCommentsAreSkipped) {
  IgnoreRules rules = FromFile("\n\n# comment\n   \nbar\n#\n");
  EXPECT_TRUE(File(rules, "bar"));
  EXPECT_FALSE(File(rules, "# comment"));
  EXPECT_FALSE(File(rules, "comment"));
  EXPECT_FALSE(File(rules, "#"));
  EXPECT_FALSE(File(rules, " "));
}

TEST(IgnoreRulesTest, HashIsACommentOnlyInTheFirstColumn) {
  IgnoreRules rules = FromFile(" #x\na#b\n");
  EXPECT_TRUE(File(rules, " #x"));
  EXPECT_TRUE(File(rules, "a#b"));
  EXPECT_FALSE(File(rules, "#x"));
  EXPECT_FALSE(File(rules, "a"));
}

TEST(IgnoreRulesTest, EscapedHashAndBangAreLiteral) {
  IgnoreRules rules = FromFile("\\#hash\n\\!bang\n");
  EXPECT_TRUE(File(rules, "#hash"));
  EXPECT_TRUE(File(rules, "!bang"));
  EXPECT_TRUE(File(rules, "d/#hash"));
  EXPECT_FALSE(File(rules, "hash"));
  EXPECT_FALSE(File(rules, "bang"));
}

TEST(IgnoreRulesTest, TrailingUnescapedSpacesAreStripped) {
  IgnoreRules rules = FromFile("foo   \n");
  EXPECT_TRUE(File(rules, "foo"));
  EXPECT_FALSE(File(rules, "foo "));
  EXPECT_FALSE(File(rules, "foo   "));
}

TEST(IgnoreRulesTest, EscapedSpaceIsKept) {
  IgnoreRules rules = FromFile("bar\\ \nbaz\\  \n");
  EXPECT_TRUE(File(rules, "bar "));
  EXPECT_FALSE(File(rules, "bar"));
  // The escaped space stays, the unescaped one after it goes.
  EXPECT_TRUE(File(rules, "baz "));
  EXPECT_FALSE(File(rules, "baz  "));
  EXPECT_FALSE(File(rules, "baz"));
}

TEST(IgnoreRulesTest, OnlySpacesAreTrimmedNotTabs) {
  IgnoreRules rules = FromFile("tab\t\n\t\n");
  EXPECT_TRUE(File(rules, "tab\t"));
  EXPECT_FALSE(File(rules, "tab"));
  // A line holding only a tab is a pattern, not a blank line.
  EXPECT_TRUE(File(rules, "\t"));
}

TEST(IgnoreRulesTest, TrailingBackslashNeverMatches) {
  IgnoreRules rules = FromFile("end\\\nend\\ \\\n");
  EXPECT_FALSE(File(rules, "end"));
  EXPECT_FALSE(File(rules, "end\\"));
  EXPECT_FALSE(File(rules, "end "));
  EXPECT_FALSE(File(rules, "end \\"));
}

TEST(IgnoreRulesTest, CrLfBomAndMissingFinalNewline) {
  IgnoreRules rules = FromFile(
      "\xEF\xBB\xBF"
      "first\r\nsecond\r\nthird");
  EXPECT_TRUE(File(rules, "first"));
  EXPECT_TRUE(File(rules, "second"));
  EXPECT_TRUE(File(rules, "third"));
  EXPECT_FALSE(File(rules, "first\r"));
  EXPECT_FALSE(File(rules,
                    "\xEF\xBB\xBF"
                    "first"));
}

TEST(IgnoreRulesTest, BomIsSkippedOnlyAtTheStart) {
  IgnoreRules rules = FromFile(
      "a\n\xEF\xBB\xBF"
      "b\n");
  EXPECT_TRUE(File(rules,
                   "\xEF\xBB\xBF"
                   "b"));
  EXPECT_FALSE(File(rules, "b"));
}

TEST(IgnoreRulesTest, NulByteEndsTheLine) {
  IgnoreRules rules = FromFile(std::string_view("abc\0def\nnext\n", 13));
  EXPECT_TRUE(File(rules, "abc"));
  EXPECT_TRUE(File(rules, "next"));
  EXPECT_FALSE(File(rules, "def"));
}

TEST(IgnoreRulesTest, NegationReincludes) {
  IgnoreRules rules = FromFile("*.log\n!keep.log\n");
  EXPECT_TRUE(File(rules, "a.log"));
  EXPECT_TRUE(File(rules, "d/a.log"));
  EXPECT_FALSE(File(rules, "keep.log"));
  EXPECT_FALSE(File(rules, "d/keep.log"));
}

TEST(IgnoreRulesTest, LastMatchingLineWins) {
  IgnoreRules rules = FromFile("!keep.log\n*.log\n");
  EXPECT_TRUE(File(rules, "keep.log"));
  IgnoreRules twice = FromFile("x\n!x\nx\n");
  EXPECT_TRUE(File(twice, "x"));
}

TEST(IgnoreRulesTest, NameWithoutSlashMatchesAtAnyDepth) {
  IgnoreRules rules = FromFile("name\n");
  EXPECT_TRUE(File(rules, "name"));
  EXPECT_TRUE(File(rules, "a/name"));
  EXPECT_TRUE(Dir(rules, "a/b/name"));
  EXPECT_FALSE(File(rules, "a/name2"));
  EXPECT_FALSE(File(rules, "xname"));
}

TEST(IgnoreRulesTest, LeadingSlashAnchors) {
  IgnoreRules rules = FromFile("/top\n");
  EXPECT_TRUE(File(rules, "top"));
  EXPECT_TRUE(Dir(rules, "top"));
  EXPECT_FALSE(File(rules, "a/top"));
}

TEST(IgnoreRulesTest, MiddleSlashAnchors) {
  IgnoreRules rules = FromFile("doc/frotz\n");
  EXPECT_TRUE(File(rules, "doc/frotz"));
  EXPECT_FALSE(File(rules, "a/doc/frotz"));
  EXPECT_FALSE(File(rules, "frotz"));
}

TEST(IgnoreRulesTest, TrailingSlashMeansDirectoryOnly) {
  IgnoreRules rules = FromFile("build/\ndoc/out/\n");
  EXPECT_TRUE(Dir(rules, "build"));
  EXPECT_TRUE(Dir(rules, "a/build"));
  EXPECT_FALSE(File(rules, "build"));
  EXPECT_FALSE(File(rules, "a/build"));
  // A trailing slash does not anchor; a middle one does.
  EXPECT_TRUE(Dir(rules, "doc/out"));
  EXPECT_FALSE(File(rules, "doc/out"));
  EXPECT_FALSE(Dir(rules, "a/doc/out"));
}

TEST(IgnoreRulesTest, NegatedDirectoryOnlyRule) {
  IgnoreRules rules = FromFile("keep*\n!keep/\n");
  EXPECT_FALSE(Dir(rules, "keep"));
  EXPECT_TRUE(File(rules, "keep"));
  EXPECT_TRUE(Dir(rules, "keeper"));
}

TEST(IgnoreRulesTest, RulesApplyRelativeToTheirDirectory) {
  IgnoreRules rules = FromFile("/anch\nfree\nmid/dle\n", "sub/dir");
  EXPECT_TRUE(File(rules, "sub/dir/anch"));
  EXPECT_FALSE(File(rules, "sub/dir/x/anch"));
  EXPECT_FALSE(File(rules, "anch"));
  EXPECT_TRUE(File(rules, "sub/dir/free"));
  EXPECT_TRUE(File(rules, "sub/dir/x/y/free"));
  EXPECT_TRUE(File(rules, "sub/dir/mid/dle"));
  EXPECT_FALSE(File(rules, "sub/dir/x/mid/dle"));
  EXPECT_FALSE(File(rules, "mid/dle"));
}

TEST(IgnoreRulesTest, RulesApplyOnlyBelowTheirDirectory) {
  IgnoreRules rules = FromFile("x\n*\n", "a");
  EXPECT_TRUE(File(rules, "a/x"));
  EXPECT_FALSE(Dir(rules, "a"));
  EXPECT_FALSE(File(rules, "x"));
  EXPECT_FALSE(File(rules, "b/x"));
  EXPECT_FALSE(File(rules, "ab/x"));
  EXPECT_FALSE(File(rules, "b/a/x"));
}

TEST(IgnoreRulesTest, StarDoesNotMatchSlash) {
  IgnoreRules rules = FromFile("/src/*.c\n/x*y\n");
  EXPECT_TRUE(File(rules, "src/a.c"));
  EXPECT_TRUE(File(rules, "src/.c"));
  EXPECT_FALSE(File(rules, "src/sub/a.c"));
  EXPECT_TRUE(File(rules, "xaby"));
  EXPECT_FALSE(File(rules, "x/y"));
  EXPECT_FALSE(File(rules, "xa/by"));
}

TEST(IgnoreRulesTest, StarMatchesWithinOneComponent) {
  IgnoreRules rules = FromFile("*.pyc\nfoo*bar\n");
  EXPECT_TRUE(File(rules, "a.pyc"));
  EXPECT_TRUE(File(rules, "x/y/.pyc"));
  EXPECT_FALSE(File(rules, "a.pyco"));
  EXPECT_TRUE(File(rules, "foobar"));
  EXPECT_TRUE(File(rules, "d/foo-x-bar"));
  EXPECT_FALSE(File(rules, "foo/bar"));
}

TEST(IgnoreRulesTest, QuestionMarkMatchesOneCharacterButNotSlash) {
  IgnoreRules rules = FromFile("a?c\n/x?y\n");
  EXPECT_TRUE(File(rules, "abc"));
  EXPECT_TRUE(File(rules, "d/a.c"));
  EXPECT_FALSE(File(rules, "ac"));
  EXPECT_FALSE(File(rules, "abbc"));
  EXPECT_TRUE(File(rules, "x-y"));
  EXPECT_FALSE(File(rules, "x/y"));
}

TEST(IgnoreRulesTest, BracketSets) {
  IgnoreRules rules = FromFile(
      "s[abc]\nn[!abc]\nc[^abc]\nr[a-c]\nb[]]\nx[!]]\nd[a-]\ne[\\]]\n");
  EXPECT_TRUE(File(rules, "sa"));
  EXPECT_TRUE(File(rules, "sc"));
  EXPECT_FALSE(File(rules, "sd"));
  EXPECT_FALSE(File(rules, "s"));
  EXPECT_TRUE(File(rules, "nd"));
  EXPECT_FALSE(File(rules, "na"));
  EXPECT_TRUE(File(rules, "cd"));
  EXPECT_FALSE(File(rules, "cb"));
  EXPECT_TRUE(File(rules, "rb"));
  EXPECT_FALSE(File(rules, "rd"));
  EXPECT_FALSE(File(rules, "r-"));
  EXPECT_TRUE(File(rules, "b]"));
  EXPECT_FALSE(File(rules, "b["));
  EXPECT_TRUE(File(rules, "xa"));
  EXPECT_FALSE(File(rules, "x]"));
  EXPECT_TRUE(File(rules, "da"));
  EXPECT_TRUE(File(rules, "d-"));
  EXPECT_FALSE(File(rules, "db"));
  EXPECT_TRUE(File(rules, "e]"));
  EXPECT_FALSE(File(rules, "e\\"));
}

TEST(IgnoreRulesTest, BracketNeverMatchesSlashInAPath) {
  IgnoreRules rules = FromFile("/a[/]b\n/c[!x]d\n");
  EXPECT_FALSE(File(rules, "a/b"));
  EXPECT_FALSE(File(rules, "c/d"));
  EXPECT_TRUE(File(rules, "cyd"));
}

TEST(IgnoreRulesTest, PosixClasses) {
  IgnoreRules rules = FromFile(
      "alnum[[:alnum:]]\nalpha[[:alpha:]]\nblank[[:blank:]]\n"
      "cntrl[[:cntrl:]]\ndigit[[:digit:]]\ngraph[[:graph:]]\n"
      "lower[[:lower:]]\nprint[[:print:]]\npunct[[:punct:]]\n"
      "space[[:space:]]\nupper[[:upper:]]\nxdigit[[:xdigit:]]\n"
      "not[![:digit:]]\nmix[[:digit:]x-z]\n");
  EXPECT_TRUE(File(rules, "alnum7"));
  EXPECT_TRUE(File(rules, "alnumQ"));
  EXPECT_FALSE(File(rules, "alnum_"));
  EXPECT_TRUE(File(rules, "alphaz"));
  EXPECT_FALSE(File(rules, "alpha1"));
  EXPECT_FALSE(File(rules, "alpha\xE9"));  // ASCII only, as in git
  EXPECT_TRUE(File(rules, "blank "));
  EXPECT_TRUE(File(rules, "blank\t"));
  EXPECT_FALSE(File(rules, "blank\n"));
  EXPECT_TRUE(File(rules, "cntrl\x01"));
  EXPECT_TRUE(File(rules, "cntrl\x7f"));
  EXPECT_FALSE(File(rules, "cntrl "));
  EXPECT_TRUE(File(rules, "digit0"));
  EXPECT_FALSE(File(rules, "digita"));
  EXPECT_TRUE(File(rules, "graph~"));
  EXPECT_FALSE(File(rules, "graph "));
  EXPECT_TRUE(File(rules, "lowerq"));
  EXPECT_FALSE(File(rules, "lowerQ"));
  EXPECT_TRUE(File(rules, "print "));
  EXPECT_FALSE(File(rules, "print\t"));
  EXPECT_TRUE(File(rules, "punct!"));
  EXPECT_TRUE(File(rules, "punct~"));
  EXPECT_FALSE(File(rules, "puncta"));
  EXPECT_TRUE(File(rules, "space "));
  EXPECT_TRUE(File(rules, "space\r"));
  EXPECT_FALSE(File(rules, "space\v"));  // git's ctype: no \v or \f
  EXPECT_FALSE(File(rules, "space\f"));
  EXPECT_TRUE(File(rules, "upperQ"));
  EXPECT_FALSE(File(rules, "upperq"));
  EXPECT_TRUE(File(rules, "xdigitF"));
  EXPECT_FALSE(File(rules, "xdigitg"));
  EXPECT_TRUE(File(rules, "nota"));
  EXPECT_FALSE(File(rules, "not5"));
  EXPECT_TRUE(File(rules, "mix5"));
  EXPECT_TRUE(File(rules, "mixy"));
  EXPECT_FALSE(File(rules, "mixa"));
}

TEST(IgnoreRulesTest, MalformedBracketsNeverMatch) {
  IgnoreRules rules = FromFile("un[closed\nbad[[:nope:]]\nopen[\n");
  EXPECT_FALSE(File(rules, "un[closed"));
  EXPECT_FALSE(File(rules, "unc"));
  EXPECT_FALSE(File(rules, "bad[[:nope:]]"));
  EXPECT_FALSE(File(rules, "badn"));
  EXPECT_FALSE(File(rules, "open["));
}

TEST(IgnoreRulesTest, BracketWithoutClassTerminatorIsASet) {
  // "[[:a]" has no ":]", so it is the set {'[', ':', 'a'}.
  IgnoreRules rules = FromFile("k[[:a]\n");
  EXPECT_TRUE(File(rules, "k["));
  EXPECT_TRUE(File(rules, "k:"));
  EXPECT_TRUE(File(rules, "ka"));
  EXPECT_FALSE(File(rules, "kb"));
}

TEST(IgnoreRulesTest, BackslashEscapesGlobCharacters) {
  IgnoreRules rules = FromFile("\\[x\\]\nq\\*\nw\\?\n");
  EXPECT_TRUE(File(rules, "[x]"));
  EXPECT_FALSE(File(rules, "x"));
  EXPECT_TRUE(File(rules, "q*"));
  EXPECT_FALSE(File(rules, "qa"));
  EXPECT_TRUE(File(rules, "w?"));
  EXPECT_FALSE(File(rules, "wa"));
}

TEST(IgnoreRulesTest, LeadingDoubleStar) {
  IgnoreRules rules = FromFile("**/foo\n**/bar/baz\n");
  EXPECT_TRUE(File(rules, "foo"));
  EXPECT_TRUE(Dir(rules, "a/foo"));
  EXPECT_TRUE(File(rules, "a/b/foo"));
  EXPECT_FALSE(File(rules, "xfoo"));
  EXPECT_TRUE(File(rules, "bar/baz"));
  EXPECT_TRUE(File(rules, "x/y/bar/baz"));
  EXPECT_FALSE(File(rules, "xbar/baz"));
}

TEST(IgnoreRulesTest, LeadingDoubleStarIsRelativeToItsFile) {
  IgnoreRules rules = FromFile("**/foo\n", "sub");
  EXPECT_TRUE(File(rules, "sub/foo"));
  EXPECT_TRUE(File(rules, "sub/a/foo"));
  EXPECT_FALSE(File(rules, "foo"));
  EXPECT_FALSE(File(rules, "a/foo"));
}

TEST(IgnoreRulesTest, TrailingDoubleStar) {
  IgnoreRules rules = FromFile("abc/**\n");
  EXPECT_TRUE(File(rules, "abc/x"));
  EXPECT_TRUE(Dir(rules, "abc/x"));
  EXPECT_FALSE(Dir(rules, "abc"));
  EXPECT_FALSE(File(rules, "abcd/x"));
  EXPECT_FALSE(File(rules, "a/abc/x"));
}

TEST(IgnoreRulesTest, MiddleDoubleStar) {
  IgnoreRules rules = FromFile("a/**/b\n");
  EXPECT_TRUE(File(rules, "a/b"));
  EXPECT_TRUE(File(rules, "a/x/b"));
  EXPECT_TRUE(File(rules, "a/x/y/b"));
  EXPECT_FALSE(File(rules, "a/xb"));
  EXPECT_FALSE(File(rules, "a/x/bb"));
  EXPECT_FALSE(File(rules, "z/a/b"));
}

TEST(IgnoreRulesTest, DoubleStarNotNextToSlashActsLikeStar) {
  IgnoreRules rules = FromFile("/x/a**b\nc**d\n");
  EXPECT_TRUE(File(rules, "x/ab"));
  EXPECT_TRUE(File(rules, "x/a-b"));
  EXPECT_FALSE(File(rules, "x/a/b"));
  EXPECT_TRUE(File(rules, "q/cxyd"));
  EXPECT_FALSE(File(rules, "c/d"));
}

TEST(IgnoreRulesTest, DoubleStarRightAfterLiteralPrefixFollowsGit) {
  // git matches the literal prefix separately and then runs wildmatch on
  // the rest, where a leading "**" counts as a full "**" (checked against
  // git 2.39 check-ignore).
  IgnoreRules rules = FromFile("/foo**/bar\n");
  EXPECT_TRUE(File(rules, "foo/bar"));
  EXPECT_TRUE(File(rules, "foox/bar"));
  EXPECT_TRUE(File(rules, "foox/y/bar"));
  EXPECT_FALSE(File(rules, "fo/bar"));
}

TEST(IgnoreRulesTest, MatchingIsCaseSensitive) {
  IgnoreRules rules = FromFile("Foo\n*.TXT\n/D[a-c]\n");
  EXPECT_TRUE(File(rules, "Foo"));
  EXPECT_FALSE(File(rules, "foo"));
  EXPECT_FALSE(File(rules, "FOO"));
  EXPECT_TRUE(File(rules, "a.TXT"));
  EXPECT_FALSE(File(rules, "a.txt"));
  EXPECT_TRUE(File(rules, "Db"));
  EXPECT_FALSE(File(rules, "DB"));
  EXPECT_FALSE(File(rules, "db"));
}

TEST(IgnoreRulesTest, LaterFilesWinOverEarlierOnes) {
  IgnoreRules rules;
  ASSERT_TRUE(rules.AddFile("", "*.txt\n", "root").ok());
  ASSERT_TRUE(rules.AddFile("sub", "!*.txt\n", "sub").ok());
  EXPECT_TRUE(File(rules, "a.txt"));
  EXPECT_FALSE(File(rules, "sub/a.txt"));
  EXPECT_FALSE(File(rules, "sub/x/a.txt"));
  EXPECT_TRUE(File(rules, "other/a.txt"));
  // A rule that matches nothing in a later file leaves the earlier verdict.
  ASSERT_TRUE(rules.AddFile("other", "*.md\n", "other").ok());
  EXPECT_TRUE(File(rules, "other/a.txt"));
}

TEST(IgnoreRulesTest, ExcludePatternsWinOverFiles) {
  IgnoreRules rules;
  ASSERT_TRUE(rules.AddFile("", "*.txt\n!keep.txt\n", "root").ok());
  ASSERT_TRUE(rules.AddFile("sub", "!*.txt\n", "sub").ok());
  ASSERT_TRUE(rules.AddPattern("sub/x.txt").ok());
  ASSERT_TRUE(rules.AddPattern("!a.txt").ok());
  EXPECT_TRUE(File(rules, "sub/x.txt"));
  EXPECT_FALSE(File(rules, "sub/y.txt"));
  EXPECT_FALSE(File(rules, "a.txt"));
  EXPECT_FALSE(File(rules, "keep.txt"));
  EXPECT_TRUE(File(rules, "b.txt"));
}

TEST(IgnoreRulesTest, AddPatternIsVerbatim) {
  IgnoreRules rules;
  ASSERT_TRUE(rules.AddPattern("#x").ok());
  ASSERT_TRUE(rules.AddPattern("y ").ok());
  ASSERT_TRUE(rules.AddPattern("").ok());
  ASSERT_TRUE(rules.AddPattern("z/").ok());
  EXPECT_TRUE(File(rules, "#x"));
  EXPECT_TRUE(File(rules, "d/#x"));
  EXPECT_TRUE(File(rules, "y "));
  EXPECT_FALSE(File(rules, "y"));
  EXPECT_TRUE(Dir(rules, "z"));
  EXPECT_FALSE(File(rules, "z"));
}

TEST(IgnoreRulesTest, AddPatternRejectsNul) {
  IgnoreRules rules;
  Status status = rules.AddPattern(std::string_view("a\0b", 3));
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_FALSE(File(rules, "a"));
}

TEST(IgnoreRulesTest, DefaultPatterns) {
  const std::vector<std::string> defaults = IgnoreRules::DefaultPatterns();
  EXPECT_EQ(defaults,
            (std::vector<std::string>{".git", "__pycache__", ".venv"}));
  IgnoreRules rules;
  for (const std::string& pattern : defaults) {
    ASSERT_TRUE(rules.AddPattern(pattern).ok());
  }
  EXPECT_TRUE(Dir(rules, ".git"));
  EXPECT_TRUE(File(rules, "vendor/lib/.git"));  // a submodule's .git file
  EXPECT_TRUE(Dir(rules, "__pycache__"));
  EXPECT_TRUE(Dir(rules, "pkg/sub/__pycache__"));
  EXPECT_TRUE(Dir(rules, ".venv"));
  EXPECT_TRUE(Dir(rules, "app/.venv"));
  EXPECT_FALSE(File(rules, ".gitignore"));
  EXPECT_FALSE(Dir(rules, ".github"));
  EXPECT_FALSE(Dir(rules, "venv"));
  EXPECT_FALSE(Dir(rules, "__pycache__x"));
  // A .gitignore added afterwards may override the defaults.
  ASSERT_TRUE(rules.AddFile("", "!.venv/\n", ".gitignore").ok());
  EXPECT_FALSE(Dir(rules, ".venv"));
  EXPECT_TRUE(Dir(rules, "__pycache__"));
}

TEST(IgnoreRulesTest, AddFileRejectsMalformedBase) {
  for (std::string_view base :
       {"/a", "a/", "/", "a//b", ".", "..", "a/./b", "a/..", "./a"}) {
    IgnoreRules rules;
    Status status = rules.AddFile(base, "*\n", "some/.gitignore");
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << base;
    EXPECT_NE(status.message().find("some/.gitignore"), std::string::npos)
        << status.message();
    EXPECT_FALSE(File(rules, "a/b/c")) << "rules added despite error";
  }
  IgnoreRules rules;
  EXPECT_TRUE(rules.AddFile("a/.b/c..d", "*\n", "x").ok());
  EXPECT_TRUE(File(rules, "a/.b/c..d/e"));
}

TEST(IgnoreRulesTest, MalformedLinesAreAcceptedAndMatchNothing) {
  IgnoreRules rules;
  Status status =
      rules.AddFile("", "[\n!\n/\n!/\n//\n\\\n[[:x:]]\n", ".gitignore");
  EXPECT_TRUE(status.ok()) << status.message();
  for (std::string_view path : {"[", "!", "x", "\\", "[[:x:]]", ":"}) {
    EXPECT_FALSE(File(rules, path)) << path;
    EXPECT_FALSE(Dir(rules, path)) << path;
  }
}

TEST(IgnoreRulesTest, PathologicalPatternsGiveGitsVerdicts) {
  // Git needs seconds for the "**" line on the deep path (its recursion is
  // exponential there); the verdicts must be git's. Speed is measured by
  // benchmarks, not asserted here; ctest's timeout catches a runaway.
  IgnoreRules rules =
      FromFile("*a*a*a*a*a*a*a*a*a*a*a*a*b\n/**/**/**/**/**/**/**/**/c\n");
  std::string deep;
  for (int i = 0; i < 30; ++i) deep += "d/";
  EXPECT_FALSE(File(rules, std::string(200, 'a')));
  EXPECT_FALSE(File(rules, deep + "x"));
  EXPECT_TRUE(File(rules, deep + "c"));
}

TEST(IgnoreRulesTest, CopiesAreIndependent) {
  IgnoreRules a = FromFile("x\n");
  IgnoreRules b = a;
  ASSERT_TRUE(b.AddPattern("!x").ok());
  EXPECT_TRUE(File(a, "x"));
  EXPECT_FALSE(File(b, "x"));
}

TEST(IgnoreRulesTest, MatchTellsNoMatchFromNegation) {
  IgnoreRules rules = FromFile("*.log\n!keep.log\nbuild/\n");
  EXPECT_EQ(rules.Match("a.log", false), std::optional<bool>(true));
  EXPECT_EQ(rules.Match("keep.log", false), std::optional<bool>(false));
  EXPECT_EQ(rules.Match("a.txt", false), std::nullopt);
  EXPECT_EQ(rules.Match("build", true), std::optional<bool>(true));
  EXPECT_EQ(rules.Match("build", false), std::nullopt);
  EXPECT_EQ(rules.Match("", true), std::nullopt);
}

TEST(IgnoreRulesTest, MatchLetsExcludesLayerOverFiles) {
  // The scanner keeps --exclude patterns in their own set and consults the
  // .gitignore rules only when none of them matches.
  IgnoreRules files = FromFile("*.log\n");
  ASSERT_TRUE(files.AddFile("sub", "!*.log\n*.tmp\n", "sub").ok());
  IgnoreRules cli;
  ASSERT_TRUE(cli.AddPattern("!a.log").ok());
  ASSERT_TRUE(cli.AddPattern("sub/b.log").ok());
  auto ignored = [&](std::string_view path) {
    const std::optional<bool> flag = cli.Match(path, false);
    return flag ? *flag : files.IsIgnored(path, false);
  };
  EXPECT_FALSE(ignored("a.log"));
  EXPECT_TRUE(ignored("c.log"));
  EXPECT_TRUE(ignored("sub/b.log"));
  EXPECT_FALSE(ignored("sub/c.log"));
  EXPECT_TRUE(ignored("sub/x.tmp"));
  EXPECT_FALSE(ignored("x.tmp"));
}

TEST(IgnoreRulesTest, TwentyThousandPathsWithFiftyRules) {
  IgnoreRules rules;
  for (const std::string& pattern : IgnoreRules::DefaultPatterns()) {
    ASSERT_TRUE(rules.AddPattern(pattern).ok());
  }
  ASSERT_TRUE(rules
                  .AddFile("",
                           "*.py[cod]\n*$py.class\n*.so\n.Python\nbuild/\n"
                           "develop-eggs/\ndist/\ndownloads/\neggs/\n.eggs/\n"
                           "lib64/\nparts/\nsdist/\nvar/\nwheels/\n"
                           "*.egg-info/\n.installed.cfg\n*.egg\nMANIFEST\n"
                           "*.manifest\n*.spec\npip-log.txt\n.tox/\n.nox/\n"
                           ".coverage\n.coverage.*\n.cache\nnosetests.xml\n"
                           "coverage.xml\n*.cover\n.hypothesis/\n"
                           ".pytest_cache/\n*.mo\n*.pot\n*.log\n"
                           "local_settings.py\ndb.sqlite3\ninstance/\n"
                           "docs/_build/\ntarget/\n.ipynb_checkpoints\n"
                           "**/tmp/**\n/site\n.mypy_cache/\n.dmypy.json\n"
                           "[Tt]humbs.db\n!keep.log\n",
                           ".gitignore")
                  .ok());
  ASSERT_TRUE(rules.AddFile("pkg3", "*.dat\n/generated/\n", "x").ok());
  std::vector<std::string> paths;
  for (int d = 0; d < 100; ++d) {
    for (int f = 0; f < 200; ++f) {
      paths.push_back("pkg" + std::to_string(d % 10) + "/mod" +
                      std::to_string(d) + "/file_" + std::to_string(f) +
                      (f % 7 == 0   ? ".log"
                       : f % 5 == 0 ? ".pyc"
                                    : ".py"));
    }
  }
  int ignored = 0;
  for (const std::string& path : paths) ignored += File(rules, path) ? 1 : 0;
  // 20000 paths: every 7th is a .log, every 5th else a .pyc.
  EXPECT_EQ(ignored, 100 * (29 + 34));
}

// ---------------------------------------------------------------------------
// Differential tests against the git binary.

bool HaveGit() { return std::system("git --version >/dev/null 2>&1") == 0; }

class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") +
                        "/lazypath_ignore_test.XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool WriteFile(const std::string& path, std::string_view contents) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  return static_cast<bool>(out);
}

bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  *contents = buf.str();
  return true;
}

std::vector<std::string> SplitNul(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = s.find('\0', pos);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// Runs `git <args>` in `dir` with `input` on stdin, isolated from the
// user's and system's git configuration. False if git fails.
bool RunGit(const std::string& dir, const std::string& args,
            std::string_view input, std::string* output) {
  const std::string in = dir + "/../git-stdin";
  const std::string out = dir + "/../git-stdout";
  if (!WriteFile(in, input)) return false;
  const std::string cmd =
      "cd '" + dir +
      "' && GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git " + args +
      " <'" + in + "' >'" + out + "' 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  // check-ignore exits 1 when nothing is ignored; anything else is an error.
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) > 1) return false;
  return ReadFile(out, output);
}

constexpr std::string_view kDefaultsFile = ".git\n__pycache__\n.venv\n";

struct Verdict {
  bool is_dir;
  bool ignored;
};

// Walks `root` as the scanner does: `rules` gathers the defaults and every
// .gitignore read so far (each read on entering its directory); `cli` holds
// the --exclude patterns and decides whenever one of them matches. Ignored
// directories are not entered; the repository's own .git is skipped.
void Walk(const std::string& root, const std::string& rel, IgnoreRules* rules,
          const IgnoreRules& cli, std::map<std::string, Verdict>* out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  std::string contents;
  if (ReadFile(dir + "/.gitignore", &contents)) {
    ASSERT_TRUE(rules->AddFile(rel, contents, dir + "/.gitignore").ok());
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  ASSERT_FALSE(ec) << dir;
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (rel.empty() && name == ".git") continue;
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const bool is_dir = fs::symlink_status(root + "/" + path, ec).type() ==
                        fs::file_type::directory;
    const std::optional<bool> flag = cli.Match(path, is_dir);
    const bool ignored = flag ? *flag : rules->IsIgnored(path, is_dir);
    (*out)[path] = Verdict{is_dir, ignored};
    if (is_dir && !ignored) {
      Walk(root, path, rules, cli, out);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += "\"" + item + "\" ";
  return out;
}

// Every regular file under root/rel, as root-relative paths.
void AllFiles(const std::string& root, const std::string& rel,
              std::set<std::string>* out) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root + "/" + rel, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      out->insert(fs::relative(it->path(), root, ec).string());
    }
  }
}

// Builds a work tree exercising every rule kind.
bool BuildTree(const std::string& root) {
  const std::vector<std::string> files = {
      ".venv/bin/python",
      "__pycache__/m.pyc",
      "pkg/__pycache__/x.pyc",
      "pkg/.venv",
      "pkg/sub/__pycache__/y.pyc",
      "a.log",
      "important.log",
      "sub/a.log",
      "sub/important.log",
      "sub/deeper/b.log",
      "sub/deeper/important.log",
      "rootonly.txt",
      "sub/rootonly.txt",
      "build/out.o",
      "build/keep",
      "sub/build",
      "sub/build2/build/x",
      "doc/readme.txt",
      "doc/sub/readme.txt",
      "doc/readme.md",
      "x/doc/readme.txt",
      "deep/target",
      "x/deep/target",
      "x/y/deep/target/f",
      "deep/targetx",
      "abc/f",
      "abc/g/h",
      "abcd/f",
      "a/z",
      "a/b/z",
      "a/b/c/z",
      "a/zz",
      "az",
      "#hash",
      "hash",
      "!bang",
      "bang",
      "trail ",
      "trail",
      "spaces",
      "spaces ",
      "Temp1",
      "temp2",
      "tEmp3",
      "file1.dat",
      "filex.dat",
      "file12.dat",
      "xdy",
      "xay",
      "qdr",
      "qar",
      "A1",
      "a1",
      "AA",
      "m.pyc",
      "m.pyo",
      "m.py",
      "m.pyd",
      "cls x",
      "cls\tx",
      "cls\vx",
      "cls\nx",
      "clsyx",
      "p!",
      "p#",
      "p-",
      "p~",
      "pa",
      "p ",
      "g~",
      "g ",
      "g\xE9",
      "al\xE9",
      "alb",
      "foo/bar",
      "foox/y/bar",
      "fo/bar",
      "foo/x/bar",
      "lit",
      "litx",
      "li",
      "odd]x",
      "oddx",
      "un[closed",
      "unc",
      "bad[[:nope:]]",
      "badn",
      "a.one",
      "ab.one",
      "tab\t",
      "tab",
      " lead",
      "lead",
      "ign1/f",
      "ignkeep/f",
      "ign2",
      "sub/anchored",
      "sub/x/anchored",
      "sub/nested/pattern",
      "sub/x/nested/pattern",
      "sub/a.tmp",
      "sub/keep.tmp",
      "sub/x/keep.tmp",
      "a.tmp",
      "sub/inner/f",
      "sub/x/inner/g/h",
      "sub/deeper/keep.md",
      "sub/deeper/x/keep.md",
      "sub/deeper/other.md",
      "readme.md",
      "dirneg/keep/f",
      "dirneg/drop/f",
      "e/m]",
      "e/m\\",
      "k[",
      "ka",
      "kb",
      "star/a.c",
      "star/s/a.c",
      "star/.c",
      "q/cxyd",
      "q/cd",
      "mix5",
      "mixa",
      "space\r",
      "space\f",
      "x/ab",
      "x/a-b",
      "x/a/b",
      "crlf/x",
      "crlf/y",
      "subx/a.tmp",  // the rules of "sub" must not reach "subx"
      "subx/anchored",
  };
  for (const std::string& f : files) {
    if (!WriteFile(root + "/" + f, "content\n")) return false;
  }
  std::error_code ec;
  fs::create_directories(root + "/empty/dir", ec);
  fs::create_directories(root + "/emptyign", ec);
  bool ok = true;
  ok &= WriteFile(root + "/.gitignore",
                  "# comment line\n"
                  "*.log\n"
                  "!important.log\n"
                  "/rootonly.txt\n"
                  "build/\n"
                  "doc/*.txt\n"
                  "**/deep/target\n"
                  "abc/**\n"
                  "a/**/z\n"
                  "\\#hash\n"
                  "\\!bang\n"
                  "trail\\ \n"
                  "spaces   \n"
                  "[Tt]emp*\n"
                  "file[0-9].dat\n"
                  "x[!a-c]y\n"
                  "q[^a-c]r\n"
                  "[[:upper:]][[:digit:]]\n"
                  "*.py[co]\n"
                  "cls[[:space:]]x\n"
                  "p[[:punct:]]\n"
                  "g[[:graph:]]\n"
                  "al[[:alpha:]]\n"
                  "/foo**/bar\n"
                  "/lit**\n"
                  "odd[]]x\n"
                  "un[closed\n"
                  "bad[[:nope:]]\n"
                  "?.one\n"
                  "tab\t\n"
                  " lead\n"
                  "ign*/\n"
                  "!ignkeep/\n"
                  "!/pkg/__pycache__/\n"
                  "dirneg/*\n"
                  "!dirneg/keep/\n"
                  "e/m[\\]]\n"
                  "k[[:a]\n"
                  "/star/*.c\n"
                  "c**d\n"
                  "mix[[:digit:]x-z]\n"
                  "space[[:space:]]\n"
                  "/x/a**b\n"
                  "emptyign/\n"
                  "\n"
                  "   \n"
                  "!\n"
                  "/\n");
  ok &= WriteFile(root + "/sub/.gitignore",
                  "!*.log\r\n"
                  "/anchored\r\n"
                  "nested/pattern\r\n"
                  "*.tmp\r\n"
                  "!keep.tmp\r\n"
                  "**/inner/**\r\n"
                  "build\r\n");
  ok &= WriteFile(root + "/sub/deeper/.gitignore",
                  "\xEF\xBB\xBF*.log\n*.md\n!/keep.md");
  // Inside an ignored directory: must never be read.
  ok &= WriteFile(root + "/build/.gitignore", "!*\n");
  ok &= WriteFile(root + "/crlf/.gitignore", "x\r\n\r\n#c\r\n");
  ok &= WriteFile(root + "/defaults", kDefaultsFile);
  return ok;
}

TEST(IgnoreRulesTest, AgreesWithGitCheckIgnore) {
  if (!HaveGit()) GTEST_SKIP() << "git is not on PATH";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string root = tmp.path() + "/work";
  ASSERT_TRUE(BuildTree(root));
  std::string unused;
  ASSERT_TRUE(RunGit(root, "init -q", "", &unused));

  // The defaults go where git's core.excludesFile goes: lowest precedence.
  IgnoreRules rules;
  for (const std::string& pattern : IgnoreRules::DefaultPatterns()) {
    ASSERT_TRUE(rules.AddPattern(pattern).ok());
  }
  std::map<std::string, Verdict> ours;
  Walk(root, "", &rules, IgnoreRules(), &ours);
  ASSERT_FALSE(HasFatalFailure());

  std::string input;
  for (const auto& [path, verdict] : ours) input += path + '\0';
  std::string output;
  ASSERT_TRUE(RunGit(root,
                     "-c core.excludesFile='" + root +
                         "/defaults' check-ignore --no-index -v -n -z --stdin",
                     input, &output));
  // Records of four fields: source, line number, pattern, path.
  const std::vector<std::string> fields = SplitNul(output);
  ASSERT_EQ(fields.size(), 4 * ours.size());
  int ignored = 0;
  for (std::size_t i = 0; i < fields.size(); i += 4) {
    const std::string& pattern = fields[i + 2];
    const std::string& path = fields[i + 3];
    const bool git_ignored = !pattern.empty() && pattern[0] != '!';
    auto it = ours.find(path);
    ASSERT_NE(it, ours.end()) << "git reported unknown path " << path;
    EXPECT_EQ(it->second.ignored, git_ignored)
        << "path \"" << path << "\" (dir=" << it->second.is_dir
        << "), git's matching pattern: \"" << pattern << "\" from " << fields[i]
        << ":" << fields[i + 1];
    ignored += git_ignored ? 1 : 0;
  }
  // The tree must exercise both verdicts substantially.
  EXPECT_GT(ignored, 60);
  EXPECT_GT(static_cast<int>(ours.size()) - ignored, 60);
  // Spot checks that the walk itself behaved like git's.
  EXPECT_EQ(ours.count("build/out.o"), 0u) << "descended into ignored dir";
  EXPECT_EQ(ours.count("pkg/__pycache__/x.pyc"), 1u);
  EXPECT_EQ(ours.count("sub/deeper/keep.md"), 1u);
}

TEST(IgnoreRulesTest, AgreesWithGitLsFilesWithExcludes) {
  if (!HaveGit()) GTEST_SKIP() << "git is not on PATH";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string root = tmp.path() + "/work";
  ASSERT_TRUE(BuildTree(root));
  std::string unused;
  ASSERT_TRUE(RunGit(root, "init -q", "", &unused));

  const std::vector<std::string> excludes = {
      "*.md",           "!sub/deeper/x/keep.md",
      "important.log",  "!a.log",
      "!/rootonly.txt", "doc/",
      "!build/",        "x?y",
      "!sub/a.tmp"};
  IgnoreRules rules;
  for (const std::string& pattern : IgnoreRules::DefaultPatterns()) {
    ASSERT_TRUE(rules.AddPattern(pattern).ok());
  }
  IgnoreRules cli;
  for (const std::string& pattern : excludes) {
    ASSERT_TRUE(cli.AddPattern(pattern).ok());
  }
  std::map<std::string, Verdict> ours;
  Walk(root, "", &rules, cli, &ours);
  ASSERT_FALSE(HasFatalFailure());
  // git lists every file that is ignored or inside an ignored directory.
  std::set<std::string> expected;
  for (const auto& [path, verdict] : ours) {
    if (!verdict.ignored) continue;
    if (verdict.is_dir) {
      AllFiles(root, path, &expected);
    } else {
      expected.insert(path);
    }
  }

  std::string args = "-c core.excludesFile='" + root +
                     "/defaults' ls-files -z --others --ignored "
                     "--exclude-standard";
  for (const std::string& pattern : excludes) {
    args += " '--exclude=" + pattern + "'";
  }
  std::string output;
  ASSERT_TRUE(RunGit(root, args, "", &output));
  const std::vector<std::string> listed = SplitNul(output);
  const std::set<std::string> git(listed.begin(), listed.end());
  std::vector<std::string> only_git, only_ours;
  std::set_difference(git.begin(), git.end(), expected.begin(), expected.end(),
                      std::back_inserter(only_git));
  std::set_difference(expected.begin(), expected.end(), git.begin(), git.end(),
                      std::back_inserter(only_ours));
  EXPECT_TRUE(only_git.empty()) << "ignored by git only: " << Join(only_git);
  EXPECT_TRUE(only_ours.empty()) << "ignored by us only: " << Join(only_ours);
  EXPECT_GT(git.size(), 40u);
  // The excludes took effect: build/ is walked (and its .gitignore read).
  EXPECT_EQ(ours.count("build/out.o"), 1u);
  EXPECT_FALSE(ours.at("sub/deeper/x/keep.md").ignored);
  EXPECT_FALSE(ours.at("a.log").ignored);
}

}  // namespace
}  // namespace lazypath
