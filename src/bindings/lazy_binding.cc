// lazypath/lazy.h: a tree activated lazily, one directory at a time.
#include <nanobind/stl/unique_ptr.h>

#include "bindings/binding.h"
#include "lazypath/lazy.h"

namespace lazypath::binding {

void RegisterLazy(nb::module_& m) {
  Record<PrefetchStats>(m, "PrefetchStats",
                        "What a profile prefetch fetched and materialised.")
      .Member("profile", &PrefetchStats::profile)
      .Member("profile_dirs", &PrefetchStats::profile_dirs)
      .Member("dirs", &PrefetchStats::dirs)
      .Member("blobs", &PrefetchStats::blobs)
      .Member("bytes", &PrefetchStats::bytes)
      .Member("requests", &PrefetchStats::requests)
      .Done();

  nb::class_<LazyTree>(m, "LazyTree")
      .def_static(
          "open",
          [](const FsPath& store, const std::string& ref,
             const FsPath& cache_dir, int threads, bool lease,
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
      .def_prop_ro("root", [](const LazyTree& t) { return FsPath{t.root()}; })
      .def_prop_ro("complete", &LazyTree::complete)
      .def("take_lease_fd", &LazyTree::TakeLeaseFd)
      .def("is_directory", &LazyTree::IsDirectory)
      .def("materialize_dir",
           [](LazyTree& t, const std::string& rel) {
             return RunCore([&] { return t.MaterializeDir(rel); });
           })
      .def("materialize_path",
           [](LazyTree& t, const std::string& rel) {
             RunCoreStatus([&] { return t.MaterializePath(rel); });
           })
      .def("materialized_dirs", &LazyTree::MaterializedDirs)
      .def("prefetch",
           [](LazyTree& t) { return RunCore([&] { return t.Prefetch(); }); })
      .def("snapshot", &LazyTree::Snapshot,
           "What this activation did so far, as an ActiveTree (mode 'lazy').");
}

}  // namespace lazypath::binding
