// FileStore: a store in a local or mounted directory (file:// URLs).
//
// Objects are files under the root at their key path. Writes go to
// <root>/.tmp/ and are renamed into place after fsync, so a crash never
// leaves a partial object visible; .tmp/ holds only debris from crashes.
// Thread-safe; many processes may share one root.
#ifndef LAZYPATH_STORE_FILE_STORE_H_
#define LAZYPATH_STORE_FILE_STORE_H_

#include <memory>
#include <string>

#include "lazypath/store.h"
#include "util/fd.h"

namespace lazypath {

class FileStore : public Store {
 public:
  // `url` is what the user gave; `root` the directory. With `create`, the
  // root is made when missing; otherwise a missing root is NotFound.
  static Result<std::unique_ptr<Store>> Open(const std::string& url,
                                             const std::string& root,
                                             bool create);
  const std::string& url() const override { return url_; }
  Result<std::string> Get(const std::string& key, uint64_t max_size) override;
  Status GetRange(const std::string& key, uint64_t offset, uint64_t length,
                  const ByteSink& sink) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  // <root>/.tmp: AdoptFile renames a file assembled there into place.
  std::string StagingDir() override;
  Status AdoptFile(const std::string& key, const std::string& path) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;
  // Versions are content digests. PutIfVersion checks and renames under an
  // exclusive flock on <root>/.refs.lock, so conditional writers on one
  // host, or on a file system with working flock (NFSv4, not all FUSE
  // mounts), exclude each other.
  Result<VersionedObject> GetVersioned(const std::string& key,
                                       uint64_t max_size) override;
  Status PutIfVersion(const std::string& key, std::string_view data,
                      const std::string& expected_version) override;
  // Unlinks the file; DeleteIfVersion checks and unlinks under the same
  // flock as PutIfVersion.
  Status Delete(const std::string& key) override;
  Status DeleteIfVersion(const std::string& key,
                         const std::string& expected_version) override;

 private:
  FileStore(std::string url, std::string root)
      : url_(std::move(url)), root_(std::move(root)) {}
  Status CheckKey(const std::string& key) const;
  // An exclusive flock on <root>/.refs.lock, held while the Fd lives.
  Result<fs::Fd> LockRefs();
  std::string Path(const std::string& key) const;
  std::string url_;
  std::string root_;
};

}  // namespace lazypath

#endif  // LAZYPATH_STORE_FILE_STORE_H_
