// lazypath/profile.h: import profiles in a store.
#include "bindings/binding.h"
#include "lazypath/profile.h"

namespace lazypath::binding {

void RegisterProfile(nb::module_& m) {
  Record<Profile>(m, "Profile",
                  "The directories of tree `digest` a program needed at "
                  "startup, in order (\"\" is the root).")
      .Field("digest", [](const Profile& p) { return p.tree.ToString(); })
      .Member("dirs", &Profile::dirs)
      .Done();

  m.def(
      "profile_key",
      [](const std::string& digest) {
        return ProfileKey(Unwrap(Hash::Parse(digest)));
      },
      "digest"_a, "The store key of tree `digest`'s profile.");
  m.def(
      "write_profile",
      [](const FsPath& store, const std::string& digest,
         const std::vector<std::string>& dirs) {
        RunCoreStatus([&]() -> Status {
          Profile p;
          LP_ASSIGN_OR_RETURN(p.tree, Hash::Parse(digest));
          p.dirs = dirs;
          LP_ASSIGN_OR_RETURN(auto s, OpenStore(store));
          return WriteProfile(*s, p);
        });
      },
      "store"_a, "digest"_a, "dirs"_a);
  m.def(
      "read_profile",
      [](const FsPath& store, const std::string& ref) {
        return RunCore([&]() -> Result<std::optional<Profile>> {
          LP_ASSIGN_OR_RETURN(auto s, OpenStore(store));
          LP_ASSIGN_OR_RETURN(Hash tree, ResolveRef(*s, ref));
          return ReadProfile(*s, tree);
        });
      },
      "store"_a, "ref"_a);
}

}  // namespace lazypath::binding
