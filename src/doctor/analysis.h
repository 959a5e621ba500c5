// The doctor's internal model: the collector's facts, the resolution of every
// top-level name, the installed distributions and the findings. Built by
// AnalyzeJson (doctor.cc) from the pieces below; each piece is a pure
// function of its inputs plus reads of the file system.
#ifndef LAZYPATH_DOCTOR_ANALYSIS_H_
#define LAZYPATH_DOCTOR_ANALYSIS_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lazypath/doctor.h"

namespace lazypath::doctor {

struct PthLine {
  int line = 0;      // 1-based
  std::string kind;  // "path", "exec"
  std::string text;
  bool added = false;  // a path line that put an entry on sys.path
};

struct PthFile {
  std::string file;
  std::vector<PthLine> lines;
};

// A setuptools editable-install finder a .pth line appends to sys.meta_path
// (after PathFinder): top-level name -> source path.
struct EditableFinder {
  std::string finder;
  std::string pth;  // "file:line"
  std::vector<std::pair<std::string, std::string>> mapping;
};

struct Facts {
  std::string cwd;
  std::vector<std::string> sys_path;
  std::vector<std::string> path_sources;  // why each entry is there; may be ""
  Suffixes suffixes;
  std::set<std::string> builtin, frozen, stdlib;
  std::vector<std::string> stdlib_paths;
  bool safe_path = false;
  bool no_user_site = false;
  bool isolated = false;
  bool in_venv = false;
  bool enable_user_site = false;
  std::string user_site;
  std::vector<std::string> site_packages;
  std::vector<PthFile> pth_files;
  std::vector<EditableFinder> editable;  // in the order they are installed
  std::vector<std::string> meta_path, path_hooks;
  std::vector<std::string> default_meta_path, default_path_hooks;
};

struct Shadow {
  int entry = -1;  // index in sys.path
  ModuleKind kind = ModuleKind::kSource;
  std::string origin;
};

// Where `import name` resolves.
struct Module {
  std::string name;
  ModuleKind kind = ModuleKind::kSource;
  std::string origin;  // "built-in", "frozen", a file, or "" (namespace)
  int entry =
      -1;  // sys.path index of the winner; -1 for builtin/frozen/namespace
  std::vector<std::string> locations;  // namespace: submodule_search_locations
  std::vector<int> location_entries;
  std::vector<Shadow> shadowed;  // every other candidate, in sys.path order
  bool stdlib = false;
  std::string finder;  // set when a meta-path finder after PathFinder answers
  int dist = -1;       // index of the owning distribution
};

struct Distribution {
  std::string name;  // METADATA Name (or from the directory name)
  std::string version;
  std::string key;   // importlib.metadata's normalised lookup key
  std::string path;  // the .dist-info / .egg-info
  std::string kind;  // "dist-info" or "egg-info"
  int entry = -1;
  std::vector<std::string> top_level;
  std::string error;  // broken metadata, if any
  bool reported =
      false;  // the copy importlib.metadata.distribution(key) returns
};

struct Finding {
  std::string code;
  std::string severity;  // "info", "warning", "error"
  std::string subject;   // the module, distribution, entry or file concerned
  std::string message;
  std::vector<std::string> evidence;
  std::string hint;
};

// PathFinder over `scans` (one per sys.path entry, same order), after the
// builtin and frozen importers. Sorted by name.
std::vector<Module> Resolve(const Facts& facts,
                            const std::vector<EntryScan>& scans);

// The .dist-info and .egg-info in one directory entry, in listing order.
std::vector<Distribution> ScanDistributions(const EntryScan& scan, int entry);

// Marks the copies importlib.metadata reports and links modules to owners.
void LinkDistributions(std::vector<Distribution>& dists,
                       std::vector<Module>& modules);

std::vector<Finding> ComputeFindings(const Facts& facts,
                                     const std::vector<EntryScan>& scans,
                                     const std::vector<Module>& modules,
                                     const std::vector<Distribution>& dists);

}  // namespace lazypath::doctor

#endif  // LAZYPATH_DOCTOR_ANALYSIS_H_
