#include "store/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace lazypath::http {
namespace {

const std::string kWhat = "store s3://bkt/app: object refs/prod";

TEST(HttpClientTest, ErrorCodeFromS3Body) {
  EXPECT_EQ(ErrorCode("<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>"
                      "<Message>x</Message></Error>"),
            "NoSuchKey");
  EXPECT_EQ(ErrorCode("<html>nope</html>"), "");
  // Only a safe alphabet survives: a body can't inject text into messages.
  EXPECT_EQ(ErrorCode("<Code>Bad \"<x>\"\nCode</Code>"), "BadxCode");
}

TEST(HttpClientTest, ErrorCodeIsReadByAnXmlParser) {
  // A body cut short after the code keeps it; one cut inside it has none.
  EXPECT_EQ(ErrorCode("<Error><Code>SlowDown</Code><Message>Please red"),
            "SlowDown");
  EXPECT_EQ(ErrorCode("<Error><Code>SlowDo"), "");
  // Markup that is not an element, and anything after a DOCTYPE, is no code.
  EXPECT_EQ(ErrorCode("<Error><!-- <Code>NoSuchBucket</Code> -->"
                      "<Code>AccessDenied</Code></Error>"),
            "AccessDenied");
  EXPECT_EQ(ErrorCode("<!DOCTYPE Error [<!ENTITY c \"NoSuchBucket\">]>"
                      "<Error><Code>&c;</Code></Error>"),
            "");
  EXPECT_EQ(ErrorCode("<Error><Code/></Error>"), "");
  EXPECT_EQ(
      ErrorCode("<Error><Code>" + std::string(101, 'A') + "</Code></Error>"),
      "");
}

TEST(HttpClientTest, FallbackCaBundleOnlyWhenLibcurlsIsMissing) {
  auto has = [](std::set<std::string> files) {
    return [files](const std::string& f) { return files.count(f) > 0; };
  };
  const char* debian = "/etc/ssl/certs/ca-certificates.crt";
  const char* fedora = "/etc/pki/tls/certs/ca-bundle.crt";
  EXPECT_EQ(FallbackCaBundle(debian, has({debian, fedora})), "");
  EXPECT_EQ(FallbackCaBundle(debian, has({fedora})), fedora);
  EXPECT_EQ(FallbackCaBundle(nullptr, has({"/etc/ssl/cert.pem"})),
            "/etc/ssl/cert.pem");
  EXPECT_EQ(FallbackCaBundle("/opt/x/ca.pem", has({debian})), debian);
  EXPECT_EQ(FallbackCaBundle(debian, has({})), "");
}

TEST(HttpClientTest, SafeForMessageKeepsOnlyAWordOfSixtyBytes) {
  EXPECT_EQ(SafeForMessage("invalid_grant"), "invalid_grant");
  EXPECT_EQ(SafeForMessage("a b\n<script>-x.y"), "abscript-x.y");
  EXPECT_EQ(SafeForMessage(std::string(100, 'z')), std::string(60, 'z'));
}

TEST(HttpClientTest, NotFoundNamesStoreAndKey) {
  Status s = MapHttpError(404, "<Error><Code>NoSuchKey</Code></Error>", kWhat);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("s3://bkt/app"), std::string::npos);
  EXPECT_NE(s.message().find("refs/prod"), std::string::npos);
  EXPECT_EQ(MapHttpError(404, "", kWhat).code(), Code::kNotFound);
}

TEST(HttpClientTest, MissingBucket) {
  Status s =
      MapHttpError(404, "<Error><Code>NoSuchBucket</Code></Error>", kWhat);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("bucket does not exist"), std::string::npos);
}

