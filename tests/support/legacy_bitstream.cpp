#include "legacy_bitstream.h"

#include <string>

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace aec::testing {

namespace {

void le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void str(std::vector<uint8_t>& out, const std::string& s) {
  require(s.size() <= 255, "legacy bitstream: string longer than 255 bytes");
  out.push_back(uint8_t(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

void blob(std::vector<uint8_t>& out, const std::vector<uint8_t>* b) {
  const size_t n = b ? b->size() : 0;
  le(out, n, 4);
  if (b) out.insert(out.end(), b->begin(), b->end());
}

}  // namespace

std::vector<uint8_t> write_legacy_bitstream(const Bitstream& b) {
  const BitstreamHeader& h = b.header;
  require(h.version == kBitstreamVersionFactorized || h.version == kBitstreamVersionHyperprior,
          "legacy bitstream: version " + std::to_string(h.version));
  std::vector<uint8_t> out = {'A', 'E', 'C', 0x1A, h.version, 0};
  str(out, h.model_name);
  le(out, h.model_hash, 8);
  le(out, h.entropy_hash, 8);
  str(out, h.family_id);
  for (uint32_t v : {h.width, h.height, h.stride, h.latent_c, h.latent_h, h.latent_w}) le(out, v, 4);
  if (h.version == kBitstreamVersionHyperprior) {
    for (uint32_t v : {h.hyper_c, h.hyper_h, h.hyper_w}) le(out, v, 4);
    blob(out, b.find(kSectionHyperPayload));
  }
  blob(out, b.find(kSectionPayload));
  le(out, crc32(out.data(), out.size()), 4);
  return out;
}

}  // namespace aec::testing
