// Google OAuth2 access tokens for gs:// stores.
//
// ResolveGoogleCredentials picks a source the way Google's client libraries
// do, first match wins:
//   1. GOOGLE_OAUTH_ACCESS_TOKEN: a token used as given (never refreshed).
//   2. GOOGLE_APPLICATION_CREDENTIALS: a service-account key file (JSON,
//      "type": "service_account"). A JWT {iss: client_email, scope:
//      devstorage.read_write, aud: token_uri, iat, exp: iat+1h} is signed
//      RS256 with the key's private_key (OpenSSL EVP) and exchanged at the
//      key's token_uri (grant_type jwt-bearer) for an access token.
//   3. The metadata server: GCE_METADATA_HOST (host[:port]) when set, else
//      metadata.google.internal; GET /computeMetadata/v1/instance/
//      service-accounts/default/token with "Metadata-Flavor: Google". The
//      default server is tried once (one attempt, short connect timeout);
//      when it cannot be reached the requests go anonymous. Against an
//      emulator (STORAGE_EMULATOR_HOST) the default server is not tried.
//   4. Anonymous: no Authorization header.
//
// Tokens are cached and fetched again a quarter of their lifetime (at most
// five minutes) before they expire.
//
// Secrets: the token, the private key and the signed JWT appear only in
// request headers and bodies, never in a Status message or Describe(). Errors
// name the source (variable, key file path, metadata host) and the cause;
// a malformed key file is reported without any of its content.
//
// Thread safety: a TokenSource may be used from many threads; Token() runs
// at most one fetch at a time.
#ifndef LAZYPATH_STORE_GOOGLE_AUTH_H_
#define LAZYPATH_STORE_GOOGLE_AUTH_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "lazypath/status.h"
#include "store/http_client.h"

namespace lazypath {

inline constexpr std::string_view kGcsScope =
    "https://www.googleapis.com/auth/devstorage.read_write";

// An OAuth2 token response (token endpoint or metadata server): a JSON
// object with a non-empty string "access_token" and, optionally, a numeric
// "expires_in" (seconds; 0 when absent). Corrupt naming `what` otherwise.
struct TokenResponse {
  std::string access_token;
  int64_t expires_in = 0;
};
Result<TokenResponse> ParseTokenResponse(std::string_view json,
                                         const std::string& what);

// The fields of a service-account key file we use. InvalidArgument naming
// `path` (never the content) when the file is not a JSON object of type
// "service_account" with string client_email, private_key and an http(s)
// token_uri (default: Google's).
struct ServiceAccountKey {
  std::string client_email;
  std::string private_key;  // PEM; secret
  std::string private_key_id;
  std::string token_uri;
};
Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view json,
                                                 const std::string& path);

// base64url without padding (RFC 7515).
std::string Base64Url(std::string_view bytes);

// The signed JWT assertion "<header>.<claims>.<signature>" for `key` at
// Unix time `now`. InvalidArgument naming `path` when the private key is not
// an RSA PEM key OpenSSL can read.
Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key, int64_t now,
                                     const std::string& path);

// The message for a refused token request: "token request refused (HTTP n
// <error>)", "access denied" for invalid_client/unauthorized_client, "clock
// skew" when the endpoint complains about iat/exp. One line, never the body.
Status MapTokenError(long status, std::string_view body,
                     const std::string& what);

class TokenSource {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~TokenSource() = default;
  // The current access token, fetched when none is cached or the cached one
  // is due for refresh. "" means anonymous (the default metadata server is
  // not reachable). Errors name Describe() and the cause.
  Result<std::string> Token();
  // Forgets the cached token (after the server rejected it).
  void Invalidate();
  // Where tokens come from, for messages ("GOOGLE_APPLICATION_CREDENTIALS
  // key file /path"); never a secret.
  virtual std::string Describe() const = 0;
  // False for a fixed token that fetching again cannot change.
  virtual bool Refreshable() const { return true; }

 protected:
  // One fetch. expires_in <= 0: the token does not expire.
  virtual Result<TokenResponse> Fetch() = 0;

 private:
  std::mutex mu_;
  bool have_ = false;
  std::string token_;
  Clock::time_point refresh_at_;
};

// A metadata-server source for `host` (host[:port]). With `probe` (the
// default server, which may not exist here) the first fetch is one short
// attempt, and a server that cannot be reached means anonymous ("") from
// then on; without it, an unreachable server is an error naming the host.
std::shared_ptr<TokenSource> MetadataTokens(std::string host, bool probe);

// The source for this environment; nullptr means anonymous. `emulator`:
// requests go to STORAGE_EMULATOR_HOST (the default metadata server is not
// tried). Reads and checks a key file now, so a bad one fails at open.
Result<std::shared_ptr<TokenSource>> ResolveGoogleCredentials(
    const EnvLookup& env, bool emulator);

}  // namespace lazypath

#endif  // LAZYPATH_STORE_GOOGLE_AUTH_H_
