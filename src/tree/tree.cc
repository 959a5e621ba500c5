#include "lazypath/tree.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include "tree/name_fold.h"

namespace lazypath {

namespace {

constexpr std::string_view kHeader = "lazypath-tree 1\n";

bool NeedsEscape(unsigned char c) { return c <= 0x20 || c == '%' || c == 0x7f; }

void AppendEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (std::none_of(s.begin(), s.end(),
                   [](unsigned char c) { return NeedsEscape(c); })) {
    out += s;
    return;
  }
  for (unsigned char c : s) {
    if (NeedsEscape(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
}

Result<std::string> Unescape(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (NeedsEscape(c) && c != '%') {
      return Status::Corrupt(std::string(what) + ": unescaped control byte");
    }
    if (c != '%') {
      out += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= s.size()) {
      return Status::Corrupt(std::string(what) + ": truncated %-escape");
    }
    auto hexval = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return Status::Corrupt(std::string(what) + ": bad %-escape");
    }
    unsigned char v = static_cast<unsigned char>(hi << 4 | lo);
    if (!NeedsEscape(v)) {
      return Status::Corrupt(std::string(what) +
                             ": %-escape of a byte that needs none");
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// Two paths (files or the directories they imply) that differ only by case
// or Unicode normalisation would land on one name on such file systems, and
// one would silently replace or merge with the other.
// The length of the longest common prefix of `a` and `b`.
size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  return static_cast<size_t>(
      std::mismatch(a.begin(), a.begin() + static_cast<ptrdiff_t>(n), b.begin())
          .first -
      a.begin());
}

// Whether folding leaves `s` as it is: for ASCII, when it has no capital.
bool FoldsToItself(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return FoldName(s) == s;
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

// Whether `path` is an entry of the sorted `entries` or a directory they
// imply.
bool IsPathOrDirectory(const std::vector<TreeEntry>& entries,
                       const std::string& path) {
  const std::string dir = path + "/";
  auto it = std::lower_bound(
      entries.begin(), entries.end(), path,
      [](const TreeEntry& e, const std::string& p) { return e.path < p; });
  if (it != entries.end() && it->path == path) return true;
  it = std::lower_bound(
      it, entries.end(), dir,
      [](const TreeEntry& e, const std::string& p) { return e.path < p; });
  return it != entries.end() && it->path.starts_with(dir);
}

// REQUIRES: `entries` sorted by path. All paths under a directory "d/" are
// then adjacent, so a directory prefix of an entry was met before exactly
// when the previous entry also starts with it: each prefix is looked at
// once, and the work is linear in the paths' total length.
//
// Two spellings collide when they fold to one name, so at least one of them
// changes under folding (folding is idempotent): only those are folded.
// Such a spelling collides with one that does not change when its fold is
// itself a path of the tree, and with another that changes when the two
// folds are equal. Trees are mostly lower-case ASCII, so this folds and
// remembers few names.
Status CheckFoldCollisions(const std::vector<TreeEntry>& entries) {
  std::unordered_map<std::string, std::string_view> folded;  // -> original
  auto collide = [](std::string_view a, std::string_view b) {
    if (b < a) std::swap(a, b);
    return Status::Corrupt(
        "tree paths " + ShowName(a) + " and " + ShowName(b) +
        " collide: they differ only by case or Unicode normalisation");
  };
  std::string_view prev;
  for (const TreeEntry& e : entries) {
    std::string_view p(e.path);
    const size_t common = CommonPrefix(prev, p);
    prev = p;
    for (size_t end = p.find('/');; end = p.find('/', end + 1)) {
      const bool whole = end == std::string_view::npos;
      if (!whole && end < common) continue;  // "p[0,end]/" starts prev too
      std::string_view prefix = whole ? p : p.substr(0, end);
      if (!FoldsToItself(prefix)) {
        std::string f = FoldName(prefix);
        if (IsPathOrDirectory(entries, f)) return collide(f, prefix);
        auto [it, fresh] = folded.emplace(std::move(f), prefix);
        if (!fresh && it->second != prefix) return collide(it->second, prefix);
      }
      if (whole) break;
    }
  }
  return Status::OK();
}

// Resolves symlink `path`'s target from its directory, following the
// tree's own symlinks met on the way as the kernel would (at most 40, like
// Linux). False if it leaves the root or loops. The lexical check alone
// misses "x/up -> .." used as "esc -> x/up/x/up/..".
bool ResolvesInside(const std::map<std::string_view, std::string_view>& links,
                    std::string_view path, std::string_view target) {
  auto split = [](std::string_view s) {
    std::vector<std::string_view> out;
    for (size_t start = 0; start <= s.size();) {
      size_t slash = s.find('/', start);
      if (slash == std::string_view::npos) slash = s.size();
      out.push_back(s.substr(start, slash - start));
      start = slash + 1;
    }
    return out;
  };
  std::vector<std::string_view> cur;
  if (size_t slash = path.rfind('/'); slash != std::string_view::npos) {
    cur = split(path.substr(0, slash));
  }
  std::vector<std::string_view> t = split(target);
  std::deque<std::string_view> todo(t.begin(), t.end());
  int hops = 0;
  std::string joined;
  while (!todo.empty()) {
    std::string_view comp = todo.front();
    todo.pop_front();
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (cur.empty()) return false;
      cur.pop_back();
      continue;
    }
    cur.push_back(comp);
    joined.clear();
    for (size_t i = 0; i < cur.size(); ++i) {
      if (i) joined += '/';
      joined += cur[i];
    }
    auto it = links.find(joined);
    if (it == links.end()) continue;
    if (++hops > 40) return false;
    cur.pop_back();
    std::vector<std::string_view> more = split(it->second);
    if (!more.empty() && more.front().empty()) return false;  // absolute
    todo.insert(todo.begin(), more.begin(), more.end());
  }
  return true;
}

}  // namespace

Tree::Tree(std::vector<TreeEntry> entries) : entries_(std::move(entries)) {
  auto by_path = [](const TreeEntry& a, const TreeEntry& b) {
    return a.path < b.path;
  };
  // A scan or a parsed listing hands them over sorted already.
  if (!std::is_sorted(entries_.begin(), entries_.end(), by_path)) {
    std::sort(entries_.begin(), entries_.end(), by_path);
  }
}

Status ValidateTreePath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt("tree path '" + std::string(path.substr(0, 200)) +
                           "': " + std::string(why));
  };
  if (path.empty()) return bad("empty");
  if (path.size() > kMaxPathBytes) return bad("longer than 4096 bytes");
  if (path.front() == '/') return bad("absolute path");
  if (path.back() == '/') return bad("trailing '/'");
  if (path.find('\0') != std::string_view::npos) return bad("NUL byte");
  if (!ValidUtf8(path)) return bad("not valid UTF-8");
  size_t depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view comp = path.substr(start, slash - start);
    if (comp.empty()) return bad("empty component");
    if (comp == ".") return bad("'.' component");
    if (comp == "..") return bad("'..' component");
    if (comp.size() > kMaxComponentBytes)
      return bad("component over 255 bytes");
    if (++depth > kMaxDepth) return bad("nested deeper than 128");
    start = slash + 1;
  }
  return Status::OK();
}

