#include "lazypath/store.h"

#include "store/file_store.h"
#include "store/gcs_store.h"
#include "store/http_store.h"
#include "store/s3_store.h"

namespace lazypath {

std::string TreeKey(const Hash& tree) {
  return std::string(kTreePrefix) + tree.hex();
}
std::string IndexKey(const Hash& tree) {
  return std::string(kIndexPrefix) + tree.hex();
}
std::string PackKey(const Hash& pack) {
  return std::string(kPackPrefix) + pack.hex();
}
std::string RefKey(std::string_view name) {
  return std::string(kRefPrefix) + std::string(name);
}

Status ValidateRefName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("ref name '" +
                                   std::string(name.substr(0, 200)) +
                                   "': " + std::string(why));
  };
  if (name.empty() || name.size() > 200) return bad("must be 1-200 bytes");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view comp = name.substr(start, slash - start);
    if (comp.empty()) return bad("empty component");
    if (comp[0] == '.') return bad("a component starts with '.'");
    for (char c : comp) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      if (!ok)
        return bad("only letters, digits, '.', '_', '-' and '/' allowed");
    }
    start = slash + 1;
  }
  if (name.substr(0, 7) == "sha256:") return bad("looks like a digest");
  return Status::OK();
}

std::string SerializeRef(const Hash& tree) { return tree.ToString() + "\n"; }

Result<Hash> ParseRef(std::string_view bytes, std::string_view what) {
  if (bytes.size() != 72 || bytes.back() != '\n') {
    return Status::Corrupt(std::string(what) +
                           ": not a ref (want 'sha256:<hex>\\n')");
  }
  auto h = Hash::Parse(bytes.substr(0, 71));
  if (!h.ok())
    return Status::Corrupt(std::string(what) + ": " + h.status().message());
  return h;
}

Result<Hash> ReadRef(Store& store, std::string_view name) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  auto data = store.Get(RefKey(name), 4096);
  if (!data.ok()) {
    if (data.status().code() == Code::kNotFound) {
      return Status::NotFound("ref '" + std::string(name) + "' not in store " +
                              store.url());
    }
    return data.status();
  }
  return ParseRef(*data, store.url() + " ref '" + std::string(name) + "'");
}

Status WriteRef(Store& store, std::string_view name, const Hash& tree) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  return store.Put(RefKey(name), SerializeRef(tree));
}

Result<VersionedObject> Store::GetVersioned(const std::string& key,
                                            uint64_t /*max_size*/) {
  return Status::Unsupported("store " + url() + ": no conditional writes (" +
                             key + ")");
}

Status Store::PutIfVersion(const std::string& key, std::string_view /*data*/,
                           const std::string& /*expected_version*/) {
  return Status::Unsupported("store " + url() + ": no conditional writes (" +
                             key + ")");
}

Status Store::Delete(const std::string& key) {
  return Status::Unsupported("store " + url() + ": cannot delete (" + key +
                             ")");
}

Status Store::DeleteIfVersion(const std::string& key,
                              const std::string& /*expected_version*/) {
  return Status::Unsupported("store " + url() + ": cannot delete (" + key +
                             ")");
}

Result<RefState> ReadRefState(Store& store, std::string_view name) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  RefState state;
  auto got = store.GetVersioned(RefKey(name), 4096);
  if (!got.ok() && got.status().code() == Code::kUnsupported) {
    auto tree = ReadRef(store, name);
    if (tree.ok()) {
      state.tree = *tree;
    } else if (tree.status().code() != Code::kNotFound) {
      return tree.status();
    }
    return state;
  }
  state.conditional = true;
  if (!got.ok()) {
    if (got.status().code() != Code::kNotFound) return got.status();
    return state;
  }
  LP_ASSIGN_OR_RETURN(
      state.tree,
      ParseRef(got->data, store.url() + " ref '" + std::string(name) + "'"));
  state.version = std::move(got->version);
  return state;
}

Status UpdateRef(Store& store, std::string_view name, const Hash& tree,
                 const RefState& seen) {
  LP_RETURN_IF_ERROR(ValidateRefName(name));
  if (!seen.conditional) return WriteRef(store, name, tree);
  Status s = store.PutIfVersion(RefKey(name), SerializeRef(tree), seen.version);
  if (s.code() != Code::kConflict) return s;
  // A retried request whose first attempt landed also reports a conflict:
  // look at what the ref names now.
  auto now = ReadRef(store, name);
  if (now.ok() && *now == tree) return Status::OK();
  std::string current =
      now.ok() ? now->ToString()
               : (now.status().code() == Code::kNotFound ? "nothing"
                                                         : "an unreadable ref");
  std::string expected = seen.tree ? seen.tree->ToString() : "no ref";
  return Status::Conflict("ref '" + std::string(name) + "' in store " +
                          store.url() + " moved to " + current +
                          " while this update ran (expected " + expected +
                          "); " + tree.ToString() + " was not tagged");
}

