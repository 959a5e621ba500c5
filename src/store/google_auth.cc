#include "store/google_auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "util/fs.h"

namespace lazypath {

namespace {

using json = nlohmann::json;

constexpr std::string_view kDefaultTokenUri =
    "https://oauth2.googleapis.com/token";
constexpr std::string_view kDefaultMetadataHost = "metadata.google.internal";
constexpr uint64_t kMaxKeyFile = 1 << 20;
constexpr uint64_t kMaxTokenBody = 64 * 1024;
constexpr int64_t kMaxExpiresIn = 7 * 24 * 3600;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsHttpUrl(const std::string& u) {
  size_t sep = u.find("://");
  if (sep == std::string::npos) return false;
  std::string scheme = u.substr(0, sep);
  if (scheme != "http" && scheme != "https") return false;
  std::string rest = u.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return false;
  }
  for (unsigned char c : u) {
    if (c <= 0x20 || c == 0x7F) return false;
  }
  return true;
}

// A fixed token from GOOGLE_OAUTH_ACCESS_TOKEN.
class StaticTokenSource : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  std::string Describe() const override { return "GOOGLE_OAUTH_ACCESS_TOKEN"; }
  bool Refreshable() const override { return false; }

 protected:
  Result<TokenResponse> Fetch() override { return TokenResponse{token_, 0}; }

 private:
  std::string token_;
};

class ServiceAccountTokenSource : public TokenSource {
 public:
  ServiceAccountTokenSource(std::string path, ServiceAccountKey key)
      : path_(std::move(path)),
        key_(std::move(key)),
        client_(http::Auth{}, http::ClientOptions::FromEnv()) {}
  std::string Describe() const override {
    return "GOOGLE_APPLICATION_CREDENTIALS key file " + path_;
  }

 protected:
  Result<TokenResponse> Fetch() override {
    const std::string what = Describe();
    LP_ASSIGN_OR_RETURN(
        std::string jwt,
        MakeJwtAssertion(key_, static_cast<int64_t>(std::time(nullptr)),
                         path_));
    std::string body =
        "grant_type=" +
        http::UriEncode("urn:ietf:params:oauth:grant-type:jwt-bearer", false) +
        "&assertion=" + jwt;
    http::Request req;
    req.method = "POST";
    req.url = key_.token_uri;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = body;
    LP_ASSIGN_OR_RETURN(
        http::Response r,
        client_.Send(req, what + ": token request", kMaxTokenBody, nullptr));
    if (r.status != 200) return MapTokenError(r.status, r.body, what);
    return ParseTokenResponse(r.body, what + ": token response");
  }

 private:
  std::string path_;
  ServiceAccountKey key_;
  http::Client client_;
};

class MetadataTokenSource : public TokenSource {
 public:
  // `probe`: the default server, which may not exist here; one short
  // attempt, and an unreachable server means anonymous.
  MetadataTokenSource(std::string host, bool probe)
      : host_(std::move(host)), probe_(probe), client_(http::Auth{}, Opts()) {}
  std::string Describe() const override { return "metadata server " + host_; }

 protected:
  Result<TokenResponse> Fetch() override {
    const std::string what = Describe();
    http::Request req;
    req.url = "http://" + host_ +
              "/computeMetadata/v1/instance/service-accounts/default/token";
    req.headers.push_back("Metadata-Flavor: Google");
    auto r = client_.Send(req, what, kMaxTokenBody, nullptr);
    if (!r.ok()) {
      if (probe_) return TokenResponse{};  // not on Google Cloud: anonymous
      return r.status();
    }
    probe_ = false;  // it answered: from now on its errors count
    if (r->status != 200) return MapTokenError(r->status, r->body, what);
    return ParseTokenResponse(r->body, what + ": token response");
  }

 private:
  http::ClientOptions Opts() const {
    http::ClientOptions o = http::ClientOptions::FromEnv();
    if (probe_) {
      o.attempts = 1;
      o.connect_timeout_seconds = 2;
      o.stall_seconds = 5;
    }
    return o;
  }
  std::string host_;
  bool probe_;  // guarded by TokenSource's fetch lock
  http::Client client_;
};

}  // namespace

