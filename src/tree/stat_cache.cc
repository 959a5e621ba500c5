#include "tree/stat_cache.h"

#include <cstring>

#include "util/fs.h"

namespace lazypath {

namespace {
// Version 1 was a text format; a file in it reads as damaged (empty), which
// costs one re-hash of the tree.
constexpr std::string_view kHeader = "lazypath-statcache 2\n";

// A record: ino, size, mode, mtime_ns, ctime_ns, digest size (8 bytes each),
// the 32 digest bytes, the path's length (4 bytes), then the path.
constexpr size_t kFixed = 6 * 8 + 32 + 4;
constexpr uint32_t kMaxPath = 1 << 16;

template <typename T>
void Get(const char* p, T* v) {
  std::memcpy(v, p, sizeof *v);
}

template <typename T>
void Append(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}
}  // namespace

StatKey StatKey::From(const struct stat& st) {
  StatKey k;
  k.ino = st.st_ino;
  k.size = static_cast<uint64_t>(st.st_size);
  k.mode = st.st_mode;
  k.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  k.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return k;
}

StatCache StatCache::Load(const std::string& cache_dir,
                          const std::string& root) {
  const std::string file = FileFor(cache_dir, root);
  return file.empty() ? StatCache() : LoadFile(file);
}

std::string StatCache::FileFor(const std::string& cache_dir,
                               const std::string& root) {
  if (cache_dir.empty()) return "";
  return fs::Join(cache_dir, HashBytes(root).hash.hex().substr(0, 32));
}

size_t StatCache::MaxEntries(uint64_t bytes) {
  return static_cast<size_t>(bytes / (kFixed + 1));
}

StatCache StatCache::LoadFile(const std::string& file) {
  StatCache c;
  c.file_ = file;
  auto data = fs::ReadFile(c.file_, 1ull << 30);
  if (!data.ok()) return c;
  c.data_ = std::move(*data);
  std::string_view rest(c.data_);
  if (rest.substr(0, kHeader.size()) != kHeader) return c;
  rest.remove_prefix(kHeader.size());
  std::vector<std::pair<std::string_view, Record>> records;
  records.reserve(MaxEntries(rest.size()));
  while (!rest.empty()) {
    if (rest.size() < kFixed) return c;  // damaged: nothing is trusted
    const char* p = rest.data();
    Record r;
    uint32_t len;
    Get(p, &r.key.ino);
    Get(p + 8, &r.key.size);
    Get(p + 16, &r.key.mode);
    Get(p + 24, &r.key.mtime_ns);
    Get(p + 32, &r.key.ctime_ns);
    Get(p + 40, &r.digest.size);
    std::memcpy(r.digest.hash.bytes.data(), p + 48, 32);
    Get(p + 80, &len);
    if (len == 0 || len > kMaxPath || rest.size() - kFixed < len) return c;
    records.emplace_back(rest.substr(kFixed, len), r);
    rest.remove_prefix(kFixed + len);
  }
  c.old_ = std::move(records);
  return c;
}

size_t StatCache::Find(std::string_view path) {
  if (cursor_ < old_.size() && old_[cursor_].first == path) return cursor_;
  if (index_.empty()) {  // a no-op, if repeated, only when old_ is empty
    index_.reserve(old_.size());
    for (size_t i = 0; i < old_.size(); ++i) index_.emplace(old_[i].first, i);
  }
  auto it = index_.find(path);
  return it == index_.end() ? old_.size() : it->second;
}

std::optional<Digest> StatCache::Lookup(std::string_view path,
                                        const StatKey& key) {
  const size_t i = Find(path);
  if (i == old_.size()) return std::nullopt;
  cursor_ = i + 1;
  if (!(old_[i].second.key == key)) return std::nullopt;
  return old_[i].second.digest;
}

void StatCache::Put(std::string_view path, const StatKey& key,
                    const Digest& digest, bool from_lookup) {
  if (!changed_ && !from_lookup) {
    const size_t i = Find(path);
    changed_ = i == old_.size() || !(old_[i].second.key == key) ||
               old_[i].second.digest != digest;
  }
  new_.emplace_back(path, Record{key, digest});
}

Status StatCache::Save() const {
  if (file_.empty()) return Status::OK();
  // An unchanged cache is not rewritten: a re-push with nothing changed then
  // writes nothing at all on the pushing machine. (Each path is Put at most
  // once, so equal counts and no difference mean equal contents.)
  if (!changed_ && new_.size() == old_.size()) return Status::OK();
  std::string out(kHeader);
  size_t total = out.size();
  for (const auto& [path, r] : new_) total += kFixed + path.size();
  out.reserve(total);
  for (const auto& [path, r] : new_) {
    if (path.empty() || path.size() > kMaxPath) continue;
    Append(out, r.key.ino);
    Append(out, r.key.size);
    Append(out, r.key.mode);
    Append(out, r.key.mtime_ns);
    Append(out, r.key.ctime_ns);
    Append(out, r.digest.size);
    out.append(reinterpret_cast<const char*>(r.digest.hash.bytes.data()), 32);
    Append(out, static_cast<uint32_t>(path.size()));
    out += path;
  }
  LP_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(file_)));
  return fs::WriteFileAtomic(file_, out, 0600);
}

}  // namespace lazypath
