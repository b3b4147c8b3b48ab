// Image files on disk for the CLI: the images of a folder (eval, rd), and a PNG written by bands of rows as
// the decoder produces them (decode), so a 50 MP image is never held whole a second time for its file.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace aec::cli {

// Every PNG, JPEG, BMP and TGA below dir (recursively), sorted; throws when there is none.
std::vector<std::string> image_files(const std::string& dir);

// An 8-bit RGB PNG written row band by row band (zlib, one deflate stream over the IDAT chunks) into
// "<path>.tmp-<pid>"; finish() checks that every row came, then flushes, syncs and renames it over path. An
// error, or destruction before finish(), removes the temporary: no partial file is ever left under path.
class PngRowWriter {
 public:
  explicit PngRowWriter(std::string path);
  ~PngRowWriter();
  PngRowWriter(const PngRowWriter&) = delete;
  PngRowWriter& operator=(const PngRowWriter&) = delete;
  // Rows [y0, y0 + rows) of a width x height image, in order (aec::RowSink's signature).
  void rows(int width, int height, int y0, int rows, const uint8_t* rgb);
  void finish();

 private:
  struct Deflate;
  void start(int width, int height);
  void chunk(const char* type, const uint8_t* data, size_t size);
  void write(const uint8_t* data, size_t size);
  void deflate_out(const uint8_t* data, size_t size, bool last);
  void fail(const std::string& why);

  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<Deflate> z_;
  int width_ = 0, height_ = 0, next_row_ = 0;
  size_t out_used_ = 0;
  std::vector<uint8_t> prev_, line_, best_, out_;
  bool done_ = false;
};

}  // namespace aec::cli
