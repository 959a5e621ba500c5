#include "store/gcs_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "store/key_prefix.h"
#include "util/fs.h"

namespace lazypath {

namespace {

using json = nlohmann::json;

constexpr std::string_view kDefaultEndpoint = "https://storage.googleapis.com";
constexpr uint64_t kMaxListPage = 64ull << 20;
constexpr uint64_t kMaxMetadata = 1 << 20;

// GCS bucket names: 3-222 bytes of a-z, 0-9, '-', '_', '.', starting and
// ending with a letter or digit.
bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 222) return false;
  for (char c : b) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  return alnum(b.front()) && alnum(b.back());
}

bool ValidGeneration(std::string_view g) {
  if (g.empty() || g.size() > 20) return false;
  return std::all_of(g.begin(), g.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// The last byte the server holds, from a 308's "Range: bytes=0-N"; -1 when
// it holds none.
int64_t PersistedEnd(const std::map<std::string, std::string>& headers) {
  auto it = headers.find("range");
  if (it == headers.end()) return -1;
  const std::string& v = it->second;
  size_t dash = v.find('-');
  if (v.rfind("bytes=0-", 0) != 0 || dash == std::string::npos) return -2;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str() + dash + 1, &end, 10);
  if (errno != 0 || end == v.c_str() + dash + 1 || *end != '\0' || n < 0) {
    return -2;
  }
  return n;
}

}  // namespace

Result<GcsLocation> ParseGcsUrl(const std::string& url, const EnvLookup& env) {
  if (url.rfind("gs://", 0) != 0) {
    return Status::InvalidArgument("not a gs:// URL");
  }
  std::string rest = url.substr(5);
  if (rest.find('@') != std::string::npos) {
    return Status::InvalidArgument(
        "store gs://...: credentials in the URL are not supported (use "
        "GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN)");
  }
  const std::string shown = "gs://" + rest.substr(0, rest.find_first_of("?#"));
  if (rest.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument(
        "store " + shown + ": malformed gs URL ('?' and '#' not allowed)");
  }
  GcsLocation loc;
  size_t slash = rest.find('/');
  loc.bucket = rest.substr(0, slash);
  if (!ValidBucket(loc.bucket)) {
    return Status::InvalidArgument(
        "store " + shown +
        ": malformed gs URL (want gs://bucket[/prefix]; a bucket name is "
        "3-222 of a-z, 0-9, '.', '-', '_')");
  }
  LP_ASSIGN_OR_RETURN(
      loc.prefix, NormalizeKeyPrefix(
                      slash == std::string::npos ? "" : rest.substr(slash + 1),
                      shown, "gs"));
  if (auto host = env("STORAGE_EMULATOR_HOST")) {
    std::string ep = *host;
    if (ep.find("://") == std::string::npos) ep = "http://" + ep;
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    size_t sep = ep.find("://");
    std::string scheme = ep.substr(0, sep);
    std::string authority = ep.substr(sep + 3);
    if ((scheme != "http" && scheme != "https") || authority.empty() ||
        authority.find_first_of("/?#@ ") != std::string::npos) {
      return Status::InvalidArgument(
          "store " + shown +
          ": malformed STORAGE_EMULATOR_HOST (want host:port or "
          "http(s)://host:port)");
    }
    loc.endpoint = ep;
    loc.emulator = true;
  } else {
    loc.endpoint = std::string(kDefaultEndpoint);
  }
  return loc;
}

Result<GcsListPage> ParseGcsListPage(std::string_view text,
                                     const std::string& what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Status::Corrupt(what +
                           ": malformed objects list (not a JSON "
                           "object)");
  }
  GcsListPage page;
  if (auto items = doc.find("items"); items != doc.end()) {
    if (!items->is_array()) {
      return Status::Corrupt(what + ": malformed objects list (items)");
    }
    page.names.reserve(items->size());
    for (const auto& item : *items) {
      auto name = item.is_object() ? item.find("name") : item.end();
      if (!item.is_object() || name == item.end() || !name->is_string()) {
        return Status::Corrupt(what +
                               ": malformed objects list (an item "
                               "without a name)");
      }
      page.names.push_back(name->get<std::string>());
    }
  }
  if (auto tok = doc.find("nextPageToken"); tok != doc.end()) {
    if (!tok->is_string()) {
      return Status::Corrupt(what +
                             ": malformed objects list "
                             "(nextPageToken)");
    }
    page.next_token = tok->get<std::string>();
  }
  return page;
}

