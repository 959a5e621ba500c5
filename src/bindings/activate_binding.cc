// lazypath/activate.h: eager activation, and the result every activation
// (eager or lazy) reports.
#include "bindings/binding.h"
#include "lazypath/activate.h"

namespace lazypath::binding {

void RegisterActivate(nb::module_& m) {
  Record<ActivateResult> tree(m, "ActiveTree",
                              "An activated tree: its directory in the node "
                              "cache (path), its digest, and what activating "
                              "it cost.");
  tree.Field("path", [](const ActivateResult& r) { return FsPath{r.path}; })
      .Field("digest",
             [](const ActivateResult& r) { return r.tree.ToString(); })
      .Member("cached", &ActivateResult::cached)
      .Member("files", &ActivateResult::files)
      .Member("blobs_fetched", &ActivateResult::blobs_fetched)
      .Member("bytes_fetched", &ActivateResult::bytes_fetched)
      .Member("requests", &ActivateResult::requests)
      .Field("mode",
             [](const ActivateResult& r) {
               return r.mode == ActivationMode::kLazy ? "lazy" : "eager";
             })
      .Member("bytes_read", &ActivateResult::bytes_read)
      .Member("metadata_bytes", &ActivateResult::metadata_bytes)
      .Member("blobs_rechecked", &ActivateResult::blobs_rechecked)
      .Member("blobs_damaged", &ActivateResult::blobs_damaged);
  // The lease is not a field: whoever holds the activation takes it once
  // (-1 without one) and closes it to end the lease.
  tree.cls().def("_take_lease_fd", [](ActivateResult& r) {
    int fd = r.lease_fd;
    r.lease_fd = -1;
    return fd;
  });
  tree.Done();

  m.def(
      "activate",
      [](const FsPath& store, const std::string& ref, const FsPath& cache_dir,
         int threads, bool lease, nb::object progress) {
        ActivateOptions o;
        o.cache_dir = cache_dir;
        o.threads = threads;
        o.lease = lease;
        o.progress = WrapProgress(std::move(progress));
        return RunCore([&] { return Activate(store, ref, o); });
      },
      "store"_a, "ref"_a, "cache_dir"_a = "", "threads"_a = 8,
      "lease"_a = false, "progress"_a = nb::none());
}

}  // namespace lazypath::binding
