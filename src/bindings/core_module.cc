// lazypath._core: the one place the C++ core meets Python.
//
// Every function releases the GIL around core work. A non-OK Status becomes
// an exception from lazypath.errors chosen by its code; progress callbacks
// re-acquire the GIL, and an exception raised by one is reported as
// unraisable rather than unwinding through C++ threads.
#include <nanobind/nanobind.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <stdexcept>
#include <string_view>

#include "lazypath/activate.h"
#include "lazypath/inspect.h"
#include "lazypath/lazy.h"
#include "lazypath/node_cache.h"
#include "lazypath/profile.h"
#include "lazypath/push.h"
#include "lazypath/scan.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace lazypath {
namespace {

// Carries a Status out of a binding function to the translator below.
struct StatusError : std::runtime_error {
  explicit StatusError(const Status& s)
      : std::runtime_error(s.message()),
        code(s.code()),
        size(s.message().size()) {}
  Code code;
  size_t size;  // what() may hold NUL bytes
};

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

// Runs core work `f` without the GIL; returns its value, or throws its Status
// (turned into a lazypath.errors exception) once the GIL is held again.
template <typename F>
auto RunCore(F&& f) {
  auto r = [&] {
    nb::gil_scoped_release nogil;
    return f();
  }();
  return Unwrap(std::move(r));
}

ProgressFn WrapProgress(nb::object cb) {
  if (cb.is_none()) return {};
  auto shared = std::make_shared<nb::object>(std::move(cb));
  return [shared](const std::string& phase, uint64_t done, uint64_t total,
                  const std::string& unit) {
    nb::gil_scoped_acquire gil;
    try {
      (*shared)(phase, done, total, unit);
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("lazypath progress callback");
    }
  };
}

nb::dict PushDict(const PushResult& r) {
  nb::dict d;
  d["digest"] = r.tree.hash.ToString();
  d["tree_size"] = r.tree.size;
  d["files"] = r.scan.files;
  d["bytes"] = r.scan.bytes;
  d["files_hashed"] = r.scan.files_hashed;
  d["bytes_hashed"] = r.scan.bytes_hashed;
  d["blobs_total"] = r.blobs_total;
  d["blobs_uploaded"] = r.blobs_uploaded;
  d["packs_uploaded"] = r.packs_uploaded;
  d["bytes_uploaded"] = r.bytes_uploaded;
  d["tree_existed"] = r.tree_existed;
  d["bytes_read"] = r.bytes_read;
  d["requests"] = r.requests;
  d["store_indexes"] = r.store_indexes;
  d["indexes_fetched"] = r.indexes_fetched;
  nb::dict p;
  p["source"] =
      r.profile_source ? nb::cast(r.profile_source->ToString()) : nb::none();
  p["dirs"] = r.profile_dirs;
  p["blobs_first"] = r.profile_blobs;
  p["carried"] = r.profile_carried;
  p["warning"] = r.profile_warning;
  d["profile"] = p;
  return d;
}

nb::dict EntryDict(const TreeEntry& e) {
  nb::dict d;
  d["path"] = e.path;
  d["kind"] = e.kind == EntryKind::kFile         ? "file"
              : e.kind == EntryKind::kExecutable ? "executable"
                                                 : "symlink";
  d["size"] = e.blob.size;
  d["digest"] = e.blob.hash.ToString();
  if (e.kind == EntryKind::kSymlink) d["target"] = e.target;
  return d;
}

}  // namespace
}  // namespace lazypath

