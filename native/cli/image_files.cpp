#include "image_files.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "aecodec/error.h"

namespace fs = std::filesystem;

namespace aec::cli {

std::vector<std::string> image_files(const std::string& dir) {
  std::error_code ec;
  require(fs::is_directory(dir, ec), "'" + dir + "' is not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (e.is_regular_file() &&
        (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga"))
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  require(!files.empty(), "no images (png, jpg, bmp, tga) in '" + dir + "'");
  return files;
}

struct PngRowWriter::Deflate {
  z_stream s{};
  bool open = false;
  ~Deflate() {
    if (open) deflateEnd(&s);
  }
};

namespace {

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 3; i >= 0; --i) v.push_back(uint8_t(x >> (8 * i)));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Row `cur` filtered with PNG filter type `f` (bpp 3) against `prev` into out[1..], out[0] = f.
void filter_row(int f, const uint8_t* cur, const uint8_t* prev, size_t n, uint8_t* out) {
  out[0] = uint8_t(f);
  for (size_t i = 0; i < n; ++i) {
    const int a = i >= 3 ? cur[i - 3] : 0, b = prev[i], c = i >= 3 ? prev[i - 3] : 0;
    const int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
    out[i + 1] = uint8_t(cur[i] - pred);
  }
}

}  // namespace

PngRowWriter::PngRowWriter(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp-" + std::to_string(getpid());
}

PngRowWriter::~PngRowWriter() {
  if (file_) std::fclose(file_);
  if (!done_ && !tmp_.empty()) std::remove(tmp_.c_str());
}

void PngRowWriter::fail(const std::string& why) {
  if (file_) std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
  throw Error("cannot write '" + path_ + "': " + why);
}

void PngRowWriter::write(const uint8_t* data, size_t size) {
  if (size && std::fwrite(data, 1, size, file_) != size) fail("write error (disk full?)");
}

void PngRowWriter::chunk(const char* type, const uint8_t* data, size_t size) {
  std::vector<uint8_t> head;
  put_be32(head, uint32_t(size));
  head.insert(head.end(), type, type + 4);
  write(head.data(), head.size());
  write(data, size);
  uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(type), 4);
  if (size) crc = ::crc32(crc, data, uInt(size));
  std::vector<uint8_t> tail;
  put_be32(tail, uint32_t(crc));
  write(tail.data(), tail.size());
}

void PngRowWriter::start(int width, int height) {
  require(width > 0 && height > 0 && width <= (1 << 24) && height <= (1 << 24),
          "PNG writer: bad image size " + std::to_string(width) + "x" + std::to_string(height));
  width_ = width, height_ = height;
  file_ = std::fopen(tmp_.c_str(), "wb");
  require(file_ != nullptr, "cannot create '" + tmp_ + "'");
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  write(sig, 8);
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, uint32_t(width));
  put_be32(ihdr, uint32_t(height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, adaptive filtering, no interlace
  chunk("IHDR", ihdr.data(), ihdr.size());
  z_ = std::make_unique<Deflate>();
  // Level 1: at 12 MP levels 3 and 6 cost 1 and 5 s more on one thread for files 4 and 7 % smaller (level 1
  // is still a third smaller than stb_image_write's).
  if (deflateInit(&z_->s, 1) != Z_OK) fail("zlib could not start");
  z_->open = true;
  const size_t n = size_t(width) * 3;
  prev_.assign(n, 0);
  line_.resize(n + 1), best_.resize(n + 1);
  out_.resize(1 << 18);
}

// Compressed bytes collect in out_ and leave as IDAT chunks of 256 KiB (the last one shorter).
void PngRowWriter::deflate_out(const uint8_t* data, size_t size, bool last) {
  z_stream& s = z_->s;
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = uInt(size);
  for (;;) {
    s.next_out = out_.data() + out_used_;
    s.avail_out = uInt(out_.size() - out_used_);
    const int rc = deflate(&s, last ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) fail("zlib error");
    out_used_ = out_.size() - s.avail_out;
    if (out_used_ == out_.size() || (last && rc == Z_STREAM_END && out_used_)) {
      chunk("IDAT", out_.data(), out_used_);
      out_used_ = 0;
    }
    if (last ? rc == Z_STREAM_END : s.avail_in == 0 && s.avail_out != 0) break;
  }
}

void PngRowWriter::rows(int width, int height, int y0, int rows, const uint8_t* rgb) {
  if (!file_) start(width, height);
  require(width == width_ && height == height_ && y0 == next_row_ && rows >= 0 && y0 + rows <= height_,
          "PNG writer: rows out of order");
  const size_t n = size_t(width) * 3;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* cur = rgb + size_t(r) * n;
    // The filter with the smallest sum of absolute (signed) residuals, as libpng and stb_image_write pick.
    uint64_t best_cost = UINT64_MAX;
    for (int f = 0; f < 5; ++f) {
      filter_row(f, cur, prev_.data(), n, line_.data());
      uint64_t cost = 0;
      for (size_t i = 1; i <= n; ++i) cost += uint64_t(std::abs(int(int8_t(line_[i]))));
      if (cost < best_cost) best_cost = cost, best_.swap(line_);
    }
    deflate_out(best_.data(), best_.size(), false);
    std::copy_n(cur, n, prev_.data());
  }
  next_row_ += rows;
}

void PngRowWriter::finish() {
  require(file_ != nullptr && next_row_ == height_, "PNG writer: the image is incomplete");
  deflate_out(nullptr, 0, true);
  chunk("IEND", nullptr, 0);
  bool ok = std::fflush(file_) == 0;
  ok = fsync(fileno(file_)) == 0 && ok;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot finish the file");
  done_ = true;
}

}  // namespace aec::cli
