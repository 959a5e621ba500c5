// Small POSIX file-system helpers shared by every layer.
//
// Every failure is a Status naming the path and the errno text. All functions
// are thread-safe (they share no state); atomicity claims hold for readers on
// the same file system. The helpers that open, create, write, rename or
// remove make those calls through `env` (util/env.h; Env::Default() unless
// given), so the node cache and the core can run them over a test's Env.
#ifndef LAZYPATH_UTIL_FS_H_
#define LAZYPATH_UTIL_FS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lazypath/status.h"
#include "util/env.h"
#include "util/fd.h"

namespace lazypath::fs {

// Opens a regular file for reading. Anything else (a FIFO, a device, a
// directory) is refused at once with Unsupported, never waited on.
Result<Fd> OpenRead(const std::string& path, Env* env = Env::Default());
// Reads a whole file. Fails with Corrupt when it is larger than `max_size`.
Result<std::string> ReadFile(const std::string& path,
                             uint64_t max_size = UINT64_MAX,
                             Env* env = Env::Default());
// Calls `sink` with successive chunks of [offset, offset+length). Fails if the
// file ends early.
Status ReadRange(const std::string& path, uint64_t offset, uint64_t length,
                 const std::function<Status(std::string_view)>& sink);
Status WriteAll(int fd, std::string_view data, const std::string& path,
                Env* env = Env::Default());
// Writes `data` to a temp file in the same directory, fsyncs it and renames it
// over `path`: readers see the old content or the new, never a mix.
Status WriteFileAtomic(const std::string& path, std::string_view data,
                       int mode = 0644, Env* env = Env::Default());
// Like mkdir -p. Existing directories are fine.
Status MakeDirs(const std::string& path, int mode = 0755,
                Env* env = Env::Default());
// A name unique on this host for a temp sibling:
// "<prefix>.tmp.<pid>.<n>.<rand>.<pid namespace>", the last the inode of
// /proc/self/ns/pid (0 when unknown), so a cleaner can tell whether the
// owner's pid is one it can check.
std::string TempName(std::string_view prefix);
// The inode of this process's pid namespace (/proc/self/ns/pid), 0 if unknown.
uint64_t PidNamespace();
// rename(2) plus an fsync of the destination directory.
Status RenameDurable(const std::string& from, const std::string& to,
                     Env* env = Env::Default());
Status FsyncDir(const std::string& dir, Env* env = Env::Default());
// The names in directory `dir`, sorted, without "." and "..". NotFound when
// `dir` does not exist.
Result<std::vector<std::string>> ListDir(const std::string& dir);
// rm -rf. A missing path is fine.
Status RemoveAll(const std::string& path, Env* env = Env::Default());
bool Exists(const std::string& path);
std::string Join(std::string_view a, std::string_view b);
std::string Dirname(std::string_view path);
// Absolute, normalised (no ".", "..", duplicate '/') form of `path`, without
// resolving symlinks.
Result<std::string> Absolute(std::string_view path);
// Copies a regular file, fsyncs the copy and gives it `mode`.
Status CopyFile(const std::string& from, const std::string& to, int mode,
                Env* env = Env::Default());
// The same, creating `name` relative to directory descriptor `dir_fd`
// (O_EXCL | O_NOFOLLOW: never through a symlink). `shown` names it in errors.
Status CopyFileAt(const std::string& from, int dir_fd, const std::string& name,
                  int mode, const std::string& shown,
                  Env* env = Env::Default());

}  // namespace lazypath::fs

#endif  // LAZYPATH_UTIL_FS_H_
