// The doctor: predicts where `import NAME` resolves for every top-level name
// an interpreter can import, and finds what is wrong with its sys.path.
//
// Input is the interpreter's facts as gathered by the Python collector
// (python/lazypath/doctor/collector.py): sys.path, flags, suffixes, builtin,
// frozen and stdlib names, site directories and their .pth files. The doctor
// never runs the target's code; it reads directories, zip central directories
// and metadata files, and applies CPython's PathFinder / FileFinder /
// zipimporter rules (POSIX, case-sensitive file systems).
//
// The facts and the report are JSON documents; doc/doctor.md specifies both.
// Every function is thread-safe (no shared state) and reads the file system
// only.
#ifndef LAZYPATH_DOCTOR_H_
#define LAZYPATH_DOCTOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"

namespace lazypath::doctor {

// How one name is provided by one sys.path entry, in CPython's order of
// preference within an entry (lower wins).
enum class ModuleKind {
  kPackage = 0,  // a directory with __init__ (or zip dir with __init__)
  kExtension =
      1,  // NAME + an extension suffix (.cpython-311-...so, .abi3.so, .so)
  kSource = 2,     // NAME.py
  kBytecode = 3,   // NAME.pyc, sourceless
  kNamespace = 4,  // a directory without __init__: a namespace portion
  kBuiltin = 5,    // compiled into the interpreter
  kFrozen = 6,     // frozen into the interpreter
};
const char* ModuleKindName(ModuleKind k);

// What one entry provides for one name.
struct Candidate {
  std::string name;
  ModuleKind kind = ModuleKind::kSource;
  // The spec's origin: the file CPython would load (for a namespace portion,
  // the directory, i.e. its submodule_search_locations element).
  std::string origin;
};

enum class EntryKind {
  kDirectory,      // searched by FileFinder
  kZip,            // searched by zipimporter (archive, maybe with a prefix)
  kMissing,        // does not exist: no finder, skipped
  kNotImportable,  // exists but is neither a directory nor a zip file
  kUnreadable,     // a directory we (the doctor) could not list
};
const char* EntryKindName(EntryKind k);

// One sys.path entry after scanning.
struct EntryScan {
  std::string entry;  // as in sys.path
  std::string path;  // what the finder searches ('' -> cwd, relative -> cwd/…)
  EntryKind kind = EntryKind::kMissing;
  std::string error;  // why an entry is unreadable / not importable
  uint32_t mode = 0;  // st_mode of the entry (0 when missing)
  std::vector<Candidate>
      candidates;  // the best candidate per name, sorted by name
};

// The importable suffixes, in the interpreter's order.
struct Suffixes {
  std::vector<std::string> extension;
  std::vector<std::string> source{".py"};
  std::vector<std::string> bytecode{".pyc"};
};

// Scans one sys.path entry as the finder chosen by the default path hooks
// (zipimporter, then FileFinder) would. `cwd` resolves '' and relative
// entries. Never fails: problems are recorded in kind/error.
EntryScan ScanEntry(const std::string& entry, const std::string& cwd,
                    const Suffixes& suffixes);

// Lists the member names of a zip archive's central directory (UTF-8, or
// CP437 bytes passed through). Fails with Corrupt for a file that is not a
// readable zip archive.
Result<std::vector<std::string>> ListZip(const std::string& path);

// Runs the whole analysis: `facts_json` is the collector's document; the
// result is the report document (doc/doctor.md). Fails with InvalidArgument
// when the facts are not the expected JSON.
Result<std::string> AnalyzeJson(std::string_view facts_json);

}  // namespace lazypath::doctor

#endif  // LAZYPATH_DOCTOR_H_