Result<std::string> ParseGcsGeneration(std::string_view text,
                                       const std::string& what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    if (auto g = doc.find("generation"); g != doc.end()) {
      std::string gen;
      if (g->is_string()) {
        gen = g->get<std::string>();
      } else if (g->is_number_unsigned()) {
        gen = std::to_string(g->get<uint64_t>());
      }
      if (ValidGeneration(gen)) return gen;
    }
  }
  return Status::Corrupt(what + ": object metadata without a generation");
}

std::string GcsErrorReason(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "";
  auto err = doc.find("error");
  if (err == doc.end() || !err->is_object()) return "";
  auto errors = err->find("errors");
  if (errors == err->end() || !errors->is_array() || errors->empty()) {
    return "";
  }
  const json& first = (*errors)[0];
  if (!first.is_object()) return "";
  auto reason = first.find("reason");
  if (reason == first.end() || !reason->is_string()) return "";
  return http::SafeForMessage(reason->get<std::string>());
}

Status MapGcsError(long status, std::string_view body, const std::string& what,
                   const std::string& auth) {
  std::string reason = GcsErrorReason(body);
  std::string tag = "HTTP " + std::to_string(status);
  if (!reason.empty()) tag += " " + reason;
  std::string lower(body.substr(0, 4096));
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string source =
      auth.empty() ? "anonymous request" : "token from " + auth;
  if (status == 401 && lower.find("expired") != std::string::npos) {
    return Status::IoError(what + ": expired token (" + tag + ", " + source +
                           "): get a fresh token");
  }
  if (status == 401 || status == 403) {
    return Status::IoError(what + ": access denied (" + tag + ", " + source +
                           "): wrong or missing credentials");
  }
  if (status == 404)
    return Status::NotFound(what + ": not found (" + tag + ")");
  if (status == 412) {
    return Status::Conflict(what + " changed since it was read (" + tag + ")");
  }
  if (status == 429 || status == 408 || status >= 500) {
    return Status::Unavailable(what + ": server error (" + tag + ")");
  }
  return Status::IoError(what + ": request failed (" + tag + ")");
}

Result<std::unique_ptr<Store>> GcsStore::Open(const std::string& url,
                                              const EnvLookup& env) {
  LP_ASSIGN_OR_RETURN(GcsLocation loc, ParseGcsUrl(url, env));
  auto tokens = ResolveGoogleCredentials(env, loc.emulator);
  if (!tokens.ok()) return tokens.status().WithContext("store " + url);
  return std::unique_ptr<Store>(
      new GcsStore(url, std::move(loc), std::move(*tokens)));
}

std::string GcsStore::ObjectUrl(const std::string& key,
                                const std::string& query) const {
  std::string full = loc_.prefix.empty() ? key : loc_.prefix + "/" + key;
  std::string u = loc_.endpoint + "/storage/v1/b/" + loc_.bucket + "/o/" +
                  http::UriEncode(full, false);
  if (!query.empty()) u += "?" + query;
  return u;
}

std::string GcsStore::UploadUrl(const std::string& key,
                                const std::string& query) const {
  std::string full = loc_.prefix.empty() ? key : loc_.prefix + "/" + key;
  return loc_.endpoint + "/upload/storage/v1/b/" + loc_.bucket + "/o?" + query +
         "&name=" + http::UriEncode(full, false);
}

std::string GcsStore::What(const std::string& key) const {
  return "store " + url_ + ": object " + key;
}

std::string GcsStore::AuthName() const {
  return tokens_ ? tokens_->Describe() : "";
}

Result<http::Auth> GcsStore::CurrentAuth() {
  http::Auth auth;
  if (!tokens_) return auth;
  auto tok = tokens_->Token();
  if (!tok.ok()) return tok.status().WithContext("store " + url_);
  if (!tok->empty()) {
    auth.secret_headers.push_back("Authorization: Bearer " + *tok);
  }
  return auth;
}

