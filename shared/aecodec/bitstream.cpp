#include "aecodec/bitstream.h"

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace aec {

namespace {

constexpr uint8_t kMagic[4] = {'A', 'E', 'C', 0x1A};  // 0x1A stops `type`-style text dumps, as PNG's does

class Writer {
 public:
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  void u8(uint8_t v) { out.push_back(v); }
  void le(uint64_t v, int bytes) {  // little-endian, the container's only integer encoding
    for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
  }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void str(const std::string& s) {
    require(s.size() <= 255, "bitstream: string longer than 255 bytes");
    u8(uint8_t(s.size()));
    bytes(s.data(), s.size());
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : data(d), size(n) {}
  void need(size_t n, const char* what) {
    require(size - pos >= n, std::string("truncated .aec file (ends inside the ") + what + ")");
  }
  uint8_t u8(const char* what) {
    need(1, what);
    return data[pos++];
  }
  uint64_t le(int bytes, const char* what) {
    need(size_t(bytes), what);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | data[pos + size_t(i)];
    pos += size_t(bytes);
    return v;
  }
  uint32_t u32(const char* what) { return uint32_t(le(4, what)); }
  uint64_t u64(const char* what) { return le(8, what); }
  std::string str(const char* what) {
    const size_t n = u8(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return s;
  }
  const uint8_t* data;
  size_t size, pos = 0;
};

}  // namespace

std::vector<uint8_t> write_bitstream(const Bitstream& b) {
  const BitstreamHeader& h = b.header;
  // (as uint64_t: on 32-bit targets such as wasm32 the bound is trivially true, which is fine)
  require(uint64_t(b.payload.size()) < (uint64_t(1) << 32), "bitstream: payload too large");
  const bool v2 = h.version == kBitstreamVersionHyperprior;
  require(v2 || h.version == kBitstreamVersion, "bitstream: unknown version " + std::to_string(h.version));
  require(v2 || (b.hyper_payload.empty() && h.hyper_c == 0 && h.hyper_h == 0 && h.hyper_w == 0),
          "bitstream: version 1 has no hyper latent");
  require(uint64_t(b.hyper_payload.size()) < (uint64_t(1) << 32), "bitstream: hyper payload too large");
  Writer w;
  w.bytes(kMagic, 4);
  w.u8(h.version);
  w.u8(0);  // flags, reserved
  w.str(h.model_name);
  w.u64(h.model_hash);
  w.u64(h.entropy_hash);
  w.str(h.family_id);
  w.u32(h.width);
  w.u32(h.height);
  w.u32(h.stride);
  w.u32(h.latent_c);
  w.u32(h.latent_h);
  w.u32(h.latent_w);
  if (v2) {
    w.u32(h.hyper_c);
    w.u32(h.hyper_h);
    w.u32(h.hyper_w);
    w.u32(uint32_t(b.hyper_payload.size()));
    w.bytes(b.hyper_payload.data(), b.hyper_payload.size());
  }
  w.u32(uint32_t(b.payload.size()));
  w.bytes(b.payload.data(), b.payload.size());
  w.u32(crc32(w.out.data(), w.out.size()));
  return std::move(w.out);
}

Bitstream parse_bitstream(const uint8_t* data, size_t size) {
  require(size >= 4 && data[0] == kMagic[0] && data[1] == kMagic[1] && data[2] == kMagic[2] &&
              data[3] == kMagic[3],
          "not an .aec file (bad magic bytes)");
  Reader r(data, size);
  r.pos = 4;
  const uint8_t version = r.u8("header");
  require(version == kBitstreamVersion || version == kBitstreamVersionHyperprior,
          "unsupported .aec version " + std::to_string(version) + " (this build reads versions " +
              std::to_string(kBitstreamVersion) + " and " + std::to_string(kBitstreamVersionHyperprior) +
              ")");
  const uint8_t flags = r.u8("header");
  require(flags == 0, "unsupported .aec flags " + std::to_string(flags));
  Bitstream b;
  BitstreamHeader& h = b.header;
  h.version = version;
  h.model_name = r.str("model name");
  require(!h.model_name.empty(), "corrupt .aec file: empty model name");
  h.model_hash = r.u64("header");
  h.entropy_hash = r.u64("header");
  h.family_id = r.str("family id");
  h.width = r.u32("header");
  h.height = r.u32("header");
  h.stride = r.u32("header");
  h.latent_c = r.u32("header");
  h.latent_h = r.u32("header");
  h.latent_w = r.u32("header");
  if (version == kBitstreamVersionHyperprior) {
    h.hyper_c = r.u32("header");
    h.hyper_h = r.u32("header");
    h.hyper_w = r.u32("header");
    require(h.hyper_c >= 1 && h.hyper_h >= 1 && h.hyper_w >= 1 && h.hyper_c <= 4096 && h.hyper_h <= 65536 &&
                h.hyper_w <= 65536 && uint64_t(h.hyper_c) * h.hyper_h * h.hyper_w <= kMaxLatentElements,
            "corrupt .aec file: hyper latent shape");
    const uint32_t hyper = r.u32("header");
    r.need(size_t(hyper), "hyper payload");
    b.hyper_payload.assign(data + r.pos, data + r.pos + hyper);
    r.pos += hyper;
  }
  const uint32_t payload = r.u32("header");
  require(h.width >= 1 && h.height >= 1 && h.width <= 65536 && h.height <= 65536,
          "corrupt .aec file: image size " + std::to_string(h.width) + "x" + std::to_string(h.height));
  require(h.stride >= 1 && h.stride <= 1024, "corrupt .aec file: stride " + std::to_string(h.stride));
  require(h.latent_c >= 1 && h.latent_h >= 1 && h.latent_w >= 1 && h.latent_c <= 4096 &&
              h.latent_h <= 65536 && h.latent_w <= 65536 &&
              uint64_t(h.latent_c) * h.latent_h * h.latent_w <= kMaxLatentElements,
          "corrupt .aec file: latent shape");
  r.need(size_t(payload), "payload");
  b.payload.assign(data + r.pos, data + r.pos + payload);
  r.pos += payload;
  const size_t body = r.pos;
  const uint32_t stored = r.u32("checksum");
  require(r.pos == size,
          "corrupt .aec file: " + std::to_string(size - r.pos) + " unexpected bytes after the checksum");
  require(stored == crc32(data, body), "corrupt .aec file: checksum mismatch");
  return b;
}

}  // namespace aec
