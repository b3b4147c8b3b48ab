// Writes the synthetic test image of tests/support/test_images.h at any size as a binary PPM on stdout, for
// bench/large.sh (which turns it into the JPEG a camera would give). Built by that script with the system
// compiler: it needs only headers.
//   large_image WIDTH HEIGHT > out.ppm
#include <cstdio>
#include <cstdlib>

#include "test_images.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: large_image WIDTH HEIGHT > out.ppm\n");
    return 2;
  }
  const int w = std::atoi(argv[1]), h = std::atoi(argv[2]);
  if (w <= 0 || h <= 0 || w > 65536 || h > 65536) {
    std::fprintf(stderr, "large_image: bad size\n");
    return 2;
  }
  const aec::Image im = aec::testing::synthetic_image(w, h, 7);
  std::printf("P6\n%d %d\n255\n", w, h);
  return std::fwrite(im.rgb.data(), 1, im.rgb.size(), stdout) == im.rgb.size() ? 0 : 1;
}
