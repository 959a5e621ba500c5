// Test-only helpers: reading doc/vectors/*.json (LAZYPATH_TESTDATA).
#ifndef LAZYPATH_UTIL_TEST_VECTORS_H_
#define LAZYPATH_UTIL_TEST_VECTORS_H_

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace lazypath::testing_vectors {

inline nlohmann::json Load(const std::string& name) {
  std::ifstream in(std::string(LAZYPATH_TESTDATA) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

inline std::string FromHex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

inline std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

}  // namespace lazypath::testing_vectors

#endif  // LAZYPATH_UTIL_TEST_VECTORS_H_
