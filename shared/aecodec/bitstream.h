// The .aec container (docs/bitstream.md): magic, version, model identity, image and latent shape, entropy
// payload, CRC-32. Parsing checks every field against the buffer before anything is allocated from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aec {

struct BitstreamHeader {
  std::string model_name;        // at most 255 bytes
  uint64_t model_hash = 0;       // the encoder model's identity (its "id")
  uint64_t entropy_hash = 0;     // the entropy model's identity
  std::string family_id;         // empty when the model is not in a family; at most 255 bytes
  uint32_t width = 0, height = 0;     // the original image size
  uint32_t stride = 0;                // the encoder's total stride (image grid / latent grid)
  uint32_t latent_c = 0, latent_h = 0, latent_w = 0;
  uint32_t hyper_c = 0, hyper_h = 0, hyper_w = 0;  // version 2: the hyper latent z; 0 in version 1
  uint8_t version = 1;  // 1: factorized (one payload); 2: hyperprior (hyper payload, then payload)
};

struct Bitstream {
  BitstreamHeader header;
  std::vector<uint8_t> hyper_payload;  // version 2: the entropy-coded hyper latent z (empty in version 1)
  std::vector<uint8_t> payload;        // the entropy-coded latent y
};

constexpr uint8_t kBitstreamVersion = 1;            // factorized models write this, as before
constexpr uint8_t kBitstreamVersionHyperprior = 2;  // hyperprior models
constexpr uint32_t kMaxLatentElements = 1u << 28;

std::vector<uint8_t> write_bitstream(const Bitstream& b);
// Reads versions 1 and 2. Throws aec::Error saying what is wrong: not an .aec file, unsupported version,
// truncated, checksum mismatch, implausible sizes.
Bitstream parse_bitstream(const uint8_t* data, size_t size);


}  // namespace aec
