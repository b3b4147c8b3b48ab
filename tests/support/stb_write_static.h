// The tests' own copy of stb_image_write, static in each test file that includes it: JPEG, BMP, TGA and
// grey or alpha PNGs made independently of the encoder under test (and JPEGs for EXIF tags to go into).
#pragma once
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include "stb_image_write.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
