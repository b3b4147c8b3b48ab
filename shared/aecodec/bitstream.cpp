#include "aecodec/bitstream.h"

#include <algorithm>

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace aec {

namespace {

constexpr uint8_t kMagic[4] = {'A', 'E', 'C', 0x1A};  // 0x1A stops `type`-style text dumps, as PNG's does
constexpr uint32_t kMaxSide = 65536, kMaxStride = 1024, kMaxName = 255;

class Writer {
 public:
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  void u8(uint8_t v) { out.push_back(v); }
  void u64(uint64_t v) {  // the ids: little-endian, fixed width (hashes use every bit, a varint would grow)
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
  }
  void varint(uint64_t v) { put_varint(out, v); }
  void str(const std::string& s) {
    require(s.size() <= kMaxName, "bitstream: string longer than 255 bytes");
    varint(s.size());
    bytes(s.data(), s.size());
  }
  void section(uint32_t type, const std::vector<uint8_t>& b) {
    varint(type);
    varint(b.size());
    bytes(b.data(), b.size());
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : data(d), size(n) {}
  void need(size_t n, const std::string& what) const {
    require(size - pos >= n, "truncated .aec file (ends inside the " + what + ")");
  }
  uint8_t u8(const std::string& what) {
    need(1, what);
    return data[pos++];
  }
  uint64_t le(int bytes, const std::string& what) {
    need(size_t(bytes), what);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | data[pos + size_t(i)];
    pos += size_t(bytes);
    return v;
  }
  uint32_t u32(const std::string& what) { return uint32_t(le(4, what)); }
  uint64_t u64(const std::string& what) { return le(8, what); }
  // A canonical LEB128 varint of at most `max`: a non-minimal encoding (a last byte of 0 after the first) is
  // refused, so each value has one encoding and each file one form.
  uint64_t varint(uint64_t max, const std::string& what) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = u8(what);
      require(shift < 64 && (shift < 63 || b <= 1), "corrupt .aec file: the " + what + " overflows");
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        require(b != 0 || shift == 0, "corrupt .aec file: the " + what + " is not minimally encoded");
        break;
      }
    }
    require(v <= max, "corrupt .aec file: " + what + " " + std::to_string(v) + " (at most " +
                          std::to_string(max) + ")");
    return v;
  }
  // Length-prefixed bytes: the length is checked against what is left before anything is copied.
  std::vector<uint8_t> blob(uint64_t max, const std::string& what) {
    const uint64_t n = varint(max, what + " length");
    require(n <= size - pos, "truncated .aec file (ends inside the " + what + ")");
    std::vector<uint8_t> b(data + pos, data + pos + size_t(n));
    pos += size_t(n);
    return b;
  }
  std::string str(uint64_t max, const std::string& what) {
    const std::vector<uint8_t> b = blob(max, what);
    return std::string(b.begin(), b.end());
  }
  const uint8_t* data;
  size_t size, pos = 0;
};

void check_image_size(const BitstreamHeader& h) {
  require(h.width >= 1 && h.height >= 1 && h.width <= kMaxSide && h.height <= kMaxSide,
          "corrupt .aec file: image size " + std::to_string(h.width) + "x" + std::to_string(h.height));
}

