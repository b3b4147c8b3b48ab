#include "aecodec/image.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

#include "aecodec/colour.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/parallel.h"

// stb is compiled into this translation unit (not linked from the system's libstb) so that the very same file
// builds under Emscripten. The functions are made static so that another part of the program (or a test) that
// carries its own copy of stb cannot collide with ours at link time.
//
// Only the four formats the interface promises are compiled in: fewer parsers means less attack surface and
// a smaller wasm. STBI_NO_STDIO because every byte comes through read_file/decode_image (memory only).
// STBI_MAX_DIMENSIONS is only a backstop: our own ImageLimits check (on a PNG's IHDR, then on stbi_info's
// answer) runs before any decode; the backstop matters if a file's header parses differently in "info" and
// "load". It caps what an ImageLimits can usefully allow at 65536 px per side.
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#define STBI_MAX_DIMENSIONS (1 << 16)
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include "stb_image.h"
#include "stb_image_write.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace aec {

namespace {

// Every function taking an Image checks its invariant: a mismatched buffer would otherwise be read out of
// bounds by the pixel loops (and by stb_image_write).
void check_image(const Image& image, const char* what) {
  require(image.width > 0 && image.height > 0, std::string(what) + ": image has zero size (" +
                                                   std::to_string(image.width) + "x" +
                                                   std::to_string(image.height) + ")");
  require(image.rgb.size() == size_t(image.width) * size_t(image.height) * 3,
          std::string(what) + ": image buffer holds " + std::to_string(image.rgb.size()) + " bytes, not " +
              std::to_string(image.width) + "x" + std::to_string(image.height) + "x3");
}

std::string dims(int64_t w, int64_t h) {
  return std::to_string(w) + "x" + std::to_string(h);
}

// The limits, with the sizes in 64 bits: a PNG header's fields are 32-bit unsigned.
void check_size(int64_t w, int64_t h, const ImageLimits& limits) {
  require(w > 0 && h > 0, "image has zero size (" + dims(w, h) + ")");
  require(w <= limits.max_side && h <= limits.max_side, "image is " + dims(w, h) + ", over the limit of " +
                                                            std::to_string(limits.max_side) + " px per side");
  require(w * h <= limits.max_pixels, "image is " + dims(w, h) + " = " + std::to_string(w * h) +
                                          " pixels, over the limit of " + std::to_string(limits.max_pixels) +
                                          " pixels");
}

// Width and height from a PNG's IHDR (signature, then IHDR as the first chunk, as the format requires).
bool png_ihdr_size(const uint8_t* d, size_t size, int64_t* w, int64_t* h) {
  static const uint8_t sig[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  if (size < 24 || !std::equal(sig, sig + 12, d) || !std::equal(d + 12, d + 16, "IHDR")) return false;
  auto be32 = [d](size_t i) {
    return int64_t(d[i]) << 24 | int64_t(d[i + 1]) << 16 | int64_t(d[i + 2]) << 8 | d[i + 3];
  };
  *w = be32(16);
  *h = be32(20);
  return true;
}

uint32_t le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// stb_image reads past the end of an uncompressed BMP or TGA as zeros, so a truncated file would decode into
// a partly black image without complaint. Refuse files shorter than their header says the pixels need, and
// PNGs whose chunks run past the end.
void check_complete(const uint8_t* d, size_t size) {
  if (size >= 54 && d[0] == 'B' && d[1] == 'M') {
    const uint32_t header = le(d + 14, 4), compression = le(d + 30, 4), offset = le(d + 10, 4);
    if (header < 40 || (compression != 0 && compression != 3)) return;  // RLE sizes vary: stb checks those
    const uint64_t w = uint64_t(std::abs(int64_t(int32_t(le(d + 18, 4)))));
    const uint64_t h = uint64_t(std::abs(int64_t(int32_t(le(d + 22, 4)))));
    const uint64_t row = (w * le(d + 28, 2) + 31) / 32 * 4;
    require(uint64_t(offset) + row * h <= size, "cannot read image: truncated BMP (" + std::to_string(size) +
                                                    " bytes, its header needs " +
                                                    std::to_string(uint64_t(offset) + row * h) + ")");
    return;
  }
  // stb grows its buffer to an IDAT chunk's declared length before it reads the data, so a few hundred bytes
  // that declare a 2 GB chunk would make it allocate 2 GB (and then fail). Every chunk up to IEND (after
  // which stb reads nothing) must fit in the file.
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::equal(png_sig, png_sig + 8, d)) {
    for (size_t pos = 8; size - pos >= 8;) {
      if (std::equal(d + pos + 4, d + pos + 8, "IEND")) return;
      const uint64_t len =
          uint64_t(d[pos]) << 24 | uint64_t(d[pos + 1]) << 16 | uint64_t(d[pos + 2]) << 8 | d[pos + 3];
      require(len + 12 <= size - pos, "cannot read image: truncated PNG (a chunk at byte " +
                                          std::to_string(pos) + " declares " + std::to_string(len) +
                                          " bytes, the file ends " + std::to_string(size - pos) +
                                          " bytes after its start)");
      pos += 12 + size_t(len);
    }
    return;
  }
  // TGA has no magic: stb decides by the header fields; check only the uncompressed types it then reads.
  if (size >= 18 && (d[2] == 1 || d[2] == 2 || d[2] == 3) && (d[1] == 0 || d[1] == 1)) {
    const uint64_t w = le(d + 12, 2), h = le(d + 14, 2), bits = d[16];
    const uint64_t palette = d[1] == 1 ? uint64_t(le(d + 5, 2)) * ((d[7] + 7) / 8) : 0;
    const uint64_t need = 18 + d[0] + palette + w * h * ((bits + 7) / 8);
    if (bits == 8 || bits == 15 || bits == 16 || bits == 24 || bits == 32)
      require(need <= size, "cannot read image: truncated TGA (" + std::to_string(size) +
                                " bytes, its header needs " + std::to_string(need) + ")");
  }
}

// Calls fn(marker, payload, length) for each segment of a JPEG's header (up to the first scan), while fn
// returns true. Stops quietly at anything malformed: the callers only look for optional metadata, and
// stb judges the file itself.
template <class Fn>
void for_each_jpeg_header_segment(const uint8_t* d, size_t size, const Fn& fn) {
  if (size < 4 || d[0] != 0xff || d[1] != 0xd8) return;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (d[pos] != 0xff) return;
    while (pos < size && d[pos] == 0xff) ++pos;  // fill bytes
    if (pos + 3 > size) return;
    const int marker = d[pos++];
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;  // no length
    if (marker == 0xd8 || marker == 0xd9 || marker == 0xda) return;      // SOI again, EOI, start of scan
    const size_t len = size_t(d[pos]) << 8 | d[pos + 1];
    if (len < 2 || len > size - pos) return;
    if (!fn(marker, d + pos + 2, len - 2)) return;
    pos += len;
  }
}

