// Writes a small random-weight model file (tests/support/random_model.h) for the CLI and browser tests:
//   make_test_model OUT.aem [arch] [name] [stages] [family_id role]
#include <cstdio>
#include <string>

#include "aecodec/error.h"
#include "random_model.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_test_model OUT.aem [arch] [name] [stages] [family_id role]\n");
    return 2;
  }
  aec::testing::RandomModelSpec s;
  if (argc > 2) s.arch = argv[2];
  s.name = argc > 3 ? argv[3] : "test-" + s.arch;
  if (argc > 4) s.stages = std::stoi(argv[4]);
  if (argc > 6) s.family_id = argv[5], s.family_role = argv[6];
  try {
    aec::testing::make_random_model(s).write(argv[1]);
  } catch (const aec::Error& e) {
    std::fprintf(stderr, "make_test_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
