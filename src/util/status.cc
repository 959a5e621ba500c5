#include "lazypath/status.h"

#include <cerrno>
#include <cstring>

namespace lazypath {

Status Status::FromErrno(std::string_view what, std::string_view path,
                         int errnum) {
  std::string msg(path);
  msg += ": ";
  msg += what;
  msg += ": ";
  msg += std::strerror(errnum);
  return Status(errnum == ENOENT ? Code::kNotFound : Code::kIoError,
                std::move(msg), errnum);
}

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "not found: " + msg_;
    case Code::kInvalidArgument:
      return "invalid argument: " + msg_;
    case Code::kCorrupt:
      return "corrupt: " + msg_;
    case Code::kIoError:
      return "I/O error: " + msg_;
    case Code::kUnsupported:
      return "unsupported: " + msg_;
    case Code::kUnavailable:
      return "unavailable: " + msg_;
    case Code::kConflict:
      return "conflict: " + msg_;
  }
  return msg_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += msg_;
  return Status(code_, std::move(msg), errno_);
}

}  // namespace lazypath
