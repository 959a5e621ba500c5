#include "lazypath/doctor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "doctor/names.h"
#include "util/fs.h"

namespace lazypath::doctor {
namespace {

// A minimal stored-only zip archive holding `names` (empty members), with
// `prefix` bytes in front (like a self-extracting stub).
std::string MakeZip(const std::vector<std::string>& names,
                    const std::string& prefix = "") {
  auto le16 = [](std::string& b, uint32_t v) {
    b += static_cast<char>(v & 0xff);
    b += static_cast<char>((v >> 8) & 0xff);
  };
  auto le32 = [&](std::string& b, uint32_t v) {
    le16(b, v & 0xffff);
    le16(b, v >> 16);
  };
  std::string out = prefix, cd;
  for (const std::string& n : names) {
    uint32_t offset = static_cast<uint32_t>(out.size());
    le32(out, 0x04034b50);
    for (int i = 0; i < 11; ++i) le16(out, 0);  // version .. uncompressed size
    le16(out, static_cast<uint32_t>(n.size()));
    le16(out, 0);  // extra
    out += n;
    le32(cd, 0x02014b50);
    for (int i = 0; i < 12; ++i) le16(cd, 0);  // versions .. uncompressed size
    le16(cd, static_cast<uint32_t>(n.size()));
    le16(cd, 0);  // extra
    le16(cd, 0);  // comment
    le16(cd, 0);  // disk
    le16(cd, 0);  // internal attrs
    le32(cd, 0);  // external attrs
    le32(cd, offset);
    cd += n;
  }
  uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += cd;
  le32(out, 0x06054b50);
  le16(out, 0);
  le16(out, 0);
  le16(out, static_cast<uint32_t>(names.size()));
  le16(out, static_cast<uint32_t>(names.size()));
  le32(out, static_cast<uint32_t>(cd.size()));
  le32(out, cd_offset);
  le16(out, 0);
  return out;
}

class DoctorTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/doctor_test_" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(fs::RemoveAll(root_).ok());
    ASSERT_TRUE(fs::MakeDirs(root_).ok());
  }
  void TearDown() override {
    ::chmod((root_ + "/locked").c_str(), 0755);
    (void)fs::RemoveAll(root_);
  }
  void Write(const std::string& rel, const std::string& data = "") {
    std::string p = root_ + "/" + rel;
    ASSERT_TRUE(fs::MakeDirs(fs::Dirname(p)).ok());
    ASSERT_TRUE(fs::WriteFileAtomic(p, data).ok());
  }
  const Candidate* Find(const EntryScan& s, const std::string& name) {
    for (const Candidate& c : s.candidates) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  Suffixes sfx_{{".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"},
                {".py"},
                {".pyc"}};
  std::string root_;
};

TEST(DoctorNamesTest, JoinAndNormalise) {
  EXPECT_EQ(JoinLikeImportlib("/a/", "b.py"), "/a/b.py");
  EXPECT_EQ(JoinLikeImportlib("/", "b.py"), "/b.py");
  EXPECT_EQ(JoinLikeImportlib("", "b.py"), "b.py");
  EXPECT_EQ(NormalizeDistName("Foo.Bar--baz"), "foo_bar_baz");
  EXPECT_TRUE(IsModuleName("_x1"));
  EXPECT_FALSE(IsModuleName("1x"));
  EXPECT_FALSE(IsModuleName("a.b"));
  EXPECT_FALSE(IsModuleName("a-b"));
}

TEST_F(DoctorTest, PreferenceWithinADirectory) {
  Write("pkg/__init__.py");
  Write("pkg.py");  // loses to the package
  Write("ext.abi3.so");
  Write("ext.so");  // later suffix: loses
  Write("ext.py");
  Write("src.py");
  Write("src.pyc");
  Write("only.pyc");
  Write("ns/mod.py");
  Write("nsmod/x.py");
  Write("nsmod.py");  // a module beats a namespace dir
  Write("__pycache__/src.cpython-311.pyc");
  Write("not-a-name.py");
  Write("Case.py");
  EntryScan s = ScanEntry(root_, "/", sfx_);
  ASSERT_EQ(s.kind, EntryKind::kDirectory);
  EXPECT_EQ(Find(s, "pkg")->kind, ModuleKind::kPackage);
  EXPECT_EQ(Find(s, "pkg")->origin, root_ + "/pkg/__init__.py");
  EXPECT_EQ(Find(s, "ext")->origin, root_ + "/ext.abi3.so");
  EXPECT_EQ(Find(s, "src")->kind, ModuleKind::kSource);
  EXPECT_EQ(Find(s, "only")->kind, ModuleKind::kBytecode);
  EXPECT_EQ(Find(s, "ns")->kind, ModuleKind::kNamespace);
  EXPECT_EQ(Find(s, "ns")->origin, root_ + "/ns");
  EXPECT_EQ(Find(s, "nsmod")->kind, ModuleKind::kSource);
  EXPECT_EQ(Find(s, "__pycache__"), nullptr);
  EXPECT_EQ(Find(s, "not-a-name"), nullptr);
  EXPECT_EQ(Find(s, "case"), nullptr);  // case-exact
  EXPECT_NE(Find(s, "Case"), nullptr);
}

TEST_F(DoctorTest, RelativeAndEmptyEntriesUseCwd) {
  Write("sub/m.py");
  EntryScan s = ScanEntry("", root_, sfx_);
  EXPECT_EQ(s.path, root_);
  EXPECT_EQ(Find(s, "sub")->kind, ModuleKind::kNamespace);
  EntryScan r = ScanEntry("sub", root_, sfx_);
  EXPECT_EQ(Find(r, "m")->origin, root_ + "/sub/m.py");
}

TEST_F(DoctorTest, MissingAndNotImportableEntries) {
  Write("plain.txt", "hello, not a zip");
  EXPECT_EQ(ScanEntry(root_ + "/nope", "/", sfx_).kind, EntryKind::kMissing);
  EXPECT_EQ(ScanEntry(root_ + "/plain.txt", "/", sfx_).kind,
            EntryKind::kNotImportable);
}

TEST_F(DoctorTest, UnreadableDirectoryImportsNothing) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can list any directory";
  Write("locked/m.py");
  ASSERT_EQ(::chmod((root_ + "/locked").c_str(), 0), 0);
  EntryScan s = ScanEntry(root_ + "/locked", "/", sfx_);
  EXPECT_EQ(s.kind, EntryKind::kUnreadable);
  EXPECT_TRUE(s.candidates.empty());
}

