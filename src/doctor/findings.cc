// ComputeFindings: what is wrong with an interpreter's module resolution.
// Each finding has a stable code (doc/doctor.md lists them), a severity, the
// subject it is about, evidence lines and a fix hint.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "doctor/analysis.h"
#include "doctor/names.h"

namespace lazypath::doctor {
namespace {

constexpr size_t kWindowsMaxPath = 260;

std::string EntryLabel(const Facts& f, int i) {
  if (i < 0) return "editable-install finder on sys.meta_path";
  if (static_cast<size_t>(i) >= f.sys_path.size()) return "?";
  const std::string& e = f.sys_path[i];
  return "sys.path[" + std::to_string(i) + "] " + (e.empty() ? "'' (cwd)" : e);
}

std::string DistLabel(const Distribution& d) {
  return d.name + " " + d.version;
}

bool IsStdlibEntry(const Facts& f, const EntryScan& s) {
  for (const std::string& p : f.stdlib_paths) {
    if (s.path == p || s.entry == p) return true;
  }
  return false;
}

const char* WritableBy(uint32_t mode) {
  if (mode & S_IWOTH) return "world";
  if (mode & S_IWGRP) return "group";
  return nullptr;
}

// Every stage below returns its findings in the order it meets them;
// ComputeFindings concatenates the stages in this order and then sorts
// stably, so findings that tie (same severity, code and subject) keep it.

// The `add` of every stage: appends one finding to `out`.
auto Adder(std::vector<Finding>& out) {
  return
      [&out](std::string code, std::string sev, std::string subject,
             std::string msg, std::vector<std::string> ev, std::string hint) {
        out.push_back({std::move(code), std::move(sev), std::move(subject),
                       std::move(msg), std::move(ev), std::move(hint)});
      };
}

void Append(std::vector<Finding>& out, std::vector<Finding> more) {
  for (Finding& x : more) out.push_back(std::move(x));
}

// inert-shadow: a builtin or frozen module never imports the files on
// sys.path that share its name.
std::vector<Finding> InertShadow(const Facts& f,
                                 const std::vector<EntryScan>& scans,
                                 const Module& m) {
  std::vector<Finding> out;
  auto add = Adder(out);
  std::vector<std::string> ev;
  for (const Shadow& s : m.shadowed) {
    if (s.entry >= 0 && !IsStdlibEntry(f, scans[s.entry]))
      ev.push_back("never imported: " + s.origin);
  }
  if (!ev.empty()) {
    add("inert-shadow", "info", m.name,
        "'" + m.name + "' is " + m.origin +
            "; files of that name on sys.path are never imported",
        ev, "rename the local file(s) so readers are not misled");
  }
  return out;
}

// namespace-split: a namespace package with portions in several entries.
std::vector<Finding> NamespaceSplit(const Facts& f, const Module& m) {
  std::vector<Finding> out;
  auto add = Adder(out);
  std::set<int> entries(m.location_entries.begin(), m.location_entries.end());
  if (entries.size() > 1) {
    std::vector<std::string> ev;
    for (size_t i = 0; i < m.locations.size(); ++i) {
      ev.push_back("portion: " + m.locations[i] + "  (" +
                   EntryLabel(f, m.location_entries[i]) + ")");
    }
    add("namespace-split", "warning", m.name,
        "namespace package '" + m.name + "' is split across " +
            std::to_string(entries.size()) + " sys.path entries",
        ev,
        "ship every portion together (e.g. all in one py_modules entry) or "
        "add __init__.py to one copy");
  }
  return out;
}

// shadowed-stdlib (a standard-library name resolved outside the standard
// library), else shadowed-module (a name with more than one copy).
std::vector<Finding> Shadowing(const Facts& f,
                               const std::vector<EntryScan>& scans,
                               const Module& m) {
  std::vector<Finding> out;
  auto add = Adder(out);
  bool in_stdlib_entry = m.entry >= 0 && IsStdlibEntry(f, scans[m.entry]);
  if (m.stdlib && !in_stdlib_entry) {
    std::vector<std::string> ev{"wins: " + m.origin + "  (" +
                                EntryLabel(f, m.entry) + ")"};
    for (const Shadow& s : m.shadowed)
      ev.push_back("loses: " + s.origin + "  (" + EntryLabel(f, s.entry) + ")");
    add("shadowed-stdlib", "error", m.name,
        "standard-library module '" + m.name + "' is shadowed by " + m.origin,
        ev, "rename " + m.origin + " or remove its directory from sys.path");
    return out;
  }
  if (m.shadowed.empty()) return out;
  bool regular_loser = std::any_of(
      m.shadowed.begin(), m.shadowed.end(),
      [](const Shadow& s) { return s.kind != ModuleKind::kNamespace; });
  std::vector<std::string> ev{"wins: " + m.origin + "  (" +
                              EntryLabel(f, m.entry) + ")"};
  for (const Shadow& s : m.shadowed) {
    ev.push_back(std::string("loses: ") + s.origin + "  (" +
                 ModuleKindName(s.kind) + ", " + EntryLabel(f, s.entry) + ")");
  }
  add("shadowed-module", regular_loser ? "warning" : "info", m.name,
      "'" + m.name + "' resolves to " + m.origin + " and hides " +
          std::to_string(m.shadowed.size()) + " other cop" +
          (m.shadowed.size() == 1 ? "y" : "ies"),
      ev,
      "remove the copy you do not want, or reorder sys.path so the intended "
      "one comes first");
  return out;
}

// The modules pass: how each name resolves against what else it hides.
std::vector<Finding> ModuleFindings(const Facts& f,
                                    const std::vector<EntryScan>& scans,
                                    const std::vector<Module>& modules) {
  std::vector<Finding> out;
  for (const Module& m : modules) {
    if (m.kind == ModuleKind::kBuiltin || m.kind == ModuleKind::kFrozen) {
      Append(out, InertShadow(f, scans, m));
    } else if (m.kind == ModuleKind::kNamespace) {
      Append(out, NamespaceSplit(f, m));
    } else {
      Append(out, Shadowing(f, scans, m));
    }
  }
  return out;
}

// startup-hook: sitecustomize / usercustomize found on sys.path.
std::vector<Finding> StartupHooks(const std::vector<Module>& modules) {
  std::vector<Finding> out;
  auto add = Adder(out);
  for (const Module& m : modules) {
    if ((m.name == "sitecustomize" || m.name == "usercustomize") &&
        m.entry >= 0) {
      add("startup-hook", "info", m.name,
          m.name + " runs at every interpreter start (unless -S/-I)",
          {"origin: " + m.origin},
          "make sure its code is intended on every node");
    }
  }
  return out;
}

// duplicate-distribution: one distribution key installed more than once;
// `idx` are its copies, the first the one importlib.metadata reports.
std::vector<Finding> DuplicateDistribution(
    const std::vector<Distribution>& dists, const std::vector<int>& idx,
    const std::map<std::string, const Module*>& by_name) {
  std::vector<Finding> out;
  auto add = Adder(out);
  const Distribution& rep = dists[idx[0]];
  std::set<std::string> versions;
  for (int i : idx) versions.insert(dists[i].version);
  std::vector<std::string> ev;
  for (int i : idx)
    ev.push_back("copy: " + DistLabel(dists[i]) + " at " + dists[i].path);
  ev.push_back("importlib.metadata reports: " + DistLabel(rep) + " (" +
               rep.path + ")");
  std::string import_wins = "no top-level module of it is importable";
  for (int i : idx) {
    for (const std::string& t : dists[i].top_level) {
      auto it = by_name.find(t);
      if (it != by_name.end() && it->second->entry == dists[i].entry &&
          it->second->kind != ModuleKind::kNamespace) {
        import_wins = DistLabel(dists[i]) + " (import " + t + " -> " +
                      it->second->origin + ")";
        break;
      }
    }
    if (import_wins.rfind("no top", 0) != 0) break;
  }
  ev.push_back("import loads: " + import_wins);
  add("duplicate-distribution", versions.size() > 1 ? "error" : "warning",
      rep.name,
      "distribution '" + rep.name + "' is installed " +
          std::to_string(idx.size()) + " times" +
          (versions.size() > 1 ? " at different versions" : ""),
      ev,
      "uninstall the extra copies (pip uninstall, or remove the stale "
      "directories)");
  return out;
}

// metadata-mismatch: importlib.metadata reports `rep`, but importing one of
// its top-level names loads a copy from another entry.
std::vector<Finding> MetadataMismatches(
    const Facts& f, const std::vector<EntryScan>& scans,
    const std::vector<Distribution>& dists, const Distribution& rep,
    const std::map<std::string, const Module*>& by_name) {
  std::vector<Finding> out;
  auto add = Adder(out);
  for (const std::string& t : rep.top_level) {
    auto it = by_name.find(t);
    if (it == by_name.end()) continue;
    const Module& m = *it->second;
    if (m.entry < 0 || m.kind == ModuleKind::kNamespace || m.entry == rep.entry)
      continue;
    const EntryScan& home = scans[rep.entry];
    bool rep_has_it =
        std::any_of(home.candidates.begin(), home.candidates.end(),
                    [&](const Candidate& c) { return c.name == t; });
    if (!rep_has_it) continue;
    std::string winner =
        m.dist >= 0 ? DistLabel(dists[m.dist]) : "no distribution";
    add("metadata-mismatch", "error", t,
        "importlib.metadata reports " + DistLabel(rep) + " but 'import " + t +
            "' loads another copy",
        {"metadata: " + rep.path, "import: " + m.origin + "  (" +
                                      EntryLabel(f, m.entry) + ", " + winner +
                                      ")"},
        "remove the shadowing copy so version checks describe the code that "
        "runs");
  }
  return out;
}

// The distributions pass, one distribution key at a time.
std::vector<Finding> DistributionFindings(
    const Facts& f, const std::vector<EntryScan>& scans,
    const std::vector<Module>& modules,
    const std::vector<Distribution>& dists) {
  std::vector<Finding> out;
  std::map<std::string, std::vector<int>> by_key;
  for (size_t i = 0; i < dists.size(); ++i)
    by_key[dists[i].key].push_back(static_cast<int>(i));
  std::map<std::string, const Module*> by_name;
  for (const Module& m : modules) by_name[m.name] = &m;
  for (const auto& [key, idx] : by_key) {
    if (idx.size() > 1) Append(out, DuplicateDistribution(dists, idx, by_name));
    Append(out, MetadataMismatches(f, scans, dists, dists[idx[0]], by_name));
  }
  return out;
}

// broken-metadata: a distribution whose metadata could not be read.
std::vector<Finding> BrokenMetadata(const std::vector<Distribution>& dists) {
  std::vector<Finding> out;
  auto add = Adder(out);
  for (const Distribution& d : dists) {
    if (!d.error.empty()) {
      add("broken-metadata", "warning", d.name,
          "distribution metadata is broken: " + d.error, {"path: " + d.path},
          "reinstall the distribution or delete the stale metadata directory");
    }
  }
  return out;
}

// cwd-entry: the working directory is on sys.path (entry `idx`), with what
// it shadows; `ev` names the entry.
std::vector<Finding> CwdEntry(const Facts& f, const EntryScan& s, int idx,
                              const std::vector<Module>& modules,
                              const std::vector<std::string>& ev) {
  std::vector<Finding> out;
  auto add = Adder(out);
  // cwd injection: anything in the working directory is importable first.
  std::vector<std::string> hides;
  for (const Module& m : modules) {
    if (m.entry == idx && !m.shadowed.empty()) hides.push_back(m.name);
    for (const Shadow& sh : m.shadowed) {
      if (sh.entry == idx && m.kind != ModuleKind::kNamespace &&
          sh.kind != ModuleKind::kNamespace) {
        hides.push_back(m.name + " (loses)");
      }
    }
  }
  auto evc = ev;
  for (const std::string& h : hides) evc.push_back("shadows: " + h);
  add("cwd-entry", hides.empty() ? "info" : "warning",
      s.entry.empty() ? "''" : s.entry,
      "the current directory (" + f.cwd + ") is on sys.path" +
          (hides.empty() ? "" : " and shadows installed modules"),
      evc,
      "set PYTHONSAFEPATH=1 (or run with -P) so the cwd/script directory "
      "is not prepended");
  return out;
}

// case-collision: names in one entry that differ only in case.
std::vector<Finding> CaseCollisions(const EntryScan& s,
                                    const std::vector<std::string>& ev) {
  std::vector<Finding> out;
  auto add = Adder(out);
  std::map<std::string, std::vector<std::string>> folded;
  for (const Candidate& c : s.candidates)
    folded[Lower(c.name)].push_back(c.origin);
  for (const auto& [low, origins] : folded) {
    if (origins.size() < 2) continue;
    auto evc = ev;
    for (const std::string& o : origins) evc.push_back("name: " + o);
    add("case-collision", "warning", low,
        "names differing only in case in one entry (one is lost on "
        "macOS/Windows checkouts)",
        evc, "rename one of them");
  }
  return out;
}

// Everything wrong with sys.path entry `idx` itself: where it points, what
// it is, who may write it, how long it is, and case collisions in it.
std::vector<Finding> EntryFindings(const Facts& f, const EntryScan& s, int idx,
                                   const std::vector<Module>& modules) {
  std::vector<Finding> out;
  auto add = Adder(out);
  size_t i = static_cast<size_t>(idx);
  std::string label = EntryLabel(f, idx);
  std::string source = i < f.path_sources.size() ? f.path_sources[i] : "";
  std::vector<std::string> ev{label};
  if (!source.empty()) ev.push_back("added by: " + source);
  if (s.entry.empty() || s.entry == ".") {
    Append(out, CwdEntry(f, s, idx, modules, ev));
  } else if (s.entry[0] != '/') {
    add("relative-entry", "warning", s.entry,
        "relative sys.path entry '" + s.entry +
            "' depends on the working directory",
        ev, "use an absolute path in PYTHONPATH / .pth files");
  }
  // The error of an entry that is not importable or unreadable is evidence
  // for the findings after it as well.
  if (s.kind == EntryKind::kMissing &&
      !IsStdlibEntry(f, s)) {  // pythonXY.zip is usually absent
    add("missing-entry", "warning", s.entry,
        "sys.path entry does not exist: " + s.entry, ev,
        "remove it, or create it if something is expected there (a missing "
        "entry can be planted later)");
  } else if (s.kind == EntryKind::kNotImportable) {
    ev.push_back("error: " + s.error);
    add("not-importable-entry", "warning", s.entry,
        "sys.path entry is neither a directory nor a zip: " + s.entry, ev,
        "remove it from sys.path");
  } else if (s.kind == EntryKind::kUnreadable) {
    ev.push_back("error: " + s.error);
    add("unreadable-entry", "error", s.entry,
        "sys.path entry cannot be listed: " + s.path, ev,
        "fix its permissions; CPython silently imports nothing from it");
  }
  if (const char* who = WritableBy(s.mode)) {
    add("writable-entry", std::string(who) == "world" ? "error" : "warning",
        s.entry,
        std::string(who) +
            "-writable sys.path entry: anyone in it can plant modules",
        ev, "chmod go-w " + s.path);
  }
  if (s.path.size() > kWindowsMaxPath) {
    add("long-path", "warning", s.entry,
        "sys.path entry is " + std::to_string(s.path.size()) +
            " characters long",
        ev,
        "keep paths under 260 characters for Windows checkouts and zip "
        "tools");
  }
  Append(out, CaseCollisions(s, ev));
  return out;
}

// The entries pass: each distinct sys.path entry once.
std::vector<Finding> EntriesFindings(const Facts& f,
                                     const std::vector<EntryScan>& scans,
                                     const std::vector<Module>& modules) {
  std::vector<Finding> out;
  std::set<std::string> seen_entries;
  for (size_t i = 0; i < scans.size(); ++i) {
    if (!seen_entries.insert(scans[i].entry).second) continue;
    Append(out, EntryFindings(f, scans[i], static_cast<int>(i), modules));
  }
  return out;
}

// long-path: module origins too long for Windows checkouts, as one finding.
std::vector<Finding> LongOrigins(const std::vector<Module>& modules) {
  std::vector<Finding> out;
  auto add = Adder(out);
  std::vector<std::string> long_origins;
  for (const Module& m : modules) {
    if (m.origin.size() > kWindowsMaxPath) long_origins.push_back(m.origin);
  }
  if (!long_origins.empty()) {
    add("long-path", "warning", "modules",
        std::to_string(long_origins.size()) +
            " module origin(s) longer than 260 characters",
        long_origins, "shorten the install location");
  }
  return out;
}

// The site pass: .pth files (writable-pth, pth-exec) and the user site in a
// virtual environment (user-site-in-venv).
std::vector<Finding> SiteFindings(const Facts& f) {
  std::vector<Finding> out;
  auto add = Adder(out);
  for (const PthFile& p : f.pth_files) {
    struct stat st;
    if (::stat(p.file.c_str(), &st) == 0) {
      if (const char* who = WritableBy(st.st_mode)) {
        add("writable-pth", std::string(who) == "world" ? "error" : "warning",
            p.file,
            std::string(who) +
                "-writable .pth file: it runs at every interpreter start",
            {"file: " + p.file}, "chmod go-w " + p.file);
      }
    }
    for (const PthLine& l : p.lines) {
      if (l.kind != "exec") continue;
      add("pth-exec", "warning", p.file + ":" + std::to_string(l.line),
          ".pth line executes code at every interpreter start (not run by the "
          "doctor)",
          {p.file + ":" + std::to_string(l.line) + ": " + l.text},
          "check the line is expected; its effects (import hooks, sys.path "
          "edits) are not in this report");
    }
  }
  if (f.in_venv && !f.user_site.empty()) {
    for (size_t i = 0; i < f.sys_path.size(); ++i) {
      if (f.sys_path[i] == f.user_site) {
        add("user-site-in-venv", "warning", f.user_site,
            "the user site-packages leaks into a virtual environment",
            {EntryLabel(f, static_cast<int>(i))},
            "set PYTHONNOUSERSITE=1, or include-system-site-packages = false "
            "in pyvenv.cfg");
        break;
      }
    }
  }
  return out;
}

// import-hook: finders and path hooks beyond CPython's defaults.
std::vector<Finding> ImportHooks(const Facts& f) {
  std::vector<Finding> out;
  auto add = Adder(out);
  for (const std::string& h : f.meta_path) {
    if (std::find(f.default_meta_path.begin(), f.default_meta_path.end(), h) ==
        f.default_meta_path.end()) {
      add("import-hook", "info", h, "non-default sys.meta_path finder: " + h,
          {}, "names it claims may resolve differently from this report");
    }
  }
  for (const std::string& h : f.path_hooks) {
    if (std::find(f.default_path_hooks.begin(), f.default_path_hooks.end(),
                  h) == f.default_path_hooks.end()) {
      add("import-hook", "info", h, "non-default sys.path_hooks entry: " + h,
          {}, "entries it claims may resolve differently from this report");
    }
  }
  return out;
}

// Errors first, then warnings, then info; within one severity by code and
// subject (stable: ties keep the order the stages found them in).
void SortBySeverity(std::vector<Finding>& out) {
  auto rank = [](const std::string& s) {
    return s == "error" ? 0 : s == "warning" ? 1 : 2;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const Finding& a, const Finding& b) {
                     if (rank(a.severity) != rank(b.severity))
                       return rank(a.severity) < rank(b.severity);
                     if (a.code != b.code) return a.code < b.code;
                     return a.subject < b.subject;
                   });
}

}  // namespace

std::vector<Finding> ComputeFindings(const Facts& f,
                                     const std::vector<EntryScan>& scans,
                                     const std::vector<Module>& modules,
                                     const std::vector<Distribution>& dists) {
  std::vector<Finding> out;
  Append(out, ModuleFindings(f, scans, modules));
  Append(out, StartupHooks(modules));
  Append(out, DistributionFindings(f, scans, modules, dists));
  Append(out, BrokenMetadata(dists));
  Append(out, EntriesFindings(f, scans, modules));
  Append(out, LongOrigins(modules));
  Append(out, SiteFindings(f));
  Append(out, ImportHooks(f));
  SortBySeverity(out);
  return out;
}

}  // namespace lazypath::doctor
