#include "tree/directory.h"

#include <algorithm>
#include <unordered_map>

#include "tree/name_fold.h"
#include "util/python_name.h"
#include "util/varint.h"

namespace lazypath {

namespace {

constexpr std::string_view kMagic = "LZD2";
// kind, name length, a one-byte name and a one-byte body.
constexpr size_t kEntryMinBytes = 4;

void PutHash(std::string& out, const Hash& h) {
  out.append(reinterpret_cast<const char*>(h.bytes.data()), h.bytes.size());
}

bool GetHash(ByteReader& r, Hash* h) {
  std::string_view b;
  if (!r.Bytes(32, &b)) return false;
  std::copy(b.begin(), b.end(), h->bytes.begin());
  return true;
}

bool IsKind(uint8_t k) { return k == 'f' || k == 'x' || k == 'l' || k == 'd'; }

// Why `name` cannot be an entry's name, or empty.
std::string_view NameProblem(std::string_view name) {
  if (name.empty() || name.size() > kMaxComponentBytes) {
    return "name length out of range";
  }
  if (name.find('/') != std::string_view::npos) return "name contains '/'";
  if (name.find('\0') != std::string_view::npos) return "name contains NUL";
  if (name == "." || name == "..") return "name is '.' or '..'";
  if (!ValidUtf8(name)) return "name is not valid UTF-8";
  return {};
}

// Why a symlink `target` held by a directory at `depth` is refused, or
// empty. Dropping empty and "." components, the target must be some ".."
// (at most `depth` of them) followed only by names: it climbs to a real
// directory inside the tree first, then only descends.
std::string_view SymlinkProblem(std::string_view target, size_t depth) {
  if (target.empty() || target.size() > kMaxSymlinkTargetBytes) {
    return "symlink target length out of range";
  }
  if (!ValidUtf8(target)) return "symlink target is not valid UTF-8";
  if (target.find('\0') != std::string_view::npos) {
    return "symlink target contains NUL";
  }
  if (target.front() == '/') return "symlink target is absolute";
  size_t ups = 0;
  bool below = false;
  for (size_t start = 0; start <= target.size();) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view comp = target.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (below) return "symlink target has '..' after a name";
      ++ups;
    } else {
      below = true;
    }
  }
  if (ups > depth) return "symlink target climbs above the tree root";
  return {};
}

std::string Label(size_t i, std::string_view name) {
  std::string out = "entry " + std::to_string(i);
  if (NameProblem(name).empty()) out += " " + ShowName(name);
  return out;
}

}  // namespace

std::string Directory::Serialize() const {
  std::string out(kMagic);
  PutVarint(out, entries.size());
  for (const DirEntry& e : entries) {
    out += static_cast<char>(e.kind);
    PutVarint(out, e.name.size());
    out += e.name;
    switch (e.kind) {
      case DirKind::kFile:
      case DirKind::kExecutable:
        PutVarint(out, e.size);
        if (e.size > 0) PutHash(out, e.hash);
        if (e.chunked()) PutVarint(out, e.list_size);
        break;
      case DirKind::kSymlink:
        PutVarint(out, e.target.size());
        out += e.target;
        break;
      case DirKind::kDirectory:
        PutHash(out, e.hash);
        PutVarint(out, e.size);
        PutVarint(out, e.entries);
        PutVarint(out, e.bytes);
        out += static_cast<char>(e.flags);
        if (e.flags & kDirInit) {
          PutVarint(out, e.init_size);
          if (e.init_size > 0) PutHash(out, e.init_hash);
        }
        break;
    }
  }
  return out;
}