Result<TokenResponse> ParseTokenResponse(std::string_view text,
                                         const std::string& what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Status::Corrupt(what + ": not a JSON object");
  }
  TokenResponse out;
  auto tok = doc.find("access_token");
  if (tok == doc.end() || !tok->is_string() ||
      tok->get_ref<const std::string&>().empty()) {
    return Status::Corrupt(what + ": no access_token");
  }
  out.access_token = tok->get<std::string>();
  if (out.access_token.size() > 8192) {
    return Status::Corrupt(what + ": access_token longer than 8192 bytes");
  }
  for (unsigned char c : out.access_token) {
    if (c <= 0x20 || c >= 0x7F) {  // it goes into a header line
      return Status::Corrupt(what + ": access_token has a control byte");
    }
  }
  auto exp = doc.find("expires_in");
  if (exp != doc.end()) {
    if (exp->is_number_integer()) {
      out.expires_in = exp->get<int64_t>();
    } else if (exp->is_number_float()) {
      out.expires_in = static_cast<int64_t>(exp->get<double>());
    } else {
      return Status::Corrupt(what + ": expires_in is not a number");
    }
    if (out.expires_in < 0 || out.expires_in > kMaxExpiresIn) {
      return Status::Corrupt(what + ": expires_in out of range");
    }
  }
  return out;
}

Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view text,
                                                 const std::string& path) {
  const std::string what = "GOOGLE_APPLICATION_CREDENTIALS key file " + path;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Status::InvalidArgument(what + ": malformed (not a JSON object)");
  }
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = doc.find(k);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto type = str("type");
  if (!type) {
    return Status::InvalidArgument(what + ": malformed (no \"type\")");
  }
  if (*type != "service_account") {
    return Status::InvalidArgument(
        what + ": unsupported credential type '" + http::SafeForMessage(*type) +
        "' (want service_account, or set GOOGLE_OAUTH_ACCESS_TOKEN)");
  }
  ServiceAccountKey key;
  for (auto [field, dest] :
       {std::pair<const char*, std::string*>{"client_email", &key.client_email},
        {"private_key", &key.private_key}}) {
    auto v = str(field);
    if (!v || v->empty()) {
      return Status::InvalidArgument(what + ": malformed (no \"" + field +
                                     "\")");
    }
    *dest = std::move(*v);
  }
  key.private_key_id = str("private_key_id").value_or("");
  key.token_uri = str("token_uri").value_or(std::string(kDefaultTokenUri));
  if (!IsHttpUrl(key.token_uri)) {
    return Status::InvalidArgument(
        what +
        ": malformed token_uri (want an http(s) URL without "
        "credentials)");
  }
  return key;
}