Result<http::Response> GcsStore::Call(const http::Request& req,
                                      const std::string& what,
                                      uint64_t max_body) {
  for (int pass = 0;; ++pass) {
    LP_ASSIGN_OR_RETURN(http::Auth auth, CurrentAuth());
    http::Client client(std::move(auth), options_);
    LP_ASSIGN_OR_RETURN(http::Response r,
                        client.Send(req, what, max_body, &stats()));
    if (r.status == 401 && pass == 0 && tokens_ && tokens_->Refreshable()) {
      tokens_->Invalidate();  // revoked or expired early: one fresh token
      continue;
    }
    return r;
  }
}

Status GcsStore::Error(const http::Response& r, const std::string& what) {
  Status s = MapGcsError(r.status, r.body, what, AuthName());
  if (s.code() == Code::kNotFound) return NotFoundOrNoBucket(s);
  return s;
}

Status GcsStore::NotFoundOrNoBucket(Status not_found) {
  if (bucket_seen_.load()) return not_found;
  http::Request req;
  req.url = loc_.endpoint + "/storage/v1/b/" + loc_.bucket + "?fields=name";
  auto r = Call(req, "store " + url_ + ": bucket " + loc_.bucket, kMaxMetadata);
  if (r.ok() && r->status == 404) {
    return Status::InvalidArgument("store " + url_ +
                                   ": bucket does not exist (HTTP 404)");
  }
  // 200, or no permission to read the bucket itself (object-only roles):
  // the object is missing. Either way, don't ask again.
  if (r.ok() && r->status < 500) bucket_seen_ = true;
  return not_found;
}

Result<std::string> GcsStore::Get(const std::string& key, uint64_t max_size) {
  http::Request req;
  req.url = ObjectUrl(key, "alt=media");
  LP_ASSIGN_OR_RETURN(http::Response r, Call(req, What(key), max_size));
  if (r.status != 200) return Error(r, What(key));
  return std::move(r.body);
}

Result<VersionedObject> GcsStore::GetVersioned(const std::string& key,
                                               uint64_t max_size) {
  const std::string what = What(key);
  http::Request req;
  req.url = ObjectUrl(key, "alt=media");
  LP_ASSIGN_OR_RETURN(http::Response r, Call(req, what, max_size));
  if (r.status != 200) return Error(r, what);
  auto it = r.headers.find("x-goog-generation");
  if (it != r.headers.end() && ValidGeneration(it->second)) {
    return VersionedObject{std::move(r.body), it->second};
  }
  // No generation header (emulators): read the metadata, then exactly that
  // generation, so the bytes and the version agree.
  http::Request meta;
  meta.url = ObjectUrl(key, "fields=generation");
  LP_ASSIGN_OR_RETURN(http::Response m, Call(meta, what, kMaxMetadata));
  if (m.status != 200) return Error(m, what);
  LP_ASSIGN_OR_RETURN(std::string gen, ParseGcsGeneration(m.body, what));
  req.url = ObjectUrl(key, "alt=media&generation=" + gen);
  LP_ASSIGN_OR_RETURN(http::Response g, Call(req, what, max_size));
  if (g.status != 200) return Error(g, what);
  return VersionedObject{std::move(g.body), gen};
}

Status GcsStore::GetRange(const std::string& key, uint64_t offset,
                          uint64_t length, const ByteSink& sink) {
  const std::string what = What(key);
  http::Request req;
  req.url = ObjectUrl(key, "alt=media");
  for (int pass = 0;; ++pass) {
    LP_ASSIGN_OR_RETURN(http::Auth auth, CurrentAuth());
    http::Client client(std::move(auth), options_);
    uint64_t delivered = 0;
    ByteSink counting = [&](std::string_view b) {
      delivered += b.size();
      return sink(b);
    };
    Status s = client.Fetch(req, offset, length, counting, what, &stats());
    // A token that expired early: one fresh token, if nothing was delivered.
    if (!s.ok() && pass == 0 && delivered == 0 && tokens_ &&
        tokens_->Refreshable() &&
        s.message().find("(HTTP 401") != std::string::npos) {
      tokens_->Invalidate();
      continue;
    }
    if (s.code() == Code::kNotFound) return NotFoundOrNoBucket(s);
    return s;
  }
}

