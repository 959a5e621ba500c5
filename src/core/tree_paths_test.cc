#include "core/tree_paths.h"

#include <gtest/gtest.h>

namespace lazypath::tree_paths {
namespace {

TEST(TreePathsTest, CodeFiles) {
  for (const char* code :
       {"m.py", "m.pyc", "_ext.cpython-311-x86_64.so", "m.pyd"}) {
    EXPECT_TRUE(IsCode(code)) << code;
  }
  for (const char* data :
       {".py", "py", "m.pyi", "table.csv", "lib.so.1", "README"}) {
    EXPECT_FALSE(IsCode(data)) << data;
  }
}

TEST(TreePathsTest, ParentBaseChild) {
  EXPECT_EQ(Parent("a/b/c"), "a/b");
  EXPECT_EQ(Parent("a"), "");
  EXPECT_EQ(Base("a/b/c"), "c");
  EXPECT_EQ(Base("a"), "a");
  EXPECT_EQ(Child("a/b", "c"), "a/b/c");
  EXPECT_EQ(Child("", "c"), "c");
  EXPECT_EQ(Child(Parent("x/y"), Base("x/y")), "x/y");
}

}  // namespace
}  // namespace lazypath::tree_paths
