// Eager activation and the inspecting verbs on trees written in format 2
// (tree_writer.h): the same functions that read format 1 tell the formats
// apart by the tree record's magic.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "core/format2_testing.h"
#include "core/tree_writer.h"
#include "lazypath/activate.h"
#include "lazypath/inspect.h"
#include "lazypath/node_cache.h"
#include "lazypath/store.h"
#include "util/env.h"
#include "util/fs.h"

namespace lazypath {
namespace {

class ActivateFormat2Test : public testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::TempDir() + "/activate_format2_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(base_).ok());
    ASSERT_TRUE(fs::MakeDirs(base_ + "/tmp").ok());
    url_ = "file://" + base_ + "/store";
    auto store = OpenStore(url_, {.create = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    for (int d = 0; d < 20; ++d) {
      std::string pkg = "app/pkg" + std::to_string(d);
      Write(pkg + "/__init__.py", "");
      for (int f = 0; f < 5; ++f) {
        Write(pkg + "/m" + std::to_string(f) + ".py",
              "V = " + std::to_string(d * 10 + f) + "\n");
      }
    }
    Write("bin/tool", "#!/bin/sh\necho tool\n");
    ASSERT_EQ(::chmod((base_ + "/src/bin/tool").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("../app/pkg1/m1.py", (base_ + "/src/bin/link").c_str()),
              0);
    std::mt19937_64 rng(11);
    big_.resize(5u << 20);
    for (auto& c : big_) c = static_cast<char>(rng());
    Write("data/model.bin", big_);
  }
  void TearDown() override { (void)fs::RemoveAll(base_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string p = base_ + "/src/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  Hash Push() {
    auto b = BuildFormat2(base_ + "/src");
    TreeWriteOptions o;
    o.temp_dir = base_ + "/tmp";
    o.env = Env::Default();
    auto w = WriteTree(*store_, b->input, known_, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? w->root.hash : Hash{};
  }
  Result<ActivateResult> ActivateNow(const Hash& root) {
    ActivateOptions o;
    o.cache_dir = base_ + "/cache";
    return Activate(url_, root.ToString(), o);
  }
  std::string Read(const std::string& path) {
    auto d = fs::ReadFile(path, 1ull << 30);
    EXPECT_TRUE(d.ok()) << path;
    return d.ok() ? *d : "";
  }
  std::string base_, url_, big_;
  std::unique_ptr<Store> store_;
  KnownObjects known_;
};

TEST_F(ActivateFormat2Test, ATreeMaterialisesAsItWasPushed) {
  Hash root = Push();
  auto a = ActivateNow(root);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->cached);
  EXPECT_EQ(a->tree, root);
  EXPECT_EQ(a->files, 20u * 6 + 3);
  // 100 modules, the tool, the model (one empty __init__.py has no blob).
  EXPECT_EQ(a->blobs_fetched, 102u);
  EXPECT_EQ(Read(a->path + "/app/pkg7/m3.py"), "V = 73\n");
  EXPECT_EQ(Read(a->path + "/app/pkg7/__init__.py"), "");
  EXPECT_EQ(Read(a->path + "/data/model.bin"), big_);
  struct stat st;
  ASSERT_EQ(::stat((a->path + "/bin/tool").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  char target[256] = {};
  ASSERT_GT(
      ::readlink((a->path + "/bin/link").c_str(), target, sizeof(target) - 1),
      0);
  EXPECT_STREQ(target, "../app/pkg1/m1.py");

  auto again = ActivateNow(root);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->requests, 0u);
}

TEST_F(ActivateFormat2Test, AnEditedTreeFetchesOnlyWhatChanged) {
  Hash first = Push();
  ASSERT_TRUE(ActivateNow(first).ok());
  Write("app/pkg3/m2.py", "V = 'edited'\n");
  Hash second = Push();
  auto a = ActivateNow(second);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->blobs_fetched, 1u);  // the model is assembled once per node
  EXPECT_EQ(Read(a->path + "/app/pkg3/m2.py"), "V = 'edited'\n");
  EXPECT_EQ(Read(a->path + "/data/model.bin"), big_);
}

TEST_F(ActivateFormat2Test, AnEditedLargeFileFetchesOnlyTheChunksItChanged) {
  Hash first = Push();
  auto a1 = ActivateNow(first);
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  for (size_t i = 0; i < 4096; ++i) big_[(2u << 20) + i] ^= 0x5a;
  big_.insert(4u << 20, std::string(100, 'i'));
  Write("data/model.bin", big_);
  Hash second = Push();
  auto a2 = ActivateNow(second);
  ASSERT_TRUE(a2.ok()) << a2.status().ToString();
  EXPECT_EQ(a2->blobs_fetched, 1u);
  // A few of its ten or so chunks; the rest come from the first copy.
  EXPECT_LT(a2->bytes_fetched, 2u << 20);
  EXPECT_EQ(Read(a2->path + "/data/model.bin"), big_);
  EXPECT_EQ(Read(a1->path + "/data/model.bin").size(), (5u << 20));
}

TEST_F(ActivateFormat2Test, ADamagedChunkPublishesNothing) {
  Hash root = Push();
  // Damage every pack's last chunk-sized region: the model's chunks are the
  // bulk of the pack, so its assembly fails verification.
  auto packs = store_->List("packs/");
  ASSERT_TRUE(packs.ok());
  ASSERT_EQ(packs->size(), 1u);
  std::string path = base_ + "/store/" + (*packs)[0];
  std::string bytes = Read(path);
  bytes[bytes.size() / 2] ^= 0x01;
  ASSERT_TRUE(fs::RemoveAll(path).ok());
  std::ofstream(path, std::ios::binary) << bytes;
  auto a = ActivateNow(root);
  ASSERT_FALSE(a.ok());
  std::string msg = a.status().ToString();
  EXPECT_NE(msg.find("sha256:"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  auto cache = NodeCache::Open(base_ + "/cache");
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE(cache->HasTree(root));
  auto debris = fs::ListDir(cache->TempDir());
  EXPECT_TRUE(!debris.ok() || debris->empty());
}

TEST_F(ActivateFormat2Test, ShowCatOpenTagAndDiffReadFormat2) {
  Hash first = Push();
  auto shown = ShowTree(url_, first.ToString());
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->second.entries().size(), 20u * 6 + 3);

  auto cat = CatFile(url_, first.ToString(), "app/pkg4/m4.py");
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  EXPECT_EQ(*cat, "V = 44\n");
  auto via_link = CatFile(url_, first.ToString(), "bin/link");
  ASSERT_TRUE(via_link.ok()) << via_link.status().ToString();
  EXPECT_EQ(*via_link, "V = 11\n");
  auto model = CatFile(url_, first.ToString(), "data/model.bin");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(*model, big_);

  for (const char* path : {"app/pkg2/m0.py", "data/model.bin"}) {
    auto opened =
        OpenFileInTree(url_, first.ToString(), path, base_ + "/open-cache");
    ASSERT_TRUE(opened.ok()) << path << ": " << opened.status().ToString();
    std::string got;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(opened->fd, buf, sizeof(buf))) > 0) got.append(buf, n);
    ::close(opened->fd);
    EXPECT_EQ(got, Read(base_ + "/src/" + path)) << path;
  }

  auto tagged = TagTree(url_, first.ToString(), "prod");
  ASSERT_TRUE(tagged.ok()) << tagged.status().ToString();
  EXPECT_EQ(*tagged, first);

  Write("app/pkg9/m1.py", "V = 'changed'\n");
  ASSERT_EQ(::unlink((base_ + "/src/app/pkg9/m2.py").c_str()), 0);
  Hash second = Push();
  auto diff = DiffRefs(url_, "prod", second.ToString());
  ASSERT_TRUE(diff.ok()) << diff.status().ToString();
  EXPECT_EQ(diff->diff.modified, 1u);
  EXPECT_EQ(diff->diff.removed, 1u);
  EXPECT_EQ(diff->diff.added, 0u);
  ASSERT_EQ(diff->diff.changes.size(), 2u);
  EXPECT_EQ(diff->diff.changes[0].path, "app/pkg9/m1.py");
}

}  // namespace
}  // namespace lazypath
