// lazypath/node_cache.h: the node cache's usage, gc, eviction and verification.
#include <utility>

#include "bindings/binding.h"
#include "lazypath/node_cache.h"

namespace lazypath::binding {

namespace {

// What one eviction did (NodeCache::Evict), and of which tree.
struct Eviction {
  Hash tree;
  EvictReport report;
};

// Runs `f(cache)` on the cache at `dir`, or returns why it can't be opened.
template <typename F>
auto WithCache(const std::string& dir, F f)
    -> decltype(f(std::declval<NodeCache&>())) {
  auto cache = NodeCache::Open(dir);
  if (!cache.ok()) return cache.status();
  return f(*cache);
}

}  // namespace

void RegisterCache(nb::module_& m) {
  m.def("default_cache_dir", [] { return FsPath{NodeCache::DefaultDir()}; });
  m.def("cache_budget_from_env",
        [] { return Unwrap(NodeCache::BudgetFromEnv()); });

  Record<CachedTree>(m, "CachedTree", "One tree in the node cache.")
      .Field("digest", [](const CachedTree& t) { return t.tree.ToString(); })
      .Member("lazy", &CachedTree::lazy)
      .Field("path", [](const CachedTree& t) { return FsPath{t.path}; })
      .Member("files", &CachedTree::files)
      .Member("bytes", &CachedTree::bytes)
      .Member("last_used_ns", &CachedTree::last_used_ns)
      .Member("in_use", &CachedTree::in_use)
      .Done();
  Record<CacheUsage>(m, "CacheUsage",
                     "The node cache: trees (least recently used first), "
                     "blobs and their bytes, crash debris.")
      .Member("trees", &CacheUsage::trees)
      .Member("blobs", &CacheUsage::blobs)
      .Member("blob_bytes", &CacheUsage::blob_bytes)
      .Member("unreferenced_blobs", &CacheUsage::unreferenced_blobs)
      .Member("unreferenced_bytes", &CacheUsage::unreferenced_bytes)
      .Member("tmp_entries", &CacheUsage::tmp_entries)
      .Done();
  Record<GcReport>(m, "GcReport", "What a cache gc (or clear) removed.")
      .Field("trees_evicted",
             [](const GcReport& g) { return DigestList(g.trees_evicted); })
      .Field("trees_in_use",
             [](const GcReport& g) { return DigestList(g.trees_in_use); })
      .Member("blobs_removed", &GcReport::blobs_removed)
      .Member("bytes_freed", &GcReport::bytes_freed)
      .Member("tmp_removed", &GcReport::tmp_removed)
      .Member("blob_bytes_after", &GcReport::blob_bytes_after)
      .Done();
  Record<Eviction>(m, "EvictReport", "What evicting one tree did.")
      .Field("digest", [](const Eviction& e) { return e.tree.ToString(); })
      .Field("evicted", [](const Eviction& e) { return e.report.evicted; })
      .Field("in_use", [](const Eviction& e) { return e.report.in_use; })
      .Field("blobs_removed",
             [](const Eviction& e) { return e.report.blobs_removed; })
      .Field("bytes_freed",
             [](const Eviction& e) { return e.report.bytes_freed; })
      .Done();
  Record<VerifyReport>(m, "VerifyReport", "What cache verify found and did.")
      .Member("blobs_checked", &VerifyReport::blobs_checked)
      .Member("bytes_checked", &VerifyReport::bytes_checked)
      .Field("bad_blobs",
             [](const VerifyReport& v) { return DigestList(v.bad_blobs); })
      .Field(
          "trees_invalidated",
          [](const VerifyReport& v) { return DigestList(v.trees_invalidated); })
      .Field("trees_in_use",
             [](const VerifyReport& v) { return DigestList(v.trees_in_use); })
      .Member("repaired", &VerifyReport::repaired)
      .Done();

  m.def(
      "cache_usage",
      [](const FsPath& cache_dir) {
        return RunCore([&] {
          return WithCache(cache_dir, [](NodeCache& c) { return c.Usage(); });
        });
      },
      "cache_dir"_a = "");
  m.def(
      "cache_gc",
      [](const FsPath& cache_dir, uint64_t budget, bool wait) {
        return RunCore([&] {
          return WithCache(cache_dir,
                           [&](NodeCache& c) { return c.Gc(budget, wait); });
        });
      },
      "cache_dir"_a, "budget"_a, "wait"_a = true);
  m.def(
      "cache_evict",
      [](const FsPath& cache_dir, const std::string& digest) {
        Hash h = Unwrap(Hash::Parse(digest));
        Eviction e;
        e.tree = h;
        e.report = RunCore([&] {
          return WithCache(cache_dir, [&](NodeCache& c) { return c.Evict(h); });
        });
        return e;
      },
      "cache_dir"_a, "digest"_a);
  m.def(
      "cache_verify",
      [](const FsPath& cache_dir, bool repair) {
        return RunCore([&] {
          return WithCache(cache_dir,
                           [&](NodeCache& c) { return c.Verify(repair); });
        });
      },
      "cache_dir"_a, "repair"_a = true);
}

}  // namespace lazypath::binding
