// Materialization: the one rule for what lazy activation puts in a directory
// when it materialises it. LazyTree::Build places exactly Plan(D), profile
// prefetch fetches exactly Blobs() of the profiled directories, and a push
// lays out the same Blobs() first; nothing else re-derives the rule.
//
// Given a tree, the directories listed on demand, and a directory D ("" for
// the root), Plan(D) holds:
//   - every file and symlink directly in D;
//   - for each subdirectory S whose name is a Python identifier and that has
//     code (.py, .pyc, .so, .pyd) beneath it: a placeholder holding only
//     S/__init__.py when the tree has one (S is materialised when imported);
//   - in full, every other subdirectory (one nothing can import, so it is
//     only reached by path and comes with its parent: dist-info, data/,
//     static-files/), recursively;
//   - except an on-demand directory, wherever it sits (directly in D or deep
//     inside a subdirectory brought in full): an empty placeholder, nothing
//     of it fetched, until it is itself materialised (then by the same rule:
//     in full, bar on-demand directories below it).
//
// The rule sees a tree only through its directories: the files directly in
// each, and the subdirectories of each. It is built from a flat listing
// today; a per-directory form can feed it the same way.
//
// Thread safety: immutable after construction (SetOnDemand included, which
// is meant to be called once, before sharing); const methods are
// thread-safe. REQUIRES: the Tree passed in outlives this object.
#ifndef LAZYPATH_CORE_MATERIALIZATION_H_
#define LAZYPATH_CORE_MATERIALIZATION_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/digest.h"
#include "lazypath/status.h"
#include "lazypath/tree.h"

namespace lazypath {

// What one directory's materialisation holds. Paths are relative to the
// directory being materialised.
struct DirectoryPlan {
  struct Dir {
    std::string path;
    bool placeholder = false;  // else complete: its content is in the plan
  };
  struct File {
    const TreeEntry* entry = nullptr;  // points into the Tree
    std::string path;
  };
  std::vector<Dir> dirs;  // parents before children
  // By directory (the materialised one, then each subdirectory brought in
  // full, depth first, in the tree's order), and within one by name. A push
  // lays out profiled blobs in this order.
  std::vector<File> files;
};

class Materialization {
 public:
  explicit Materialization(const Tree& tree);
  explicit Materialization(const Tree&&) = delete;  // would dangle

  // Sets the on-demand directories: trailing '/' ignored, names that are not
  // directories of the tree (or the root) skipped, so one list serves many
  // versions. InvalidArgument, naming the directory and `tree_name`, for an
  // importable one with code beneath it (its packages are lazy already);
  // then nothing is changed.
  Status SetOnDemand(const std::vector<std::string>& dirs,
                     std::string_view tree_name);
  bool IsOnDemand(std::string_view rel) const {
    return on_demand_.count(rel) > 0;
  }

  // Whether `rel` ("" for the root) is a directory of the tree.
  bool IsDirectory(std::string_view rel) const {
    return subdirs_.count(rel) > 0;
  }
  // Every directory of the tree, "" included, each listed before its
  // subdirectories.
  std::vector<std::string> Directories() const;
  // The names of the subdirectories directly in `rel` (empty if none, or if
  // `rel` is not a directory).
  const std::vector<std::string>& Subdirs(std::string_view rel) const;
  // `dirs` without those that are not directories of the tree, order kept.
  std::vector<std::string> InTree(const std::vector<std::string>& dirs) const;

  // The contents of `rel`'s materialisation (see above). Empty when `rel` is
  // not a directory of the tree.
  DirectoryPlan Plan(std::string_view rel) const;
  // The distinct non-empty blobs (symlinks have none) of Plan(d) for each d
  // of `dirs`, in that order; directories not in the tree are skipped.
  std::vector<Digest> Blobs(const std::vector<std::string>& dirs) const;

 private:
  // Directories brought in full by their parent: not importable packages.
  bool ComesWithParent(const std::string& rel) const;

  const Tree* tree_;
  // Directory -> indices of its own entries; directory -> subdirectories.
  std::map<std::string, std::vector<size_t>, std::less<>> files_;
  std::map<std::string, std::vector<std::string>, std::less<>> subdirs_;
  std::set<std::string, std::less<>> has_code_;  // dirs with code beneath
  std::set<std::string, std::less<>> on_demand_;
};

}  // namespace lazypath

#endif  // LAZYPATH_CORE_MATERIALIZATION_H_