Status GcsStore::Upload(const std::string& key, std::string_view data,
                        const std::string& condition) {
  const std::string what = What(key);
  http::Request req;
  req.method = "POST";
  req.url = UploadUrl(key, "uploadType=media" + condition);
  req.headers.push_back("Content-Type: application/octet-stream");
  req.body = data;
  LP_ASSIGN_OR_RETURN(http::Response r, Call(req, what, kMaxMetadata));
  if (r.status == 200) {
    stats().bytes_written += data.size();  // Send counts only PUT bodies
    return Status::OK();
  }
  return Error(r, what);
}

Status GcsStore::Put(const std::string& key, std::string_view data) {
  return Upload(key, data, "");
}

Status GcsStore::PutIfVersion(const std::string& key, std::string_view data,
                              const std::string& expected_version) {
  if (!expected_version.empty() && !ValidGeneration(expected_version)) {
    return Status::Corrupt(What(key) + ": malformed generation");
  }
  std::string gen = expected_version.empty() ? "0" : expected_version;
  Status s = Upload(key, data, "&ifGenerationMatch=" + gen);
  if (s.code() == Code::kConflict) {
    return Status::Conflict(What(key) + " changed since it was read");
  }
  // ifGenerationMatch=G on a deleted object is a 404 on some servers.
  if (s.code() == Code::kNotFound && !expected_version.empty()) {
    return Status::Conflict(What(key) + " was deleted since it was read");
  }
  return s;
}

Status GcsStore::Delete(const std::string& key) {
  return DeleteIfVersion(key, "");
}

Status GcsStore::DeleteIfVersion(const std::string& key,
                                 const std::string& expected_version) {
  if (!expected_version.empty() && !ValidGeneration(expected_version)) {
    return Status::Corrupt(What(key) + ": malformed generation");
  }
  http::Request req;
  req.method = "DELETE";
  req.url = ObjectUrl(key, expected_version.empty()
                               ? ""
                               : "ifGenerationMatch=" + expected_version);
  LP_ASSIGN_OR_RETURN(http::Response r, Call(req, What(key), kMaxMetadata));
  if (r.status == 200 || r.status == 204) return Status::OK();
  Status s = Error(r, What(key));
  if (s.code() == Code::kConflict) {
    return Status::Conflict(What(key) + " changed since it was read");
  }
  if (s.code() == Code::kNotFound) {
    if (!expected_version.empty()) {
      return Status::Conflict(What(key) + " was deleted since it was read");
    }
    return Status::OK();
  }
  return s;
}

Status GcsStore::PutFile(const std::string& key, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno("stat", path, errno);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kResumableThreshold) return Resumable(key, path, size);
  LP_ASSIGN_OR_RETURN(std::string data, fs::ReadFile(path, size));
  return Upload(key, data, "");
}

