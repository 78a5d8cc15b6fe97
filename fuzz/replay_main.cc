// fuzz/replay_main.cc: runs a fuzz target's LLVMFuzzerTestOneInput over files and folders given on
// the command line, so that builds without libFuzzer (gcc, ASan+UBSan) still check the seed corpus.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int runFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
  return 1;
}

int main(int argc, char** argv) {
  int n = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) n += runFile(e.path());
    } else if (std::filesystem::exists(p)) {
      n += runFile(p);
    } else {
      std::fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
      return 1;
    }
  }
  if (n == 0) {
    std::fprintf(stderr, "replay: no inputs ran (empty corpus?)\n");
    return 1;
  }
  std::printf("replay: %d inputs ran without a crash\n", n);
  return 0;
}
