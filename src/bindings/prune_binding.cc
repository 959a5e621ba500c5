// lazypath/prune.h: shrinking a store to what retention rules keep.
#include "bindings/binding.h"
#include "lazypath/prune.h"

namespace lazypath::binding {

void RegisterPrune(nb::module_& m) {
  Record<PruneReport>(m, "PruneReport",
                      "What a prune kept, condemned and deleted (with "
                      "dry_run: would condemn and delete).")
      .Member("dry_run", &PruneReport::dry_run)
      .Member("trees", &PruneReport::trees)
      .Member("trees_kept", &PruneReport::trees_kept)
      .Member("trees_deleted", &PruneReport::trees_deleted)
      .Member("trees_condemned", &PruneReport::trees_condemned)
      .Member("packs", &PruneReport::packs)
      .Member("packs_kept", &PruneReport::packs_kept)
      .Member("packs_deleted", &PruneReport::packs_deleted)
      .Member("packs_repacked", &PruneReport::packs_repacked)
      .Member("bytes_before", &PruneReport::bytes_before)
      .Member("bytes_after", &PruneReport::bytes_after)
      .Field(
          "bytes_reclaimed",
          [](const PruneReport& r) { return r.bytes_before - r.bytes_after; })
      .Member("locations_rewritten", &PruneReport::locations_rewritten)
      .Member("objects_withdrawn", &PruneReport::objects_withdrawn)
      .Member("requests", &PruneReport::requests)
      .Member("deleted", &PruneReport::deleted)
      .Member("condemned", &PruneReport::condemned)
      .Member("rewritten", &PruneReport::rewritten)
      .Member("restored", &PruneReport::restored)
      .Done();

  m.def(
      "prune",
      [](const FsPath& store, int keep_last, int64_t keep_within, int64_t grace,
         bool dry_run, int64_t lock_timeout, const std::string& actor,
         nb::object progress) {
        PruneOptions o;
        o.keep_last = keep_last;
        o.keep_within = keep_within;
        o.grace = grace;
        o.dry_run = dry_run;
        o.lock_timeout = lock_timeout;
        o.actor = actor;
        o.progress = WrapProgress(std::move(progress));
        return RunCore([&]() -> Result<PruneReport> {
          LP_ASSIGN_OR_RETURN(auto s, OpenStore(store));
          return Prune(*s, o);
        });
      },
      "store"_a, "keep_last"_a = kDefaultKeepLast,
      "keep_within"_a = kDefaultKeepWithin, "grace"_a = kDefaultGrace,
      "dry_run"_a = false, "lock_timeout"_a = kDefaultLockTimeout,
      "actor"_a = "", "progress"_a = nb::none());
  m.def(
      "parse_duration",
      [](const std::string& text) { return Unwrap(ParseDuration(text)); },
      "text"_a, "Seconds in a duration: 90, 90s, 15m, 24h, 7d, 2w.");
}

}  // namespace lazypath::binding