// Versions 1 and 2: the fixed header with every shape, then the payloads as sections.
void parse_fixed(Reader& r, Bitstream& b) {
  BitstreamHeader& h = b.header;
  const uint8_t flags = r.u8("header");
  require(flags == 0, "unsupported .aec flags " + std::to_string(flags));
  const size_t name = r.u8("model name");
  r.need(name, "model name");
  h.model_name.assign(reinterpret_cast<const char*>(r.data + r.pos), name);
  r.pos += name;
  require(!h.model_name.empty(), "corrupt .aec file: empty model name");
  h.model_hash = r.u64("header");
  h.entropy_hash = r.u64("header");
  const size_t family = r.u8("family id");
  r.need(family, "family id");
  h.family_id.assign(reinterpret_cast<const char*>(r.data + r.pos), family);
  r.pos += family;
  h.width = r.u32("header");
  h.height = r.u32("header");
  h.stride = r.u32("header");
  h.latent_c = r.u32("header");
  h.latent_h = r.u32("header");
  h.latent_w = r.u32("header");
  if (h.version == kBitstreamVersionHyperprior) {
    h.hyper_c = r.u32("header");
    h.hyper_h = r.u32("header");
    h.hyper_w = r.u32("header");
    require(h.hyper_c >= 1 && h.hyper_h >= 1 && h.hyper_w >= 1 && h.hyper_c <= 4096 &&
                h.hyper_h <= kMaxSide && h.hyper_w <= kMaxSide &&
                uint64_t(h.hyper_c) * h.hyper_h * h.hyper_w <= kMaxLatentElements,
            "corrupt .aec file: hyper latent shape");
    const uint32_t hyper = r.u32("header");
    r.need(size_t(hyper), "hyper payload");
    b.section(kSectionHyperPayload).assign(r.data + r.pos, r.data + r.pos + hyper);
    r.pos += hyper;
  }
  const uint32_t payload = r.u32("header");
  check_image_size(h);
  require(h.stride >= 1 && h.stride <= kMaxStride, "corrupt .aec file: stride " + std::to_string(h.stride));
  require(h.latent_c >= 1 && h.latent_h >= 1 && h.latent_w >= 1 && h.latent_c <= 4096 &&
              h.latent_h <= kMaxSide && h.latent_w <= kMaxSide &&
              uint64_t(h.latent_c) * h.latent_h * h.latent_w <= kMaxLatentElements,
          "corrupt .aec file: latent shape");
  r.need(size_t(payload), "payload");
  b.section(kSectionPayload).assign(r.data + r.pos, r.data + r.pos + payload);
  r.pos += payload;
}

void parse_family(const std::vector<uint8_t>& bytes, BitstreamHeader& h) {
  Reader r(bytes.data(), bytes.size());
  h.family_id = r.str(kMaxName, "family id");
  require(!h.family_id.empty(), "corrupt .aec file: empty family id");
  h.entropy_hash = r.u64("family section");
  h.stride = uint32_t(r.varint(kMaxStride, "encoder stride"));
  require(h.stride >= 1, "corrupt .aec file: encoder stride 0");
  require(r.pos == r.size,
          "corrupt .aec file: " + std::to_string(r.size - r.pos) + " unexpected bytes in the family section");
}

void parse_sectioned(Reader& r, Bitstream& b) {
  BitstreamHeader& h = b.header;
  h.model_hash = r.u64("header");
  h.model_name = r.str(kMaxName, "model name");
  require(!h.model_name.empty(), "corrupt .aec file: empty model name");
  h.width = uint32_t(r.varint(kMaxSide, "image width"));
  h.height = uint32_t(r.varint(kMaxSide, "image height"));
  check_image_size(h);
  // Every section takes at least two bytes, so a count beyond what is left is refused before the loop.
  const uint64_t count = r.varint(r.size - r.pos, "section count");
  uint32_t last = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t type = uint32_t(r.varint(UINT32_MAX, "section type"));
    require(type != 0, "corrupt .aec file: section type 0");
    require(type > last, "corrupt .aec file: section " + section_name(type) + " out of order or repeated");
    last = type;
    std::vector<uint8_t> bytes = r.blob(UINT64_MAX, section_name(type) + " section");
    switch (type) {
      case kSectionFamily:
        parse_family(bytes, h);
        break;
      case kSectionPayload:
      case kSectionHyperPayload:
      case kSectionQuality:
      case kSectionSubstreams:
        b.sections.push_back({type, std::move(bytes)});
        break;
      default:
        // An optional section this build does not know is skipped; a required one would change what the
        // file decodes to, so the file is refused rather than decoded wrongly.
        require(section_optional(type), "cannot decode this .aec file: it has a " + section_name(type) +
                                            " section, which this build of aecodec does not support");
    }
  }
}

}  // namespace