TEST(HttpClientTest, AccessDenied) {
  for (const char* code :
       {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", ""}) {
    std::string body = std::string("<Error><Code>") + code + "</Code></Error>";
    Status s = MapHttpError(403, body, kWhat);
    EXPECT_EQ(s.code(), Code::kIoError) << code;
    EXPECT_NE(s.message().find("access denied"), std::string::npos) << code;
  }
  EXPECT_NE(MapHttpError(400, "<Code>InvalidToken</Code>", kWhat)
                .message()
                .find("access denied"),
            std::string::npos);
  EXPECT_NE(MapHttpError(401, "", kWhat).message().find("access denied"),
            std::string::npos);
}

TEST(HttpClientTest, ExpiredTokenAndClockSkew) {
  Status e =
      MapHttpError(400, "<Error><Code>ExpiredToken</Code></Error>", kWhat);
  EXPECT_NE(e.message().find("expired token"), std::string::npos);
  Status e403 =
      MapHttpError(403, "<Error><Code>ExpiredToken</Code></Error>", kWhat);
  EXPECT_NE(e403.message().find("expired token"), std::string::npos);
  Status k = MapHttpError(
      403, "<Error><Code>RequestTimeTooSkewed</Code></Error>", kWhat);
  EXPECT_NE(k.message().find("clock skew"), std::string::npos);
  Status k400 = MapHttpError(
      400, "<Error><Code>RequestTimeTooSkewed</Code></Error>", kWhat);
  EXPECT_NE(k400.message().find("clock skew"), std::string::npos);
}

TEST(HttpClientTest, MessagesAreOneLineWithoutTheBody) {
  std::string body =
      "<Error><Code>AccessDenied</Code><Message>secret AKIASECRET\nline"
      "</Message></Error>";
  for (long status : {400L, 403L, 404L, 500L, 503L}) {
    Status s = MapHttpError(status, body, kWhat);
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
    EXPECT_EQ(s.message().find("AKIASECRET"), std::string::npos);
  }
}

TEST(HttpClientTest, Retryable) {
  EXPECT_TRUE(RetryableHttp(500, ""));
  EXPECT_TRUE(RetryableHttp(503, "SlowDown"));
  EXPECT_TRUE(RetryableHttp(429, ""));
  EXPECT_TRUE(RetryableHttp(400, "RequestTimeout"));
  EXPECT_FALSE(RetryableHttp(404, ""));
  EXPECT_FALSE(RetryableHttp(403, "AccessDenied"));
  EXPECT_FALSE(RetryableHttp(501, "NotImplemented"));
  EXPECT_EQ(MapHttpError(503, "<Code>SlowDown</Code>", kWhat).code(),
            Code::kUnavailable);
}

TEST(HttpClientTest, UriEncode) {
  EXPECT_EQ(UriEncode("a/b c~d_e.f-g", true), "a/b%20c~d_e.f-g");
  EXPECT_EQ(UriEncode("a/b+=&", false), "a%2Fb%2B%3D%26");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(HttpClientTest, ConnectionRefusedIsRetriedThenUnavailable) {
  ClientOptions o;
  o.attempts = 2;
  o.backoff_initial_ms = 1;
  Client c(Auth{}, o);
  Request r;
  r.url = "http://127.0.0.1:1/x";  // nothing listens on port 1
  StoreStats stats;
  auto res = c.Send(r, "store test: object x", 1024, &stats);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kUnavailable);
  EXPECT_NE(res.status().message().find("gave up after 2 attempts"),
            std::string::npos);
  EXPECT_EQ(stats.requests.load(), 2u);
  Status f = c.Fetch(
      r, 0, 10, [](std::string_view) { return Status::OK(); },
      "store test: object x", &stats);
  EXPECT_EQ(f.code(), Code::kUnavailable);
}

// A loopback HTTP/1.1 server that answers each connection with the next
// scripted fault, then correctly once the script is used up.
class FaultServer {
 public:
  enum Fault { kTruncate, kSlowDown, kIgnoreRange, kShort, kOk };

  FaultServer(std::string object, std::vector<Fault> script)
      : object_(std::move(object)), script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FaultServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/obj";
  }
  std::vector<std::string> ranges() {
    std::lock_guard<std::mutex> l(mu_);
    return ranges_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      uint64_t a = 0, b = object_.size() - 1;
      std::string range;
      if (size_t p = req.find("Range: bytes="); p != std::string::npos) {
        range = req.substr(p + 13, req.find("\r\n", p) - p - 13);
        a = std::stoull(range.substr(0, range.find('-')));
        b = std::stoull(range.substr(range.find('-') + 1));
      }
      Fault f = kOk;
      {
        std::lock_guard<std::mutex> l(mu_);
        ranges_.push_back(range);
        if (next_ < script_.size()) f = script_[next_++];
      }
      std::string part = object_.substr(a, b - a + 1);
      std::string head =
          "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " +
          std::to_string(a) + "-" + std::to_string(b) + "/" +
          std::to_string(object_.size()) + "\r\n";
      std::string resp;
      if (f == kSlowDown) {
        std::string body = "<Error><Code>SlowDown</Code></Error>";
        resp = "HTTP/1.1 503 Slow Down\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
      } else if (f == kIgnoreRange) {
        resp = "HTTP/1.1 200 OK\r\nContent-Length: " +
               std::to_string(object_.size()) + "\r\n\r\n" + object_;
      } else if (f == kTruncate) {  // promises the range, sends half
        resp = head + "Content-Length: " + std::to_string(part.size()) +
               "\r\n\r\n" + part.substr(0, part.size() / 2);
      } else if (f == kShort) {  // a consistent but short answer
        resp = head + "Content-Length: 3\r\n\r\n" + part.substr(0, 3);
      } else {
        resp = head + "Content-Length: " + std::to_string(part.size()) +
               "\r\n\r\n" + part;
      }
      resp.insert(resp.find("\r\n") + 2, "Connection: close\r\n");
      size_t off = 0;
      while (off < resp.size()) {
        ssize_t n =
            ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  std::string object_;
  std::vector<Fault> script_;
  size_t next_ = 0;
  std::mutex mu_;
  std::vector<std::string> ranges_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

ClientOptions FastRetries(int attempts) {
  ClientOptions o;
  o.attempts = attempts;
  o.backoff_initial_ms = 1;
  o.backoff_max_ms = 5;
  return o;
}

TEST(HttpFetchTest, TruncatedBodyResumesWithoutDuplicates) {
  std::string obj = Pattern(100000);
  FaultServer srv(obj, {FaultServer::kTruncate, FaultServer::kSlowDown,
                        FaultServer::kTruncate});
  Client c(Auth{}, FastRetries(5));
  Request r;
  r.url = srv.url();
  std::string got;
  StoreStats stats;
  Status s = c.Fetch(
      r, 1000, 50000,
      [&](std::string_view b) {
        got.append(b);
        return Status::OK();
      },
      "store test: object obj", &stats);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, obj.substr(1000, 50000));
  auto ranges = srv.ranges();
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0], "1000-50999");
  EXPECT_EQ(ranges[1], "26000-50999");  // resumes after the delivered half
  EXPECT_EQ(ranges[2], "26000-50999");  // after the 503
  EXPECT_EQ(ranges[3], "38500-50999");
  EXPECT_EQ(stats.requests.load(), 4u);
  EXPECT_EQ(stats.bytes_read.load(), 50000u);
}

