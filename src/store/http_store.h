// HttpStore: a read-only store on any static HTTPS server with Range support
// (https:// URLs), e.g. nginx serving a directory a file store was pushed to.
//
//   https://HOST[:PORT][/PREFIX]   object <key> is at https://HOST/PREFIX/<key>
//
// Get is a GET, GetRange a ranged GET streamed to the sink, Exists a HEAD.
// Put and PutFile fail with Unsupported ("read-only store"): push to the
// file store the server publishes. List fails with Unsupported too: a static
// server has no listing, so `lazypath ls` can't enumerate an https:// store;
// refs and digests still resolve, since every read names its key.
//
// An optional bearer token comes from LAZYPATH_HTTP_TOKEN (never printed).
// TLS peers are always verified; CURL_CA_BUNDLE / SSL_CERT_FILE /
// SSL_CERT_DIR name a custom CA, else the system's bundle is used (see
// http::FallbackCaBundle). Plain http:// is refused.
// Thread-safe: every request uses its own curl handle.
#ifndef LAZYPATH_STORE_HTTP_STORE_H_
#define LAZYPATH_STORE_HTTP_STORE_H_

#include <memory>
#include <string>

#include "lazypath/store.h"
#include "store/http_client.h"

namespace lazypath {

// The base URL (scheme://authority[/prefix], no trailing '/') of an https
// store URL; InvalidArgument when malformed or carrying credentials.
Result<std::string> ParseHttpStoreUrl(const std::string& url);

class HttpStore : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::string& url,
                                             const EnvLookup& env);
  const std::string& url() const override { return url_; }
  Result<std::string> Get(const std::string& key, uint64_t max_size) override;
  Status GetRange(const std::string& key, uint64_t offset, uint64_t length,
                  const ByteSink& sink) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Status Delete(const std::string& key) override;
  Status DeleteIfVersion(const std::string& key,
                         const std::string& expected_version) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;

 private:
  HttpStore(std::string url, std::string base, http::Auth auth)
      : url_(std::move(url)),
        base_(std::move(base)),
        client_(std::move(auth), http::ClientOptions::FromEnv()) {}
  std::string ObjectUrl(const std::string& key) const;
  std::string What(const std::string& key) const;
  Status ReadOnly(const std::string& key) const;
  std::string url_;
  std::string base_;
  http::Client client_;
};

}  // namespace lazypath

#endif  // LAZYPATH_STORE_HTTP_STORE_H_
