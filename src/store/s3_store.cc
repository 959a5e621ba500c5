#include "store/s3_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "store/key_prefix.h"
#include "store/s3_xml.h"
#include "util/fs.h"
#include "util/parallel.h"

namespace lazypath {

namespace {

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 &&
        hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string TrimWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Validates an endpoint URL: http(s)://host[:port][/], no userinfo, no path.
Result<std::string> CleanEndpoint(std::string ep, const std::string& what) {
  size_t sep = ep.find("://");
  std::string scheme = sep == std::string::npos ? "" : ep.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument(what +
                                   ": endpoint must be an http:// or "
                                   "https:// URL");
  }
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  std::string authority = ep.substr(sep + 3);
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return Status::InvalidArgument(
        what +
        ": malformed endpoint (want scheme://host[:port], without "
        "credentials)");
  }
  if (authority.find_first_of("/?#") != std::string::npos) {
    return Status::InvalidArgument(
        what + ": endpoint must not have a path (want scheme://host[:port])");
  }
  return ep;
}

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return b.front() != '.' && b.front() != '-' && b.back() != '.' &&
         b.back() != '-';
}

}  // namespace

std::optional<std::string> XmlFirst(std::string_view xml,
                                    std::string_view name) {
  std::optional<std::string> found;
  bool ok = WalkXml(
      xml, [&](const std::vector<std::string>& path, const std::string& text) {
        if (!found && path.back() == name) found = text;
      });
  if (!ok) return std::nullopt;
  return found;
}

Result<ListPage> ParseListObjectsV2(std::string_view xml,
                                    const std::string& what) {
  ListPage page;
  std::string root;
  bool ok = WalkXml(
      xml, [&](const std::vector<std::string>& path, const std::string& text) {
        root = path.front();
        if (path.size() == 3 && path[1] == "Contents" && path[2] == "Key") {
          page.keys.push_back(text);
        } else if (path.size() == 2 && path[1] == "IsTruncated") {
          page.truncated = text == "true";
        } else if (path.size() == 2 && path[1] == "NextContinuationToken") {
          page.next_token = text;
        }
      });
  if (!ok || root != "ListBucketResult") {
    return Status::Corrupt(what + ": malformed ListObjectsV2 response");
  }
  if (page.truncated && page.next_token.empty()) {
    return Status::Corrupt(what +
                           ": truncated listing without a continuation token");
  }
  return page;
}

IniFile ParseIni(std::string_view text) {
  IniFile out;
  std::string section;
  bool in_section = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = TrimWs(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string::npos) {
        in_section = false;
        continue;
      }
      section = TrimWs(std::string_view(line).substr(1, close - 1));
      // "profile  x" -> "profile x"
      if (section.rfind("profile", 0) == 0 && section.size() > 7 &&
          (section[7] == ' ' || section[7] == '\t')) {
        section = "profile " + TrimWs(std::string_view(section).substr(7));
      }
      in_section = true;
      out[section];
      continue;
    }
    size_t eq = line.find('=');
    if (!in_section || eq == std::string::npos) continue;
    std::string key = TrimWs(std::string_view(line).substr(0, eq));
    std::string value = TrimWs(std::string_view(line).substr(eq + 1));
    if (!key.empty()) out[section][key] = value;
  }
  return out;
}

