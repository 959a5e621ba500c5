// AnalyzeJson: facts document in, report document out (doc/doctor.md).
#include "lazypath/doctor.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "doctor/analysis.h"

namespace lazypath::doctor {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <typename T>
T Get(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

Facts ParseFacts(const json& j) {
  Facts f;
  f.cwd = Get<std::string>(j, "cwd", "");
  f.sys_path = Get<std::vector<std::string>>(j, "sys_path", {});
  f.path_sources = Get<std::vector<std::string>>(j, "path_sources", {});
  const json flags = j.value("flags", json::object());
  f.safe_path = Get<bool>(flags, "safe_path", false);
  f.no_user_site = Get<bool>(flags, "no_user_site", false);
  f.isolated = Get<bool>(flags, "isolated", false);
  const json sfx = j.value("suffixes", json::object());
  f.suffixes.extension = Get<std::vector<std::string>>(sfx, "extension", {});
  f.suffixes.source = Get<std::vector<std::string>>(sfx, "source", {".py"});
  f.suffixes.bytecode =
      Get<std::vector<std::string>>(sfx, "bytecode", {".pyc"});
  for (auto& n : Get<std::vector<std::string>>(j, "builtin", {}))
    f.builtin.insert(n);
  for (auto& n : Get<std::vector<std::string>>(j, "frozen", {}))
    f.frozen.insert(n);
  for (auto& n : Get<std::vector<std::string>>(j, "stdlib", {}))
    f.stdlib.insert(n);
  f.stdlib_paths = Get<std::vector<std::string>>(j, "stdlib_paths", {});
  f.meta_path = Get<std::vector<std::string>>(j, "meta_path", {});
  f.path_hooks = Get<std::vector<std::string>>(j, "path_hooks", {});
  f.default_meta_path =
      Get<std::vector<std::string>>(j, "default_meta_path", {});
  f.default_path_hooks =
      Get<std::vector<std::string>>(j, "default_path_hooks", {});
  const json python = j.value("python", json::object());
  f.in_venv = Get<bool>(python, "in_venv", false);
  const json site = j.value("site", json::object());
  f.enable_user_site = Get<bool>(site, "enable_user_site", false);
  f.user_site = Get<std::string>(site, "user_site", "");
  f.site_packages = Get<std::vector<std::string>>(site, "site_packages", {});
  for (const json& p : site.value("pth", json::array())) {
    PthFile pf;
    pf.file = Get<std::string>(p, "file", "");
    for (const json& l : p.value("lines", json::array())) {
      pf.lines.push_back(
          {Get<int>(l, "line", 0), Get<std::string>(l, "kind", ""),
           Get<std::string>(l, "text", ""), Get<bool>(l, "added", false)});
      if (l.contains("editable") && l["editable"].is_object()) {
        const json& e = l["editable"];
        EditableFinder ef;
        ef.finder = Get<std::string>(e, "finder", "");
        ef.pth = pf.file + ":" + std::to_string(Get<int>(l, "line", 0));
        for (const json& kv : e.value("mapping", json::array())) {
          ef.mapping.emplace_back(kv.at(0).get<std::string>(),
                                  kv.at(1).get<std::string>());
        }
        f.editable.push_back(std::move(ef));
      }
    }
    f.pth_files.push_back(std::move(pf));
  }
  return f;
}

}  // namespace

Result<std::string> AnalyzeJson(std::string_view facts_json) {
  json j = json::parse(facts_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("doctor facts: not a JSON object");
  }
  Facts f;
  try {
    f = ParseFacts(j);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("doctor facts: ") + e.what());
  }

