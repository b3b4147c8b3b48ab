// Writes a small random-weight model file (tests/support/random_model.h) for the CLI and browser tests:
//   make_test_model OUT.aem [arch] [name] [stages] [family_id role] [n=CHANNELS] [m=LATENT_CHANNELS]
#include <cstdio>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "random_model.h"

int main(int argc, char** argv) {
  aec::testing::RandomModelSpec s;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("n=", 0) == 0) s.n = std::stoi(a.substr(2));
    else if (a.rfind("m=", 0) == 0) s.m = std::stoi(a.substr(2));
    else pos.push_back(a);
  }
  if (pos.empty()) {
    std::fprintf(stderr, "usage: make_test_model OUT.aem [arch] [name] [stages] [family_id role] [n=N] [m=M]\n");
    return 2;
  }
  if (pos.size() > 1) s.arch = pos[1];
  s.name = pos.size() > 2 ? pos[2] : "test-" + s.arch;
  if (pos.size() > 3) s.stages = std::stoi(pos[3]);
  if (pos.size() > 5) s.family_id = pos[4], s.family_role = pos[5];
  try {
    aec::testing::make_random_model(s).write(pos[0]);
  } catch (const aec::Error& e) {
    std::fprintf(stderr, "make_test_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
