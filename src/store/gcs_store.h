// GcsStore: a store in a Google Cloud Storage bucket (gs:// URLs), over the
// JSON API.
//
//   gs://BUCKET[/PREFIX]     object <key> is PREFIX/<key> in BUCKET
//
// The endpoint is STORAGE_EMULATOR_HOST when set, the way Google's client
// libraries read it (a bare host:port means http://host:port), else
// https://storage.googleapis.com. Tokens come from google_auth.h
// (GOOGLE_OAUTH_ACCESS_TOKEN, a service-account key file, the metadata
// server, else anonymous) and travel only in an Authorization header: never
// in url() or a message. A token the server rejects with 401 is fetched
// again once before the request fails.
//
// Get and GetRange are media downloads (alt=media, Range); Exists a metadata
// GET; List pages through objects.list with pageToken. Put is one media
// upload (atomic in GCS); PutFile a media upload up to
// kResumableThreshold bytes, above it a resumable upload in kChunkBytes
// chunks streamed from the file; each chunk goes on from the offset the
// server reports, and a chunk that failed all its retries asks the session
// for that offset (at most kMaxResumes times) instead of starting over.
// Refs move by generation: GetVersioned returns the object's generation,
// PutIfVersion uploads with ifGenerationMatch (0: must not exist), and 412
// is Conflict naming the key.
//
// A 404 is checked against the bucket once: a missing bucket is
// InvalidArgument "bucket does not exist", not an absent object.
// Thread-safe: every request uses its own curl handle.
#ifndef LAZYPATH_STORE_GCS_STORE_H_
#define LAZYPATH_STORE_GCS_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/store.h"
#include "store/google_auth.h"
#include "store/http_client.h"

namespace lazypath {

struct GcsLocation {
  std::string bucket;
  std::string prefix;     // no leading or trailing '/'; may be empty
  std::string endpoint;   // scheme://host[:port], no trailing '/'
  bool emulator = false;  // from STORAGE_EMULATOR_HOST
};

// Parses a gs:// URL and STORAGE_EMULATOR_HOST. InvalidArgument naming the
// URL when malformed.
Result<GcsLocation> ParseGcsUrl(const std::string& url, const EnvLookup& env);

// One page of objects.list: the object names and the next page's token
// (empty on the last page). Corrupt when `json` is not an objects list
// (a JSON object whose optional "items" is an array of objects with a
// string "name", and whose optional "nextPageToken" is a string).
struct GcsListPage {
  std::vector<std::string> names;
  std::string next_token;
};
Result<GcsListPage> ParseGcsListPage(std::string_view json,
                                     const std::string& what);

// The generation of an object resource (a JSON object whose "generation" is
// a decimal string or number, 1-20 digits). Corrupt otherwise.
Result<std::string> ParseGcsGeneration(std::string_view json,
                                       const std::string& what);

// The error "reason" of a JSON API error body ({"error": {"errors":
// [{"reason": R}], ...}}), only [A-Za-z0-9_.-], at most 60 bytes; empty
// when there is none.
std::string GcsErrorReason(std::string_view body);

// A non-2xx response as a Status, one line, never the body: 404 NotFound;
// 401/403 "access denied" (401 "expired token" when the server says the
// token expired); 412 Conflict; 5xx/429 Unavailable; else "request failed".
// `auth` names where the token came from ("" for anonymous requests).
Status MapGcsError(long status, std::string_view body, const std::string& what,
                   const std::string& auth);

class GcsStore : public Store {
 public:
  static constexpr uint64_t kResumableThreshold = 16ull << 20;
  static constexpr uint64_t kChunkBytes = 16ull << 20;  // 256 KiB multiple
  // Times a resumable upload asks where it stands after a chunk failed all
  // its retries, before it gives up.
  static constexpr int kMaxResumes = 3;

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
  Result<VersionedObject> GetVersioned(const std::string& key,
                                       uint64_t max_size) override;
  Status PutIfVersion(const std::string& key, std::string_view data,
                      const std::string& expected_version) override;
  // DELETE of the object; DeleteIfVersion adds ifGenerationMatch.
  Status Delete(const std::string& key) override;
  Status DeleteIfVersion(const std::string& key,
                         const std::string& expected_version) override;

  // Request URLs, exposed for tests: an object's metadata (JSON API path),
  // and a media upload of `key`. `query` is appended verbatim.
  std::string ObjectUrl(const std::string& key,
                        const std::string& query = "") const;
  std::string UploadUrl(const std::string& key, const std::string& query) const;

 private:
  GcsStore(std::string url, GcsLocation loc,
           std::shared_ptr<TokenSource> tokens)
      : url_(std::move(url)),
        loc_(std::move(loc)),
        tokens_(std::move(tokens)),
        options_(http::ClientOptions::FromEnv()) {}
  std::string What(const std::string& key) const;
  std::string AuthName() const;
  // A client carrying the current token.
  Result<http::Auth> CurrentAuth();
  // Send with the token, fetching it anew once after a 401.
  Result<http::Response> Call(const http::Request& req, const std::string& what,
                              uint64_t max_body);
  Status Error(const http::Response& r, const std::string& what);
  // NotFound for `what`, unless the bucket itself is missing.
  Status NotFoundOrNoBucket(Status not_found);
  Status Upload(const std::string& key, std::string_view data,
                const std::string& condition);
  Status Resumable(const std::string& key, const std::string& path,
                   uint64_t size);

  std::string url_;
  GcsLocation loc_;
  std::shared_ptr<TokenSource> tokens_;  // nullptr: anonymous
  http::ClientOptions options_;
  std::atomic<bool> bucket_seen_{false};
};

}  // namespace lazypath

#endif  // LAZYPATH_STORE_GCS_STORE_H_
