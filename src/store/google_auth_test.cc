#include "store/google_auth.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/fs.h"

namespace lazypath {
namespace {

std::string Base64UrlDecode(std::string_view s) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

struct RsaKey {
  EVP_PKEY* pkey = nullptr;
  std::string pem;
  RsaKey() {
    pkey = EVP_RSA_gen(2048);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  ~RsaKey() { EVP_PKEY_free(pkey); }
};

TEST(Base64UrlTest, Rfc4648Vectors) {
  EXPECT_EQ(Base64Url(""), "");
  EXPECT_EQ(Base64Url("f"), "Zg");
  EXPECT_EQ(Base64Url("fo"), "Zm8");
  EXPECT_EQ(Base64Url("foo"), "Zm9v");
  EXPECT_EQ(Base64Url("foob"), "Zm9vYg");
  EXPECT_EQ(Base64Url("\xfb\xff\xbf"), "-_-_");
}

TEST(TokenResponseTest, AcceptsTokenAndExpiry) {
  auto t = ParseTokenResponse(
      R"({"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"})",
      "w");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->access_token, "ya29.abc");
  EXPECT_EQ(t->expires_in, 3599);
  auto no_exp = ParseTokenResponse(R"({"access_token":"x"})", "w");
  ASSERT_TRUE(no_exp.ok());
  EXPECT_EQ(no_exp->expires_in, 0);
}

TEST(TokenResponseTest, RefusesMalformedWithoutEchoingIt) {
  for (const char* bad :
       {"", "null", R"({"token":"SECRETVALUE"})", R"({"access_token":""})",
        R"({"access_token":"SECRET VALUE"})", R"({"access_token":7})",
        R"({"access_token":"SECRETVALUE","expires_in":"soon"})",
        R"({"access_token":"SECRETVALUE","expires_in":-5})"}) {
    auto t = ParseTokenResponse(bad, "metadata server h: token response");
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), Code::kCorrupt);
    EXPECT_EQ(t.status().message().find("SECRET"), std::string::npos);
    EXPECT_NE(t.status().message().find("metadata server h"),
              std::string::npos);
  }
}

TEST(ServiceAccountKeyTest, MalformedKeyFilesNameThePathNotTheContent) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {"SECRETVALUE{", "malformed (not a JSON object)"},
      {R"({"private_key":"SECRETVALUE"})", "malformed (no \"type\")"},
      {R"({"type":"authorized_user","refresh_token":"SECRETVALUE"})",
       "unsupported credential type 'authorized_user'"},
      {R"({"type":"service_account","private_key":"SECRETVALUE"})",
       "no \"client_email\""},
      {R"({"type":"service_account","client_email":"a@b"})",
       "no \"private_key\""},
      {R"({"type":"service_account","client_email":"a@b",)"
       R"("private_key":"SECRETVALUE","token_uri":"file:///etc/passwd"})",
       "malformed token_uri"},
  };
  for (const auto& c : cases) {
    auto k = ParseServiceAccountKey(c.json, "/keys/sa.json");
    ASSERT_FALSE(k.ok()) << c.json;
    const std::string& m = k.status().message();
    EXPECT_NE(m.find("GOOGLE_APPLICATION_CREDENTIALS key file /keys/sa.json"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(c.needle), std::string::npos) << m;
    EXPECT_EQ(m.find("SECRET"), std::string::npos) << m;
  }
  auto ok = ParseServiceAccountKey(
      R"({"type":"service_account","client_email":"a@b","private_key":"k"})",
      "/k");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->token_uri, "https://oauth2.googleapis.com/token");
}

TEST(JwtTest, SignedAssertionVerifiesWithThePublicKey) {
  RsaKey rsa;
  ServiceAccountKey key{"sa@proj.iam.gserviceaccount.com", rsa.pem, "kid-1",
                        "http://127.0.0.1:1/token"};
  auto jwt = MakeJwtAssertion(key, 1700000000, "/k.json");
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  size_t d1 = jwt->find('.');
  size_t d2 = jwt->find('.', d1 + 1);
  ASSERT_NE(d2, std::string::npos);
  auto header = nlohmann::json::parse(Base64UrlDecode(jwt->substr(0, d1)));
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["kid"], "kid-1");
  auto claims =
      nlohmann::json::parse(Base64UrlDecode(jwt->substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(claims["iss"], "sa@proj.iam.gserviceaccount.com");
  EXPECT_EQ(claims["aud"], "http://127.0.0.1:1/token");
  EXPECT_EQ(claims["scope"], std::string(kGcsScope));
  EXPECT_EQ(claims["iat"], 1700000000);
  EXPECT_EQ(claims["exp"], 1700003600);
  std::string input = jwt->substr(0, d2);
  std::string sig = Base64UrlDecode(jwt->substr(d2 + 1));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, rsa.pkey),
            1);
  int verified = EVP_DigestVerify(
      ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  EXPECT_EQ(verified, 1);
}

TEST(JwtTest, NonRsaOrGarbageKeysAreRefused) {
  ServiceAccountKey key{"a@b", "-----BEGIN PRIVATE KEY-----\nSECRETVALUE\n", "",
                        "http://127.0.0.1:1/token"};
  auto jwt = MakeJwtAssertion(key, 0, "/k.json");
  ASSERT_FALSE(jwt.ok());
  EXPECT_NE(jwt.status().message().find("malformed private_key"),
            std::string::npos);
  EXPECT_EQ(jwt.status().message().find("SECRET"), std::string::npos);
}

