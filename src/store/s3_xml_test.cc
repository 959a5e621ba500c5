#include "store/s3_xml.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace lazypath {
namespace {

using Ends = std::vector<std::pair<std::string, std::string>>;

// Whether the walk accepted `xml`, and every element end it reported, as
// ("a/b/c", text).
std::pair<bool, Ends> Walked(std::string_view xml) {
  Ends ends;
  bool ok = WalkXml(
      xml, [&](const std::vector<std::string>& path, const std::string& text) {
        std::string joined;
        for (const auto& p : path) joined += (joined.empty() ? "" : "/") + p;
        ends.emplace_back(joined, text);
      });
  return {ok, ends};
}

TEST(S3XmlWalkTest, PathsAndOwnText) {
  auto [ok, ends] = Walked(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<r a=\"1>2\" b='x'><k>one</k>mid<?pi ignored?><e/><!-- c --></r>\n");
  ASSERT_TRUE(ok);
  Ends want = {{"r/k", "one"}, {"r/e", ""}, {"r", "mid"}};
  EXPECT_EQ(ends, want);
}

TEST(S3XmlWalkTest, DecodesReferencesAndKeepsCdata) {
  auto [ok, ends] = Walked(
      "<r><k>&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;</k>"
      "<c><![CDATA[&amp;<x>]]></c></r>");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_EQ(ends[0].second, "<>&\"'A\xF0\x9F\x98\x80");
  EXPECT_EQ(ends[1].second, "&amp;<x>");
}

TEST(S3XmlWalkTest, RefusesMalformed) {
  for (const char* xml : {
           "", "   ",
           "<r>",                   // truncated
           "<r></s>",               // mismatched
           "<r/><r/>",              // two roots
           "text<r/>",              // text before the root
           "<r/>text",              // text after it
           "<r>&bogus;</r>",        // unknown entity
           "<r>&#0;</r>",           // not a character
           "<r>&#x110000;</r>",     // beyond Unicode
           "<r>&amp</r>",           // unterminated reference
           "<r>\xff</r>",           // not UTF-8
           "<r a=\"1\" a=\"2\"/>",  // duplicate attribute
           "<r><![CDATA[x]]</r>",   // unterminated CDATA
           "<r><!-- x </r>",        // unterminated comment
       }) {
    EXPECT_FALSE(Walked(xml).first) << xml;
  }
}

TEST(S3XmlWalkTest, RefusesAnyDoctypeBeforeItsEntities) {
  const std::string laughs =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
      "<!ENTITY lol \"lol\">\n"
      "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
      "]>\n<ListBucketResult><Contents><Key>&lol3;</Key></Contents>"
      "</ListBucketResult>";
  for (const std::string& xml : {
           laughs,
           std::string("<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r>&x;</r>"),
           std::string("<!DOCTYPE r [<!ENTITY x SYSTEM \"/etc/passwd\">]>"
                       "<r>&x;</r>"),
           std::string("<!DOCTYPE r [<!ENTITY % p SYSTEM \"x.dtd\"> %p;]>"
                       "<r/>"),
           std::string("<!DOCTYPE r><r/>"),
       }) {
    auto [ok, ends] = Walked(xml);
    EXPECT_FALSE(ok) << xml;
    EXPECT_TRUE(ends.empty()) << xml;  // stopped before any element
  }
}

TEST(S3XmlWalkTest, DeclaredEncodingIsReadAsUtf8) {
  // S3 sends UTF-8; a document claiming otherwise is read as UTF-8 all the
  // same, so Latin-1 bytes are malformed rather than reinterpreted.
  EXPECT_FALSE(
      Walked("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\xe9</r>")
          .first);
  auto [ok, ends] =
      Walked("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\xc3\xa9</r>");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ends.at(0).second, "\xc3\xa9");
}

TEST(S3XmlWalkTest, LargePage) {
  std::string xml = "<ListBucketResult>";
  for (int i = 0; i < 20000; ++i) {
    xml += "<Contents><Key>k" + std::to_string(i) + "</Key></Contents>";
  }
  xml += "</ListBucketResult>";
  size_t keys = 0;
  EXPECT_TRUE(
      WalkXml(xml, [&](const std::vector<std::string>& path,
                       const std::string&) { keys += path.back() == "Key"; }));
  EXPECT_EQ(keys, 20000u);
}

TEST(S3XmlRawContentTest, FirstElementAsWritten) {
  EXPECT_EQ(XmlRawContent("<Error><Code>A&amp;B</Code><Code>C</Code></Error>",
                          "Code"),
            "A&amp;B");
  EXPECT_EQ(XmlRawContent("<Error><Code x=\">\">A</Code></Error>", "Code"),
            "A");
  EXPECT_EQ(XmlRawContent("<Error><Code/><Code>B</Code></Error>", "Code"), "");
  EXPECT_EQ(XmlRawContent("<Error><Other>A</Other></Error>", "Code"),
            std::nullopt);
}

TEST(S3XmlRawContentTest, OnlyWhatPrecedesTheTagMustBeWellFormed) {
  // Cut short after the code: the code still counts.
  EXPECT_EQ(XmlRawContent("<Error><Code>SlowDown</Code><Message>Red", "Code"),
            "SlowDown");
  // Cut short inside it: no code.
  EXPECT_EQ(XmlRawContent("<Error><Code>SlowDo", "Code"), std::nullopt);
  // Broken before it: no code.
  EXPECT_EQ(XmlRawContent("<Error></X><Code>A</Code></Error>", "Code"),
            std::nullopt);
  EXPECT_EQ(XmlRawContent("junk <Code>A</Code>", "Code"), std::nullopt);
}

TEST(S3XmlRawContentTest, IgnoresMarkupThatIsNotAnElement) {
  EXPECT_EQ(XmlRawContent("<Error><!-- <Code>A</Code> --><![CDATA[<Code>B"
                          "</Code>]]><Code>C</Code></Error>",
                          "Code"),
            "C");
  EXPECT_EQ(XmlRawContent("<Error a=\"&lt;Code>A&lt;/Code>\"/>", "Code"),
            std::nullopt);
  EXPECT_EQ(
      XmlRawContent("<!DOCTYPE Error><Error><Code>A</Code></Error>", "Code"),
      std::nullopt);
}

}  // namespace
}  // namespace lazypath
