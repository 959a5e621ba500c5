// lazypath/inspect.h: reading a store without activating (ls, show, cat,
// diff) and moving refs (tag, rollback, delete, and their log).
#include <nanobind/stl/pair.h>

#include "bindings/binding.h"
#include "lazypath/inspect.h"

namespace lazypath::binding {

namespace {

// show's answer: a tree and its entries.
struct TreeListing {
  Hash tree;
  Tree entries;
};

}  // namespace

void RegisterInspect(nb::module_& m) {
  Record<StoreListing>(m, "StoreListing",
                       "A store's refs ({name: digest}, by name) and trees.")
      .Field("refs",
             [](const StoreListing& l) {
               nb::dict d;
               for (const auto& [name, h] : l.refs)
                 d[name.c_str()] = h.ToString();
               return d;
             })
      .Field("trees", [](const StoreListing& l) { return DigestList(l.trees); })
      .Done();
  Record<TreeListing>(m, "TreeListing", "A tree's digest and its entries.")
      .Field("digest", [](const TreeListing& t) { return t.tree.ToString(); })
      .Field("entries",
             [](const TreeListing& t) { return t.entries.entries(); })
      .Done();
  Record<OpenedFile>(m, "OpenedFile",
                     "A file of a tree opened for reading: fd (the caller "
                     "owns it; -1 for an empty file), size, and the tree.")
      .Member("fd", &OpenedFile::fd)
      .Member("size", &OpenedFile::size)
      .Field("digest", [](const OpenedFile& f) { return f.tree.ToString(); })
      .Done();
  Record<RefDiff>(m, "DiffReport",
                  "What changed from tree from_digest to tree to_digest "
                  "(JSON keys \"from\" and \"to\"), and what a node holding "
                  "the first fetches to activate the second.")
      .Field(
          "from_digest", [](const RefDiff& r) { return r.from.ToString(); },
          "from")
      .Field(
          "to_digest", [](const RefDiff& r) { return r.to.ToString(); }, "to")
      .Field("changes", [](const RefDiff& r) { return r.diff.changes; })
      .Field("added", [](const RefDiff& r) { return r.diff.added; })
      .Field("removed", [](const RefDiff& r) { return r.diff.removed; })
      .Field("modified", [](const RefDiff& r) { return r.diff.modified; })
      .Field("blobs_new", [](const RefDiff& r) { return r.diff.blobs_new; })
      .Field("bytes_new", [](const RefDiff& r) { return r.diff.bytes_new; })
      .Done();

  Record<HistoryEntry>(m, "RefMove",
                       "One recorded move of a ref: seq, time (Unix seconds, "
                       "UTC), op (push, tag, rollback, delete), from_digest "
                       "and to_digest (JSON \"from\", \"to\"; None: absent), "
                       "actor, and whether the ref really moved (applied).")
      .Field("seq", [](const HistoryEntry& e) { return e.move.seq; })
      .Field("time", [](const HistoryEntry& e) { return e.move.time; })
      .Field("op",
             [](const HistoryEntry& e) {
               return std::string(RefOpName(e.move.op));
             })
      .Field(
          "from_digest",
          [](const HistoryEntry& e) { return OptionalDigest(e.move.from); },
          "from")
      .Field(
          "to_digest",
          [](const HistoryEntry& e) { return OptionalDigest(e.move.to); }, "to")
      .Field("actor", [](const HistoryEntry& e) { return e.move.actor; })
      .Member("applied", &HistoryEntry::applied)
      .Done();
  Record<RefChange>(m, "RefChange",
                    "A ref move a verb made: from_digest and to_digest (JSON "
                    "\"from\", \"to\"; None: absent), and whether it "
                    "moved (False: it already was so).")
      .Field(
          "from_digest",
          [](const RefChange& c) { return OptionalDigest(c.from); }, "from")
      .Field(
          "to_digest", [](const RefChange& c) { return OptionalDigest(c.to); },
          "to")
      .Member("moved", &RefChange::moved)
      .Done();

  m.def(
      "list_store",
      [](const FsPath& store) {
        return RunCore([&] { return ListStore(store); });
      },
      "store"_a);
  m.def(
      "show",
      [](const FsPath& store, const std::string& ref) {
        return RunCore([&]() -> Result<TreeListing> {
          LP_ASSIGN_OR_RETURN(auto shown, ShowTree(store, ref));
          return TreeListing{shown.first, std::move(shown.second)};
        });
      },
      "store"_a, "ref"_a);
  m.def(
      "cat",
      [](const FsPath& store, const std::string& ref, const std::string& path) {
        std::string data = RunCore([&] { return CatFile(store, ref, path); });
        return nb::bytes(data.data(), data.size());
      },
      "store"_a, "ref"_a, "path"_a);
  m.def(
      "open_file",
      [](const FsPath& store, const std::string& ref, const std::string& path,
         const FsPath& cache_dir) {
        return RunCore(
            [&] { return OpenFileInTree(store, ref, path, cache_dir); });
      },
      "store"_a, "ref"_a, "path"_a, "cache_dir"_a = "");
  m.def(
      "diff",
      [](const FsPath& store, const std::string& from_ref,
         const std::string& to_ref, const FsPath& dir,
         const std::vector<std::string>& exclude, const FsPath& cache_dir) {
        return RunCore([&]() -> Result<RefDiff> {
          if (dir.value.empty()) return DiffRefs(store, from_ref, to_ref);
          ScanOptions scan;
          scan.excludes = exclude;
          return DiffRefAgainstDir(store, from_ref, dir, scan, cache_dir);
        });
      },
      "store"_a, "from_ref"_a, "to_ref"_a = "", "dir"_a = "",
      "exclude"_a = std::vector<std::string>{}, "cache_dir"_a = "");
  m.def(
      "tag",
      [](const FsPath& store, const std::string& ref, const std::string& name,
         std::optional<std::string> expect, const std::string& actor) {
        return RunCore([&] { return TagTree(store, ref, name, expect, actor); })
            .ToString();
      },
      "store"_a, "ref"_a, "name"_a, "expect"_a = nb::none(), "actor"_a = "");
  m.def(
      "ref_log",
      [](const FsPath& store, const std::string& name) {
        return RunCore([&] { return RefLog(store, name); });
      },
      "store"_a, "name"_a);
  m.def(
      "rollback",
      [](const FsPath& store, const std::string& name,
         std::optional<std::string> to, uint64_t steps,
         std::optional<std::string> expect, const std::string& actor) {
        return RunCore(
            [&] { return RollbackRef(store, name, to, steps, expect, actor); });
      },
      "store"_a, "name"_a, "to"_a = nb::none(), "steps"_a = 0,
      "expect"_a = nb::none(), "actor"_a = "");
  m.def(
      "delete_ref",
      [](const FsPath& store, const std::string& name,
         std::optional<std::string> expect, const std::string& actor) {
        return RunCore([&] { return DeleteRef(store, name, expect, actor); });
      },
      "store"_a, "name"_a, "expect"_a = nb::none(), "actor"_a = "");
}

}  // namespace lazypath::binding