Result<std::optional<S3Credentials>> ResolveS3Credentials(
    const EnvLookup& env) {
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    S3Credentials c;
    c.access_key = *key;
    c.secret_key = *secret;
    c.session_token = env("AWS_SESSION_TOKEN").value_or("");
    return std::optional<S3Credentials>(std::move(c));
  }
  if (key || secret) {
    return Status::InvalidArgument(
        std::string(key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
        " is set but " + (key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
        " is not");
  }
  auto explicit_profile = env("AWS_PROFILE");
  if (!explicit_profile) explicit_profile = env("AWS_DEFAULT_PROFILE");
  std::string profile = explicit_profile.value_or("default");
  std::string home = env("HOME").value_or("");
  std::string cred_path =
      env("AWS_SHARED_CREDENTIALS_FILE")
          .value_or(home.empty() ? "" : home + "/.aws/credentials");
  std::string config_path =
      env("AWS_CONFIG_FILE")
          .value_or(home.empty() ? "" : home + "/.aws/config");
  auto load = [](const std::string& path) -> IniFile {
    if (path.empty()) return {};
    auto text = fs::ReadFile(path, 1 << 20);
    return text.ok() ? ParseIni(*text) : IniFile{};
  };
  IniFile creds = load(cred_path);
  IniFile config = load(config_path);
  const std::map<std::string, std::string>* cs = nullptr;
  const std::map<std::string, std::string>* cf = nullptr;
  if (auto it = creds.find(profile); it != creds.end()) cs = &it->second;
  if (auto it = config.find("profile " + profile); it != config.end()) {
    cf = &it->second;
  } else if (profile == "default") {
    if (auto d = config.find("default"); d != config.end()) cf = &d->second;
  }
  if (cs == nullptr && cf == nullptr) {
    if (explicit_profile) {
      return Status::InvalidArgument("AWS profile '" + profile +
                                     "' not found in " + cred_path + " or " +
                                     config_path);
    }
    return std::optional<S3Credentials>();
  }
  auto get = [&](const char* k) -> std::string {
    if (cs != nullptr) {
      if (auto it = cs->find(k); it != cs->end()) return it->second;
    }
    if (cf != nullptr) {
      if (auto it = cf->find(k); it != cf->end()) return it->second;
    }
    return "";
  };
  S3Credentials c;
  c.access_key = get("aws_access_key_id");
  c.secret_key = get("aws_secret_access_key");
  c.session_token = get("aws_session_token");
  if (cf != nullptr) {
    if (auto it = cf->find("region"); it != cf->end()) c.region = it->second;
  }
  if (c.access_key.empty() != c.secret_key.empty()) {
    return Status::InvalidArgument("AWS profile '" + profile +
                                   "' has only half of a key pair");
  }
  if (c.access_key.empty()) {
    // A profile with only settings (region): anonymous, but keep the region.
    if (!c.region.empty()) {
      S3Credentials r;
      r.region = c.region;
      return std::optional<S3Credentials>(std::move(r));
    }
    return std::optional<S3Credentials>();
  }
  return std::optional<S3Credentials>(std::move(c));
}

Result<S3Location> ParseS3Url(const std::string& url, const EnvLookup& env,
                              const std::string& fallback_region) {
  if (url.rfind("s3://", 0) != 0) {
    return Status::InvalidArgument("not an s3:// URL");
  }
  std::string rest = url.substr(5);
  std::string query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  // Name the store by the part before '?'; never echo an '@' part.
  const std::string shown =
      rest.find('@') == std::string::npos ? "s3://" + rest : "s3://...";
  if (rest.find('@') != std::string::npos) {
    return Status::InvalidArgument(
        "store s3://...: credentials in the URL are not supported (use "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)");
  }
  if (rest.find('#') != std::string::npos) {
    return Status::InvalidArgument("store " + shown +
                                   ": malformed s3 URL ('#' not allowed)");
  }
  S3Location loc;
  size_t slash = rest.find('/');
  loc.bucket = rest.substr(0, slash);
  if (!ValidBucket(loc.bucket)) {
    return Status::InvalidArgument(
        "store " + shown +
        ": malformed s3 URL (want s3://bucket[/prefix]; a bucket name is "
        "3-63 of a-z, 0-9, '.', '-')");
  }
  LP_ASSIGN_OR_RETURN(
      loc.prefix, NormalizeKeyPrefix(
                      slash == std::string::npos ? "" : rest.substr(slash + 1),
                      shown, "s3"));

  std::string endpoint, region, addressing;
  size_t pos = 0;
  while (!query.empty() && pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string item = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string k = item.substr(0, eq);
    std::string v =
        eq == std::string::npos ? "" : PercentDecode(item.substr(eq + 1));
    if (k == "endpoint") {
      endpoint = v;
    } else if (k == "region") {
      region = v;
    } else if (k == "addressing") {
      addressing = v;
    } else {
      return Status::InvalidArgument("store " + shown + ": unknown option '" +
                                     k.substr(0, 40) +
                                     "' (known: endpoint, region, addressing)");
    }
  }
  if (region.empty()) region = env("AWS_REGION").value_or("");
  if (region.empty()) region = env("AWS_DEFAULT_REGION").value_or("");
  loc.region_given = !region.empty();
  if (region.empty()) region = fallback_region;
  if (region.empty()) region = "us-east-1";
  for (char c : region) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      return Status::InvalidArgument("store " + shown + ": bad region name");
    }
  }
  loc.region = region;
  bool custom = true;
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL_S3").value_or("");
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL").value_or("");
  if (endpoint.empty()) {
    custom = false;
    endpoint = "https://s3." + region + ".amazonaws.com";
  }
  LP_ASSIGN_OR_RETURN(loc.endpoint, CleanEndpoint(endpoint, "store " + shown));
  if (addressing.empty()) {
    // Like boto3: virtual-host on AWS unless the bucket can't be a DNS label
    // under TLS (dots); path-style for custom endpoints (MinIO, moto, ...).
    loc.path_style = custom || loc.bucket.find('.') != std::string::npos;
  } else if (addressing == "path") {
    loc.path_style = true;
  } else if (addressing == "virtual") {
    loc.path_style = false;
  } else {
    return Status::InvalidArgument("store " + shown +
                                   ": addressing must be 'path' or 'virtual'");
  }
  return loc;
}

