// A stand-in for libFuzzer's driver when building with GCC: runs every file
// given (or found in given directories), then `-runs=N` deterministic
// mutations of them (byte flips, truncations, insertions, splices). ctest uses
// it so that every fuzz target runs briefly on every test run; the real
// coverage-guided runs use clang and scripts/fuzz.sh.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Collect(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return;
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      Collect(path + "/" + e->d_name, out);
    }
    ::closedir(d);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  out->push_back(ss.str());
}

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 0;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "-runs=", 6) == 0) {
      runs = std::atol(argv[i] + 6);
    } else if (argv[i][0] != '-') {
      Collect(argv[i], &seeds);
    }
  }
  if (seeds.empty()) seeds.push_back("");
  for (const auto& s : seeds) Run(s);
  std::mt19937_64 rng(12345);
  for (long r = 0; r < runs; ++r) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 5) {
        case 0:
          if (!s.empty())
            s[rng() % s.size()] ^= static_cast<char>(1 << (rng() % 8));
          break;
        case 1:
          if (!s.empty()) s.resize(rng() % s.size());
          break;
        case 2:
          s.insert(
              s.begin() + static_cast<long>(s.empty() ? 0 : rng() % s.size()),
              static_cast<char>(rng()));
          break;
        case 3: {
          const std::string& o = seeds[rng() % seeds.size()];
          if (!o.empty()) s += o.substr(rng() % o.size());
          break;
        }
        default:
          if (!s.empty()) s[rng() % s.size()] = "0 %/\n:,[]\"9af"[rng() % 14];
      }
    }
    Run(s);
  }
  std::printf("%zu seeds, %ld mutations: no crash\n", seeds.size(), runs);
  return 0;
}
