// S3Store: a store in an S3 bucket or an S3-compatible service (s3:// URLs).
//
//   s3://BUCKET[/PREFIX][?endpoint=URL&region=R&addressing=path|virtual]
//
// Objects live at PREFIX/<key>. Requests are signed by libcurl's own AWS
// SigV4 (CURLOPT_AWS_SIGV4), with an UNSIGNED-PAYLOAD body hash. The
// endpoint comes from the URL's `endpoint` option, else AWS_ENDPOINT_URL_S3,
// else AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com; the region
// from `region`, AWS_REGION, AWS_DEFAULT_REGION, the profile's config, else
// us-east-1. Addressing is virtual-host for AWS's own endpoint and path-style
// for a custom endpoint unless `addressing` says otherwise.
//
// Credentials are resolved the way boto3 does: AWS_ACCESS_KEY_ID +
// AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the profile (AWS_PROFILE,
// AWS_DEFAULT_PROFILE, "default") in the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) or config file
// (AWS_CONFIG_FILE, ~/.aws/config), else anonymous (unsigned) requests.
// No credential ever appears in url() or a message.
//
// Put is one PUT (S3 makes it atomic); PutFile streams the file, with a
// multipart upload above kMultipartThreshold. List is ListObjectsV2 with
// pagination. Refs are moved with conditional PUTs (UpdateRef).
// Thread-safe: every request uses its own curl handle.
#ifndef LAZYPATH_STORE_S3_STORE_H_
#define LAZYPATH_STORE_S3_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lazypath/store.h"
#include "store/http_client.h"

namespace lazypath {

struct S3Location {
  std::string bucket;
  std::string prefix;    // no leading or trailing '/'; may be empty
  std::string endpoint;  // scheme://host[:port], no trailing '/'
  std::string region;
  bool path_style = false;
  bool region_given = false;  // from the URL's option or an env variable
};

// Parses an s3:// URL and the endpoint variables (not the config files).
// InvalidArgument naming the URL (its part before any '?') when malformed.
// `fallback_region` (the profile's) is used when neither the URL nor the
// environment names one.
Result<S3Location> ParseS3Url(const std::string& url, const EnvLookup& env,
                              const std::string& fallback_region = "");

struct S3Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty when none
  std::string region;         // from the profile's config, when given
};

// INI sections ("profile x" kept as written) -> key -> value.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
IniFile ParseIni(std::string_view text);

// nullopt: anonymous. InvalidArgument when AWS_PROFILE names a profile that
// neither file has, or a profile has a key id without a secret.
Result<std::optional<S3Credentials>> ResolveS3Credentials(const EnvLookup& env);

struct ListPage {
  std::vector<std::string> keys;
  bool truncated = false;
  std::string next_token;
};
// Parses a ListObjectsV2 response (ListBucketResult). Corrupt when it is not
// one, or when it is truncated without a continuation token.
Result<ListPage> ParseListObjectsV2(std::string_view xml,
                                    const std::string& what);
// The text of the first <name> element anywhere in `xml`, entity-decoded.
std::optional<std::string> XmlFirst(std::string_view xml,
                                    std::string_view name);

class S3Store : public Store {
 public:
  static constexpr uint64_t kMultipartThreshold = 64ull << 20;
  static constexpr uint64_t kMinPartBytes = 16ull << 20;

  static Result<std::unique_ptr<Store>> Open(const std::string& url,
                                             const EnvLookup& env);
  const std::string& url() const override { return url_; }
  Result<std::string> Get(const std::string& key, uint64_t max_size) override;
  Status GetRange(const std::string& key, uint64_t offset, uint64_t length,
                  const ByteSink& sink) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;
  // Versions are ETags; PutIfVersion sends If-Match (or If-None-Match: *),
  // which AWS S3 honours. An S3-compatible service that ignores those
  // headers degrades to last-writer-wins.
  Result<VersionedObject> GetVersioned(const std::string& key,
                                       uint64_t max_size) override;
  Status PutIfVersion(const std::string& key, std::string_view data,
                      const std::string& expected_version) override;
  // DELETE; DeleteIfVersion adds If-Match (AWS honours it on deletes of
  // general-purpose buckets; a service that ignores it deletes regardless).
  Status Delete(const std::string& key) override;
  Status DeleteIfVersion(const std::string& key,
                         const std::string& expected_version) override;

  // The request URL of an object or (empty key) of the bucket; `query` is
  // appended verbatim. Exposed for tests.
  std::string ObjectUrl(const std::string& key,
                        const std::string& query = "") const;

 private:
  S3Store(std::string url, S3Location loc, http::Auth auth,
          http::ClientOptions options, bool signed_requests)
      : url_(std::move(url)),
        loc_(std::move(loc)),
        client_(std::move(auth), std::move(options)),
        signed_(signed_requests) {}
  std::string What(const std::string& key) const;
  std::vector<std::string> BaseHeaders() const;
  // A whole-object GET: the 200 response, or its status mapped to an error.
  Result<http::Response> GetObject(const std::string& key, uint64_t max_size);
  Status Multipart(const std::string& key, const std::string& path,
                   uint64_t size);

  std::string url_;
  S3Location loc_;
  http::Client client_;
  bool signed_;
};

}  // namespace lazypath

#endif  // LAZYPATH_STORE_S3_STORE_H_
