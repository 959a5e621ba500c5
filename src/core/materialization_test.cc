#include "core/materialization.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace lazypath {
namespace {

// A tree of files whose content is their path (so each blob is distinct).
Tree MakeTree(const std::vector<std::string>& paths) {
  std::vector<TreeEntry> entries;
  for (const auto& p : paths) {
    TreeEntry e;
    e.path = p;
    e.blob = HashBytes(p);
    entries.push_back(std::move(e));
  }
  return Tree(std::move(entries));
}

// The plan as "path" -> "file" | "dir" | "placeholder".
std::map<std::string, std::string> Shape(const DirectoryPlan& plan) {
  std::map<std::string, std::string> out;
  for (const auto& d : plan.dirs) {
    out[d.path] = d.placeholder ? "placeholder" : "dir";
  }
  for (const auto& f : plan.files) out[f.path] = "file";
  return out;
}

std::vector<std::string> BlobPaths(const Tree& tree,
                                   const std::vector<Digest>& blobs) {
  std::vector<std::string> out;
  for (const auto& b : blobs) {
    for (const auto& e : tree.entries()) {
      if (e.blob == b) out.push_back(e.path);
    }
  }
  return out;
}

const std::vector<std::string> kPaths = {
    "top.py",
    "pkg/__init__.py",
    "pkg/m.py",
    "pkg/data/big.bin",               // no code: comes with pkg
    "pkg/data/nested/more.txt",       //   and so does everything below it
    "pkg/static-files/s.js",          // not importable: comes with pkg
    "pkg/static-files/fonts/a.woff",  //   with what is below it
    "pkg/static-files/gen/tool.py",   //   code or not
    "pkg/sub/__init__.py",            // importable: prefilled placeholder
    "pkg/sub/x.py",
    "pkg/sub/deep/__init__.py",
    "pkg/nsp/y.py",  // namespace package: empty placeholder
    "foo-1.0.dist-info/METADATA",
};

TEST(MaterializationTest, DirectoryHoldsItsFilesAndWhatNothingCanImport) {
  Tree tree = MakeTree(kPaths);
  Materialization rule(tree);
  EXPECT_EQ(Shape(rule.Plan("pkg")), (std::map<std::string, std::string>{
                                         {"__init__.py", "file"},
                                         {"m.py", "file"},
                                         {"data", "dir"},
                                         {"data/big.bin", "file"},
                                         {"data/nested", "dir"},
                                         {"data/nested/more.txt", "file"},
                                         {"static-files", "dir"},
                                         {"static-files/s.js", "file"},
                                         {"static-files/fonts", "dir"},
                                         {"static-files/fonts/a.woff", "file"},
                                         {"static-files/gen", "dir"},
                                         {"static-files/gen/tool.py", "file"},
                                         {"sub", "placeholder"},
                                         {"sub/__init__.py", "file"},
                                         {"nsp", "placeholder"},
                                     }));
  EXPECT_EQ(Shape(rule.Plan("")), (std::map<std::string, std::string>{
                                      {"top.py", "file"},
                                      {"pkg", "placeholder"},
                                      {"pkg/__init__.py", "file"},
                                      {"foo-1.0.dist-info", "dir"},
                                      {"foo-1.0.dist-info/METADATA", "file"},
                                  }));
  // A nested package: its own files, its subpackage's __init__.py.
  EXPECT_EQ(Shape(rule.Plan("pkg/sub")), (std::map<std::string, std::string>{
                                             {"__init__.py", "file"},
                                             {"x.py", "file"},
                                             {"deep", "placeholder"},
                                             {"deep/__init__.py", "file"},
                                         }));
  EXPECT_TRUE(rule.Plan("no/such").files.empty());
}

TEST(MaterializationTest, PlanListsParentsBeforeChildren) {
  Tree tree = MakeTree(kPaths);
  Materialization rule(tree);
  DirectoryPlan plan = rule.Plan("pkg");
  for (size_t i = 0; i < plan.dirs.size(); ++i) {
    std::string_view p = plan.dirs[i].path;
    size_t slash = p.rfind('/');
    if (slash == std::string_view::npos) continue;
    auto parent = std::find_if(plan.dirs.begin(), plan.dirs.begin() + i,
                               [&](const DirectoryPlan::Dir& d) {
                                 return d.path == p.substr(0, slash);
                               });
    EXPECT_NE(parent, plan.dirs.begin() + i) << p;
  }
}

TEST(MaterializationTest, OnDemandDirectoriesStayOutWhereverTheySit) {
  Tree tree = MakeTree(kPaths);
  Materialization rule(tree);
  ASSERT_TRUE(rule.SetOnDemand({"pkg/data/", "static-files", "not/in/tree",
                                "foo-1.0.dist-info", "pkg/static-files/fonts"},
                               "t")
                  .ok());
  EXPECT_TRUE(rule.IsOnDemand("pkg/data"));
  EXPECT_FALSE(rule.IsOnDemand("not/in/tree"));
  auto shape = Shape(rule.Plan("pkg"));
  EXPECT_EQ(shape["data"], "placeholder");
  EXPECT_FALSE(shape.count("data/big.bin"));
  EXPECT_FALSE(shape.count("data/nested"));
  // Nested inside a directory that comes in full: a placeholder there.
  EXPECT_EQ(shape["static-files"], "dir");
  EXPECT_EQ(shape["static-files/fonts"], "placeholder");
  EXPECT_FALSE(shape.count("static-files/fonts/a.woff"));
  EXPECT_EQ(shape["static-files/gen/tool.py"], "file");
  EXPECT_EQ(Shape(rule.Plan(""))["foo-1.0.dist-info"], "placeholder");
  // Materialised itself, it comes in full.
  EXPECT_EQ(Shape(rule.Plan("pkg/data")), (std::map<std::string, std::string>{
                                              {"big.bin", "file"},
                                              {"nested", "dir"},
                                              {"nested/more.txt", "file"},
                                          }));
}

TEST(MaterializationTest, OnDemandRefusesImportableCode) {
  Tree tree = MakeTree(kPaths);
  Materialization rule(tree);
  ASSERT_TRUE(rule.SetOnDemand({"pkg/data"}, "t").ok());
  // gen is refused although static-files above it cannot be imported: the
  // test is the directory's own name and content.
  for (const char* code :
       {"pkg/sub", "pkg", "pkg/nsp", "pkg/static-files/gen"}) {
    Status s = rule.SetOnDemand({"pkg/data", code}, "sha256:abc");
    ASSERT_FALSE(s.ok()) << code;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("'" + std::string(code) + "'"),
              std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("sha256:abc"), std::string::npos);
    EXPECT_TRUE(rule.IsOnDemand("pkg/data"));  // unchanged
  }
}

