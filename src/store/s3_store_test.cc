#include "store/s3_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "util/fs.h"

namespace lazypath {
namespace {

TEST(S3UrlTest, DefaultsToAwsVirtualHost) {
  auto loc = ParseS3Url("s3://my-bucket/team/app/", MapEnv({}));
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->bucket, "my-bucket");
  EXPECT_EQ(loc->prefix, "team/app");
  EXPECT_EQ(loc->region, "us-east-1");
  EXPECT_EQ(loc->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(loc->path_style);
}

TEST(S3UrlTest, RegionAndEndpointFromEnv) {
  auto loc = ParseS3Url(
      "s3://bkt", MapEnv({{"AWS_DEFAULT_REGION", "eu-west-1"},
                          {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"}}));
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->region, "eu-west-1");
  EXPECT_EQ(loc->endpoint, "http://127.0.0.1:9000");
  EXPECT_TRUE(loc->path_style);
  EXPECT_EQ(loc->prefix, "");
  auto s3 =
      ParseS3Url("s3://bkt", MapEnv({{"AWS_REGION", "ap-south-1"},
                                     {"AWS_DEFAULT_REGION", "eu-west-1"},
                                     {"AWS_ENDPOINT_URL", "http://a:1"},
                                     {"AWS_ENDPOINT_URL_S3", "http://b:2"}}));
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->region, "ap-south-1");
  EXPECT_EQ(s3->endpoint, "http://b:2");
}

TEST(S3UrlTest, QueryOptionsWin) {
  auto loc = ParseS3Url(
      "s3://bkt/p?endpoint=https%3A%2F%2Fminio.local%3A9000&region=r1&"
      "addressing=virtual",
      MapEnv({{"AWS_ENDPOINT_URL_S3", "http://x:1"}}));
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->endpoint, "https://minio.local:9000");
  EXPECT_EQ(loc->region, "r1");
  EXPECT_FALSE(loc->path_style);
}

TEST(S3UrlTest, ProfileRegionIsAFallback) {
  auto loc = ParseS3Url("s3://bkt", MapEnv({}), "eu-north-1");
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->region, "eu-north-1");
  EXPECT_EQ(loc->endpoint, "https://s3.eu-north-1.amazonaws.com");
}

TEST(S3UrlTest, Malformed) {
  for (const char* u :
       {"s3://", "s3:///prefix", "s3://UPPER/x", "s3://a/x//y", "s3://ab",
        "s3://bkt/../x", "s3://bkt?bogus=1", "s3://bkt?addressing=sideways",
        "s3://bkt?endpoint=ftp://h", "s3://bkt?endpoint=http://u:p@h",
        "s3://bkt#frag"}) {
    auto loc = ParseS3Url(u, MapEnv({}));
    EXPECT_EQ(loc.status().code(), Code::kInvalidArgument) << u;
    EXPECT_EQ(loc.status().message().find('\n'), std::string::npos);
  }
}

TEST(S3UrlTest, CredentialsInUrlAreNotEchoed) {
  auto loc = ParseS3Url("s3://AKIAX:hunter2@bkt/p", MapEnv({}));
  ASSERT_FALSE(loc.ok());
  EXPECT_EQ(loc.status().message().find("hunter2"), std::string::npos);
  auto ep = ParseS3Url("s3://bkt?endpoint=http://u:hunter2@h", MapEnv({}));
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.status().message().find("hunter2"), std::string::npos);
}

TEST(S3StoreTest, ObjectUrls) {
  auto path = S3Store::Open("s3://bkt/app",
                            MapEnv({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9"},
                                    {"HOME", "/nonexistent"}}));
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  auto* p = static_cast<S3Store*>(path->get());
  EXPECT_EQ(p->url(), "s3://bkt/app");
  EXPECT_EQ(p->ObjectUrl("refs/prod"), "http://127.0.0.1:9/bkt/app/refs/prod");
  EXPECT_EQ(p->ObjectUrl("", "list-type=2"),
            "http://127.0.0.1:9/bkt?list-type=2");
  auto vh = S3Store::Open("s3://bkt", MapEnv({{"HOME", "/nonexistent"}}));
  ASSERT_TRUE(vh.ok());
  EXPECT_EQ(static_cast<S3Store*>(vh->get())->ObjectUrl("packs/ab"),
            "https://bkt.s3.us-east-1.amazonaws.com/packs/ab");
}

TEST(S3CredentialsTest, EnvironmentFirst) {
  auto c = ResolveS3Credentials(MapEnv({{"AWS_ACCESS_KEY_ID", "AK"},
                                        {"AWS_SECRET_ACCESS_KEY", "SK"},
                                        {"AWS_SESSION_TOKEN", "TOK"}}));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->access_key, "AK");
  EXPECT_EQ((*c)->secret_key, "SK");
  EXPECT_EQ((*c)->session_token, "TOK");
  auto half = ResolveS3Credentials(MapEnv({{"AWS_ACCESS_KEY_ID", "AK"}}));
  EXPECT_EQ(half.status().code(), Code::kInvalidArgument);
}

