// ScanDistributions / LinkDistributions: installed distributions as
// importlib.metadata sees them.
//
// importlib.metadata looks, in sys.path order and then in directory listing
// order, for children named "<name>[-…].dist-info" or ".egg-info" (case
// ignored); the lookup key is the part before the first '-', normalised.
// distribution(name) and version(name) return the first match. Top-level
// names come from top_level.txt, else from RECORD's first path components.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "doctor/analysis.h"
#include "doctor/names.h"
#include "util/fs.h"

namespace lazypath::doctor {
namespace {

constexpr uint64_t kMaxMetadata = 16u << 20;

// Name and Version from an RFC 822-style header block.
void ParseMetadata(const std::string& text, Distribution& d) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(
        pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of headers
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = Lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.pop_back();
    if (key == "name" && d.name.empty()) d.name = value;
    if (key == "version" && d.version.empty()) d.version = value;
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(
        pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

void AddTopLevel(std::vector<std::string>& names, std::string n) {
  if (!IsModuleName(n)) return;
  if (std::find(names.begin(), names.end(), n) == names.end())
    names.push_back(std::move(n));
}

std::vector<std::string> FromRecord(const std::string& record) {
  std::vector<std::string> names;
  for (std::string line : Lines(record)) {
    if (line.empty()) continue;
    std::string path;
    if (line[0] == '"') {
      size_t end = line.find('"', 1);
      path = line.substr(
          1, end == std::string::npos ? std::string::npos : end - 1);
    } else {
      path = line.substr(0, line.find(','));
    }
    size_t slash = path.find('/');
    if (slash != std::string::npos) {
      std::string first = path.substr(0, slash);
      std::string low = Lower(first);
      if (low == ".." || low == "__pycache__" || low.ends_with(".dist-info") ||
          low.ends_with(".data") || low.ends_with(".egg-info")) {
        continue;
      }
      AddTopLevel(names, first);
    } else if (path.ends_with(".py")) {
      AddTopLevel(names, path.substr(0, path.size() - 3));
    } else if (path.ends_with(".so") || path.ends_with(".pyd")) {
      AddTopLevel(names, path.substr(0, path.find('.')));
    }
  }
  return names;
}

}  // namespace

std::vector<Distribution> ScanDistributions(const EntryScan& scan, int entry) {
  std::vector<Distribution> out;
  if (scan.kind != EntryKind::kDirectory) return out;
  DIR* d = ::opendir(scan.path.c_str());
  if (d == nullptr) return out;
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) children.emplace_back(e->d_name);
  ::closedir(d);
  for (const std::string& child : children) {
    std::string low = Lower(child);
    bool dist_info = low.ends_with(".dist-info");
    if (!dist_info && !low.ends_with(".egg-info")) continue;
    Distribution dist;
    dist.kind = dist_info ? "dist-info" : "egg-info";
    dist.entry = entry;
    dist.path = JoinLikeImportlib(scan.path, child);
    std::string stem = low.substr(0, low.rfind('.'));
    dist.key = NormalizeDistName(stem.substr(0, stem.find('-')));
    struct stat st;
    bool is_dir = ::stat(dist.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    std::string meta_file = !is_dir     ? dist.path
                            : dist_info ? dist.path + "/METADATA"
                                        : dist.path + "/PKG-INFO";
    auto meta = fs::ReadFile(meta_file, kMaxMetadata);
    if (!meta.ok()) {
      dist.error = "no readable metadata: " + meta.status().message();
    } else {
      ParseMetadata(*meta, dist);
      if (dist.name.empty())
        dist.error = meta_file + ": no Name field";
      else if (dist.version.empty())
        dist.error = meta_file + ": no Version field";
    }
    if (dist.name.empty()) dist.name = child.substr(0, child.find('-'));
    if (is_dir) {
      auto top = fs::ReadFile(dist.path + "/top_level.txt", kMaxMetadata);
      if (top.ok()) {
        for (std::string line : Lines(*top)) {
          AddTopLevel(dist.top_level, line.substr(0, line.find('/')));
        }
      } else if (auto rec = fs::ReadFile(dist.path + "/RECORD", kMaxMetadata);
                 rec.ok()) {
        dist.top_level = FromRecord(*rec);
      }
    }
    out.push_back(std::move(dist));
  }
  return out;
}

void LinkDistributions(std::vector<Distribution>& dists,
                       std::vector<Module>& modules) {
  std::set<std::string> keys;
  for (Distribution& d : dists) {
    if (keys.insert(d.key).second) d.reported = true;
  }
  // (entry, top-level name) -> distribution; the first one listed wins.
  std::map<std::pair<int, std::string>, int> owner;
  for (size_t i = 0; i < dists.size(); ++i) {
    for (const std::string& n : dists[i].top_level) {
      owner.emplace(std::make_pair(dists[i].entry, n), static_cast<int>(i));
    }
  }
  for (Module& m : modules) {
    if (m.entry < 0) continue;
    auto it = owner.find({m.entry, m.name});
    if (it != owner.end()) m.dist = it->second;
  }
}

}  // namespace lazypath::doctor
