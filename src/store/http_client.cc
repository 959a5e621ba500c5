#include "store/http_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "store/curl_api.h"
#include "store/s3_xml.h"
#include "util/fs.h"

namespace lazypath {

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

}  // namespace lazypath

namespace lazypath::http {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

constexpr uint64_t kMaxErrorBody = 64 * 1024;

// State of one attempt, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  const CurlApi* api = nullptr;  // set with `curl`
  std::map<std::string, std::string> headers;
  long status = 0;
  // Non-streaming: the body, capped at max_body.
  std::string body;
  uint64_t max_body = 0;
  bool too_big = false;
  // Streaming (Fetch): bytes for the sink.
  const ByteSink* sink = nullptr;
  uint64_t want_start = 0;  // absolute offset of the first byte wanted
  uint64_t remaining = 0;   // bytes still wanted
  uint64_t skip = 0;        // bytes of a 200 response before want_start
  bool range_checked = false;
  bool range_mismatch = false;
  uint64_t delivered = 0;
  Status sink_status;
  // Request body.
  std::string_view mem;
  int fd = -1;
  uint64_t read_pos = 0;
  uint64_t read_end = 0;
  bool read_failed = false;
  StoreStats* stats = nullptr;  // bytes_sent, as libcurl takes them
};

size_t HeaderCb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    t->headers.clear();  // a new response (after 100 Continue)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->headers[Lower(Trim(line.substr(0, colon)))] =
        Trim(line.substr(colon + 1));
  }
  return size * n;
}

long CurrentStatus(Transfer* t) {
  long code = 0;
  t->api->easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// Parses "bytes START-END/TOTAL"; false if malformed.
bool ParseContentRange(const std::string& v, uint64_t* start) {
  if (v.compare(0, 6, "bytes ") != 0) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long s = std::strtoull(v.c_str() + 6, &end, 10);
  if (errno != 0 || end == v.c_str() + 6 || *end != '-') return false;
  *start = s;
  return true;
}

size_t WriteCb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t total = size * n;
  std::string_view chunk(data, total);
  long status = CurrentStatus(t);
  bool success = status >= 200 && status < 300;
  if (t->sink == nullptr || !success) {
    uint64_t cap = success ? t->max_body : kMaxErrorBody;
    if (t->body.size() + chunk.size() > cap) {
      if (success) {
        t->too_big = true;
        return 0;  // aborts: CURLE_WRITE_ERROR
      }
      chunk = chunk.substr(0, cap - t->body.size());
    }
    t->body.append(chunk);
    return total;
  }
  if (!t->range_checked) {
    t->range_checked = true;
    if (status == 206) {
      auto it = t->headers.find("content-range");
      uint64_t start = 0;
      if (it == t->headers.end() || !ParseContentRange(it->second, &start) ||
          start != t->want_start) {
        t->range_mismatch = true;
        return 0;
      }
    } else {
      t->skip = t->want_start;  // the server ignored Range: skip ahead
    }
  }
  if (t->skip > 0) {
    size_t s = static_cast<size_t>(std::min<uint64_t>(t->skip, chunk.size()));
    chunk.remove_prefix(s);
    t->skip -= s;
  }
  size_t take =
      static_cast<size_t>(std::min<uint64_t>(t->remaining, chunk.size()));
  if (take > 0) {
    t->sink_status = (*t->sink)(chunk.substr(0, take));
    if (!t->sink_status.ok()) return 0;
    t->remaining -= take;
    t->delivered += take;
  }
  // Past the range (a server that ignored Range): stop rather than read on.
  if (take < chunk.size()) return 0;
  return total;
}