TEST(S3CredentialsTest, AnonymousWhenNothing) {
  auto c = ResolveS3Credentials(MapEnv({{"HOME", "/nonexistent"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

TEST(S3CredentialsTest, SharedFilesAndProfiles) {
  std::string dir = ::testing::TempDir() + "/s3creds";
  ASSERT_TRUE(fs::MakeDirs(dir).ok());
  std::ofstream(dir + "/credentials")
      << "# comment\n[default]\naws_access_key_id = DEFKEY\n"
         "aws_secret_access_key=DEFSECRET\n\n[work]\n"
         "aws_access_key_id = WORKKEY\naws_secret_access_key = WORKSECRET\n"
         "aws_session_token = WORKTOKEN\n";
  std::ofstream(dir + "/config")
      << "[default]\nregion = us-west-2\n[profile  work]\nregion=eu-central-1\n"
         "[profile cfgonly]\naws_access_key_id = CFGKEY\n"
         "aws_secret_access_key = CFGSECRET\n";
  std::map<std::string, std::string> base{
      {"AWS_SHARED_CREDENTIALS_FILE", dir + "/credentials"},
      {"AWS_CONFIG_FILE", dir + "/config"}};
  auto d = ResolveS3Credentials(MapEnv(base));
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->access_key, "DEFKEY");
  EXPECT_EQ((*d)->region, "us-west-2");
  auto w = base;
  w["AWS_PROFILE"] = "work";
  auto wc = ResolveS3Credentials(MapEnv(w));
  ASSERT_TRUE(wc.ok() && wc->has_value());
  EXPECT_EQ((*wc)->secret_key, "WORKSECRET");
  EXPECT_EQ((*wc)->session_token, "WORKTOKEN");
  EXPECT_EQ((*wc)->region, "eu-central-1");
  auto c = base;
  c["AWS_PROFILE"] = "cfgonly";
  auto cc = ResolveS3Credentials(MapEnv(c));
  ASSERT_TRUE(cc.ok() && cc->has_value());
  EXPECT_EQ((*cc)->access_key, "CFGKEY");
  auto m = base;
  m["AWS_PROFILE"] = "missing";
  auto mc = ResolveS3Credentials(MapEnv(m));
  EXPECT_EQ(mc.status().code(), Code::kInvalidArgument);
  EXPECT_NE(mc.status().message().find("'missing'"), std::string::npos);
  // Environment keys beat the files.
  auto e = base;
  e["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  e["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  auto ec = ResolveS3Credentials(MapEnv(e));
  ASSERT_TRUE(ec.ok() && ec->has_value());
  EXPECT_EQ((*ec)->access_key, "ENVKEY");
}

TEST(S3XmlTest, ListObjectsV2) {
  const char* xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>bkt</Name><Prefix>app/refs/</Prefix><KeyCount>2</KeyCount>"
      "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
      "</NextContinuationToken>"
      "<Contents><Key>app/refs/a&amp;b</Key><LastModified>x</LastModified>"
      "<ETag>&quot;abc&quot;</ETag><Size>72</Size>"
      "<Owner><ID>x</ID></Owner><StorageClass>STANDARD</StorageClass>"
      "</Contents>\n<!-- a comment -->"
      "<Contents><Key>app/refs/caf&#xE9;&#32;x</Key><Size/></Contents>"
      "</ListBucketResult>";
  auto p = ParseListObjectsV2(xml, "store s3://bkt/app: list refs/");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->keys.size(), 2u);
  EXPECT_EQ(p->keys[0], "app/refs/a&b");
  EXPECT_EQ(p->keys[1], "app/refs/caf\xc3\xa9 x");
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3XmlTest, EmptyAndLastPage) {
  auto p = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0"
      "</KeyCount></ListBucketResult>",
      "w");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->keys.empty());
  EXPECT_FALSE(p->truncated);
}

TEST(S3XmlTest, RejectsMalformed) {
  for (const char* xml :
       {"", "<ListBucketResult>", "<ListBucketResult></Other>",
        "<Error><Code>x</Code></Error>",
        "<ListBucketResult><Contents><Key>a&bogus;</Key></Contents>"
        "</ListBucketResult>",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]><ListBucketResult/>",
        "<ListBucketResult/><ListBucketResult/>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></"
        "ListBucketResult>"}) {
    auto p = ParseListObjectsV2(xml, "store s3://bkt: list");
    EXPECT_EQ(p.status().code(), Code::kCorrupt) << xml;
  }
}

TEST(S3XmlTest, XmlFirst) {
  EXPECT_EQ(XmlFirst("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                     "<UploadId>VXBsb2Fk&amp;ID</UploadId>"
                     "</InitiateMultipartUploadResult>",
                     "UploadId"),
            "VXBsb2Fk&ID");
  EXPECT_EQ(XmlFirst("<a><b>1</b></a>", "c"), std::nullopt);
}

TEST(S3IniTest, Parse) {
  IniFile f = ParseIni("x=1\n[a]\n k = v = w \n;c\n[profile   p ]\nr=2");
  EXPECT_EQ(f["a"]["k"], "v = w");
  EXPECT_EQ(f["profile p"]["r"], "2");
  EXPECT_EQ(f.count(""), 0u);
}

}  // namespace
}  // namespace lazypath