Status Directory::Validate(size_t depth, std::string_view what) const {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(std::string(what) + ": " + std::string(why));
  };
  if (entries.size() > kMaxDirectoryEntries) {
    return bad("more than 1,000,000 entries");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const DirEntry& e = entries[i];
    auto bad_entry = [&](std::string_view why) {
      return bad(Label(i, e.name) + ": " + std::string(why));
    };
    if (!IsKind(static_cast<uint8_t>(e.kind))) return bad_entry("unknown kind");
    if (std::string_view p = NameProblem(e.name); !p.empty()) {
      return bad_entry(p);
    }
    if (i > 0 && !(entries[i - 1].name < e.name)) {
      return bad_entry(entries[i - 1].name == e.name ? "listed twice"
                                                     : "out of order");
    }
    switch (e.kind) {
      case DirKind::kFile:
      case DirKind::kExecutable:
        if (e.chunked() &&
            (e.list_size == 0 || e.list_size > kMaxObjectBytes)) {
          return bad_entry("chunk list size out of range");
        }
        break;
      case DirKind::kSymlink:
        if (std::string_view p = SymlinkProblem(e.target, depth); !p.empty()) {
          return bad_entry(p);
        }
        break;
      case DirKind::kDirectory:
        if (e.flags & ~(kDirCode | kDirInit)) {
          return bad_entry("unknown flag bits");
        }
        if (e.entries == 0)
          return bad_entry("claims a subtree with no entries");
        if ((e.flags & kDirInit) && !(e.flags & kDirCode)) {
          return bad_entry("INIT without CODE");
        }
        if ((e.flags & kDirInit) && e.init_size > e.bytes) {
          return bad_entry("__init__.py larger than the subtree");
        }
        if (e.size < kMinChildDirectoryBytes || e.size > kMaxDirectoryBytes) {
          return bad_entry("directory size out of range");
        }
        break;
    }
  }
  // Names equal after NFC and case folding would be one name on APFS, NTFS
  // or casefolded ext4: one would replace or merge with the other.
  std::unordered_map<std::string, size_t> folded;
  folded.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto [it, fresh] = folded.emplace(FoldName(entries[i].name), i);
    if (!fresh) {
      return bad("entries " + ShowName(entries[it->second].name) + " and " +
                 ShowName(entries[i].name) +
                 " collide: they differ only by case or Unicode normalisation");
    }
  }
  return Status::OK();
}

Result<Directory> Directory::Parse(std::string_view bytes, size_t depth,
                                   std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::Corrupt(std::string(what) + ": " + std::string(why));
  };
  if (bytes.size() > kMaxDirectoryBytes) {
    return bad("directory larger than 64 MiB");
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return bad("bad magic (not a format 2 directory)");
  }
  ByteReader r(bytes.substr(kMagic.size()));
  uint64_t count = 0;
  if (!r.Varint(&count)) return bad(r.error());
  if (count > kMaxDirectoryEntries) return bad("more than 1,000,000 entries");
  if (count > r.remaining() / kEntryMinBytes) {
    return bad("counts " + std::to_string(count) +
               " entries but has room for at most " +
               std::to_string(r.remaining() / kEntryMinBytes));
  }
  Directory dir;
  dir.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    DirEntry& e = dir.entries[i];
    auto fail = [&](std::string_view why) {
      return bad("entry " + std::to_string(i) + ": " + std::string(why));
    };
    uint8_t kind = 0;
    uint64_t len = 0;
    std::string_view name;
    if (!r.Byte(&kind)) return fail(r.error());
    if (!IsKind(kind)) return fail("unknown kind");
    e.kind = static_cast<DirKind>(kind);
    if (!r.Varint(&len)) return fail(r.error());
    if (len == 0 || len > kMaxComponentBytes) {
      return fail("name length out of range");
    }
    if (!r.Bytes(len, &name)) return fail(r.error());
    e.name = name;
    bool ok = true;
    switch (e.kind) {
      case DirKind::kFile:
      case DirKind::kExecutable:
        ok = r.Varint(&e.size) && (e.size == 0 || GetHash(r, &e.hash)) &&
             (!e.chunked() || r.Varint(&e.list_size));
        break;
      case DirKind::kSymlink: {
        std::string_view target;
        ok = r.Varint(&len);
        if (ok && (len == 0 || len > kMaxSymlinkTargetBytes)) {
          return fail("symlink target length out of range");
        }
        ok = ok && r.Bytes(len, &target);
        e.target = target;
        break;
      }
      case DirKind::kDirectory:
        ok = GetHash(r, &e.hash) && r.Varint(&e.size) && r.Varint(&e.entries) &&
             r.Varint(&e.bytes) && r.Byte(&e.flags) &&
             (!(e.flags & kDirInit) ||
              (r.Varint(&e.init_size) &&
               (e.init_size == 0 || GetHash(r, &e.init_hash))));
        break;
    }
    if (!ok) return fail(r.error());
  }
  if (!r.at_end()) return bad("trailing bytes after the last entry");
  LP_RETURN_IF_ERROR(dir.Validate(depth, what));
  return dir;
}

Result<DirEntry> Directory::EntryFor(std::string name,
                                     const Digest& self) const {
  DirEntry d;
  d.kind = DirKind::kDirectory;
  d.name = std::move(name);
  d.hash = self.hash;
  d.size = self.size;
  bool overflow = false;
  for (const DirEntry& e : entries) {
    if (e.kind == DirKind::kDirectory) {
      overflow |= __builtin_add_overflow(d.entries, e.entries, &d.entries);
      overflow |= __builtin_add_overflow(d.bytes, e.bytes, &d.bytes);
      if (e.flags & kDirCode) d.flags |= kDirCode;
      continue;
    }
    overflow |= __builtin_add_overflow(d.entries, uint64_t{1}, &d.entries);
    if (!e.is_file()) continue;
    overflow |= __builtin_add_overflow(d.bytes, e.size, &d.bytes);
    if (IsCodeFileName(e.name)) d.flags |= kDirCode;
    if (e.name == "__init__.py") {
      d.flags |= kDirInit;
      d.init_size = e.size;
      d.init_hash = e.hash;
    }
  }
  if (overflow) {
    return Status::Corrupt("directory " + self.hash.ToString() +
                           ": subtree totals overflow 64 bits");
  }
  return d;
}