// stb_image 2.27 (Debian's libstb-dev) trusts a JPEG DHT segment's 16 code counts: when they sum to more than
// 256, stbi__build_huffman and the symbol loop write past its 257- and 256-entry tables (fixed upstream in
// 2.28). stb reads DHT segments in stbi_info as well as in stbi_load, so the check has to come first. This
// walks the file the way stb's JPEG reader does (stbi__decode_jpeg_header, stbi__decode_jpeg_image, including
// stb's leniencies: fill bytes, junk between header segments, reads past the end as zeros) and returns false
// if a DHT segment stb would read declares more than 256 codes. Where stb itself would stop with an error the
// walk stops too and leaves the error to stb. Across entropy-coded data it resumes at the first marker that
// is not a restart or a stuffed zero: stb stops reading at that marker or earlier, and from earlier it either
// fails or reaches the same marker.
bool jpeg_huffman_tables_fit(const uint8_t* d, size_t size) {
  constexpr int kNone = 0xff;  // STBI__MARKER_none
  size_t pos = 0;
  int cached = kNone;
  auto get8 = [&]() -> int { return pos < size ? d[pos++] : 0; };
  auto get16 = [&]() {
    const int hi = get8();
    return (hi << 8) + get8();
  };
  auto skip = [&](int n) { pos = n < 0 ? size : pos + size_t(n); };
  auto get_marker = [&]() {
    if (cached != kNone) {
      const int m = cached;
      cached = kNone;
      return m;
    }
    int x = get8();
    if (x != 0xff) return kNone;
    while (x == 0xff) x = get8();
    return x;
  };
  enum Step { next, stop, overflow };  // stop: stb fails here with its own message
  auto process_marker = [&](int m) -> Step {
    if (m == 0xdd) {  // DRI
      if (get16() != 4) return stop;
      get16();
      return next;
    }
    if (m == 0xdb) {  // DQT
      int L = get16() - 2;
      while (L > 0) {
        const int q = get8(), sixteen = q >> 4;
        if (sixteen > 1 || (q & 15) > 3) return stop;
        skip(sixteen ? 128 : 64);
        L -= sixteen ? 129 : 65;
      }
      return L == 0 ? next : stop;
    }
    if (m == 0xc4) {  // DHT
      int L = get16() - 2;
      while (L > 0) {
        const int q = get8();
        if ((q >> 4) > 1 || (q & 15) > 3) return stop;
        int n = 0;
        for (int i = 0; i < 16; ++i) n += get8();
        if (n > 256) return overflow;
        skip(n);
        L -= 17 + n;
      }
      return L == 0 ? next : stop;
    }
    if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {  // APPn, COM
      const int L = get16();
      if (L < 2) return stop;
      skip(L - 2);
      return next;
    }
    return stop;  // stb: "expected marker" / "unknown marker"
  };
  auto is_sof = [](int m) { return m == 0xc0 || m == 0xc1 || m == 0xc2; };

  if (get_marker() != 0xd8) return true;  // no SOI: stb does not read it as a JPEG
  int m = get_marker();
  while (!is_sof(m)) {  // header segments, up to the frame header
    const Step step = process_marker(m);
    if (step != next) return step != overflow;
    m = get_marker();
    while (m == kNone) {  // stb skips junk between header segments
      if (pos >= size) return true;
      m = get_marker();
    }
  }
  skip(get16() - 2);  // the frame header (stb checks its length against its component count)
  m = get_marker();
  while (m != 0xd9) {  // EOI
    if (m == 0xda) {   // SOS: its header, then entropy-coded data up to the next marker
      skip(get16() - 2);
      while (cached == kNone) {
        if (pos >= size) return true;
        if (get8() != 0xff) continue;
        int c = get8();
        while (c == 0xff) c = get8();
        if (c != 0 && !(c >= 0xd0 && c <= 0xd7)) cached = c;
      }
    } else if (m == 0xdc) {  // DNL
      skip(4);
    } else {
      const Step step = process_marker(m);
      if (step != next) return step != overflow;
    }
    m = get_marker();
  }
  return true;
}

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