  std::vector<EntryScan> scans;
  scans.reserve(f.sys_path.size());
  for (const std::string& e : f.sys_path)
    scans.push_back(ScanEntry(e, f.cwd, f.suffixes));
  std::vector<Module> modules = Resolve(f, scans);
  std::vector<Distribution> dists;
  {
    std::set<std::string> done;
    for (size_t i = 0; i < scans.size(); ++i) {
      if (!done.insert(scans[i].path).second) continue;  // same directory twice
      auto d = ScanDistributions(scans[i], static_cast<int>(i));
      dists.insert(dists.end(), d.begin(), d.end());
    }
  }
  LinkDistributions(dists, modules);
  std::vector<Finding> findings = ComputeFindings(f, scans, modules, dists);

  ojson r;
  r["schema"] = 1;
  r["python"] = j.value("python", json::object());
  r["cwd"] = f.cwd;
  r["flags"] = j.value("flags", json::object());
  ojson entries = ojson::array();
  for (size_t i = 0; i < scans.size(); ++i) {
    const EntryScan& s = scans[i];
    ojson e;
    e["index"] = i;
    e["entry"] = s.entry;
    e["path"] = s.path;
    e["kind"] = EntryKindName(s.kind);
    e["source"] = i < f.path_sources.size() ? f.path_sources[i] : "";
    e["mode"] = s.mode ? json(s.mode & 07777) : json(nullptr);
    e["modules"] = s.candidates.size();
    if (!s.error.empty()) e["error"] = s.error;
    entries.push_back(std::move(e));
  }
  r["entries"] = std::move(entries);
  ojson mods = ojson::array();
  for (const Module& m : modules) {
    ojson o;
    o["name"] = m.name;
    o["kind"] = ModuleKindName(m.kind);
    o["origin"] =
        m.kind == ModuleKind::kNamespace ? ojson(nullptr) : ojson(m.origin);
    o["entry"] = m.entry >= 0 ? ojson(m.entry) : ojson(nullptr);
    if (m.kind == ModuleKind::kNamespace) {
      o["locations"] = m.locations;
      o["location_entries"] = m.location_entries;
    }
    if (!m.finder.empty()) o["finder"] = m.finder;
    o["stdlib"] = m.stdlib;
    o["distribution"] =
        m.dist >= 0 ? ojson(dists[m.dist].name) : ojson(nullptr);
    o["version"] = m.dist >= 0 ? ojson(dists[m.dist].version) : ojson(nullptr);
    ojson sh = ojson::array();
    for (const Shadow& s : m.shadowed) {
      sh.push_back({{"entry", s.entry},
                    {"kind", ModuleKindName(s.kind)},
                    {"origin", s.origin}});
    }
    o["shadowed"] = std::move(sh);
    mods.push_back(std::move(o));
  }
  r["modules"] = std::move(mods);
  ojson ds = ojson::array();
  for (const Distribution& d : dists) {
    ojson o;
    o["name"] = d.name;
    o["version"] = d.version;
    o["key"] = d.key;
    o["kind"] = d.kind;
    o["path"] = d.path;
    o["entry"] = d.entry;
    o["top_level"] = d.top_level;
    o["reported"] = d.reported;
    if (!d.error.empty()) o["error"] = d.error;
    ds.push_back(std::move(o));
  }
  r["distributions"] = std::move(ds);
  ojson fs = ojson::array();
  std::map<std::string, int> counts{{"error", 0}, {"warning", 0}, {"info", 0}};
  for (const Finding& x : findings) {
    counts[x.severity]++;
    fs.push_back({{"code", x.code},
                  {"severity", x.severity},
                  {"subject", x.subject},
                  {"message", x.message},
                  {"evidence", x.evidence},
                  {"hint", x.hint}});
  }
  r["findings"] = std::move(fs);
  r["summary"] = {{"entries", scans.size()},       {"modules", modules.size()},
                  {"distributions", dists.size()}, {"errors", counts["error"]},
                  {"warnings", counts["warning"]}, {"infos", counts["info"]}};
  for (const char* k : {"site", "meta_path", "path_hooks", "builtin", "frozen",
                        "stdlib_paths", "suffixes"}) {
    r["facts"][k] = j.value(k, json(nullptr));
  }
  return r.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace lazypath::doctor