TEST_F(DoctorTest, BrokenZipIsRefused) {
  Write("bad.zip", std::string(100, 'x'));
  EXPECT_EQ(ListZip(root_ + "/bad.zip").status().code(), Code::kCorrupt);
  EXPECT_EQ(ScanEntry(root_ + "/bad.zip", "/", sfx_).kind,
            EntryKind::kNotImportable);
}

TEST_F(DoctorTest, AnalyzeShadowingAndDuplicates) {
  Write("a/json.py");
  Write("a/dup/__init__.py");
  Write("a/dup-2.0.dist-info/METADATA", "Name: dup\nVersion: 2.0\n\nbody\n");
  Write("a/dup-2.0.dist-info/top_level.txt", "dup\n");
  Write("b/dup/__init__.py");
  Write("b/dup-1.0.dist-info/METADATA", "Name: dup\nVersion: 1.0\n");
  Write("b/dup-1.0.dist-info/RECORD",
        "dup/__init__.py,,\ndup-1.0.dist-info/METADATA,,\n");
  Write("b/broken-1.dist-info/WHEEL", "");
  Write("a/nsp/x.py");
  Write("b/nsp/y.py");
  nlohmann::json facts = {
      {"cwd", root_},
      {"sys_path", {root_ + "/a", root_ + "/b", root_ + "/missing"}},
      {"builtin", {"sys"}},
      {"stdlib", {"json", "sys"}},
      {"suffixes", {{"extension", {".so"}}}},
  };
  auto r = AnalyzeJson(facts.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto rep = nlohmann::json::parse(*r);
  std::set<std::string> codes;
  for (const auto& f : rep["findings"])
    codes.insert(f["code"].get<std::string>());
  EXPECT_TRUE(codes.count("shadowed-stdlib"));
  EXPECT_TRUE(codes.count("shadowed-module"));
  EXPECT_TRUE(codes.count("duplicate-distribution"));
  EXPECT_TRUE(codes.count("namespace-split"));
  EXPECT_TRUE(codes.count("missing-entry"));
  EXPECT_TRUE(codes.count("broken-metadata"));
  for (const auto& m : rep["modules"]) {
    if (m["name"] == "dup") {
      EXPECT_EQ(m["origin"], root_ + "/a/dup/__init__.py");
      EXPECT_EQ(m["version"], "2.0");
    }
    if (m["name"] == "nsp") {
      EXPECT_EQ(m["kind"], "namespace");
      EXPECT_EQ(m["locations"].size(), 2u);
    }
    if (m["name"] == "sys") {
      EXPECT_EQ(m["origin"], "built-in");
    }
  }
}

TEST_F(DoctorTest, ZipEntriesFollowZipimportOrder) {
  Write("app.zip", MakeZip({"m.py", "m.pyc", "pkg/", "pkg/__init__.py",
                            "pkg/__init__.pyc", "ns/", "ns/x.py",
                            "implied/y.py", "sub/inner.py", "bad-name.py"},
                           "#!/bin/sh stub\n"));
  auto names = ListZip(root_ + "/app.zip");
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(names->size(), 10u);
  EntryScan s = ScanEntry(root_ + "/app.zip", "/", sfx_);
  ASSERT_EQ(s.kind, EntryKind::kZip);
  EXPECT_EQ(Find(s, "m")->origin,
            root_ + "/app.zip/m.pyc");  // bytecode first in zips
  EXPECT_EQ(Find(s, "pkg")->origin, root_ + "/app.zip/pkg/__init__.pyc");
  EXPECT_EQ(Find(s, "ns")->kind, ModuleKind::kNamespace);
  EXPECT_EQ(Find(s, "ns")->origin, root_ + "/app.zip/ns");
  EXPECT_EQ(Find(s, "implied"), nullptr);  // no directory member
  EXPECT_EQ(Find(s, "bad-name"), nullptr);
  // An entry inside the archive: zipimporter walks up to the file.
  EntryScan sub = ScanEntry(root_ + "/app.zip/sub", "/", sfx_);
  ASSERT_EQ(sub.kind, EntryKind::kZip);
  EXPECT_EQ(Find(sub, "inner")->origin, root_ + "/app.zip/sub/inner.py");
  EXPECT_EQ(Find(sub, "m"), nullptr);
}

TEST_F(DoctorTest, DamagedZipsNeverCrash) {
  const std::string good = MakeZip({"a.py", "pkg/", "pkg/__init__.py"});
  // Every truncation and a deterministic set of byte flips: each either lists
  // or fails with Corrupt, and never reads out of bounds.
  for (size_t len = 0; len < good.size(); ++len) {
    Write("t.zip", good.substr(0, len));
    auto r = ListZip(root_ + "/t.zip");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorrupt);
    }
  }
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1103515245u + 12345u;
      bad[(seed >> 8) % bad.size()] = static_cast<char>(seed >> 24);
    }
    Write("m.zip", bad);
    auto r = ListZip(root_ + "/m.zip");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorrupt);
    }
  }
}

TEST(DoctorAnalyzeTest, RejectsBadFacts) {
  EXPECT_EQ(AnalyzeJson("not json").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(AnalyzeJson("{\"sys_path\": 3}").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace lazypath::doctor