size_t ReadCb(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t room = size * n;
  if (t->fd < 0) {
    size_t take = std::min(room, t->mem.size());
    std::copy_n(t->mem.data(), take, buf);
    t->mem.remove_prefix(take);
    if (t->stats != nullptr) t->stats->bytes_sent += take;
    return take;
  }
  size_t want =
      static_cast<size_t>(std::min<uint64_t>(room, t->read_end - t->read_pos));
  if (want == 0) return 0;
  ssize_t got;
  do {
    got = ::pread(t->fd, buf, want, static_cast<off_t>(t->read_pos));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {  // an error, or the file shrank under us
    t->read_failed = true;
    return CURL_READFUNC_ABORT;
  }
  t->read_pos += static_cast<uint64_t>(got);
  if (t->stats != nullptr) t->stats->bytes_sent += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

bool RetryableCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

struct SList {
  const CurlApi& api;
  curl_slist* list = nullptr;
  ~SList() { api.slist_free_all(list); }
  void Add(const std::string& h) { list = api.slist_append(list, h.c_str()); }
};

struct Easy {
  const CurlApi& api;
  CURL* h;
  explicit Easy(const CurlApi& a) : api(a), h(a.easy_init()) {}
  ~Easy() {
    if (h != nullptr) api.easy_cleanup(h);
  }
};

// One attempt. Returns the curl code; `errbuf` gets libcurl's detail.
CURLcode Perform(const Request& req, const Auth& auth, const ClientOptions& opt,
                 bool streaming, Transfer* t, std::string* detail) {
  Result<const CurlApi*> loaded = Curl();
  if (!loaded.ok()) {
    *detail = loaded.status().message();
    return CURLE_FAILED_INIT;
  }
  const CurlApi& api = **loaded;
  Easy easy(api);
  if (easy.h == nullptr) {
    *detail = "cannot create a curl handle";
    return CURLE_OUT_OF_MEMORY;
  }
  CURL* c = easy.h;
  t->curl = c;
  t->api = &api;
  char errbuf[CURL_ERROR_SIZE] = {0};
  SList headers{api};
  for (const auto& h : req.headers) headers.Add(h);
  for (const auto& h : auth.secret_headers) headers.Add(h);
  api.easy_setopt(c, CURLOPT_URL, req.url.c_str());
  api.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // never carry auth away
  api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_seconds);
  api.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  api.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opt.stall_seconds);
  // Bodies of unknown size (GETs of trees and indexes, uploads, S3's slow
  // multipart completion) rely on the stall timeout; bodiless calls also
  // get a total one.
  if (!streaming && (req.method == "HEAD" || req.method == "DELETE")) {
    api.easy_setopt(c, CURLOPT_TIMEOUT, opt.small_request_timeout_seconds);
  }
  api.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  api.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!opt.ca_file.empty()) {
    api.easy_setopt(c, CURLOPT_CAINFO, opt.ca_file.c_str());
  }
  if (!opt.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(opt.ca_pem.data()), opt.ca_pem.size(),
                   CURL_BLOB_NOCOPY};
    api.easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!opt.ca_dir.empty()) {
    api.easy_setopt(c, CURLOPT_CAPATH, opt.ca_dir.c_str());
  }
  if (!auth.sigv4.empty()) {
    api.easy_setopt(c, CURLOPT_AWS_SIGV4, auth.sigv4.c_str());
    api.easy_setopt(c, CURLOPT_USERPWD, auth.userpwd.c_str());
  }
  api.easy_setopt(c, CURLOPT_HEADERFUNCTION, HeaderCb);
  api.easy_setopt(c, CURLOPT_HEADERDATA, t);
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteCb);
  api.easy_setopt(c, CURLOPT_WRITEDATA, t);
  if (req.method == "HEAD") {
    api.easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    api.easy_setopt(c, CURLOPT_UPLOAD, 1L);
    api.easy_setopt(c, CURLOPT_READFUNCTION, ReadCb);
    api.easy_setopt(c, CURLOPT_READDATA, t);
    uint64_t size = req.body_file.empty() ? req.body.size() : req.file_length;
    api.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    // No 100-continue round trip; but libcurl 7.88 signs an emptied header
    // into SigV4's SignedHeaders, which servers then reject, so keep it there.
    if (auth.sigv4.empty()) headers.Add("Expect:");
  } else if (req.method == "POST") {
    api.easy_setopt(c, CURLOPT_POST, 1L);
    api.easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                    static_cast<curl_off_t>(req.body.size()));
    if (auth.sigv4.empty()) headers.Add("Expect:");
  } else if (req.method != "GET") {
    api.easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  api.easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  CURLcode rc = api.easy_perform(c);
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->status);
  if (rc != CURLE_OK) {
    *detail = api.easy_strerror(rc);
    if (errbuf[0] != '\0') {
      std::string e = Trim(errbuf);
      // libcurl's detail names host and port, never our query or secrets;
      // keep it one line all the same.
      std::replace(e.begin(), e.end(), '\n', ' ');
      *detail += " (" + e + ")";
    }
  }
  t->curl = nullptr;
  return rc;
}

}  // namespace