// Frees stb's buffer on every path, including the throws between load and copy.
struct StbPixels {
  stbi_uc* p = nullptr;
  ~StbPixels() { stbi_image_free(p); }
};

uint8_t to_byte(double v) {
  // Clamp before rounding so that overshoot (bicubic) and infinities are safe; !(v >= 0) also catches NaN.
  if (!(v >= 0.0)) return 0;
  if (v >= 255.0) return 255;
  return uint8_t(v + 0.5);  // round half up
}

}  // namespace

namespace {

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
const uint8_t kIccSegmentTag[12] = {'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};

// Calls fn(payload, length) with the first iCCP chunk before a PNG's pixel data (the format allows one,
// before IDAT), or never.
template <class Fn>
void find_png_iccp(const uint8_t* d, size_t size, const Fn& fn) {
  if (size < 8 || !std::equal(kPngSignature, kPngSignature + 8, d)) return;
  for (size_t pos = 8; size - pos >= 8;) {
    const uint64_t len =
        uint64_t(d[pos]) << 24 | uint64_t(d[pos + 1]) << 16 | uint64_t(d[pos + 2]) << 8 | d[pos + 3];
    if (len + 12 > size - pos) return;
    if (std::equal(d + pos + 4, d + pos + 8, "iCCP")) {
      fn(d + pos + 8, size_t(len));
      return;
    }
    if (std::equal(d + pos + 4, d + pos + 8, "IDAT")) return;
    pos += 12 + size_t(len);
  }
}

bool is_icc_segment(int marker, const uint8_t* seg, size_t len) {
  return marker == 0xe2 && len >= 12 && std::equal(kIccSegmentTag, kIccSegmentTag + 12, seg);
}

}  // namespace

bool has_icc_profile(const uint8_t* d, size_t size) {
  if (!d) return false;
  bool found = false;
  find_png_iccp(d, size, [&](const uint8_t*, size_t) { found = true; });
  for_each_jpeg_header_segment(d, size, [&](int marker, const uint8_t* seg, size_t len) {
    found = found || is_icc_segment(marker, seg, len);
    return !found;
  });
  return found;
}

EmbeddedIcc embedded_icc_profile(const uint8_t* d, size_t size) {
  EmbeddedIcc r;
  if (!d) return r;
  find_png_iccp(d, size, [&](const uint8_t* p, size_t len) {
    r.present = true;
    // A profile name of 1-79 bytes, its terminating zero, the compression method (0, zlib), the zlib stream.
    const size_t name_end = size_t(std::find(p, p + std::min<size_t>(len, 80), uint8_t(0)) - p);
    if (name_end == 0 || name_end >= 80 || name_end + 2 > len || p[name_end + 1] != 0) {
      r.problem = "the PNG's iCCP chunk is malformed";
      return;
    }
    // Into buffers of fixed sizes, never grown by what the stream claims (a few kilobytes of zlib can inflate
    // to gigabytes): 64 KiB holds nearly every profile, a larger one is inflated again into a larger buffer.
    const char* z = reinterpret_cast<const char*>(p + name_end + 2);
    const int zlen = int(len - name_end - 2);
    for (size_t cap = size_t(64) << 10; cap <= kMaxIccProfileBytes; cap *= 16) {
      std::unique_ptr<char[]> buf(new char[cap]);
      const int n = stbi_zlib_decode_buffer(buf.get(), int(cap), z, zlen);
      if (n > 0) {
        r.bytes.assign(buf.get(), buf.get() + n);
        return;
      }
    }
    r.problem = "the PNG's iCCP chunk does not inflate (corrupt, or a profile over " +
                std::to_string(kMaxIccProfileBytes >> 20) + " MiB)";
  });
  if (r.present) return r;

  // A JPEG segment holds at most 65519 bytes of profile, so a larger profile is split over several APP2
  // segments, each numbered (1-based) with the count; they are joined in that order, whatever order the file
  // has them in.
  std::vector<std::pair<const uint8_t*, size_t>> chunks;
  int count = 0;
  for_each_jpeg_header_segment(d, size, [&](int marker, const uint8_t* seg, size_t len) {
    if (!is_icc_segment(marker, seg, len)) return true;
    r.present = true;
    if (len < 14 || seg[12] == 0 || seg[13] == 0 || (count != 0 && seg[13] != count) || seg[12] > seg[13]) {
      r.problem = "the JPEG's ICC_PROFILE segments are numbered inconsistently";
      return false;
    }
    count = seg[13];
    chunks.resize(size_t(count));
    auto& c = chunks[size_t(seg[12] - 1)];
    if (c.first) {
      r.problem = "the JPEG has ICC_PROFILE segment " + std::to_string(seg[12]) + " twice";
      return false;
    }
    c = {seg + 14, len - 14};
    return true;
  });
  if (!r.present || !r.problem.empty()) return r;
  const size_t have =
      size_t(std::count_if(chunks.begin(), chunks.end(), [](const auto& c) { return c.first; }));
  if (have != chunks.size()) {
    r.problem = "the JPEG has " + std::to_string(have) + " of the ICC profile's " + std::to_string(count) +
                " ICC_PROFILE segments";
    return r;
  }
  for (const auto& c : chunks) r.bytes.insert(r.bytes.end(), c.first, c.first + c.second);
  return r;
}

int jpeg_exif_orientation(const uint8_t* data, size_t size) {
  if (!data) return 1;
  int orientation = 0;
  for_each_jpeg_header_segment(data, size, [&](int marker, const uint8_t* seg, size_t len) {
    static const uint8_t exif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (marker != 0xe1 || len < 6 + 8 || !std::equal(exif, exif + 6, seg)) return true;
    // A TIFF structure: byte order, 42, the offset of IFD0; its entries are 12 bytes: tag, type, count,
    // value (a SHORT value in the first two bytes of the value field). Every offset is checked against the
    // segment's end.
    const uint8_t* t = seg + 6;
    const size_t n = len - 6;
    const bool le_order = t[0] == 'I' && t[1] == 'I';
    if (!le_order && !(t[0] == 'M' && t[1] == 'M')) return false;
    auto u16 = [&](size_t at) {
      return le_order ? uint32_t(t[at] | t[at + 1] << 8) : uint32_t(t[at] << 8 | t[at + 1]);
    };
    auto u32 = [&](size_t at) {
      return le_order ? uint32_t(t[at]) | uint32_t(t[at + 1]) << 8 | uint32_t(t[at + 2]) << 16 |
                            uint32_t(t[at + 3]) << 24
                      : uint32_t(t[at]) << 24 | uint32_t(t[at + 1]) << 16 | uint32_t(t[at + 2]) << 8 |
                            uint32_t(t[at + 3]);
    };
    if (u16(2) != 42) return false;
    const size_t ifd = u32(4);
    if (ifd < 8 || ifd > n - 2) return false;
    const size_t entries = u16(ifd);
    for (size_t i = 0; i < entries; ++i) {
      const size_t e = ifd + 2 + 12 * i;
      if (e > n - 12) break;
      if (u16(e) == 0x0112) {  // Orientation: SHORT, count 1
        if (u16(e + 2) == 3 && u32(e + 4) >= 1) orientation = int(u16(e + 8));
        break;
      }
    }
    return false;  // only the first Exif segment counts
  });
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

Image apply_orientation(Image image, int orientation) {
  if (orientation <= 1 || orientation > 8) return image;
  check_image(image, "apply_orientation");
  const int w = image.width, h = image.height;
  const bool swap = orientation >= 5;  // 5-8 turn the image a quarter: width and height trade places
  Image out(swap ? h : w, swap ? w : h);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx, sy;  // the stored pixel shown at (x, y)
      switch (orientation) {
        case 2:
          sx = w - 1 - x, sy = y;
          break;  // mirrored left-right
        case 3:
          sx = w - 1 - x, sy = h - 1 - y;
          break;  // turned 180
        case 4:
          sx = x, sy = h - 1 - y;
          break;  // mirrored top-bottom
        case 5:
          sx = y, sy = x;
          break;  // transposed
        case 6:
          sx = y, sy = h - 1 - x;
          break;  // to be turned 90 clockwise
        case 7:
          sx = w - 1 - y, sy = h - 1 - x;
          break;  // transversed
        default:
          sx = w - 1 - y, sy = x;
          break;  // 8: to be turned 90 anticlockwise
      }
      std::copy_n(image.rgb.data() + (size_t(sy) * w + sx) * 3, 3,
                  out.rgb.data() + (size_t(y) * out.width + x) * 3);
    }
  return out;
}

Image decode_image(const uint8_t* data, size_t size, const ImageLimits& limits, AlphaPolicy alpha,
                   LoadedImageInfo* info) {
  require(data != nullptr && size > 0, "cannot read image: the data is empty");
  require(size <= size_t(INT_MAX), "cannot read image: " + std::to_string(size) +
                                       " bytes is more than the image reader accepts (" +
                                       std::to_string(INT_MAX) + ")");
  const int len = int(size);

  // A PNG's size is read here first: stbi_info tries every format in turn, so the reason of a PNG header it
  // refuses (e.g. a side over STBI_MAX_DIMENSIONS) is lost behind "not of any known type"; a forged PNG
  // header then gets the limits message it deserves.
  int64_t png_w = 0, png_h = 0;
  if (png_ihdr_size(data, size, &png_w, &png_h)) check_size(png_w, png_h, limits);
  require(jpeg_huffman_tables_fit(data, size),
          "cannot read image: corrupt JPEG (a Huffman table declares more than 256 codes)");

  // Header only: nothing the size of the image is allocated before the limits are checked.
  int w = 0, h = 0, comp = 0;
  // Called before require(), not inside its arguments: the message's stb_reason() must run after stb failed.
  const int readable = stbi_info_from_memory(data, len, &w, &h, &comp);
  require(readable != 0,
          std::string("cannot read image: ") + stb_reason() + " (aecodec reads PNG, JPEG, BMP and TGA)");
  check_size(w, h, limits);
  check_complete(data, size);
  require(comp >= 1 && comp <= 4, "cannot read image: unexpected channel count " + std::to_string(comp));

  // Always ask for RGBA: stb expands grey to RGB itself, and with req_comp = 0 a PNG with a tRNS colour key
  // returns one more channel than it reports, so 4 is the only request whose layout is certain. The alpha
  // then says everything about transparency, whether it came from an alpha channel, a palette or tRNS.
  // 16-bit PNGs are reduced to 8 bits by stbi_load (high byte).
  int lw = 0, lh = 0, lcomp = 0;
  StbPixels px;
  px.p = stbi_load_from_memory(data, len, &lw, &lh, &lcomp, 4);
  require(px.p != nullptr, std::string("cannot decode image: ") + stb_reason());
  require(lw == w && lh == h,
          "cannot decode image: header says " + dims(w, h) + ", pixel data is " + dims(lw, lh));

  const size_t n = size_t(w) * size_t(h);
  bool transparent = false;
  for (size_t i = 0; i < n && !transparent; ++i) transparent = px.p[i * 4 + 3] != 255;
  require(!(transparent && alpha == AlphaPolicy::refuse),
          "image has transparent pixels; aecodec codes RGB only: flatten it first, or use --alpha drop");

  Image out(w, h);
  for (size_t i = 0; i < n; ++i) {
    out.rgb[i * 3 + 0] = px.p[i * 4 + 0];
    out.rgb[i * 3 + 1] = px.p[i * 4 + 1];
    out.rgb[i * 3 + 2] = px.p[i * 4 + 2];
  }
  stbi_image_free(px.p);  // before turning the image: a 50 MP photo's RGBA copy is 200 MB
  px.p = nullptr;
  const bool jpeg = size >= 2 && data[0] == 0xff && data[1] == 0xd8;
  const int orientation = jpeg ? jpeg_exif_orientation(data, size) : 1;
  if (orientation != 1) out = apply_orientation(std::move(out), orientation);

  // The codec works in sRGB (its models learned from sRGB photos, and the .aec file and the decoder's PNG
  // carry no profile), so a photo in another colour space (a phone's Display P3) is converted on the way in;
  // a profile that cannot be applied is ignored, as browsers do, and reported.
  IccConversion icc;
  const bool has_icc = has_icc_profile(data, size);
  if (has_icc) {
    const EmbeddedIcc profile = embedded_icc_profile(data, size);
    if (profile.bytes.empty()) {
      icc.result = IccConversion::broken;
      icc.note = profile.problem.empty() ? "the profile is empty" : profile.problem;
    } else {
      icc = convert_icc_to_srgb(out, profile.bytes.data(), profile.bytes.size(), comp <= 2);
    }
  }
  if (info) {
    info->orientation = orientation;
    info->converted_icc = has_icc && icc.result == IccConversion::converted;
    info->ignored_icc =
        has_icc && icc.result != IccConversion::converted && icc.result != IccConversion::srgb;
    info->icc_name = has_icc ? icc.name : "";
    info->icc_note = info->ignored_icc ? icc.note : "";
    info->source_channels = comp;
    info->converted_grey = comp <= 2;
    // An alpha channel in the file (even opaque), or a colour key that made some pixel transparent.
    info->dropped_alpha = comp == 2 || comp == 4 || transparent;
  }
  return out;
}

Image load_image(const std::string& path, const ImageLimits& limits, AlphaPolicy alpha,
                 LoadedImageInfo* info) {
  const std::vector<uint8_t> bytes = read_file(path);
  try {
    return decode_image(bytes.data(), bytes.size(), limits, alpha, info);
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());  // the user needs to know which file
  }
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_image(image, "encode_png");
  require(image.rgb.size() <= size_t(INT_MAX) && size_t(image.width) * 3 <= size_t(INT_MAX),
          "encode_png: image " + dims(image.width, image.height) + " is too large for the PNG writer");
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* bytes, int n) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    const auto* b = static_cast<const uint8_t*>(bytes);
    v->insert(v->end(), b, b + n);
  };
  const int ok =
      stbi_write_png_to_func(sink, &out, image.width, image.height, 3, image.rgb.data(), image.width * 3);
  require(ok != 0 && !out.empty(), "encode_png: PNG encoding failed for " + dims(image.width, image.height));
  return out;
}

