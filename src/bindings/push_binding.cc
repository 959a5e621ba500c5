// lazypath/push.h: pushing a directory.
#include "bindings/binding.h"
#include "lazypath/push.h"

namespace lazypath::binding {

void RegisterPush(nb::module_& m) {
  Record<PushProfileUse>(m, "PushProfile",
                         "How an import profile ordered a push: source (the "
                         "tree whose profile it was, or None), dirs, "
                         "blobs_first, carried, warning.")
      .Field("source",
             [](const PushProfileUse& p) { return OptionalDigest(p.source); })
      .Member("dirs", &PushProfileUse::dirs)
      .Member("blobs_first", &PushProfileUse::blobs_first)
      .Member("carried", &PushProfileUse::carried)
      .Member("warning", &PushProfileUse::warning)
      .Done();
  Record<PushResult>(m, "PushReport",
                     "What a push did. `digest` is the tree digest "
                     "(\"sha256:<hex>\").")
      .Field("digest",
             [](const PushResult& r) { return r.tree.hash.ToString(); })
      .Field("tree_size", [](const PushResult& r) { return r.tree.size; })
      .Field("files", [](const PushResult& r) { return r.scan.files; })
      .Field("bytes", [](const PushResult& r) { return r.scan.bytes; })
      .Field("files_hashed",
             [](const PushResult& r) { return r.scan.files_hashed; })
      .Field("bytes_hashed",
             [](const PushResult& r) { return r.scan.bytes_hashed; })
      .Member("blobs_total", &PushResult::blobs_total)
      .Member("blobs_uploaded", &PushResult::blobs_uploaded)
      .Member("packs_uploaded", &PushResult::packs_uploaded)
      .Member("bytes_uploaded", &PushResult::bytes_uploaded)
      .Member("format", &PushResult::format)
      .Member("tree_existed", &PushResult::tree_existed)
      .Member("bytes_read", &PushResult::bytes_read)
      .Member("requests", &PushResult::requests)
      .Member("store_indexes", &PushResult::store_indexes)
      .Member("indexes_fetched", &PushResult::indexes_fetched)
      .Member("profile", &PushResult::profile)
      .Member("warnings", &PushResult::warnings)
      .Done();

  m.def(
      "push",
      [](const FsPath& dir, const FsPath& store, const std::string& tag,
         const std::vector<std::string>& excludes, bool default_excludes,
         bool gitignore, const FsPath& cache_dir, int level, int threads,
         nb::object progress, const std::string& profile_from, bool use_profile,
         bool portability, const std::vector<std::string>& stdlib_names,
         const std::vector<std::string>& target_names, bool strict, int format,
         const std::string& actor) {
        PushOptions o;
        o.format = format;
        o.actor = actor;
        o.scan.portability.enabled = portability;
        o.scan.portability.stdlib_names = stdlib_names;
        o.scan.portability.target_names = target_names;
        o.strict = strict;
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
        return RunCore([&] { return Push(dir, store, o); });
      },
      "dir"_a, "store"_a, "tag"_a = "",
      "excludes"_a = std::vector<std::string>{}, "default_excludes"_a = true,
      "gitignore"_a = true, "cache_dir"_a = "", "level"_a = 1, "threads"_a = 0,
      "progress"_a = nb::none(), "profile_from"_a = "", "use_profile"_a = true,
      "portability"_a = false, "stdlib_names"_a = std::vector<std::string>{},
      "target_names"_a = std::vector<std::string>{}, "strict"_a = false,
      "format"_a = PushOptions{}.format, "actor"_a = "");
}

}  // namespace lazypath::binding
