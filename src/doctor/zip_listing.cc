// Reads the member names of a zip archive from its central directory, the
// way zipimport's _read_directory does: the end-of-central-directory record
// is looked for at the end of the file (allowing a comment of up to 64 KiB),
// and data prepended to the archive (a self-extracting stub) is tolerated.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "lazypath/doctor.h"
#include "util/fs.h"

namespace lazypath::doctor {
namespace {

uint32_t Le16(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8;
}

uint32_t Le32(const std::string& b, size_t at) {
  return Le16(b, at) | Le16(b, at + 2) << 16;
}

constexpr size_t kEocdSize = 22;
constexpr size_t kCentralHeaderSize = 46;

}  // namespace

Result<std::vector<std::string>> ListZip(const std::string& path) {
  // Archives used as sys.path entries are small enough to read whole; cap it
  // so a huge non-zip file is refused rather than slurped.
  LP_ASSIGN_OR_RETURN(std::string data, fs::ReadFile(path, uint64_t{1} << 31));
  if (data.size() < kEocdSize) {
    return Status::Corrupt(path + ": not a zip archive (too short)");
  }
  size_t eocd = std::string::npos;
  size_t lowest =
      data.size() > kEocdSize + 65535 ? data.size() - kEocdSize - 65535 : 0;
  for (size_t i = data.size() - kEocdSize + 1; i-- > lowest;) {
    if (Le32(data, i) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) {
    return Status::Corrupt(path +
                           ": not a zip archive (no end of central directory)");
  }
  uint32_t count = Le16(data, eocd + 10);
  uint32_t cd_size = Le32(data, eocd + 12);
  if (cd_size > eocd) {
    return Status::Corrupt(path + ": bad zip central directory size");
  }
  size_t pos = eocd - cd_size;
  std::vector<std::string> names;
  names.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (pos + kCentralHeaderSize > eocd || Le32(data, pos) != 0x02014b50) {
      return Status::Corrupt(path + ": bad zip central directory entry " +
                             std::to_string(i));
    }
    size_t name_len = Le16(data, pos + 28);
    size_t extra_len = Le16(data, pos + 30);
    size_t comment_len = Le16(data, pos + 32);
    if (pos + kCentralHeaderSize + name_len > eocd) {
      return Status::Corrupt(path + ": truncated zip central directory");
    }
    names.push_back(data.substr(pos + kCentralHeaderSize, name_len));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  return names;
}

}  // namespace lazypath::doctor