void write_png(const std::string& path, const Image& image) {
  write_file_atomic(path, encode_png(image));
}

Tensor image_to_tensor(const Image& image) {
  check_image(image, "image_to_tensor");
  Tensor t(3, image.height, image.width);
  const size_t w = size_t(image.width);
  // By rows on the core's threads (each value on its own: the same tensor for any thread count), each
  // byte's value from a table of the same quotients (a division per value was most of the stage).
  float unit[256];
  for (int v = 0; v < 256; ++v) unit[v] = float(v) / 255.0f;
  parallel_for(image.height, [&](int y0, int y1) {
    for (int k = 0; k < 3; ++k) {
      float* dst = t.channel(k);
      for (size_t i = size_t(y0) * w; i < size_t(y1) * w; ++i) dst[i] = unit[image.rgb[i * 3 + k]];
    }
  });
  return t;
}

Image tensor_to_image(const Tensor& t) {
  require(t.c == 3, "tensor_to_image: tensor has " + std::to_string(t.c) + " channels, not 3");
  require(t.h > 0 && t.w > 0, "tensor_to_image: tensor has zero size (" + dims(t.w, t.h) + ")");
  require(t.data.size() == size_t(3) * t.h * t.w, "tensor_to_image: tensor data does not match its shape");
  Image out(t.w, t.h);
  const size_t w = size_t(t.w);
  parallel_for(t.h, [&](int y0, int y1) {  // by rows, as image_to_tensor; each pixel's three bytes together
    const float *r = t.channel(0), *g = t.channel(1), *b = t.channel(2);
    uint8_t* dst = out.rgb.data();
    for (size_t i = size_t(y0) * w; i < size_t(y1) * w; ++i) {
      dst[i * 3] = to_byte(double(r[i]) * 255.0);
      dst[i * 3 + 1] = to_byte(double(g[i]) * 255.0);
      dst[i * 3 + 2] = to_byte(double(b[i]) * 255.0);
    }
  });
  return out;
}