bool SymlinkStaysInside(std::string_view path, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  // Start from the link's directory depth and walk the target lexically.
  long depth = static_cast<long>(std::count(path.begin(), path.end(), '/'));
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view comp = target.substr(start, slash - start);
    if (comp == "..") {
      if (--depth < 0) return false;
    } else if (!comp.empty() && comp != ".") {
      ++depth;
    }
    start = slash + 1;
  }
  return true;
}

Status Tree::Validate() const {
  if (entries_.size() > kMaxEntries) {
    return Status::Corrupt("tree has more than 10,000,000 entries");
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    const TreeEntry& e = entries_[i];
    LP_RETURN_IF_ERROR(ValidateTreePath(e.path));
    if (i > 0) {
      const std::string& prev = entries_[i - 1].path;
      if (!(prev < e.path)) {
        return Status::Corrupt(
            "tree path '" + e.path +
            (prev == e.path ? "': listed twice" : "': out of order"));
      }
    }
    if (e.kind == EntryKind::kSymlink) {
      if (e.target.empty() || e.target.size() > kMaxPathBytes ||
          e.target.find('\0') != std::string::npos || !ValidUtf8(e.target)) {
        return Status::Corrupt("tree symlink '" + e.path + "': bad target");
      }
      if (!SymlinkStaysInside(e.path, e.target)) {
        return Status::Corrupt("tree symlink '" + e.path + "' -> '" + e.target +
                               "' escapes the tree");
      }
      if (HashBytes(e.target) != e.blob) {
        return Status::Corrupt("tree symlink '" + e.path +
                               "': digest does not match its target");
      }
    } else if (e.kind != EntryKind::kFile && e.kind != EntryKind::kExecutable) {
      return Status::Corrupt("tree path '" + e.path + "': unknown kind");
    } else if (!e.target.empty()) {
      return Status::Corrupt("tree path '" + e.path +
                             "': a file with a link target");
    } else if (e.blob.size == 0 && e.blob.hash != EmptyHash()) {
      // Materialised without fetching anything: a digest other than the
      // empty blob's would never be checked.
      return Status::Corrupt("tree path '" + e.path +
                             "': size 0 but not the empty blob's digest");
    }
  }
  // A path that is also a parent of another path ("a" and "a/b") collides.
  // Within sorted order, every "a/..." follows "a" but possibly after names
  // like "a!x" ('!' < '/'); so each directory is looked up, once: when the
  // previous entry does not already start with it (CheckFoldCollisions).
  std::vector<std::string_view> sorted;
  sorted.reserve(entries_.size());
  for (const auto& e : entries_) sorted.push_back(e.path);
  std::string_view prev;
  for (const auto& e : entries_) {
    std::string_view p(e.path);
    const size_t common = CommonPrefix(prev, p);
    prev = p;
    for (size_t slash = p.find('/'); slash != std::string_view::npos;
         slash = p.find('/', slash + 1)) {
      if (slash < common) continue;
      std::string_view parent = p.substr(0, slash);
      if (std::binary_search(sorted.begin(), sorted.end(), parent)) {
        return Status::Corrupt("tree paths '" + std::string(parent) +
                               "' and '" + e.path +
                               "' collide: a file cannot also be a directory");
      }
    }
  }
  LP_RETURN_IF_ERROR(CheckFoldCollisions(entries_));
  std::map<std::string_view, std::string_view> links;
  for (const auto& e : entries_) {
    if (e.kind == EntryKind::kSymlink) links.emplace(e.path, e.target);
  }
  for (const auto& [path, target] : links) {
    if (!ResolvesInside(links, path, target)) {
      return Status::Corrupt("tree symlink '" + std::string(path) + "' -> '" +
                             std::string(target) +
                             "' escapes the tree through other symlinks");
    }
  }
  return Status::OK();
}