Result<std::unique_ptr<Store>> S3Store::Open(const std::string& url,
                                             const EnvLookup& env) {
  // Validate the URL before anything names it in a message.
  LP_ASSIGN_OR_RETURN(S3Location loc, ParseS3Url(url, env));
  auto creds = ResolveS3Credentials(env);
  if (!creds.ok()) {
    return creds.status().WithContext("store " + url.substr(0, url.find('?')));
  }
  if (!loc.region_given && *creds && !(*creds)->region.empty()) {
    LP_ASSIGN_OR_RETURN(loc, ParseS3Url(url, env, (*creds)->region));
  }
  http::Auth auth;
  bool signed_requests = *creds && !(*creds)->access_key.empty();
  if (signed_requests) {
    const S3Credentials& c = **creds;
    auth.sigv4 = "aws:amz:" + loc.region + ":s3";
    auth.userpwd = c.access_key + ":" + c.secret_key;
    if (!c.session_token.empty()) {
      auth.secret_headers.push_back("x-amz-security-token: " + c.session_token);
    }
  }
  return std::unique_ptr<Store>(
      new S3Store(url, std::move(loc), std::move(auth),
                  http::ClientOptions::FromEnv(), signed_requests));
}

std::string S3Store::ObjectUrl(const std::string& key,
                               const std::string& query) const {
  std::string full =
      loc_.prefix.empty() || key.empty() ? key : loc_.prefix + "/" + key;
  std::string base;
  if (loc_.path_style) {
    base = loc_.endpoint + "/" + loc_.bucket;
    if (!full.empty()) base += "/" + http::UriEncode(full, true);
  } else {
    size_t sep = loc_.endpoint.find("://") + 3;
    base = loc_.endpoint.substr(0, sep) + loc_.bucket + "." +
           loc_.endpoint.substr(sep) + "/" + http::UriEncode(full, true);
  }
  if (!query.empty()) base += "?" + query;
  return base;
}

std::string S3Store::What(const std::string& key) const {
  return "store " + url_ + ": object " + key;
}

std::vector<std::string> S3Store::BaseHeaders() const {
  std::vector<std::string> h;
  if (signed_) h.push_back("x-amz-content-sha256: UNSIGNED-PAYLOAD");
  return h;
}

Result<http::Response> S3Store::GetObject(const std::string& key,
                                          uint64_t max_size) {
  http::Request req;
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), max_size, &stats()));
  if (r.status != 200) return http::MapHttpError(r.status, r.body, What(key));
  return r;
}

Result<std::string> S3Store::Get(const std::string& key, uint64_t max_size) {
  LP_ASSIGN_OR_RETURN(http::Response r, GetObject(key, max_size));
  return std::move(r.body);
}

Result<VersionedObject> S3Store::GetVersioned(const std::string& key,
                                              uint64_t max_size) {
  LP_ASSIGN_OR_RETURN(http::Response r, GetObject(key, max_size));
  auto it = r.headers.find("etag");
  if (it == r.headers.end() || it->second.empty()) {
    return Status::Corrupt(What(key) + ": no ETag in the response");
  }
  return VersionedObject{std::move(r.body), it->second};
}