Status Directory::CheckChild(const DirEntry& claim, const Directory& child) {
  std::string w =
      "directory " + claim.hash.ToString() + " (" + ShowName(claim.name) + ")";
  LP_ASSIGN_OR_RETURN(DirEntry real,
                      child.EntryFor(claim.name, {claim.hash, claim.size}));
  auto mismatch = [&](std::string_view field, uint64_t claimed, uint64_t is) {
    return Status::Corrupt(w + ": its parent claims " +
                           std::to_string(claimed) + " " + std::string(field) +
                           ", it holds " + std::to_string(is));
  };
  auto flag = [&](std::string_view name, bool claimed) {
    return Status::Corrupt(w + ": its parent " +
                           (claimed ? "claims " : "does not claim ") +
                           std::string(name) + ", wrongly");
  };
  if (claim.entries != real.entries) {
    return mismatch("entries", claim.entries, real.entries);
  }
  if (claim.bytes != real.bytes) {
    return mismatch("bytes", claim.bytes, real.bytes);
  }
  if ((claim.flags & kDirCode) != (real.flags & kDirCode)) {
    return flag("CODE", claim.flags & kDirCode);
  }
  if ((claim.flags & kDirInit) != (real.flags & kDirInit)) {
    return flag("INIT (an __init__.py file)", claim.flags & kDirInit);
  }
  if (claim.flags & ~(kDirCode | kDirInit)) {
    return Status::Corrupt(w + ": its parent sets unknown flag bits");
  }
  if (claim.flags & kDirInit) {
    if (claim.init_size != real.init_size) {
      return Status::Corrupt(w + ": its parent claims an __init__.py size of " +
                             std::to_string(claim.init_size) +
                             ", the child's is " +
                             std::to_string(real.init_size));
    }
    if (claim.init_size > 0 && claim.init_hash != real.init_hash) {
      return Status::Corrupt(
          w + ": its parent's __init__.py hash " + claim.init_hash.ToString() +
          " is not the child's " + real.init_hash.ToString());
    }
  }
  return Status::OK();
}

Result<Directory> Directory::ParseChild(const DirEntry& claim,
                                        std::string_view bytes, size_t depth) {
  std::string w = "directory " + claim.hash.ToString();
  if (bytes.size() != claim.size || HashBytes(bytes).hash != claim.hash) {
    return Status::Corrupt(w + " (" + ShowName(claim.name) +
                           "): " + std::to_string(bytes.size()) +
                           " bytes that do not match its digest");
  }
  LP_ASSIGN_OR_RETURN(Directory child, Parse(bytes, depth, w));
  LP_RETURN_IF_ERROR(CheckChild(claim, child));
  return child;
}

std::vector<SlotShape> Directory::SlotShapes() const {
  std::vector<SlotShape> shapes;
  shapes.reserve(entries.size());
  for (const DirEntry& e : entries) {
    if (e.kind == DirKind::kSymlink || (e.is_file() && e.size == 0)) {
      shapes.push_back({SlotType::kNone, 0, 0});
    } else if (e.is_file()) {
      shapes.push_back(e.chunked()
                           ? SlotShape{SlotType::kLocated, e.list_size, 0}
                           : SlotShape{SlotType::kFrame, e.size, 0});
    } else if (e.init_framed()) {
      shapes.push_back({SlotType::kLocatedInit, e.size, e.init_size});
    } else {
      shapes.push_back({SlotType::kLocated, e.size, 0});
    }
  }
  return shapes;
}

Result<std::string> ChildPath(std::string_view dir_path,
                              std::string_view name) {
  std::string path = dir_path.empty()
                         ? std::string(name)
                         : std::string(dir_path) + "/" + std::string(name);
  auto bad = [&](std::string_view why) {
    return Status::Corrupt("tree path '" + path.substr(0, 200) +
                           "': " + std::string(why));
  };
  if (path.size() > kMaxPathBytes) return bad("longer than 4096 bytes");
  if (static_cast<size_t>(std::count(path.begin(), path.end(), '/')) + 1 >
      kMaxDepth) {
    return bad("nested deeper than 128");
  }
  return path;
}

Result<DirectorySet> BuildDirectories(const std::vector<TreeEntry>& entries) {
  std::vector<FlatEntry> flat;
  flat.reserve(entries.size());
  for (const TreeEntry& e : entries) flat.push_back({e, {}});
  return BuildDirectories(flat);
}