Image pad_edge(const Image& image, int width, int height) {
  check_image(image, "pad_edge");
  require(width >= image.width && height >= image.height, "pad_edge: target " + dims(width, height) +
                                                              " is smaller than the image " +
                                                              dims(image.width, image.height));
  Image out(width, height);
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(y, image.height - 1);
    const uint8_t* src = image.rgb.data() + size_t(sy) * image.width * 3;
    uint8_t* dst = out.rgb.data() + size_t(y) * width * 3;
    std::copy(src, src + size_t(image.width) * 3, dst);
    const uint8_t* last = src + size_t(image.width - 1) * 3;
    for (int x = image.width; x < width; ++x) std::copy(last, last + 3, dst + size_t(x) * 3);
  }
  return out;
}

Image crop(const Image& image, int width, int height) {
  check_image(image, "crop");
  require(
      width > 0 && height > 0 && width <= image.width && height <= image.height,
      "crop: target " + dims(width, height) + " is not within the image " + dims(image.width, image.height));
  Image out(width, height);
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = image.rgb.data() + size_t(y) * image.width * 3;
    std::copy(src, src + size_t(width) * 3, out.rgb.data() + size_t(y) * width * 3);
  }
  return out;
}

Image downscale2x_box(const Image& image) {
  check_image(image, "downscale2x_box");
  const int ow = (image.width + 1) / 2, oh = (image.height + 1) / 2;
  Image out(ow, oh);
  for (int oy = 0; oy < oh; ++oy) {
    const int y0 = oy * 2, y1 = std::min(y0 + 1, image.height - 1);
    for (int ox = 0; ox < ow; ++ox) {
      const int x0 = ox * 2, x1 = std::min(x0 + 1, image.width - 1);
      // At an odd right/bottom edge the 2x2 block is cut: average only the pixels that exist.
      const int count = (x1 - x0 + 1) * (y1 - y0 + 1);
      for (int k = 0; k < 3; ++k) {
        int sum = 0;
        for (int y = y0; y <= y1; ++y)
          for (int x = x0; x <= x1; ++x) sum += image.rgb[(size_t(y) * image.width + x) * 3 + k];
        out.rgb[(size_t(oy) * ow + ox) * 3 + k] = uint8_t((2 * sum + count) / (2 * count));  // round half up
      }
    }
  }
  return out;
}

