// lazypath/scan.h: scanning a directory into a tree, without pushing.
#include "bindings/binding.h"
#include "lazypath/scan.h"

namespace lazypath::binding {

void RegisterScan(nb::module_& m) {
  Record<ScanResult>(m, "ScanReport",
                     "The tree a push of a directory would make: its digest, "
                     "entries, and what the scan read.")
      .Field(
          "digest",
          [](const ScanResult& s) { return s.tree.digest().hash.ToString(); })
      .Field("entries", [](const ScanResult& s) { return s.tree.entries(); })
      .Field("files", [](const ScanResult& s) { return s.stats.files; })
      .Field("bytes", [](const ScanResult& s) { return s.stats.bytes; })
      .Field("files_hashed",
             [](const ScanResult& s) { return s.stats.files_hashed; })
      .Field("bytes_hashed",
             [](const ScanResult& s) { return s.stats.bytes_hashed; })
      .Done();

  m.def(
      "scan",
      [](const FsPath& dir, const std::vector<std::string>& excludes,
         bool default_excludes, bool gitignore) {
        ScanOptions o;
        o.excludes = excludes;
        o.default_excludes = default_excludes;
        o.gitignore = gitignore;
        return RunCore([&] { return ScanDirectory(dir, o); });
      },
      "dir"_a, "excludes"_a = std::vector<std::string>{},
      "default_excludes"_a = true, "gitignore"_a = true);
}

}  // namespace lazypath::binding