ClientOptions ClientOptions::FromEnv() {
  ClientOptions o;
  if (const char* v = Env("LAZYPATH_HTTP_ATTEMPTS")) {
    o.attempts = std::clamp(std::atoi(v), 1, 100);
  }
  if (const char* v = Env("LAZYPATH_HTTP_TIMEOUT")) {
    o.stall_seconds = std::clamp(std::atol(v), 1L, 3600L);
    o.connect_timeout_seconds =
        std::min(o.connect_timeout_seconds, o.stall_seconds);
  }
  const char* cert_file = Env("SSL_CERT_FILE");
  const char* bundle = Env("CURL_CA_BUNDLE");
  if (cert_file != nullptr && bundle != nullptr &&
      std::string_view(cert_file) != bundle) {
    // One may be a machine-wide default, the other this job's CA: trust
    // both. An unreadable file is left to libcurl to report.
    for (const char* f : {cert_file, bundle}) {
      auto pem = fs::ReadFile(f, 64 << 20);
      if (!pem.ok()) {
        o.ca_pem.clear();
        o.ca_file = cert_file;
        break;
      }
      o.ca_pem += *pem;
      o.ca_pem += "\n";
    }
  } else if (cert_file != nullptr) {
    o.ca_file = cert_file;
  } else if (bundle != nullptr) {
    o.ca_file = bundle;
  }
  if (const char* v = Env("SSL_CERT_DIR")) o.ca_dir = v;
  if (o.ca_file.empty() && o.ca_pem.empty() && o.ca_dir.empty()) {
    // Without libcurl (Curl() fails) requests fail anyway, saying why.
    Result<const CurlApi*> api = Curl();
    char* curl_default = nullptr;
    if (api.ok()) {
      if (CURL* c = (*api)->easy_init()) {
        (*api)->easy_getinfo(c, CURLINFO_CAINFO, &curl_default);
        o.ca_file = FallbackCaBundle(curl_default, [](const std::string& f) {
          return ::access(f.c_str(), R_OK) == 0;
        });
        (*api)->easy_cleanup(c);
      }
    }
  }
  return o;
}

std::string FallbackCaBundle(
    const char* curl_default,
    const std::function<bool(const std::string&)>& readable) {
  if (curl_default != nullptr && *curl_default != '\0' &&
      readable(curl_default)) {
    return "";
  }
  for (const char* f : {
           "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Arch
           "/etc/pki/tls/certs/ca-bundle.crt",    // Fedora, RHEL
           "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+
           "/etc/ssl/ca-bundle.pem",                             // openSUSE
           "/etc/ssl/cert.pem",                                  // Alpine, BSDs
       }) {
    if (readable(f)) return f;
  }
  return "";
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string SafeForMessage(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-') {
      out.push_back(c);
    }
  }
  return out;
}

std::string ErrorCode(std::string_view body) {
  std::optional<std::string_view> raw = XmlRawContent(body, "Code");
  if (!raw || raw->size() > 100) return "";
  std::string out;
  for (char c : *raw) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '.') {
      out.push_back(c);
    }
  }
  return out;
}

bool RetryableHttp(long status, std::string_view code) {
  if (status == 429 || status == 408 || status >= 500) {
    return code != "NotImplemented";
  }
  return code == "SlowDown" || code == "RequestTimeout" ||
         code == "InternalError" || code == "ServiceUnavailable";
}

Status MapHttpError(long status, std::string_view body,
                    const std::string& what) {
  std::string code = ErrorCode(body);
  std::string tag = "HTTP " + std::to_string(status);
  if (!code.empty()) tag += " " + code;
  if (code == "NoSuchBucket") {
    // InvalidArgument, not NotFound: the URL is wrong, and a caller that
    // turns NotFound into "object not in store" must not hide that.
    return Status::InvalidArgument(what + ": bucket does not exist (" + tag +
                                   ")");
  }
  if (code == "ExpiredToken" || code == "TokenRefreshRequired") {
    return Status::IoError(what + ": expired token (" + tag +
                           "): refresh the session credentials");
  }
  if (code == "RequestTimeTooSkewed") {
    return Status::IoError(what + ": clock skew (" + tag +
                           "): this machine's clock is too far from the "
                           "server's; fix the system time");
  }
  if (status == 404 || code == "NoSuchKey") {
    return Status::NotFound(what + ": not found (" + tag + ")");
  }
  if (status == 401 || status == 403 || code == "InvalidToken" ||
      code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
      code == "InvalidClientTokenId" || code == "AccessDenied") {
    return Status::IoError(what + ": access denied (" + tag +
                           "): wrong or missing credentials");
  }
  if (RetryableHttp(status, code)) {
    return Status::Unavailable(what + ": server error (" + tag + ")");
  }
  return Status::IoError(what + ": request failed (" + tag + ")");
}

