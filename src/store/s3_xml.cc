#include "store/s3_xml.h"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace lazypath {

namespace {

// What the handlers share; reached through expat's user data pointer.
struct Walk {
  XML_Parser parser = nullptr;
  bool doctype = false;
  // WalkXml
  const XmlElementFn* on_end = nullptr;
  std::vector<std::string> path;
  std::vector<std::string> text;  // per open element
  // XmlRawContent
  std::string_view want;
  std::optional<size_t> content_begin;  // just past the start tag
};

Walk* Of(void* data) { return static_cast<Walk*>(data); }

void OnDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*,
               int) {
  Walk* w = Of(data);
  w->doctype = true;
  XML_StopParser(w->parser, XML_FALSE);
}

void OnStart(void* data, const XML_Char* name, const XML_Char**) {
  Walk* w = Of(data);
  w->path.emplace_back(name);
  w->text.emplace_back();
}

void OnEnd(void* data, const XML_Char*) {
  Walk* w = Of(data);
  (*w->on_end)(w->path, w->text.back());
  w->path.pop_back();
  w->text.pop_back();
}

void OnText(void* data, const XML_Char* s, int len) {
  Walk* w = Of(data);
  if (!w->text.empty()) w->text.back().append(s, static_cast<size_t>(len));
}

void OnStartFind(void* data, const XML_Char* name, const XML_Char**) {
  Walk* w = Of(data);
  if (w->want != name) return;
  XML_Index begin = XML_GetCurrentByteIndex(w->parser);
  int count = XML_GetCurrentByteCount(w->parser);
  if (begin < 0 || count < 2) return;
  w->content_begin = static_cast<size_t>(begin) + static_cast<size_t>(count);
  XML_StopParser(w->parser, XML_FALSE);
}

using ParserPtr = std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)>;

// A parser with lazypath's settings, its user data pointing at `w`.
ParserPtr NewParser(Walk* w) {
  ParserPtr p(XML_ParserCreate("UTF-8"), &XML_ParserFree);
  if (!p) return p;
  w->parser = p.get();
  XML_SetUserData(p.get(), w);
  XML_SetStartDoctypeDeclHandler(p.get(), &OnDoctype);
  XML_SetParamEntityParsing(p.get(), XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef LAZYPATH_EXPAT_BILLION_LAUGHS
  // Moot while every DOCTYPE is refused, but kept should that change.
  XML_SetBillionLaughsAttackProtectionMaximumAmplification(p.get(), 2.0f);
  XML_SetBillionLaughsAttackProtectionActivationThreshold(p.get(), 1 << 16);
#endif
  return p;
}

// Feeds all of `xml` (in pieces expat's int length can hold); true when the
// parser reached the end without an error or a stop.
bool Feed(XML_Parser p, std::string_view xml) {
  do {
    size_t n = std::min<size_t>(xml.size(), INT_MAX);
    XML_Bool last = n == xml.size() ? XML_TRUE : XML_FALSE;
    if (XML_Parse(p, xml.data(), static_cast<int>(n), last) != XML_STATUS_OK) {
      return false;
    }
    xml.remove_prefix(n);
  } while (!xml.empty());
  return true;
}

}  // namespace

bool WalkXml(std::string_view xml, const XmlElementFn& on_end) {
  Walk w;
  w.on_end = &on_end;
  ParserPtr p = NewParser(&w);
  if (!p) return false;
  XML_SetElementHandler(p.get(), &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(p.get(), &OnText);
  return Feed(p.get(), xml) && !w.doctype;
}

std::optional<std::string_view> XmlRawContent(std::string_view xml,
                                              std::string_view name) {
  Walk w;
  w.want = name;
  ParserPtr p = NewParser(&w);
  if (!p) return std::nullopt;
  XML_SetStartElementHandler(p.get(), &OnStartFind);
  (void)Feed(p.get(), xml);
  if (w.doctype || !w.content_begin || *w.content_begin > xml.size()) {
    return std::nullopt;
  }
  size_t begin = *w.content_begin;
  if (xml.substr(begin - 2, 2) == "/>") return std::string_view();
  std::string end_tag = "</" + std::string(name) + ">";
  size_t end = xml.find(end_tag, begin);
  if (end == std::string_view::npos) return std::nullopt;
  return xml.substr(begin, end - begin);
}

}  // namespace lazypath
