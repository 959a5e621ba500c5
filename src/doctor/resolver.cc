// Resolve: CPython's meta path for top-level names. BuiltinImporter, then
// FrozenImporter, then PathFinder: the first entry whose finder returns a spec
// with a loader wins; namespace portions seen on the way are collected and
// become the module only when no entry has a regular module.
#include <sys/stat.h>

#include <map>

#include "doctor/analysis.h"

namespace lazypath::doctor {
namespace {

// setuptools' _EditableFinder._find_spec: <path>/__init__.py, then
// Path(path).with_suffix(s) for s in importlib.machinery.all_suffixes()
// (source, bytecode, extension); the first that exists.
bool EditableCandidate(const std::string& path, const Suffixes& sfx,
                       Candidate* out) {
  struct stat st;
  std::string init = path + "/__init__.py";
  if (::stat(init.c_str(), &st) == 0) {
    out->kind = ModuleKind::kPackage;
    out->origin = init;
    return true;
  }
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  std::string stem = path;
  if (dot != std::string::npos &&
      (slash == std::string::npos || dot > slash + 1)) {
    stem = path.substr(0, dot);
  }
  std::vector<std::pair<std::string, ModuleKind>> order;
  for (const auto& s : sfx.source) order.emplace_back(s, ModuleKind::kSource);
  for (const auto& s : sfx.bytecode)
    order.emplace_back(s, ModuleKind::kBytecode);
  for (const auto& s : sfx.extension)
    order.emplace_back(s, ModuleKind::kExtension);
  for (const auto& [suffix, kind] : order) {
    std::string p = stem + suffix;
    if (::stat(p.c_str(), &st) == 0) {
      out->kind = kind;
      out->origin = p;
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Module> Resolve(const Facts& facts,
                            const std::vector<EntryScan>& scans) {
  // name -> (entry, candidate) in sys.path order.
  std::map<std::string, std::vector<std::pair<int, const Candidate*>>> seen;
  for (size_t i = 0; i < scans.size(); ++i) {
    for (const Candidate& c : scans[i].candidates) {
      seen[c.name].emplace_back(static_cast<int>(i), &c);
    }
  }
  for (const auto& n : facts.builtin) seen[n];
  for (const auto& n : facts.frozen) seen[n];
  for (const EditableFinder& ef : facts.editable) {
    for (const auto& kv : ef.mapping) seen[kv.first];
  }

  std::vector<Module> out;
  out.reserve(seen.size());
  for (const auto& [name, hits] : seen) {
    Module m;
    m.name = name;
    m.stdlib = facts.stdlib.count(name) > 0;
    const std::pair<int, const Candidate*>* winner = nullptr;
    if (facts.builtin.count(name)) {
      m.kind = ModuleKind::kBuiltin;
      m.origin = "built-in";
    } else if (facts.frozen.count(name)) {
      m.kind = ModuleKind::kFrozen;
      m.origin = "frozen";
    } else {
      for (const auto& h : hits) {
        if (h.second->kind != ModuleKind::kNamespace) {
          winner = &h;
          break;
        }
      }
      if (winner != nullptr) {
        m.kind = winner->second->kind;
        m.origin = winner->second->origin;
        m.entry = winner->first;
      } else if (hits.empty()) {
        // PathFinder found nothing: finders appended after it get a turn.
        Candidate c;
        for (const EditableFinder& ef : facts.editable) {
          for (const auto& [n, path] : ef.mapping) {
            if (m.finder.empty() && n == name &&
                EditableCandidate(path, facts.suffixes, &c)) {
              m.kind = c.kind;
              m.origin = c.origin;
              m.finder = ef.finder;
            }
          }
        }
        if (m.finder.empty()) continue;  // ModuleNotFoundError
      } else {
        m.kind = ModuleKind::kNamespace;
        for (const auto& h : hits) {
          m.locations.push_back(h.second->origin);
          m.location_entries.push_back(h.first);
        }
      }
    }
    if (m.kind != ModuleKind::kNamespace) {
      for (const auto& h : hits) {
        if (&h == winner) continue;
        m.shadowed.push_back({h.first, h.second->kind, h.second->origin});
      }
      if (m.finder.empty() && m.kind != ModuleKind::kBuiltin &&
          m.kind != ModuleKind::kFrozen) {
        // An editable install of this name that PathFinder's answer hides.
        for (const EditableFinder& ef : facts.editable) {
          for (const auto& [n, path] : ef.mapping) {
            Candidate c;
            if (n == name && EditableCandidate(path, facts.suffixes, &c)) {
              m.shadowed.push_back({-1, c.kind, c.origin});
            }
          }
        }
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace lazypath::doctor
