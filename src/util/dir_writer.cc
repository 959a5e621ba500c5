#include "util/dir_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace lazypath::fs {

namespace {
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
}

DirWriter::DirWriter(std::string root, Fd fd, Env* env)
    : root_(std::move(root)), env_(env) {
  stack_.emplace_back(std::string(), std::move(fd));
}

Result<DirWriter> DirWriter::Open(const std::string& root, Env* env) {
  LP_ASSIGN_OR_RETURN(Fd fd, env->Open(root, kDirFlags));
  return DirWriter(root, std::move(fd), env);
}

std::string DirWriter::Show(std::string_view rel) const {
  return rel.empty() ? root_ : Join(root_, rel);
}

std::pair<std::string_view, std::string_view> DirWriter::Split(
    std::string_view rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

Result<int> DirWriter::Dir(std::string_view rel) {
  // Keep the deepest cached directory that is `rel` or one of its parents.
  while (stack_.size() > 1) {
    const std::string& top = stack_.back().first;
    if (rel == top ||
        (rel.size() > top.size() && rel.substr(0, top.size()) == top &&
         rel[top.size()] == '/')) {
      break;
    }
    stack_.pop_back();
  }
  while (stack_.back().first.size() != rel.size()) {
    const std::string& top = stack_.back().first;
    size_t start = top.empty() ? 0 : top.size() + 1;
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string name(rel.substr(start, end - start));
    std::string sub(rel.substr(0, end));
    LP_ASSIGN_OR_RETURN(Fd fd, env_->OpenAt(stack_.back().second.get(), name,
                                            kDirFlags, 0, Show(sub)));
    stack_.emplace_back(std::move(sub), std::move(fd));
  }
  return stack_.back().second.get();
}

Status DirWriter::MakeDir(std::string_view rel, mode_t mode) {
  auto [parent, name] = Split(rel);
  LP_ASSIGN_OR_RETURN(int dir, Dir(parent));
  std::string n(name);
  LP_RETURN_IF_ERROR(env_->MkdirAt(dir, n, mode, Show(rel)));
  // mkdirat honours the umask; set the exact mode through a descriptor
  // that cannot be a symlink.
  LP_ASSIGN_OR_RETURN(Fd fd, env_->OpenAt(dir, n, kDirFlags, 0, Show(rel)));
  return env_->Fchmod(fd.get(), mode, Show(rel));
}

}  // namespace lazypath::fs