TEST(MaterializationTest, BlobsAreThoseOfThePlansInOrder) {
  std::vector<std::string> paths = kPaths;
  paths.push_back("pkg/copy.txt");  // same content as another file below
  Tree tree = MakeTree(paths);
  std::vector<TreeEntry> entries = tree.entries();
  for (auto& e : entries) {
    if (e.path == "pkg/copy.txt") e.blob = HashBytes("top.py");
    if (e.path == "pkg/m.py") e.blob = HashBytes("");  // empty: no blob
  }
  tree = Tree(std::move(entries));
  Materialization rule(tree);
  ASSERT_TRUE(rule.SetOnDemand({"pkg/data"}, "t").ok());
  EXPECT_EQ(BlobPaths(tree, rule.Blobs({"", "pkg", "gone"})),
            (std::vector<std::string>{
                "pkg/copy.txt", "top.py",  // one blob, listed once
                "foo-1.0.dist-info/METADATA", "pkg/__init__.py",
                "pkg/static-files/s.js", "pkg/static-files/fonts/a.woff",
                "pkg/static-files/gen/tool.py", "pkg/sub/__init__.py"}));
}

TEST(MaterializationTest, DirectoriesAndSubdirs) {
  Tree tree = MakeTree(kPaths);
  Materialization rule(tree);
  std::vector<std::string> dirs = rule.Directories();
  EXPECT_EQ(dirs.front(), "");
  EXPECT_EQ(dirs.size(), 11u);
  EXPECT_TRUE(rule.IsDirectory("pkg/data/nested"));
  EXPECT_FALSE(rule.IsDirectory("pkg/m.py"));
  EXPECT_EQ(rule.Subdirs("pkg/sub"), (std::vector<std::string>{"deep"}));
  EXPECT_TRUE(rule.Subdirs("pkg/m.py").empty());
  EXPECT_EQ(rule.InTree({"gone", "pkg", "", "pkg/m.py"}),
            (std::vector<std::string>{"pkg", ""}));
}

}  // namespace
}  // namespace lazypath