TEST(TokenErrorTest, ClockSkewAccessDeniedAndOthers) {
  auto skew = MapTokenError(
      400,
      R"({"error":"invalid_grant","error_description":"Invalid JWT: Token )"
      R"(must be a short-lived token (60 minutes) and in a reasonable )"
      R"(timeframe. Check your iat and exp values"})",
      "w");
  EXPECT_NE(skew.message().find("w: clock skew (HTTP 400 invalid_grant)"),
            std::string::npos)
      << skew.message();
  auto denied = MapTokenError(401, R"({"error":"invalid_client"})", "w");
  EXPECT_NE(denied.message().find("access denied (HTTP 401 invalid_client)"),
            std::string::npos);
  EXPECT_EQ(MapTokenError(503, "", "w").code(), Code::kUnavailable);
  EXPECT_EQ(MapTokenError(400, "SECRET\nVALUE", "w").message(),
            "w: token request refused (HTTP 400)");
}

TEST(ResolveTest, OrderOfSources) {
  auto anon = ResolveGoogleCredentials(MapEnv({}), /*emulator=*/true);
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(*anon, nullptr);
  auto meta = ResolveGoogleCredentials(MapEnv({}), /*emulator=*/false);
  ASSERT_TRUE(meta.ok() && *meta);
  EXPECT_EQ((*meta)->Describe(), "metadata server metadata.google.internal");
  auto host = ResolveGoogleCredentials(
      MapEnv({{"GCE_METADATA_HOST", "127.0.0.1:8080"}}), true);
  ASSERT_TRUE(host.ok() && *host);
  EXPECT_EQ((*host)->Describe(), "metadata server 127.0.0.1:8080");
  auto tok = ResolveGoogleCredentials(
      MapEnv({{"GOOGLE_OAUTH_ACCESS_TOKEN", "SECRETTOKEN"},
              {"GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent"},
              {"GCE_METADATA_HOST", "127.0.0.1:8080"}}),
      true);
  ASSERT_TRUE(tok.ok() && *tok);
  EXPECT_EQ((*tok)->Describe(), "GOOGLE_OAUTH_ACCESS_TOKEN");
  EXPECT_FALSE((*tok)->Refreshable());
  auto t = (*tok)->Token();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "SECRETTOKEN");
  auto missing = ResolveGoogleCredentials(
      MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json"}}),
      false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/sa.json"),
            std::string::npos);
  auto bad_tok = ResolveGoogleCredentials(
      MapEnv({{"GOOGLE_OAUTH_ACCESS_TOKEN", "SECRET\nX"}}), false);
  ASSERT_FALSE(bad_tok.ok());
  EXPECT_EQ(bad_tok.status().message().find("SECRET"), std::string::npos);
}

TEST(ResolveTest, KeyFileWithABadPrivateKeyFailsAtOpen) {
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/lp_bad_sa.json";
  ASSERT_TRUE(fs::WriteFileAtomic(
                  path,
                  R"({"type":"service_account","client_email":"a@b",)"
                  R"("private_key":"-----BEGIN PRIVATE KEY-----\nSECRETV\n"})")
                  .ok());
  auto r = ResolveGoogleCredentials(
      MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", path}}), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path + ": malformed private_key"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("SECRETV"), std::string::npos);
}

int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(addr.sin_port);
}

TEST(MetadataTest, UnreachableDefaultServerMeansAnonymous) {
  std::string host = "127.0.0.1:" + std::to_string(ClosedPort());
  auto probe = MetadataTokens(host, /*probe=*/true);
  auto t = probe->Token();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "");
  ::setenv("LAZYPATH_HTTP_ATTEMPTS", "1", 1);
  auto e = MetadataTokens(host, false)->Token();
  ::unsetenv("LAZYPATH_HTTP_ATTEMPTS");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("metadata server " + host),
            std::string::npos)
      << e.status().message();
}

// A source whose tokens expire after `lifetime` seconds; counts fetches.
class CountingSource : public TokenSource {
 public:
  explicit CountingSource(int64_t lifetime) : lifetime_(lifetime) {}
  std::string Describe() const override { return "counting"; }
  int fetches = 0;

 protected:
  Result<TokenResponse> Fetch() override {
    ++fetches;
    return TokenResponse{"tok" + std::to_string(fetches), lifetime_};
  }

 private:
  int64_t lifetime_;
};

TEST(TokenSourceTest, CachesAndRefreshesBeforeExpiry) {
  CountingSource long_lived(3600);
  EXPECT_EQ(*long_lived.Token(), "tok1");
  EXPECT_EQ(*long_lived.Token(), "tok1");
  EXPECT_EQ(long_lived.fetches, 1);
  long_lived.Invalidate();
  EXPECT_EQ(*long_lived.Token(), "tok2");

  CountingSource short_lived(1);  // refreshed after at most one second
  EXPECT_EQ(*short_lived.Token(), "tok1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(*short_lived.Token(), "tok2");
}

TEST(TokenSourceTest, ConcurrentCallersShareOneFetch) {
  CountingSource src(3600);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { EXPECT_EQ(*src.Token(), "tok1"); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(src.fetches, 1);
}

}  // namespace
}  // namespace lazypath