NB_MODULE(_core, m) {
  using namespace lazypath;
  m.doc() = "lazypath's C++ core (private: use the lazypath package)";

  nb::module_ errors = nb::module_::import_("lazypath.errors");
  static nb::object not_found = errors.attr("NotFoundError");
  static nb::object invalid = errors.attr("InvalidInputError");
  static nb::object corrupt = errors.attr("CorruptError");
  static nb::object io = errors.attr("StorageError");
  static nb::object unsupported = errors.attr("UnsupportedError");
  static nb::object unavailable = errors.attr("UnavailableError");
  static nb::object conflict = errors.attr("ConflictError");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      nb::handle cls;
      switch (e.code) {
        case Code::kNotFound:
          cls = not_found;
          break;
        case Code::kInvalidArgument:
          cls = invalid;
          break;
        case Code::kCorrupt:
          cls = corrupt;
          break;
        case Code::kUnsupported:
          cls = unsupported;
          break;
        case Code::kUnavailable:
          cls = unavailable;
          break;
        case Code::kConflict:
          cls = conflict;
          break;
        default:
          cls = io;
          break;
      }
      // One line, whatever the message names: control bytes (a newline or
      // NUL in a path) are escaped, invalid UTF-8 is backslash-escaped.
      std::string msg;
      for (unsigned char c : std::string_view(e.what(), e.size)) {
        if (c < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          msg += "\\x";
          msg += kHex[c >> 4];
          msg += kHex[c & 0xf];
        } else {
          msg += static_cast<char>(c);
        }
      }
      PyObject* text = PyUnicode_DecodeUTF8(
          msg.data(), static_cast<Py_ssize_t>(msg.size()), "backslashreplace");
      PyErr_SetObject(cls.ptr(), text);
      Py_XDECREF(text);
    }
  });

  m.def("default_cache_dir", &NodeCache::DefaultDir);

  m.def(
      "push",
      [](const std::string& dir, const std::string& store,
         const std::string& tag, const std::vector<std::string>& excludes,
         bool default_excludes, bool gitignore, const std::string& cache_dir,
         int level, int threads, nb::object progress,
         const std::string& profile_from, bool use_profile) {
        PushOptions o;
        o.tag = tag;
        o.profile_from = profile_from;
        o.use_profile = use_profile;
        o.scan.excludes = excludes;
        o.scan.default_excludes = default_excludes;
        o.scan.gitignore = gitignore;
        o.scan.threads = threads;
        o.cache_dir = cache_dir;
        o.level = level;
        o.progress = WrapProgress(std::move(progress));
        return PushDict(RunCore([&] { return Push(dir, store, o); }));
      },
      "dir"_a, "store"_a, "tag"_a = "",
      "excludes"_a = std::vector<std::string>{}, "default_excludes"_a = true,
      "gitignore"_a = true, "cache_dir"_a = "", "level"_a = 3, "threads"_a = 0,
      "progress"_a = nb::none(), "profile_from"_a = "", "use_profile"_a = true);

  m.def(
      "write_profile",
      [](const std::string& store, const std::string& digest,
         const std::vector<std::string>& dirs) {
        RunCore([&]() -> Result<bool> {
          Profile p;
          LP_ASSIGN_OR_RETURN(p.tree, Hash::Parse(digest));
          p.dirs = dirs;
          LP_ASSIGN_OR_RETURN(auto s, OpenStore(store));
          LP_RETURN_IF_ERROR(WriteProfile(*s, p));
          return true;
        });
      },
      "store"_a, "digest"_a, "dirs"_a);
  m.def(
      "read_profile",
      [](const std::string& store, const std::string& ref) -> nb::object {
        auto p = RunCore([&]() -> Result<std::optional<Profile>> {
          LP_ASSIGN_OR_RETURN(auto s, OpenStore(store));
          LP_ASSIGN_OR_RETURN(Hash tree, ResolveRef(*s, ref));
          return ReadProfile(*s, tree);
        });
        if (!p) return nb::none();
        nb::dict d;
        d["digest"] = p->tree.ToString();
        d["dirs"] = p->dirs;
        return d;
      },
      "store"_a, "ref"_a);

  m.def(
      "activate",
      [](const std::string& store, const std::string& ref,
         const std::string& cache_dir, int threads, bool lease,
         nb::object progress) {
        ActivateOptions o;
        o.cache_dir = cache_dir;
        o.threads = threads;
        o.lease = lease;
        o.progress = WrapProgress(std::move(progress));
        ActivateResult a = RunCore([&] { return Activate(store, ref, o); });
        nb::dict d;
        d["digest"] = a.tree.ToString();
        d["path"] = a.path;
        d["cached"] = a.cached;
        d["files"] = a.files;
        d["blobs_fetched"] = a.blobs_fetched;
        d["bytes_fetched"] = a.bytes_fetched;
        d["bytes_read"] = a.bytes_read;
        d["requests"] = a.requests;
        d["lease_fd"] = a.lease_fd;
        return d;
      },
      "store"_a, "ref"_a, "cache_dir"_a = "", "threads"_a = 8,
      "lease"_a = false, "progress"_a = nb::none());

  m.def("cache_usage", [](const std::string& cache_dir) {
    CacheUsage u = RunCore([&]() -> Result<CacheUsage> {
      LP_ASSIGN_OR_RETURN(NodeCache c, NodeCache::Open(cache_dir));
      return c.Usage();
    });
    nb::list trees;
    for (const auto& t : u.trees) {
      nb::dict d;
      d["digest"] = t.tree.ToString();
      d["lazy"] = t.lazy;
      d["path"] = t.path;
      d["files"] = t.files;
      d["bytes"] = t.bytes;
      d["last_used_ns"] = t.last_used_ns;
      d["in_use"] = t.in_use;
      trees.append(d);
    }
    nb::dict d;
    d["trees"] = trees;
    d["blobs"] = u.blobs;
    d["blob_bytes"] = u.blob_bytes;
    d["unreferenced_blobs"] = u.unreferenced_blobs;
    d["unreferenced_bytes"] = u.unreferenced_bytes;
    d["tmp_entries"] = u.tmp_entries;
    return d;
  });

  m.def(
      "cache_gc",
      [](const std::string& cache_dir, uint64_t budget, bool wait) {
        GcReport g = RunCore([&]() -> Result<GcReport> {
          LP_ASSIGN_OR_RETURN(NodeCache c, NodeCache::Open(cache_dir));
          return c.Gc(budget, wait);
        });
        nb::list evicted, in_use;
        for (const auto& h : g.trees_evicted) evicted.append(h.ToString());
        for (const auto& h : g.trees_in_use) in_use.append(h.ToString());
        nb::dict d;
        d["trees_evicted"] = evicted;
        d["trees_in_use"] = in_use;
        d["blobs_removed"] = g.blobs_removed;
        d["bytes_freed"] = g.bytes_freed;
        d["tmp_removed"] = g.tmp_removed;
        d["blob_bytes_after"] = g.blob_bytes_after;
        return d;
      },
      "cache_dir"_a, "budget"_a, "wait"_a = true);

  m.def(
      "cache_evict",
      [](const std::string& cache_dir, const std::string& digest) {
        EvictReport g = RunCore([&]() -> Result<EvictReport> {
          LP_ASSIGN_OR_RETURN(Hash h, Hash::Parse(digest));
          LP_ASSIGN_OR_RETURN(NodeCache c, NodeCache::Open(cache_dir));
          return c.Evict(h);
        });
        nb::dict d;
        d["digest"] = digest;
        d["evicted"] = g.evicted;
        d["in_use"] = g.in_use;
        d["blobs_removed"] = g.blobs_removed;
        d["bytes_freed"] = g.bytes_freed;
        return d;
      },
      "cache_dir"_a, "digest"_a);

  m.def(
      "cache_verify",
      [](const std::string& cache_dir, bool repair) {
        VerifyReport v = RunCore([&]() -> Result<VerifyReport> {
          LP_ASSIGN_OR_RETURN(NodeCache c, NodeCache::Open(cache_dir));
          return c.Verify(repair);
        });
        nb::list bad, invalidated, in_use;
        for (const auto& h : v.bad_blobs) bad.append(h.ToString());
        for (const auto& h : v.trees_invalidated)
          invalidated.append(h.ToString());
        for (const auto& h : v.trees_in_use) in_use.append(h.ToString());
        nb::dict d;
        d["blobs_checked"] = v.blobs_checked;
        d["bytes_checked"] = v.bytes_checked;
        d["bad_blobs"] = bad;
        d["trees_invalidated"] = invalidated;
        d["trees_in_use"] = in_use;
        d["repaired"] = v.repaired;
        return d;
      },
      "cache_dir"_a, "repair"_a = true);

  nb::class_<LazyTree>(m, "LazyTree")
      .def_static(
          "open",
          [](const std::string& store, const std::string& ref,
             const std::string& cache_dir, int threads, bool lease,
             const std::vector<std::string>& on_demand) {
            LazyOptions o;
            o.cache_dir = cache_dir;
            o.threads = threads;
            o.lease = lease;
            o.on_demand = on_demand;
            return RunCore([&] { return LazyTree::Open(store, ref, o); });
          },
          "store"_a, "ref"_a, "cache_dir"_a = "", "threads"_a = 8,
          "lease"_a = false, "on_demand"_a = std::vector<std::string>{})
      .def_prop_ro("digest",
                   [](const LazyTree& t) { return t.tree().ToString(); })
      .def_prop_ro("root", &LazyTree::root)
      .def_prop_ro("complete", &LazyTree::complete)
      .def("take_lease_fd", &LazyTree::TakeLeaseFd)
      .def("is_directory", &LazyTree::IsDirectory)
      .def("materialize_dir",
           [](LazyTree& t, const std::string& rel) {
             return RunCore([&] { return t.MaterializeDir(rel); });
           })
      .def("materialize_path",
           [](LazyTree& t, const std::string& rel) {
             RunCore([&]() -> Result<bool> {
               LP_RETURN_IF_ERROR(t.MaterializePath(rel));
               return true;
             });
           })
      .def("materialized_dirs", &LazyTree::MaterializedDirs)
      .def("prefetch",
           [](LazyTree& t) {
             PrefetchStats st = RunCore([&] { return t.Prefetch(); });
             nb::dict d;
             d["profile"] = st.profile;
             d["profile_dirs"] = st.profile_dirs;
             d["dirs"] = st.dirs;
             d["blobs"] = st.blobs;
             d["bytes"] = st.bytes;
             d["requests"] = st.requests;
             return d;
           })
      .def("stats", [](const LazyTree& t) {
        nb::dict d;
        d["blobs_fetched"] = t.blobs_fetched();
        d["bytes_fetched"] = t.bytes_fetched();
        d["dirs_materialized"] = t.dirs_materialized();
        d["requests"] = t.requests();
        d["bytes_read"] = t.bytes_read();
        return d;
      });

  m.def("cache_budget_from_env",
        [] { return Unwrap(NodeCache::BudgetFromEnv()); });

  m.def(
      "scan",
      [](const std::string& dir, const std::vector<std::string>& excludes,
         bool default_excludes, bool gitignore) {
        ScanOptions o;
        o.excludes = excludes;
        o.default_excludes = default_excludes;
        o.gitignore = gitignore;
        ScanResult s = RunCore([&] { return ScanDirectory(dir, o); });
        std::string bytes = s.tree.Serialize();
        nb::list entries;
        for (const auto& e : s.tree.entries()) entries.append(EntryDict(e));
        return nb::make_tuple(HashBytes(bytes).hash.ToString(),
                              nb::bytes(bytes.data(), bytes.size()), entries);
      },
      "dir"_a, "excludes"_a = std::vector<std::string>{},
      "default_excludes"_a = true, "gitignore"_a = true);

  m.def("list_store", [](const std::string& store) {
    StoreListing l = RunCore([&] { return ListStore(store); });
    nb::list refs, trees;
    for (const auto& [name, h] : l.refs) {
      refs.append(nb::make_tuple(name, h.ToString()));
    }
    for (const auto& h : l.trees) trees.append(h.ToString());
    return nb::make_tuple(refs, trees);
  });

  m.def("show", [](const std::string& store, const std::string& ref) {
    auto [h, t] = RunCore([&] { return ShowTree(store, ref); });
    nb::list entries;
    for (const auto& e : t.entries()) entries.append(EntryDict(e));
    return nb::make_tuple(h.ToString(), entries);
  });

  m.def("cat", [](const std::string& store, const std::string& ref,
                  const std::string& path) {
    std::string data = RunCore([&] { return CatFile(store, ref, path); });
    return nb::bytes(data.data(), data.size());
  });

  m.def(
      "diff",
      [](const std::string& store, const std::string& from_ref,
         const std::string& to_ref, const std::string& dir,
         const std::vector<std::string>& exclude,
         const std::string& cache_dir) {
        RefDiff r = RunCore([&]() -> Result<RefDiff> {
          if (dir.empty()) return DiffRefs(store, from_ref, to_ref);
          ScanOptions scan;
          scan.excludes = exclude;
          return DiffRefAgainstDir(store, from_ref, dir, scan, cache_dir);
        });
        nb::list changes;
        for (const auto& c : r.diff.changes) {
          nb::dict d;
          d["path"] = c.path;
          d["change"] = std::string(1, static_cast<char>(c.kind));
          d["before"] =
              c.before ? nb::object(EntryDict(*c.before)) : nb::none();
          d["after"] = c.after ? nb::object(EntryDict(*c.after)) : nb::none();
          changes.append(d);
        }
        nb::dict d;
        d["from"] = r.from.ToString();
        d["to"] = r.to.ToString();
        d["changes"] = changes;
        d["added"] = r.diff.added;
        d["removed"] = r.diff.removed;
        d["modified"] = r.diff.modified;
        d["blobs_new"] = r.diff.blobs_new;
        d["bytes_new"] = r.diff.bytes_new;
        return d;
      },
      "store"_a, "from_ref"_a, "to_ref"_a = "", "dir"_a = "",
      "exclude"_a = std::vector<std::string>{}, "cache_dir"_a = "");

  m.def("open_file", [](const std::string& store, const std::string& ref,
                        const std::string& path, const std::string& cache_dir) {
    OpenedFile f =
        RunCore([&] { return OpenFileInTree(store, ref, path, cache_dir); });
    return nb::make_tuple(f.fd, f.size, f.tree.ToString());
  });

  m.def(
      "tag",
      [](const std::string& store, const std::string& ref,
         const std::string& name, std::optional<std::string> expect) {
        return RunCore([&] { return TagTree(store, ref, name, expect); })
            .ToString();
      },
      nb::arg("store"), nb::arg("ref"), nb::arg("name"),
      nb::arg("expect") = nb::none());
}
