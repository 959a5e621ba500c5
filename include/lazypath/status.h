// Status and Result<T>: how every core function reports failure.
//
// The core never throws. A function that can fail returns Status (no value)
// or Result<T> (a value or a Status). Messages are one line and name the thing
// that failed (a path, a digest, a store URL) and the cause; they never carry
// a secret. The binding layer turns a non-OK Status into a Python exception
// chosen by code().
//
// Thread safety: Status and Result are values; distinct objects may be used
// from distinct threads freely.
#ifndef LAZYPATH_STATUS_H_
#define LAZYPATH_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lazypath {

enum class Code {
  kOk = 0,
  kNotFound,         // a path, ref, digest or object does not exist
  kInvalidArgument,  // bad input from the caller: URL, pattern, option
  kCorrupt,          // bytes from a store or cache fail a check
  kIoError,          // an operating-system call failed
  kUnsupported,      // a file kind, scheme or feature we refuse
  kUnavailable,      // a transient failure; retrying may help
  kConflict,         // a conditional write lost a race (a ref moved)
};

class Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, std::move(msg));
  }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status Corrupt(std::string msg) {
    return Status(Code::kCorrupt, std::move(msg));
  }
  static Status IoError(std::string msg) {
    return Status(Code::kIoError, std::move(msg));
  }
  static Status Unsupported(std::string msg) {
    return Status(Code::kUnsupported, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(Code::kUnavailable, std::move(msg));
  }
  static Status Conflict(std::string msg) {
    return Status(Code::kConflict, std::move(msg));
  }
  // An IoError (NotFound for ENOENT) for a failed system call on `path`:
  // "<path>: <what>: <strerror(errnum)>". Keeps `errnum` (sys_errno()).
  static Status FromErrno(std::string_view what, std::string_view path,
                          int errnum);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  // The errno of the failed system call a FromErrno status reports (kept by
  // WithContext), so that a caller can branch on it; 0 for any other status.
  int sys_errno() const { return errno_; }
  // "not found: <message>" etc.; "OK" for success.
  std::string ToString() const;
  // The same status with "<context>: " put in front of the message.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg, int errnum = 0)
      : code_(code), msg_(std::move(msg)), errno_(errnum) {}
  Code code_ = Code::kOk;
  std::string msg_;
  int errno_ = 0;
};

// A T or a non-OK Status. REQUIRES: a Result built from a Status is not OK.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lazypath

#define LP_CONCAT_INNER_(a, b) a##b
#define LP_CONCAT_(a, b) LP_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define LP_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::lazypath::Status lp_status_ = (expr);  \
    if (!lp_status_.ok()) return lp_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the enclosing function.
// Expands to several statements: never use it as the body of an unbraced if.
#define LP_ASSIGN_OR_RETURN(lhs, expr) \
  LP_ASSIGN_OR_RETURN_IMPL_(LP_CONCAT_(lp_result_, __LINE__), lhs, expr)
#define LP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // LAZYPATH_STATUS_H_
