#include "core/chunked_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/env.h"
#include "util/fs.h"

namespace lazypath {

NodeChunks::NodeChunks(const NodeCache& cache) {
  auto names = fs::ListDir(fs::Join(cache.dir(), "meta"));
  if (!names.ok()) return;
  constexpr std::string_view kSuffix = ".chunks";
  for (const std::string& name : *names) {
    if (name.size() != 64 + kSuffix.size() || !name.ends_with(kSuffix)) {
      continue;
    }
    auto list = Hash::FromHex(std::string_view(name).substr(0, 64));
    if (!list.ok()) continue;
    auto content = cache.GetMeta(*list, ".content");
    auto bytes = cache.GetMeta(*list, ".chunks");
    if (!content.ok() || !bytes.ok()) continue;
    auto blob = Hash::Parse(*content);
    auto chunks = ChunkList::Parse(*bytes, name);
    // Present is enough: Read's callers verify each chunk against its
    // digest, so an assembled file an earlier boot wrote is not re-hashed
    // whole here.
    if (!blob.ok() || !chunks.ok() || !fs::Exists(cache.BlobPath(*blob))) {
      continue;
    }
    std::string path = cache.BlobPath(*blob);
    uint64_t offset = 0;
    for (const Chunk& c : chunks->chunks) {
      at_.emplace(c.hash, Where{path, offset});
      offset += c.size;
    }
  }
}

std::optional<std::string> NodeChunks::Read(const Chunk& chunk) const {
  auto it = at_.find(chunk.hash);
  if (it == at_.end()) return std::nullopt;
  int fd = ::open(it->second.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // swept since: the store has it
  fs::Fd in(fd);
  std::string bytes(chunk.size, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got,
                        static_cast<off_t>(it->second.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  return bytes;
}

Result<Digest> FetchChunkedFile(Store& store, const FlatFile& file,
                                const NodeCache& cache,
                                const LocalChunks& local, bool* fetched) {
  const Hash& list = file.entry.hash;
  *fetched = false;
  if (auto known = cache.GetMeta(list, ".content"); known.ok()) {
    // The meta is local; the blob it names must at least be as long as
    // the file, or the file is assembled again.
    struct stat st;
    if (auto d = Hash::Parse(*known);
        d.ok() && cache.HasBlob(*d) &&
        ::stat(cache.BlobPath(*d).c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) == file.entry.size) {
      return Digest{*d, file.entry.size};
    }
  }
  *fetched = true;
  std::string tmp = fs::TempName(fs::Join(cache.TempDir(), "chunked"));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create", tmp, errno);
  fs::Fd out(fd);
  Hasher hasher;
  ChunkList chunks;
  Status s = ReadChunkedFile(
      store, file,
      [&](std::string_view b) -> Status {
        hasher.Update(b);
        while (!b.empty()) {
          ssize_t n = ::write(out.get(), b.data(), b.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return Status::FromErrno("write", tmp, errno);
          b.remove_prefix(static_cast<size_t>(n));
        }
        return Status::OK();
      },
      &local, &chunks);
  out = fs::Fd();
  if (!s.ok()) {
    (void)cache.env()->Unlink(tmp);
    return s;
  }
  Digest content = hasher.Finish();
  LP_RETURN_IF_ERROR(cache.AdoptBlob(tmp, content.hash));
  // Best effort: without them the next activation assembles the file
  // again, and an edit of it fetches every chunk.
  (void)cache.PutMeta(list, ".chunks", chunks.Serialize());
  (void)cache.PutMeta(list, ".content", content.hash.ToString());
  return content;
}

}  // namespace lazypath
