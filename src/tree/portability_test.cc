#include "lazypath/portability.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace lazypath {
namespace {

TreeEntry File(const std::string& path) {
  TreeEntry e;
  e.path = path;
  e.blob = HashBytes(path);
  return e;
}

PortabilityOptions Options() {
  PortabilityOptions o;
  o.enabled = true;
  o.stdlib_names = {"json", "queue", "stat"};
  o.target_names = {"numpy", "requests"};
  return o;
}

TEST(PortabilityTest, CleanTreeHasNoProblems) {
  Tree t({File("app/__init__.py"), File("json_utils.py"), File("stat.py")});
  EXPECT_TRUE(CheckPortability(t, {}, Options()).empty());
}

TEST(PortabilityTest, CaseOnlyDifferencesFromStdlibAndTarget) {
  Tree t({File("Json.py"), File("NumPy/__init__.py"), File("NumPy/core.py"),
          File("Queue/x.py")});
  std::vector<std::string> got = CheckPortability(t, {}, Options());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0],
            "Json.py: top-level name 'Json' differs only in case from the "
            "standard-library module 'json'");
  EXPECT_EQ(got[1],
            "NumPy: top-level name 'NumPy' differs only in case from 'numpy' "
            "on the target's sys.path");
  EXPECT_NE(got[2].find("'Queue'"), std::string::npos);
}

TEST(PortabilityTest, LongNamesAndPaths) {
  std::string name(150, 'n');
  std::string deep;
  while (deep.size() < kPortablePathMax) deep += std::string(100, 'd') + "/";
  Tree t({File("pkg/" + name + ".py"), File(deep + "x.py")});
  std::vector<std::string> got = CheckPortability(t, {}, Options());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find("a path of"), std::string::npos);
  EXPECT_NE(got[0].find("PATH_MAX"), std::string::npos);
  EXPECT_NE(got[1].find("a name of 153 bytes (eCryptfs allows 143)"),
            std::string::npos);
}

TEST(PortabilityTest, FilesNotReadableByOthers) {
  Tree t({File("a.py"), File("b.py")});
  std::vector<std::string> got =
      CheckPortability(t, {S_IFREG | 0600, S_IFREG | 0644}, Options());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "a.py: not readable by others (mode 0600); the node cache makes "
            "it readable by every user of every node");
  EXPECT_EQ(PortabilityRefusal(got),
            "push --strict: " + got[0] +
                " (1 portability problem(s); nothing was uploaded)");
}

}  // namespace
}  // namespace lazypath
