#include "store/gcs_store.h"

#include <gtest/gtest.h>

#include <map>

namespace lazypath {
namespace {

TEST(GcsUrlTest, BucketPrefixAndDefaultEndpoint) {
  auto loc = ParseGcsUrl("gs://my-bucket/team/app/", MapEnv({}));
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->bucket, "my-bucket");
  EXPECT_EQ(loc->prefix, "team/app");
  EXPECT_EQ(loc->endpoint, "https://storage.googleapis.com");
  EXPECT_FALSE(loc->emulator);
  auto bare = ParseGcsUrl("gs://b_1.example", MapEnv({}));
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->prefix, "");
}

TEST(GcsUrlTest, EmulatorHostLikeGoogleLibraries) {
  auto loc = ParseGcsUrl("gs://bkt/p",
                         MapEnv({{"STORAGE_EMULATOR_HOST", "127.0.0.1:9023"}}));
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->endpoint, "http://127.0.0.1:9023");
  EXPECT_TRUE(loc->emulator);
  auto https = ParseGcsUrl(
      "gs://bkt",
      MapEnv({{"STORAGE_EMULATOR_HOST", "https://gcs.local:4443/"}}));
  ASSERT_TRUE(https.ok()) << https.status().ToString();
  EXPECT_EQ(https->endpoint, "https://gcs.local:4443");
  for (const char* bad : {"ftp://x:1", "http://u:p@x:1", "http://x:1/path"}) {
    auto r = ParseGcsUrl("gs://bkt", MapEnv({{"STORAGE_EMULATOR_HOST", bad}}));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("STORAGE_EMULATOR_HOST"),
              std::string::npos);
    EXPECT_EQ(r.status().message().find("u:p"), std::string::npos);
  }
}

TEST(GcsUrlTest, MalformedUrlsAreRefused) {
  for (const char* url :
       {"gs://", "gs:///p", "gs://Bad_Bucket!/x", "gs://bucket/a//b",
        "gs://bucket/../x", "gs://ab", "gs://-bucket", "gs://bucket/x?opt=1"}) {
    auto r = ParseGcsUrl(url, MapEnv({}));
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("malformed gs URL"), std::string::npos)
        << r.status().message();
  }
  auto cred = ParseGcsUrl("gs://user:SECRETX@bucket/x", MapEnv({}));
  ASSERT_FALSE(cred.ok());
  EXPECT_EQ(cred.status().message().find("SECRETX"), std::string::npos);
  EXPECT_NE(cred.status().message().find("credentials in the URL"),
            std::string::npos);
}

TEST(GcsStoreTest, ObjectNamesArePercentEncodedWhole) {
  auto store = GcsStore::Open(
      "gs://bkt/team/app", MapEnv({{"STORAGE_EMULATOR_HOST", "127.0.0.1:1"}}));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto* gcs = static_cast<GcsStore*>(store->get());
  EXPECT_EQ(gcs->ObjectUrl("refs/a b", "alt=media"),
            "http://127.0.0.1:1/storage/v1/b/bkt/o/team%2Fapp%2Frefs%2Fa%20b"
            "?alt=media");
  EXPECT_EQ(gcs->UploadUrl("packs/x", "uploadType=media"),
            "http://127.0.0.1:1/upload/storage/v1/b/bkt/o?uploadType=media&"
            "name=team%2Fapp%2Fpacks%2Fx");
  EXPECT_EQ(gcs->url(), "gs://bkt/team/app");
}

TEST(GcsJsonTest, ListPages) {
  auto p = ParseGcsListPage(
      R"({"kind":"storage#objects","items":[{"name":"a/1"},{"name":"a/2",)"
      R"("size":"3"}],"nextPageToken":"tok=="})",
      "w");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->names, (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(p->next_token, "tok==");
  auto empty = ParseGcsListPage(R"({"kind":"storage#objects"})", "w");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->names.empty() && empty->next_token.empty());
  for (const char* bad :
       {"", "[]", "{", R"({"items":{}})", R"({"items":[{"size":"1"}]})",
        R"({"items":[{"name":7}]})", R"({"items":[],"nextPageToken":1})"}) {
    auto r = ParseGcsListPage(bad, "store gs://b: list refs/");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find("store gs://b: list refs/"),
              std::string::npos);
  }
}

TEST(GcsJsonTest, Generation) {
  auto g = ParseGcsGeneration(R"({"generation":"1795448289911386851"})", "w");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, "1795448289911386851");
  auto n = ParseGcsGeneration(R"({"generation":42})", "w");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "42");
  for (const char* bad : {"{}", R"({"generation":"12a"})",
                          R"({"generation":""})", R"({"generation":-1})",
                          R"({"generation":"123456789012345678901"})", "7"}) {
    EXPECT_FALSE(ParseGcsGeneration(bad, "w").ok()) << bad;
  }
}

TEST(GcsJsonTest, ErrorsAreOneLineWithoutTheBody) {
  std::string body =
      R"({"error":{"code":403,"message":"caller@x does not have )"
      R"(storage.objects.get access\nSECRET","errors":[{"reason":)"
      R"("forbidden\nX"}]}})";
  EXPECT_EQ(GcsErrorReason(body), "forbiddenX");
  Status s = MapGcsError(403, body, "store gs://b: object k",
                         "GOOGLE_OAUTH_ACCESS_TOKEN");
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ(s.message(),
            "store gs://b: object k: access denied (HTTP 403 forbiddenX, "
            "token from GOOGLE_OAUTH_ACCESS_TOKEN): wrong or missing "
            "credentials");
  Status expired = MapGcsError(
      401,
      R"({"error":{"code":401,"message":"The access token has expired.",)"
      R"("errors":[{"reason":"authError"}]}})",
      "w", "");
  EXPECT_NE(expired.message().find("expired token (HTTP 401 authError, "
                                   "anonymous request)"),
            std::string::npos)
      << expired.message();
  EXPECT_EQ(MapGcsError(404, "", "w", "").code(), Code::kNotFound);
  EXPECT_EQ(MapGcsError(412, "", "w", "").code(), Code::kConflict);
  EXPECT_EQ(MapGcsError(503, "<html>", "w", "").code(), Code::kUnavailable);
  EXPECT_EQ(MapGcsError(400, "not json", "w", "").message(),
            "w: request failed (HTTP 400)");
}

TEST(GcsStoreTest, OpenWithAnUnreadableKeyFileNamesIt) {
  auto s = GcsStore::Open(
      "gs://bkt/p",
      MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json"}}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("store gs://bkt/p"), std::string::npos);
  EXPECT_NE(s.status().message().find("/nonexistent/key.json: unreadable"),
            std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace lazypath
