#include "lazypath/profile.h"

#include <nlohmann/json.hpp>
#include <set>

#include "lazypath/tree.h"

namespace lazypath {

using json = nlohmann::json;

namespace {

constexpr std::string_view kFormat = "lazypath-profile/1";

}  // namespace

Status ValidateProfile(const Profile& profile) {
  std::string what = "profile of " + profile.tree.ToString();
  if (profile.dirs.size() > kMaxProfileDirs) {
    return Status::Corrupt(what + ": more than " +
                           std::to_string(kMaxProfileDirs) + " directories");
  }
  std::set<std::string_view> seen;
  for (const auto& d : profile.dirs) {
    if (!d.empty()) {
      Status s = ValidateTreePath(d);
      if (!s.ok()) {
        return Status::Corrupt(what + ": bad directory: " + s.message());
      }
    }
    if (!seen.insert(d).second) {
      return Status::Corrupt(what + ": directory '" + d + "' listed twice");
    }
  }
  return Status::OK();
}

std::string SerializeProfile(const Profile& profile) {
  json doc = {{"format", kFormat},
              {"tree", profile.tree.ToString()},
              {"dirs", profile.dirs}};
  return doc.dump() + "\n";
}

Result<Profile> ParseProfile(std::string_view bytes, std::string_view what) {
  std::string w(what);
  if (bytes.size() > kMaxProfileBytes) {
    return Status::Corrupt(w + ": profile larger than 16 MiB");
  }
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Corrupt(w + ": profile is not valid JSON");
  }
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(w + ": profile " + std::string(why));
  };
  auto fmt = doc.find("format");
  if (fmt == doc.end() || !fmt->is_string() || *fmt != kFormat) {
    return bad("has an unknown format (want lazypath-profile/1)");
  }
  auto tree = doc.find("tree");
  auto dirs = doc.find("dirs");
  if (tree == doc.end() || !tree->is_string() || dirs == doc.end() ||
      !dirs->is_array()) {
    return bad("lacks tree or dirs");
  }
  Profile p;
  auto th = Hash::Parse(tree->get<std::string>());
  if (!th.ok()) return bad("has a bad tree digest");
  p.tree = *th;
  if (dirs->size() > kMaxProfileDirs) {
    return bad("lists more than " + std::to_string(kMaxProfileDirs) +
               " directories");
  }
  for (const auto& d : *dirs) {
    if (!d.is_string()) return bad("has a directory that is not a string");
    p.dirs.push_back(d.get<std::string>());
  }
  Status s = ValidateProfile(p);
  if (!s.ok()) return Status::Corrupt(w + ": " + s.message());
  return p;
}

std::string ProfileKey(const Hash& tree) {
  return std::string(kProfilePrefix) + tree.hex();
}

Status WriteProfile(Store& store, const Profile& profile) {
  Status s = ValidateProfile(profile);
  if (!s.ok()) return Status::InvalidArgument(s.message());
  std::string bytes = SerializeProfile(profile);
  if (bytes.size() > kMaxProfileBytes) {
    return Status::InvalidArgument("profile of " + profile.tree.ToString() +
                                   " is larger than 16 MiB");
  }
  return store.Put(ProfileKey(profile.tree), bytes);
}

Result<std::optional<Profile>> ReadProfile(Store& store, const Hash& tree) {
  std::string key = ProfileKey(tree);
  auto bytes = store.Get(key, kMaxProfileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound)
      return std::optional<Profile>();
    return bytes.status();
  }
  LP_ASSIGN_OR_RETURN(Profile p, ParseProfile(*bytes, store.url() + "/" + key));
  if (p.tree != tree) {
    return Status::Corrupt(store.url() + "/" + key +
                           ": profile describes another tree (" +
                           p.tree.ToString() + ")");
  }
  return std::optional<Profile>(std::move(p));
}

}  // namespace lazypath