namespace {

// The hex digits of a digest prefix: "sha256:" and 4-63 lowercase hex
// digits, or 4-64 bare ones; empty when `ref` is neither.
std::string_view HexPrefix(std::string_view ref) {
  bool tagged = ref.substr(0, 7) == "sha256:";
  std::string_view hex = tagged ? ref.substr(7) : ref;
  if (hex.size() < kMinDigestPrefix || hex.size() > 64) return {};
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return hex;
}

}  // namespace

Result<Hash> ResolveRef(Store& store, std::string_view ref) {
  if (auto full = Hash::Parse(ref); full.ok()) return full;
  std::string_view hex = HexPrefix(ref);
  if (hex.empty()) {
    if (ref.substr(0, 7) == "sha256:") return Hash::Parse(ref);  // its error
    return ReadRef(store, ref);
  }
  if (ValidateRefName(ref).ok()) {  // a ref named like hex digits wins
    auto named = ReadRef(store, ref);
    if (named.ok() || named.status().code() != Code::kNotFound) return named;
  }
  LP_ASSIGN_OR_RETURN(auto keys,
                      store.List(std::string(kTreePrefix) + std::string(hex)));
  std::vector<Hash> found;
  for (const auto& key : keys) {
    auto h = Hash::FromHex(std::string_view(key).substr(kTreePrefix.size()));
    if (h.ok()) found.push_back(*h);
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    return Status::NotFound("no ref or tree '" + std::string(ref) +
                            "' in store " + store.url());
  }
  std::string list;
  for (size_t i = 0; i < found.size() && i < 5; ++i) {
    list += (i ? ", " : "") + found[i].ToString();
  }
  if (found.size() > 5) {
    list += ", ... (" + std::to_string(found.size()) + " trees)";
  }
  return Status::InvalidArgument("digest prefix '" + std::string(ref) +
                                 "' is ambiguous in store " + store.url() +
                                 ": " + list);
}

Result<std::string> FileUrlPath(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(url) + ": malformed file URL (" +
                                   std::string(why) +
                                   "; want file:///absolute/path)");
  };
  if (url.substr(0, 7) != "file://") return bad("not file://");
  std::string_view rest = url.substr(7);
  // RFC 8089: an empty authority or "localhost" names this machine.
  if (rest.substr(0, 9) == "localhost") rest.remove_prefix(9);
  if (rest.empty() || rest[0] != '/') return bad("no absolute path");
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment");
  }
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      path += rest[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = i + 2 < rest.size() ? hex(rest[i + 1]) : -1;
    int lo = i + 2 < rest.size() ? hex(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0) return bad("'%' not followed by two hex digits");
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return bad("an encoded NUL byte");
    path += c;
    i += 2;
  }
  return path;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         const StoreOptions& options) {
  if (url.empty()) return Status::InvalidArgument("empty store URL");
  size_t colon = url.find("://");
  if (colon == std::string::npos) {
    return FileStore::Open(url, url, options.create);
  }
  std::string scheme = url.substr(0, colon);
  if (scheme == "file") {
    LP_ASSIGN_OR_RETURN(std::string path, FileUrlPath(url));
    return FileStore::Open(url, path, options.create);
  }
  if (scheme == "s3") return S3Store::Open(url, ProcessEnv());
  if (scheme == "gs") return GcsStore::Open(url, ProcessEnv());
  if (scheme == "https" || scheme == "http") {
    LP_ASSIGN_OR_RETURN(auto store, HttpStore::Open(url, ProcessEnv()));
    if (options.create) {  // only writers create: fail before any traffic
      return Status::Unsupported("store " + store->url() +
                                 ": read-only store (https:// stores are "
                                 "served by a static server; push to the "
                                 "store it publishes)");
    }
    return store;
  }
  // Never echo the part after "://": it may carry credentials.
  return Status::InvalidArgument(
      "store '" + scheme.substr(0, 20) + "://...': unknown scheme '" +
      scheme.substr(0, 20) +
      "' (supported: file://, s3://, gs://, https://, or a plain path)");
}

}  // namespace lazypath