Status GcsStore::Resumable(const std::string& key, const std::string& path,
                           uint64_t size) {
  const std::string what = What(key);
  std::string full = loc_.prefix.empty() ? key : loc_.prefix + "/" + key;
  json meta = {{"name", full}};
  std::string meta_body = meta.dump();
  http::Request init;
  init.method = "POST";
  init.url = UploadUrl(key, "uploadType=resumable");
  init.headers = {"Content-Type: application/json; charset=UTF-8",
                  "X-Upload-Content-Type: application/octet-stream",
                  "X-Upload-Content-Length: " + std::to_string(size)};
  init.body = meta_body;
  LP_ASSIGN_OR_RETURN(http::Response r,
                      Call(init, what + " (resumable start)", kMaxMetadata));
  if (r.status != 200 && r.status != 201) return Error(r, what);
  // The session is named by its upload_id; requests go to our own endpoint
  // whatever host the Location names, so the token never travels elsewhere.
  auto loc = r.headers.find("location");
  std::string id;
  if (loc != r.headers.end()) {
    size_t p = loc->second.find("upload_id=");
    if (p != std::string::npos) {
      p += 10;
      id = loc->second.substr(p, loc->second.find('&', p) - p);
    }
  }
  bool id_ok = !id.empty() && id.size() < 4096 &&
               std::all_of(id.begin(), id.end(), [](char c) {
                 return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                        c == '.' || c == '~' || c == '%' || c == '+';
               });
  if (!id_ok) {
    return Status::Corrupt(what +
                           ": resumable upload started without a "
                           "session id");
  }
  const std::string session = loc_.endpoint + "/upload/storage/v1/b/" +
                              loc_.bucket +
                              "/o?uploadType=resumable&upload_id=" + id;
  // After a chunk failed all its retries, ask the server what it holds
  // (an empty PUT with "bytes */SIZE") and go on from there.
  auto status_query = [&]() -> Result<http::Response> {
    http::Request q;
    q.method = "PUT";
    q.url = session;
    q.headers.push_back("Content-Range: bytes */" + std::to_string(size));
    return Call(q, what + " (resumable upload status)", kMaxMetadata);
  };
  uint64_t offset = 0;
  int stuck = 0;
  int resumes = 0;
  while (true) {
    uint64_t n = std::min<uint64_t>(kChunkBytes, size - offset);
    http::Request put;
    put.method = "PUT";
    put.url = session;
    put.body_file = path;
    put.file_offset = offset;
    put.file_length = n;
    put.headers.push_back("Content-Range: bytes " + std::to_string(offset) +
                          "-" + std::to_string(offset + n - 1) + "/" +
                          std::to_string(size));
    const std::string w =
        what + " (resumable upload at byte " + std::to_string(offset) + ")";
    auto sent = Call(put, w, kMaxMetadata);
    bool failed = sent.ok() ? http::RetryableHttp(sent->status, "")
                            : sent.status().code() == Code::kUnavailable;
    if (failed && resumes < kMaxResumes) {
      ++resumes;
      sent = status_query();
    }
    if (!sent.ok()) return sent.status();
    const http::Response& pr = *sent;
    if (pr.status == 200 || pr.status == 201) return Status::OK();
    if (pr.status == 404 || pr.status == 410) {
      return Status::IoError(what +
                             ": resumable upload session expired (HTTP " +
                             std::to_string(pr.status) + ")");
    }
    if (pr.status != 308) return Error(pr, w);
    int64_t end = PersistedEnd(pr.headers);
    if (end < -1 || end + 1 > static_cast<int64_t>(size)) {
      return Status::Corrupt(w + ": malformed Range in the upload status");
    }
    uint64_t next = static_cast<uint64_t>(end + 1);
    if (next <= offset) {
      // The server kept less than we sent: resend from what it holds.
      if (++stuck > options_.attempts) {
        return Status::Unavailable(w +
                                   ": upload makes no progress (gave up "
                                   "after " +
                                   std::to_string(stuck) + " tries)");
      }
    } else {
      stuck = 0;
    }
    if (next == size) {
      return Status::Corrupt(w +
                             ": server holds every byte but did not "
                             "finish the upload");
    }
    offset = next;
  }
}

Result<bool> GcsStore::Exists(const std::string& key) {
  http::Request req;
  req.url = ObjectUrl(key, "fields=name");
  LP_ASSIGN_OR_RETURN(http::Response r, Call(req, What(key), kMaxMetadata));
  if (r.status == 200) return true;
  Status s = Error(r, What(key));
  if (s.code() == Code::kNotFound) return false;
  return s;
}

Result<std::vector<std::string>> GcsStore::List(const std::string& prefix) {
  std::string full = loc_.prefix.empty() ? prefix : loc_.prefix + "/" + prefix;
  std::string strip = loc_.prefix.empty() ? "" : loc_.prefix + "/";
  const std::string what = "store " + url_ + ": list " + prefix;
  std::vector<std::string> out;
  std::string token;
  while (true) {
    std::string query = "prefix=" + http::UriEncode(full, false) + "&fields=" +
                        http::UriEncode("items(name),nextPageToken", false);
    if (!token.empty()) query += "&pageToken=" + http::UriEncode(token, false);
    http::Request req;
    req.url = loc_.endpoint + "/storage/v1/b/" + loc_.bucket + "/o?" + query;
    LP_ASSIGN_OR_RETURN(http::Response r, Call(req, what, kMaxListPage));
    if (r.status != 200) return Error(r, what);
    LP_ASSIGN_OR_RETURN(GcsListPage p, ParseGcsListPage(r.body, what));
    for (auto& k : p.names) {
      if (k.compare(0, full.size(), full) != 0) continue;  // not ours
      out.push_back(k.substr(strip.size()));
    }
    if (p.next_token.empty()) break;
    if (p.next_token == token) {
      return Status::Corrupt(what + ": listing repeats its page token");
    }
    token = std::move(p.next_token);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace lazypath
