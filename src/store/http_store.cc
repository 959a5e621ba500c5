#include "store/http_store.h"

namespace lazypath {

Result<std::string> ParseHttpStoreUrl(const std::string& url) {
  size_t sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  if (scheme == "http") {
    return Status::Unsupported(
        "store http://...: plain http is not supported (use https://)");
  }
  if (scheme != "https") return Status::InvalidArgument("not an https:// URL");
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos) {
    return Status::InvalidArgument(
        "store https://...: credentials in the URL are not supported (use "
        "LAZYPATH_HTTP_TOKEN)");
  }
  const std::string shown = "store " + url;
  if (authority.empty() || authority.front() == ':' ||
      authority.back() == ':') {
    return Status::InvalidArgument(
        shown + ": malformed https URL (want https://host[:port][/prefix])");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F || c == '?' || c == '#' || c == '\\') {
      return Status::InvalidArgument(
          shown +
          ": malformed https URL (no query, fragment, spaces or "
          "control bytes)");
    }
  }
  if (size_t colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']') == std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos ||
        port.size() > 5) {
      return Status::InvalidArgument(shown + ": malformed port");
    }
  }
  std::string base = url;
  while (base.back() == '/') base.pop_back();
  return base;
}

Result<std::unique_ptr<Store>> HttpStore::Open(const std::string& url,
                                               const EnvLookup& env) {
  LP_ASSIGN_OR_RETURN(std::string base, ParseHttpStoreUrl(url));
  http::Auth auth;
  if (auto token = env("LAZYPATH_HTTP_TOKEN")) {
    for (char c : *token) {
      if (c == '\r' || c == '\n') {
        return Status::InvalidArgument(
            "store " + url + ": LAZYPATH_HTTP_TOKEN contains a line break");
      }
    }
    auth.secret_headers.push_back("Authorization: Bearer " + *token);
  }
  return std::unique_ptr<Store>(new HttpStore(url, base, std::move(auth)));
}

std::string HttpStore::ObjectUrl(const std::string& key) const {
  return base_ + "/" + http::UriEncode(key, true);
}

std::string HttpStore::What(const std::string& key) const {
  return "store " + url_ + ": object " + key;
}

Status HttpStore::ReadOnly(const std::string& key) const {
  return Status::Unsupported(
      What(key) +
      ": read-only store (https:// stores are served by a static "
      "server; push to the store it publishes)");
}

Result<std::string> HttpStore::Get(const std::string& key, uint64_t max_size) {
  http::Request req;
  req.url = ObjectUrl(key);
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), max_size, &stats()));
  if (r.status != 200) return http::MapHttpError(r.status, r.body, What(key));
  return std::move(r.body);
}

Status HttpStore::GetRange(const std::string& key, uint64_t offset,
                           uint64_t length, const ByteSink& sink) {
  http::Request req;
  req.url = ObjectUrl(key);
  return client_.Fetch(req, offset, length, sink, What(key), &stats());
}

Status HttpStore::Put(const std::string& key, std::string_view) {
  return ReadOnly(key);
}

Status HttpStore::PutFile(const std::string& key, const std::string&) {
  return ReadOnly(key);
}

Status HttpStore::Delete(const std::string& key) { return ReadOnly(key); }

Status HttpStore::DeleteIfVersion(const std::string& key, const std::string&) {
  return ReadOnly(key);
}

Result<bool> HttpStore::Exists(const std::string& key) {
  http::Request req;
  req.method = "HEAD";
  req.url = ObjectUrl(key);
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  return http::MapHttpError(r.status, r.body, What(key));
}

Result<std::vector<std::string>> HttpStore::List(const std::string& prefix) {
  return Status::Unsupported(
      "store " + url_ + ": cannot list '" + prefix +
      "': a static https server has no listing (refs and digests still "
      "resolve by name)");
}

}  // namespace lazypath