std::string Tree::Serialize() const {
  std::string out(kHeader);
  size_t estimate = out.size();
  for (const auto& e : entries_) {
    estimate += 90 + e.path.size() + e.target.size();
  }
  out.reserve(estimate);
  for (const auto& e : entries_) {
    char size[24];
    const auto end = std::to_chars(size, size + sizeof size, e.blob.size).ptr;
    out += static_cast<char>(e.kind);
    out += ' ';
    out.append(size, end);
    out += ' ';
    e.blob.hash.AppendHex(out);
    out += ' ';
    AppendEscaped(out, e.path);
    if (e.kind == EntryKind::kSymlink) {
      out += ' ';
      AppendEscaped(out, e.target);
    }
    out += '\n';
  }
  return out;
}

Digest Tree::digest() const { return HashBytes(Serialize()); }

uint64_t Tree::TotalSize() const {
  uint64_t total = 0;
  for (const auto& e : entries_) {
    if (e.kind != EntryKind::kSymlink) total += e.blob.size;
  }
  return total;
}

Result<Tree> Tree::Parse(std::string_view bytes, std::string_view what) {
  std::string w(what);
  if (bytes.size() > kMaxTreeBytes) {
    return Status::Corrupt(w + ": tree larger than 512 MiB");
  }
  if (bytes.substr(0, kHeader.size()) != kHeader) {
    return Status::Corrupt(w + ": not a lazypath tree (bad header)");
  }
  bytes.remove_prefix(kHeader.size());
  std::vector<TreeEntry> entries;
  size_t line_no = 1;
  while (!bytes.empty()) {
    ++line_no;
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      return Status::Corrupt(w + ": line " + std::to_string(line_no) +
                             ": missing final newline");
    }
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    std::string where = w + ": line " + std::to_string(line_no);
    std::vector<std::string_view> f;
    size_t start = 0;
    while (true) {
      size_t sp = line.find(' ', start);
      f.push_back(line.substr(start, sp == std::string_view::npos
                                         ? std::string_view::npos
                                         : sp - start));
      if (sp == std::string_view::npos) break;
      start = sp + 1;
      if (f.size() > 5) break;
    }
    if (f.size() < 4 || f[0].size() != 1) {
      return Status::Corrupt(where + ": malformed entry");
    }
    TreeEntry e;
    char k = f[0][0];
    if (k != 'f' && k != 'x' && k != 'l') {
      return Status::Corrupt(where + ": unknown kind '" + std::string(1, k) +
                             "'");
    }
    e.kind = static_cast<EntryKind>(k);
    if ((e.kind == EntryKind::kSymlink) != (f.size() == 5) || f.size() > 5) {
      return Status::Corrupt(where + ": wrong number of fields");
    }
    if (!ParseU64(f[1], &e.blob.size)) {
      return Status::Corrupt(where + ": bad size");
    }
    auto h = Hash::FromHex(f[2]);
    if (!h.ok()) return Status::Corrupt(where + ": bad digest");
    e.blob.hash = *h;
    LP_ASSIGN_OR_RETURN(e.path, Unescape(f[3], where));
    if (e.kind == EntryKind::kSymlink) {
      LP_ASSIGN_OR_RETURN(e.target, Unescape(f[4], where));
    }
    entries.push_back(std::move(e));
  }
  // Check order before the sorting constructor hides it.
  for (size_t i = 1; i < entries.size(); ++i) {
    if (!(entries[i - 1].path < entries[i].path)) {
      return Status::Corrupt(w + ": tree path '" + entries[i].path +
                             (entries[i - 1].path == entries[i].path
                                  ? "': listed twice"
                                  : "': out of order"));
    }
  }
  Tree t(std::move(entries));
  Status s = t.Validate();
  if (!s.ok()) return s.WithContext(w);
  return t;
}

}  // namespace lazypath