Status S3Store::PutIfVersion(const std::string& key, std::string_view data,
                             const std::string& expected_version) {
  http::Request req;
  req.method = "PUT";
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  req.headers.push_back("Content-Type: application/octet-stream");
  if (expected_version.empty()) {
    req.headers.push_back("If-None-Match: *");
  } else {
    if (expected_version.find_first_of("\r\n") != std::string::npos) {
      return Status::Corrupt(What(key) + ": malformed ETag");
    }
    req.headers.push_back("If-Match: " + expected_version);
  }
  req.body = data;
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  // 412: the precondition failed; 409: a concurrent conditional write won.
  if (r.status == 412 || r.status == 409) {
    return Status::Conflict(What(key) + " changed since it was read");
  }
  if (r.status == 404 && !expected_version.empty()) {
    return Status::Conflict(What(key) + " was deleted since it was read");
  }
  if (r.status != 200) return http::MapHttpError(r.status, r.body, What(key));
  return Status::OK();
}

Status S3Store::Delete(const std::string& key) {
  return DeleteIfVersion(key, "");
}

Status S3Store::DeleteIfVersion(const std::string& key,
                                const std::string& expected_version) {
  http::Request req;
  req.method = "DELETE";
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  if (!expected_version.empty()) {
    if (expected_version.find_first_of("\r\n") != std::string::npos) {
      return Status::Corrupt(What(key) + ": malformed ETag");
    }
    req.headers.push_back("If-Match: " + expected_version);
  }
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (r.status == 412 || r.status == 409) {
    return Status::Conflict(What(key) + " changed since it was read");
  }
  if (r.status == 404 && !expected_version.empty()) {
    return Status::Conflict(What(key) + " was deleted since it was read");
  }
  if (r.status == 404 && http::ErrorCode(r.body) != "NoSuchBucket") {
    return Status::OK();
  }
  if (r.status != 200 && r.status != 204) {
    return http::MapHttpError(r.status, r.body, What(key));
  }
  return Status::OK();
}

Status S3Store::GetRange(const std::string& key, uint64_t offset,
                         uint64_t length, const ByteSink& sink) {
  http::Request req;
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  return client_.Fetch(req, offset, length, sink, What(key), &stats());
}

Status S3Store::Put(const std::string& key, std::string_view data) {
  http::Request req;
  req.method = "PUT";
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  req.headers.push_back("Content-Type: application/octet-stream");
  req.body = data;
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (r.status != 200) return http::MapHttpError(r.status, r.body, What(key));
  return Status::OK();
}

Status S3Store::PutFile(const std::string& key, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno("stat", path, errno);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kMultipartThreshold) return Multipart(key, path, size);
  http::Request req;
  req.method = "PUT";
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  req.headers.push_back("Content-Type: application/octet-stream");
  req.body_file = path;
  req.file_length = size;
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (r.status != 200) return http::MapHttpError(r.status, r.body, What(key));
  return Status::OK();
}