std::string Base64Url(std::string_view bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = at(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key, int64_t now,
                                     const std::string& path) {
  const std::string what = "GOOGLE_APPLICATION_CREDENTIALS key file " + path;
  json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key.private_key_id.empty()) header["kid"] = key.private_key_id;
  json claims = {{"iss", key.client_email},
                 {"scope", std::string(kGcsScope)},
                 {"aud", key.token_uri},
                 {"iat", now},
                 {"exp", now + 3600}};
  std::string signing_input =
      Base64Url(header.dump()) + "." + Base64Url(claims.dump());

  BIO* bio = BIO_new_mem_buf(key.private_key.data(),
                             static_cast<int>(key.private_key.size()));
  if (bio == nullptr) return Status::IoError(what + ": out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
    EVP_PKEY_free(pkey);
    return Status::InvalidArgument(
        what + ": malformed private_key (want an RSA key in PEM)");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string sig;
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1;
  size_t len = 0;
  ok = ok && EVP_DigestSign(
                 ctx, nullptr, &len,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(
             ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
             reinterpret_cast<const unsigned char*>(signing_input.data()),
             signing_input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  if (!ok) return Status::IoError(what + ": cannot sign the token request");
  return signing_input + "." + Base64Url(sig);
}

Status MapTokenError(long status, std::string_view body,
                     const std::string& what) {
  std::string error, description;
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    if (auto it = doc.find("error"); it != doc.end() && it->is_string()) {
      error = http::SafeForMessage(it->get<std::string>());
    }
    if (auto it = doc.find("error_description");
        it != doc.end() && it->is_string()) {
      description = Lower(it->get<std::string>());
    }
  }
  std::string tag = "HTTP " + std::to_string(status);
  if (!error.empty()) tag += " " + error;
  if (description.find("iat") != std::string::npos ||
      description.find("timeframe") != std::string::npos ||
      description.find("clock") != std::string::npos) {
    return Status::IoError(what + ": clock skew (" + tag +
                           "): the token endpoint rejected the JWT's times; "
                           "fix the system time");
  }
  if (status == 401 || status == 403 || error == "invalid_client" ||
      error == "unauthorized_client" || error == "access_denied") {
    return Status::IoError(what + ": access denied (" + tag +
                           "): the token endpoint refused these credentials");
  }
  if (status == 429 || status >= 500) {
    return Status::Unavailable(what + ": token endpoint error (" + tag + ")");
  }
  return Status::IoError(what + ": token request refused (" + tag + ")");
}

Result<std::string> TokenSource::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (have_ && Clock::now() < refresh_at_) return token_;
  Clock::time_point start = Clock::now();
  LP_ASSIGN_OR_RETURN(TokenResponse r, Fetch());
  token_ = std::move(r.access_token);
  have_ = true;
  if (r.expires_in <= 0) {
    refresh_at_ = Clock::time_point::max();
  } else {
    // Refresh a quarter of the lifetime early, at most five minutes.
    int64_t margin = std::min<int64_t>(300, r.expires_in / 4);
    refresh_at_ = start + std::chrono::seconds(r.expires_in - margin);
  }
  return token_;
}

void TokenSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  have_ = false;
}

std::shared_ptr<TokenSource> MetadataTokens(std::string host, bool probe) {
  return std::make_shared<MetadataTokenSource>(std::move(host), probe);
}

Result<std::shared_ptr<TokenSource>> ResolveGoogleCredentials(
    const EnvLookup& env, bool emulator) {
  if (auto tok = env("GOOGLE_OAUTH_ACCESS_TOKEN")) {
    for (unsigned char c : *tok) {
      if (c <= 0x20 || c >= 0x7F) {
        return Status::InvalidArgument(
            "GOOGLE_OAUTH_ACCESS_TOKEN: malformed (a space or control "
            "byte)");
      }
    }
    return std::shared_ptr<TokenSource>(
        std::make_shared<StaticTokenSource>(*tok));
  }
  if (auto path = env("GOOGLE_APPLICATION_CREDENTIALS")) {
    auto text = fs::ReadFile(*path, kMaxKeyFile);
    if (!text.ok()) {
      return Status::InvalidArgument(
          "GOOGLE_APPLICATION_CREDENTIALS key file " + *path +
          ": unreadable (" + text.status().message() + ")");
    }
    LP_ASSIGN_OR_RETURN(ServiceAccountKey key,
                        ParseServiceAccountKey(*text, *path));
    // Sign once now, so a bad private key fails at open, not mid-push.
    LP_RETURN_IF_ERROR(MakeJwtAssertion(key, 0, *path).status());
    return std::shared_ptr<TokenSource>(
        std::make_shared<ServiceAccountTokenSource>(*path, std::move(key)));
  }
  if (auto host = env("GCE_METADATA_HOST")) {
    std::string h = *host;
    if (h.rfind("http://", 0) == 0) h = h.substr(7);
    while (!h.empty() && h.back() == '/') h.pop_back();
    if (h.empty() || h.find_first_of("/?#@ ") != std::string::npos) {
      return Status::InvalidArgument(
          "GCE_METADATA_HOST: malformed (want host[:port])");
    }
    return MetadataTokens(h, false);
  }
  if (emulator) return std::shared_ptr<TokenSource>();
  return MetadataTokens(std::string(kDefaultMetadataHost), true);
}

}  // namespace lazypath
