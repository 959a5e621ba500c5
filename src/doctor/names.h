// Small string rules shared by the doctor's scanner, resolver and
// distribution reader: what counts as a top-level module name, how importlib
// joins paths, and how importlib.metadata normalises distribution names.
#ifndef LAZYPATH_DOCTOR_NAMES_H_
#define LAZYPATH_DOCTOR_NAMES_H_

#include <string>
#include <string_view>

#include "util/python_name.h"

namespace lazypath::doctor {

// A name `import NAME` can spell (util/python_name.h).
using ::lazypath::IsModuleName;

// importlib's POSIX _path_join: strips trailing '/' from each non-empty part
// and joins with '/'. No normalisation, so origins match spec.origin exactly.
std::string JoinLikeImportlib(std::string_view a, std::string_view b);

// importlib.metadata's Prepared.normalize: runs of [-_.] become '_', lower
// case.
std::string NormalizeDistName(std::string_view name);

// ASCII lower case.
std::string Lower(std::string_view s);

}  // namespace lazypath::doctor

#endif  // LAZYPATH_DOCTOR_NAMES_H_