Status S3Store::Multipart(const std::string& key, const std::string& path,
                          uint64_t size) {
  const std::string what = What(key);
  http::Request init;
  init.method = "POST";
  init.url = ObjectUrl(key, "uploads=");
  init.headers = BaseHeaders();
  init.headers.push_back("Content-Type: application/octet-stream");
  LP_ASSIGN_OR_RETURN(
      http::Response r,
      client_.Send(init, what + " (multipart start)", 1 << 20, &stats()));
  if (r.status != 200) return http::MapHttpError(r.status, r.body, what);
  auto upload_id = XmlFirst(r.body, "UploadId");
  if (!upload_id || upload_id->empty()) {
    return Status::Corrupt(what + ": multipart start returned no UploadId");
  }
  const std::string id_q = "uploadId=" + http::UriEncode(*upload_id, false);
  // At most 10000 parts, each at least kMinPartBytes.
  uint64_t part = std::max<uint64_t>(kMinPartBytes, (size + 9999) / 10000);
  size_t parts = static_cast<size_t>((size + part - 1) / part);
  std::vector<std::string> etags(parts);
  Status s = ParallelFor(parts, 4, [&](size_t i) -> Status {
    http::Request put;
    put.method = "PUT";
    put.url =
        ObjectUrl(key, "partNumber=" + std::to_string(i + 1) + "&" + id_q);
    put.headers = BaseHeaders();
    put.body_file = path;
    put.file_offset = i * part;
    put.file_length = std::min<uint64_t>(part, size - i * part);
    std::string w = what + " (part " + std::to_string(i + 1) + ")";
    LP_ASSIGN_OR_RETURN(http::Response pr,
                        client_.Send(put, w, 1 << 20, &stats()));
    if (pr.status != 200) return http::MapHttpError(pr.status, pr.body, w);
    auto it = pr.headers.find("etag");
    if (it == pr.headers.end() || it->second.empty()) {
      return Status::Corrupt(w + ": no ETag in the response");
    }
    etags[i] = it->second;
    return Status::OK();
  });
  if (s.ok()) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < parts; ++i) {
      std::string etag;
      for (char c : etags[i]) {  // XML-escape
        if (c == '&') {
          etag += "&amp;";
        } else if (c == '<') {
          etag += "&lt;";
        } else {
          etag.push_back(c);
        }
      }
      xml += "<Part><PartNumber>" + std::to_string(i + 1) +
             "</PartNumber><ETag>" + etag + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    http::Request done;
    done.method = "POST";
    done.url = ObjectUrl(key, id_q);
    done.headers = BaseHeaders();
    done.headers.push_back("Content-Type: application/xml");
    done.body = xml;
    auto cr =
        client_.Send(done, what + " (multipart complete)", 1 << 20, &stats());
    if (!cr.ok()) {
      s = cr.status();
    } else if (cr->status != 200 ||
               cr->body.find("<Error>") != std::string::npos) {
      // S3 may report a failed completion inside a 200 response.
      long status = cr->status == 200 ? 500 : cr->status;
      s = http::MapHttpError(status, cr->body, what + " (multipart complete)");
    }
  }
  if (!s.ok()) {
    http::Request abort;
    abort.method = "DELETE";
    abort.url = ObjectUrl(key, id_q);
    abort.headers = BaseHeaders();
    (void)client_.Send(abort, what + " (multipart abort)", 1 << 20, &stats());
    return s;
  }
  return Status::OK();
}

Result<bool> S3Store::Exists(const std::string& key) {
  http::Request req;
  req.method = "HEAD";
  req.url = ObjectUrl(key);
  req.headers = BaseHeaders();
  LP_ASSIGN_OR_RETURN(http::Response r,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  // A HEAD error has no body to say why (expired token, clock skew, ...):
  // ask again with a one-byte GET, whose error body does.
  req.method = "GET";
  req.headers.push_back("Range: bytes=0-0");
  LP_ASSIGN_OR_RETURN(http::Response g,
                      client_.Send(req, What(key), 1 << 20, &stats()));
  if (g.status >= 200 && g.status < 300) return true;
  if (g.status == 404 && http::ErrorCode(g.body) != "NoSuchBucket") {
    return false;
  }
  return http::MapHttpError(g.status, g.body, What(key));
}

Result<std::vector<std::string>> S3Store::List(const std::string& prefix) {
  std::string full = loc_.prefix.empty() ? prefix : loc_.prefix + "/" + prefix;
  std::string strip = loc_.prefix.empty() ? "" : loc_.prefix + "/";
  const std::string what = "store " + url_ + ": list " + prefix;
  std::vector<std::string> out;
  std::string token;
  for (int page = 0;; ++page) {
    // The query is already in SigV4's canonical form: keys sorted, values
    // RFC 3986-encoded (libcurl signs it as written).
    std::string query;
    if (!token.empty()) {
      query += "continuation-token=" + http::UriEncode(token, false) + "&";
    }
    query += "list-type=2&prefix=" + http::UriEncode(full, false);
    http::Request req;
    req.url = ObjectUrl("", query);
    req.headers = BaseHeaders();
    LP_ASSIGN_OR_RETURN(http::Response r,
                        client_.Send(req, what, 64ull << 20, &stats()));
    if (r.status != 200) return http::MapHttpError(r.status, r.body, what);
    LP_ASSIGN_OR_RETURN(ListPage p, ParseListObjectsV2(r.body, what));
    for (auto& k : p.keys) {
      if (k.compare(0, full.size(), full) != 0) continue;  // not ours
      out.push_back(k.substr(strip.size()));
    }
    if (!p.truncated) break;
    if (p.next_token == token) {
      return Status::Corrupt(what + ": listing repeats its continuation token");
    }
    token = p.next_token;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace lazypath