std::string section_name(uint32_t type) {
  switch (type) {
    case kSectionFamily:
      return "family";
    case kSectionPayload:
      return "payload";
    case kSectionHyperPayload:
      return "hyper payload";
    case kSectionQuality:
      return "quality";
    case kSectionSubstreams:
      return "substreams";
    case kSectionContext:
      return "context model";
    default:
      return "type-" + std::to_string(type);
  }
}

const std::vector<uint8_t>* Bitstream::find(uint32_t type) const {
  for (const Section& s : sections)
    if (s.type == type) return &s.bytes;
  return nullptr;
}

std::vector<uint8_t>& Bitstream::section(uint32_t type) {
  auto it = std::find_if(sections.begin(), sections.end(), [&](const Section& s) { return s.type >= type; });
  if (it == sections.end() || it->type != type) it = sections.insert(it, Section{type, {}});
  return it->bytes;
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

uint64_t read_varint(const std::vector<uint8_t>& bytes, size_t& pos, uint64_t max, const std::string& what) {
  require(pos <= bytes.size(), "corrupt .aec file: the " + what + " is past its section");
  Reader r(bytes.data(), bytes.size());
  r.pos = pos;
  const uint64_t v = r.varint(max, what);
  pos = r.pos;
  return v;
}

std::vector<uint8_t> write_bitstream(const Bitstream& b) {
  const BitstreamHeader& h = b.header;
  require(!h.model_name.empty(), "bitstream: empty model name");
  check_image_size(h);
  Writer w;
  w.bytes(kMagic, 4);
  w.u8(kBitstreamVersion);
  w.u64(h.model_hash);
  w.str(h.model_name);
  w.varint(h.width);
  w.varint(h.height);
  std::vector<Section> all = b.sections;
  if (!h.family_id.empty()) {
    require(h.stride >= 1 && h.stride <= kMaxStride, "bitstream: a family model's stride is out of range");
    Writer f;
    f.str(h.family_id);
    f.u64(h.entropy_hash);
    f.varint(h.stride);
    all.push_back({kSectionFamily, std::move(f.out)});
  }
  std::sort(all.begin(), all.end(), [](const Section& x, const Section& y) { return x.type < y.type; });
  for (size_t i = 0; i < all.size(); ++i)
    require(all[i].type != 0 && (i == 0 || all[i].type != all[i - 1].type),
            "bitstream: section " + section_name(all[i].type) + " is invalid or repeated");
  w.varint(all.size());
  for (const Section& s : all) w.section(s.type, s.bytes);
  const uint32_t crc = crc32(w.out.data(), w.out.size());
  for (int i = 0; i < 4; ++i) w.u8(uint8_t(crc >> (8 * i)));
  return std::move(w.out);
}

Bitstream parse_bitstream(const uint8_t* data, size_t size) {
  require(size >= 4 && data[0] == kMagic[0] && data[1] == kMagic[1] && data[2] == kMagic[2] &&
              data[3] == kMagic[3],
          "not an .aec file (bad magic bytes)");
  Reader r(data, size);
  r.pos = 4;
  Bitstream b;
  b.header.version = r.u8("header");
  const uint8_t version = b.header.version;
  require(version == kBitstreamVersionFactorized || version == kBitstreamVersionHyperprior ||
              version == kBitstreamVersion,
          "unsupported .aec version " + std::to_string(version) + " (this build reads versions 1 to " +
              std::to_string(kBitstreamVersion) + ")");
  if (version == kBitstreamVersion)
    parse_sectioned(r, b);
  else
    parse_fixed(r, b);
  const size_t body = r.pos;
  const uint32_t stored = r.u32("checksum");
  require(r.pos == size,
          "corrupt .aec file: " + std::to_string(size - r.pos) + " unexpected bytes after the checksum");
  require(stored == crc32(data, body), "corrupt .aec file: checksum mismatch");
  return b;
}

}  // namespace aec