Status Client::Backoff(int attempt, const std::string& what,
                       const std::string& cause) {
  if (attempt + 1 >= options_.attempts) {
    return Status::Unavailable(what + ": " + cause + " (gave up after " +
                               std::to_string(options_.attempts) +
                               " attempts)");
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t cap = std::min<int64_t>(
      options_.backoff_max_ms, static_cast<int64_t>(options_.backoff_initial_ms)
                                   << std::min(attempt, 20));
  std::uniform_int_distribution<int64_t> dist(cap / 2,
                                              std::max<int64_t>(cap, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(dist(rng)));
  return Status::OK();
}

Result<Response> Client::Send(const Request& request, const std::string& what,
                              uint64_t max_body, StoreStats* stats) {
  int fd = -1;
  if (!request.body_file.empty()) {
    fd = ::open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open", request.body_file, errno);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  for (int attempt = 0;; ++attempt) {
    Transfer t;
    t.max_body = max_body;
    t.mem = request.body;
    t.fd = fd;
    t.read_pos = request.file_offset;
    t.read_end = request.file_offset + request.file_length;
    t.stats = stats;
    std::string detail;
    if (stats != nullptr) stats->requests++;
    CURLcode rc = Perform(request, auth_, options_, false, &t, &detail);
    // POST bodies go from memory in one piece (not through ReadCb): count
    // them once a response shows they left.
    if (stats != nullptr && rc == CURLE_OK && request.method == "POST") {
      stats->bytes_sent += request.body.size();
    }
    if (t.too_big) {
      return Status::Corrupt(what + ": response larger than " +
                             std::to_string(max_body) + " bytes");
    }
    if (t.read_failed) {
      return Status::IoError(what + ": cannot read " + request.body_file +
                             " (changed while uploading?)");
    }
    if (rc != CURLE_OK) {
      if (!RetryableCurl(rc)) return Status::IoError(what + ": " + detail);
      LP_RETURN_IF_ERROR(Backoff(attempt, what, detail));
      continue;
    }
    if (RetryableHttp(t.status, ErrorCode(t.body)) &&
        attempt + 1 < options_.attempts) {
      LP_RETURN_IF_ERROR(
          Backoff(attempt, what, "HTTP " + std::to_string(t.status)));
      continue;
    }
    if (stats != nullptr && t.status >= 200 && t.status < 300) {
      stats->bytes_read += t.body.size();
      if (request.method == "PUT") {
        stats->bytes_written += request.body_file.empty() ? request.body.size()
                                                          : request.file_length;
      }
    }
    Response r;
    r.status = t.status;
    r.headers = std::move(t.headers);
    r.body = std::move(t.body);
    return r;
  }
}

Status Client::Fetch(const Request& request, uint64_t offset, uint64_t length,
                     const ByteSink& sink, const std::string& what,
                     StoreStats* stats) {
  uint64_t delivered = 0;
  for (int attempt = 0; delivered < length; ++attempt) {
    Request r = request;
    uint64_t start = offset + delivered;
    r.headers.push_back("Range: bytes=" + std::to_string(start) + "-" +
                        std::to_string(offset + length - 1));
    Transfer t;
    t.sink = &sink;
    t.want_start = start;
    t.remaining = length - delivered;
    std::string detail;
    if (stats != nullptr) stats->requests++;
    CURLcode rc = Perform(r, auth_, options_, true, &t, &detail);
    delivered += t.delivered;
    if (stats != nullptr) stats->bytes_read += t.delivered;
    if (!t.sink_status.ok()) return t.sink_status;
    if (t.range_mismatch) {
      return Status::Corrupt(what + ": server answered a different range");
    }
    if (delivered == length && t.status >= 200 && t.status < 300) break;
    if (rc != CURLE_OK) {
      if (!RetryableCurl(rc)) return Status::IoError(what + ": " + detail);
      LP_RETURN_IF_ERROR(Backoff(attempt, what, detail));
      continue;
    }
    if (t.status == 416) {
      return Status::Corrupt(what + ": object shorter than bytes " +
                             std::to_string(offset) + "-" +
                             std::to_string(offset + length - 1));
    }
    if (t.status < 200 || t.status >= 300) {
      if (RetryableHttp(t.status, ErrorCode(t.body)) &&
          attempt + 1 < options_.attempts) {
        LP_RETURN_IF_ERROR(
            Backoff(attempt, what, "HTTP " + std::to_string(t.status)));
        continue;
      }
      return MapHttpError(t.status, t.body, what);
    }
    // 2xx, complete per Content-Length, yet short: the object is shorter
    // than the range (a truncated transfer is a curl error above).
    return Status::Corrupt(what + ": object ended at byte " +
                           std::to_string(offset + delivered) + ", wanted " +
                           std::to_string(offset + length));
  }
  return Status::OK();
}

}  // namespace lazypath::http