Result<DirectorySet> BuildDirectories(const std::vector<FlatEntry>& entries) {
  struct Node {
    std::vector<DirEntry> entries;
    std::vector<std::string> subdirs;
    size_t depth = 0;
  };
  std::map<std::string, Node, std::less<>> nodes;
  // The directory of the previous entry: sorted input keeps siblings
  // together, so most entries find their directory without a lookup. (A
  // directory's node exists only once all its ancestors' do.)
  std::string_view last_parent;
  Node* last_node = &nodes[""];
  for (const FlatEntry& f : entries) {
    const TreeEntry& t = f.entry;
    LP_RETURN_IF_ERROR(ValidateTreePath(t.path));
    std::string_view path(t.path);
    size_t up = path.rfind('/');
    std::string_view parent =
        up == std::string_view::npos ? "" : path.substr(0, up);
    Node* node = last_node;
    if (parent != last_parent) {
      auto found = nodes.find(parent);
      if (found != nodes.end()) {
        node = &found->second;
      } else {
        for (size_t slash = path.find('/'); slash != std::string_view::npos;
             slash = path.find('/', slash + 1)) {
          std::string dir(path.substr(0, slash));
          if (nodes.count(dir)) continue;
          size_t dir_up = dir.rfind('/');
          std::string dir_parent =
              dir_up == std::string::npos ? "" : dir.substr(0, dir_up);
          Node& above = nodes[dir_parent];
          above.subdirs.push_back(
              dir_up == std::string::npos ? dir : dir.substr(dir_up + 1));
          const size_t depth = above.depth + 1;
          nodes[dir].depth = depth;
        }
        node = &nodes.find(parent)->second;
      }
      last_parent = parent;
      last_node = node;
    }
    DirEntry e;
    e.name = up == std::string_view::npos ? t.path : t.path.substr(up + 1);
    e.kind = static_cast<DirKind>(t.kind);
    if (t.kind == EntryKind::kSymlink) {
      e.target = t.target;
    } else {
      e.size = t.blob.size;
      bool big = e.size > kChunkThreshold;
      if (big != (f.chunk_list.size > 0)) {
        return Status::InvalidArgument(
            "tree path '" + t.path +
            (big ? "': a file over 2 MiB needs its chunk list"
                 : "': only files over 2 MiB have a chunk list"));
      }
      if (big) {
        e.hash = f.chunk_list.hash;
        e.list_size = f.chunk_list.size;
      } else if (e.size > 0) {
        e.hash = t.blob.hash;
      }
    }
    node->entries.push_back(std::move(e));
  }
  std::vector<std::map<std::string, Node, std::less<>>::iterator> order;
  for (auto it = nodes.begin(); it != nodes.end(); ++it) order.push_back(it);
  std::stable_sort(order.begin(), order.end(), [](auto a, auto b) {
    return a->second.depth > b->second.depth;
  });
  DirectorySet set;
  for (auto it : order) {
    const std::string& path = it->first;
    Node& node = it->second;
    for (const std::string& sub : node.subdirs) {
      const BuiltDirectory& child =
          set.dirs.at(path.empty() ? sub : path + "/" + sub);
      LP_ASSIGN_OR_RETURN(DirEntry d, child.dir.EntryFor(sub, child.digest));
      node.entries.push_back(std::move(d));
    }
    BuiltDirectory built;
    built.depth = node.depth;
    built.dir.entries = std::move(node.entries);
    std::sort(
        built.dir.entries.begin(), built.dir.entries.end(),
        [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    std::string what =
        path.empty() ? "tree root" : "tree directory '" + path + "'";
    const auto& built_entries = built.dir.entries;
    for (size_t i = 1; i < built_entries.size(); ++i) {
      if (built_entries[i - 1].name == built_entries[i].name &&
          (built_entries[i - 1].kind == DirKind::kDirectory) !=
              (built_entries[i].kind == DirKind::kDirectory)) {
        std::string p = path.empty() ? built_entries[i].name
                                     : path + "/" + built_entries[i].name;
        return Status::Corrupt("tree paths '" + p + "' and '" + p +
                               "/...' collide: a file cannot also be a "
                               "directory");
      }
    }
    LP_RETURN_IF_ERROR(built.dir.Validate(node.depth, what));
    built.bytes = built.dir.Serialize();
    if (built.bytes.size() > kMaxDirectoryBytes) {
      return Status::InvalidArgument(what + ": directory object over 64 MiB");
    }
    built.digest = HashBytes(built.bytes);
    set.dirs.emplace(path, std::move(built));
  }
  set.root = set.dirs.at("").digest;
  return set;
}

}  // namespace lazypath
