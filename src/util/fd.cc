#include "util/fd.h"

#include <unistd.h>

namespace lazypath::fs {

// Out of line: inlined into every owner, GCC 12 at -O3 warns that a
// moved-from or disengaged optional's descriptor "may be used
// uninitialized" (-Wmaybe-uninitialized), which -Werror makes fatal.
Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace lazypath::fs
