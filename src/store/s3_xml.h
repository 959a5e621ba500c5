// Reading the XML documents an S3 endpoint returns besides objects
// (ListObjectsV2 pages, multipart replies, error bodies), with expat.
//
// Every document is read as UTF-8 (what S3 sends) by a fresh expat parser
// that stops at the start of a DOCTYPE, so no entity is ever declared: none
// is expanded, and no external one is looked up (expat never does I/O
// itself; its billion-laughs limits are set as well where the library has
// them). Only the five predefined entities and numeric character
// references are decoded; any other reference is malformed. Element names
// are taken as written, without namespace processing: S3 uses a default
// namespace only. The rules for what lazypath accepts are in doc/format.md,
// section "S3 responses".
//
// Stateless functions; safe to call from any thread.
#ifndef LAZYPATH_STORE_S3_XML_H_
#define LAZYPATH_STORE_S3_XML_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lazypath {

// Called at the end of every element, with the element names from the root
// down to it and its own character data (references decoded, CDATA as
// written; its children's text is not included).
using XmlElementFn = std::function<void(const std::vector<std::string>& path,
                                        const std::string& text)>;

// Reads the whole of `xml`, calling `on_end` as elements close. False when
// the document is not well-formed XML (empty, truncated, a second root, text
// outside the root, an unknown entity, ...) or has a DOCTYPE; `on_end` may
// have been called for elements before the fault.
bool WalkXml(std::string_view xml, const XmlElementFn& on_end);

// The content of the first <name> element as written, i.e. the bytes from
// the end of its start tag up to the next "</name>" after it; "" for an
// empty-element tag. nullopt when no such start tag is read before the
// document has a DOCTYPE or stops being well-formed, or when no "</name>"
// follows it. Only what precedes the start tag must be well-formed: an
// error body cut short after its code still yields the code.
std::optional<std::string_view> XmlRawContent(std::string_view xml,
                                              std::string_view name);

}  // namespace lazypath

#endif  // LAZYPATH_STORE_S3_XML_H_
