// Fd: an open file descriptor that closes itself.
//
// Owns one descriptor (or none: -1) and closes it on destruction or when it
// is assigned another; moving transfers ownership. A value owned by one
// thread at a time.
#ifndef LAZYPATH_UTIL_FD_H_
#define LAZYPATH_UTIL_FD_H_

namespace lazypath::fs {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  // Hands the descriptor to the caller, who must close it.
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace lazypath::fs

#endif  // LAZYPATH_UTIL_FD_H_
