// http::Client: the HTTP transfer helper shared by the remote stores
// (s3://, gs://, https://), over libcurl.
//
// One curl easy handle per request attempt; nothing is shared between
// requests, so a client may be used from many threads at once. Every request
// has a connect timeout and a stall timeout (no byte for `stall_seconds`);
// HEAD and DELETE also a total timeout. Connection errors, timeouts, 5xx and
// 429/SlowDown are retried with exponential backoff and jitter (a wait
// drawn from [cap/2, cap], the cap doubling per attempt), up to
// `attempts` tries. A body that ends early is retried, never used: Fetch
// re-requests only the bytes not yet delivered, so a sink never sees a byte
// twice.
//
// Secrets: an Auth's password and extra headers go only to libcurl; no
// message built here contains them or a URL's query string. Messages name
// the `what` the caller passes (store URL and key).
#ifndef LAZYPATH_STORE_HTTP_CLIENT_H_
#define LAZYPATH_STORE_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"
#include "lazypath/store.h"

namespace lazypath {

// Looks up an environment variable; nullopt when unset or empty. Stores take
// one so tests can supply their own environment.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
EnvLookup ProcessEnv();
// An environment of exactly `vars` (an empty value counts as unset, as in
// ProcessEnv); tests use it to run a store against a made-up environment.
EnvLookup MapEnv(std::map<std::string, std::string> vars);

}  // namespace lazypath

namespace lazypath::http {

struct Auth {
  // CURLOPT_AWS_SIGV4 parameter ("aws:amz:REGION:s3"); empty: no signing.
  std::string sigv4;
  // "ACCESS_KEY:SECRET" for SigV4 (CURLOPT_USERPWD). Never printed.
  std::string userpwd;
  // Extra secret-bearing headers ("Authorization: Bearer ...",
  // "x-amz-security-token: ..."). Never printed.
  std::vector<std::string> secret_headers;
};

struct ClientOptions {
  int attempts = 5;              // tries per request, >= 1
  int backoff_initial_ms = 200;  // first retry waits up to this (jitter)
  int backoff_max_ms = 10000;    // cap of one wait
  long connect_timeout_seconds = 10;
  long stall_seconds = 30;                   // no byte for this long: a timeout
  long small_request_timeout_seconds = 120;  // total, for HEAD and DELETE
  std::string ca_file;                       // CURLOPT_CAINFO when not empty
  std::string ca_pem;  // CURLOPT_CAINFO_BLOB when not empty
  std::string ca_dir;  // CURLOPT_CAPATH when not empty
  // Reads LAZYPATH_HTTP_ATTEMPTS, LAZYPATH_HTTP_TIMEOUT (stall seconds),
  // and the CAs: SSL_CERT_FILE and CURL_CA_BUNDLE (both trusted when both
  // are set and differ), SSL_CERT_DIR. When none names a CA, ca_file is
  // FallbackCaBundle() of libcurl's built-in bundle.
  static ClientOptions FromEnv();
};

// The CA bundle to use when no environment variable names one: "" (keep
// libcurl's own) when `curl_default` is readable, else the first readable
// bundle among those Linux distributions install (Debian's, Fedora's and
// RHEL's, openSUSE's, Alpine's), else "". A libcurl built on one
// distribution (the wheel's, built on Debian) names that distribution's
// path, which another may not have.
std::string FallbackCaBundle(
    const char* curl_default,
    const std::function<bool(const std::string&)>& readable);

struct Request {
  std::string method = "GET";        // GET, HEAD, PUT, POST, DELETE
  std::string url;                   // may hold a query; never printed
  std::vector<std::string> headers;  // "Name: value", not secret
  // Body: `body` in memory, or [file_offset, file_offset+file_length) of
  // `body_file` when that is set.
  std::string_view body;
  std::string body_file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// What one attempt did, for tests and the retry decision.
enum class Outcome { kDone, kRetry, kFail };

// The S3-style error code in an XML error body (<Code>X</Code>), only
// [A-Za-z0-9.] kept; empty when there is none (or it is over 100 bytes). The
// first <Code> start tag expat reads counts, up to the next </Code>
// (XmlRawContent): one in a comment, a CDATA section or after a DOCTYPE
// does not.
std::string ErrorCode(std::string_view body);

// A non-2xx response as a Status: 404 NotFound "<what>: not found";
// NoSuchBucket InvalidArgument "<what>: bucket does not exist" (the URL is
// wrong; callers map NotFound to "object missing"); 401/403 "access denied";
// ExpiredToken "expired token"; RequestTimeTooSkewed "clock skew"; other
// codes "HTTP <n> <Code>". One line; never the body itself.
Status MapHttpError(long status, std::string_view body,
                    const std::string& what);

// The bytes of `s` in [A-Za-z0-9_.-], of its first 60: a server-chosen word
// (an error reason, a credential type) made safe to put in a message.
std::string SafeForMessage(std::string_view s);

// Whether a response with this status and error code is worth retrying.
bool RetryableHttp(long status, std::string_view error_code);

class Client {
 public:
  Client(Auth auth, ClientOptions options)
      : auth_(std::move(auth)), options_(std::move(options)) {}

  // One request with retries; the whole response body is kept (at most
  // `max_body` bytes, else Corrupt). A non-2xx final status is returned as
  // a Response, not an error: callers map it (MapHttpError). `stats` counts
  // every attempt.
  Result<Response> Send(const Request& request, const std::string& what,
                        uint64_t max_body, StoreStats* stats);

  // GET of [offset, offset+length) streamed to `sink`, with Range requests
  // and retries that resume after the last delivered byte. Fails if the
  // object is shorter. A sink error stops the transfer and is returned.
  Status Fetch(const Request& request, uint64_t offset, uint64_t length,
               const ByteSink& sink, const std::string& what,
               StoreStats* stats);

  const ClientOptions& options() const { return options_; }

 private:
  Status Backoff(int attempt, const std::string& what,
                 const std::string& cause);
  Auth auth_;
  ClientOptions options_;
};

// Percent-encodes per RFC 3986 (SigV4 canonical form): unreserved bytes
// [A-Za-z0-9-._~] kept, '/' kept when `keep_slash`, the rest %XX uppercase.
std::string UriEncode(std::string_view s, bool keep_slash);

}  // namespace lazypath::http

#endif  // LAZYPATH_STORE_HTTP_CLIENT_H_
