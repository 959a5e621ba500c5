#include "tree/stat_cache.h"

#include <algorithm>
#include <charconv>

#include "util/fs.h"

namespace lazypath {

namespace {
constexpr std::string_view kHeader = "lazypath-statcache 1\n";

bool NextField(std::string_view& line, std::string_view* out) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return false;
  *out = line.substr(0, sp);
  line.remove_prefix(sp + 1);
  return true;
}

template <typename T>
bool ToInt(std::string_view s, T* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
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
  StatCache c;
  if (cache_dir.empty()) return c;
  c.file_ = fs::Join(cache_dir, HashBytes(root).hash.hex().substr(0, 32));
  auto data = fs::ReadFile(c.file_, 1ull << 30);
  if (!data.ok()) return c;
  c.data_ = std::move(*data);
  std::string_view rest(c.data_);
  if (rest.substr(0, kHeader.size()) != kHeader) return c;
  rest.remove_prefix(kHeader.size());
  c.old_.reserve(
      static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n')));
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    std::string_view f[7];
    bool ok = true;
    for (auto& x : f) ok = ok && NextField(line, &x);
    Record r;
    ok = ok && ToInt(f[0], &r.key.ino) && ToInt(f[1], &r.key.size) &&
         ToInt(f[2], &r.key.mode) && ToInt(f[3], &r.key.mtime_ns) &&
         ToInt(f[4], &r.key.ctime_ns) && ToInt(f[6], &r.digest.size);
    if (!ok) continue;
    auto h = Hash::FromHex(f[5]);
    if (!h.ok()) continue;
    r.digest.hash = *h;
    c.old_.emplace(line, r);  // the path is the rest of the line
  }
  return c;
}

std::optional<Digest> StatCache::Lookup(const std::string& path,
                                        const StatKey& key) const {
  auto it = old_.find(path);
  if (it == old_.end() || !(it->second.key == key)) return std::nullopt;
  return it->second.digest;
}

void StatCache::Put(std::string_view path, const StatKey& key,
                    const Digest& digest, bool from_lookup) {
  if (!changed_ && !from_lookup) {
    auto it = old_.find(path);
    changed_ = it == old_.end() || !(it->second.key == key) ||
               it->second.digest != digest;
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
  for (const auto& [path, r] : new_) {
    if (path.find('\n') != std::string_view::npos) continue;
    out += std::to_string(r.key.ino) + ' ' + std::to_string(r.key.size) + ' ' +
           std::to_string(r.key.mode) + ' ' + std::to_string(r.key.mtime_ns) +
           ' ' + std::to_string(r.key.ctime_ns) + ' ' + r.digest.hash.hex() +
           ' ' + std::to_string(r.digest.size) + ' ';
    out += path;
    out += '\n';
  }
  LP_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(file_)));
  return fs::WriteFileAtomic(file_, out, 0600);
}

}  // namespace lazypath