TEST(HttpFetchTest, ServerIgnoringRangeIsSkippedTo) {
  std::string obj = Pattern(5000);
  FaultServer srv(obj, {FaultServer::kIgnoreRange});
  Client c(Auth{}, FastRetries(2));
  Request r;
  r.url = srv.url();
  std::string got;
  Status s = c.Fetch(
      r, 123, 456,
      [&](std::string_view b) {
        got.append(b);
        return Status::OK();
      },
      "w", nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, obj.substr(123, 456));
}

TEST(HttpFetchTest, GivesUpAfterBoundedRetries) {
  std::string obj = Pattern(10000);
  FaultServer srv(obj,
                  std::vector<FaultServer::Fault>(10, FaultServer::kTruncate));
  Client c(Auth{}, FastRetries(3));
  Request r;
  r.url = srv.url();
  std::string got;
  Status s = c.Fetch(
      r, 0, 8000,
      [&](std::string_view b) {
        got.append(b);
        return Status::OK();
      },
      "store test: object obj", nullptr);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("gave up after 3 attempts"), std::string::npos);
  EXPECT_EQ(got, obj.substr(0, got.size()));  // a clean prefix, no repeats
  EXPECT_EQ(srv.ranges().size(), 3u);
}

TEST(HttpFetchTest, ShortObjectIsCorruptNotRetried) {
  std::string obj = Pattern(1000);
  FaultServer srv(obj, {FaultServer::kShort});
  Client c(Auth{}, FastRetries(3));
  Request r;
  r.url = srv.url();
  Status s = c.Fetch(
      r, 0, 500, [](std::string_view) { return Status::OK(); }, "w", nullptr);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_EQ(srv.ranges().size(), 1u);
}

TEST(HttpFetchTest, SinkErrorStopsTheTransfer) {
  FaultServer srv(Pattern(100000), {});
  Client c(Auth{}, FastRetries(3));
  Request r;
  r.url = srv.url();
  Status s = c.Fetch(
      r, 0, 100000, [](std::string_view) { return Status::Corrupt("bad"); },
      "w", nullptr);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_EQ(s.message(), "bad");
  EXPECT_EQ(srv.ranges().size(), 1u);
}

TEST(HttpSendTest, TruncatedBodyIsRetriedNeverUsed) {
  std::string obj = Pattern(20000);
  FaultServer srv(obj, {FaultServer::kTruncate, FaultServer::kSlowDown});
  Client c(Auth{}, FastRetries(4));
  Request r;
  r.url = srv.url();
  auto res = c.Send(r, "w", 1 << 20, nullptr);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 206);  // no Range sent, but the fake always says 206
  EXPECT_EQ(res->body, obj);
  EXPECT_EQ(srv.ranges().size(), 3u);
}

}  // namespace
}  // namespace lazypath::http