namespace {

// PyTorch's upsample_bicubic2d weights (Keys kernel, A = -0.75) and source mapping for align_corners=false:
// src = (dst + 0.5) * in/out - 0.5, not clamped at 0 for the cubic mode; taps floor(src)-1 .. floor(src)+2,
// indices clamped to the edge.
struct CubicTaps {
  int index[4];
  double weight[4];
};

std::vector<CubicTaps> cubic_taps(int in, int out) {
  constexpr double A = -0.75;
  auto inner = [](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };        // |x| <= 1
  auto outer = [](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
  const double scale = double(in) / double(out);
  std::vector<CubicTaps> taps(static_cast<size_t>(out));
  for (int d = 0; d < out; ++d) {
    const double src = (d + 0.5) * scale - 0.5;
    const double f = std::floor(src);
    const double t = src - f;
    CubicTaps& c = taps[size_t(d)];
    c.weight[0] = outer(t + 1);
    c.weight[1] = inner(t);
    c.weight[2] = inner(1 - t);
    c.weight[3] = outer(2 - t);
    for (int i = 0; i < 4; ++i) c.index[i] = std::clamp(int(f) - 1 + i, 0, in - 1);
  }
  return taps;
}

}  // namespace

Image resize_bicubic(const Image& image, int width, int height) {
  check_image(image, "resize_bicubic");
  require(width > 0 && height > 0, "resize_bicubic: target size " + dims(width, height) + " is empty");
  const std::vector<CubicTaps> tx = cubic_taps(image.width, width), ty = cubic_taps(image.height, height);
  // Horizontal pass into a double buffer (no intermediate rounding), then vertical pass; only the final
  // value is rounded and clamped, as when PyTorch's float output is quantised.
  std::vector<double> rows(size_t(image.height) * width * 3);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.rgb.data() + size_t(y) * image.width * 3;
    double* dst = rows.data() + size_t(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      const CubicTaps& c = tx[size_t(x)];
      for (int k = 0; k < 3; ++k) {
        double v = 0;
        for (int i = 0; i < 4; ++i) v += c.weight[i] * src[size_t(c.index[i]) * 3 + k];
        dst[size_t(x) * 3 + k] = v;
      }
    }
  }
  Image out(width, height);
  for (int y = 0; y < height; ++y) {
    const CubicTaps& c = ty[size_t(y)];
    uint8_t* dst = out.rgb.data() + size_t(y) * width * 3;
    for (size_t j = 0; j < size_t(width) * 3; ++j) {
      double v = 0;
      for (int i = 0; i < 4; ++i) v += c.weight[i] * rows[size_t(c.index[i]) * width * 3 + j];
      dst[j] = to_byte(v);
    }
  }
  return out;
}

}  // namespace aec
