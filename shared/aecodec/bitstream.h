// The .aec container (docs/bitstream.md). Version 3, which every encoder writes: magic, version, model id and
// name, image size, then typed, length-prefixed sections (the latent codec's payloads, the family identity)
// and a CRC-32. Versions 1 and 2 (fixed header with every shape) are still read. Parsing checks every varint
// and length against the buffer before anything is allocated from it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace aec {

constexpr uint8_t kBitstreamVersionFactorized = 1;  // old: factorized models, one payload
constexpr uint8_t kBitstreamVersionHyperprior = 2;  // old: hyperprior models, hyper payload and payload
constexpr uint8_t kBitstreamVersion = 3;            // what write_bitstream writes
constexpr uint32_t kMaxLatentElements = 1u << 28;

// Section types (docs/bitstream.md, "Sections"). The low bit says what a decoder that does not know a type
// does with it: odd types are optional (skipped), even types are required (the file is refused, naming the
// type), so a later format feature adds a section, not a version.
enum SectionType : uint32_t {
  kSectionFamily = 1,        // optional: family id, entropy id, encoder stride (for cross-decoding)
  kSectionPayload = 2,       // the latent y's symbols
  kSectionHyperPayload = 4,  // the hyper latent z's symbols (hyperprior models)
  kSectionQuality = 6,     // the quality knob's Q (variable-rate networks)
  kSectionSubstreams = 8,  // spatial substreams: the payload as row bands coded independently (substreams.h)
  // Reserved for a format feature that does not exist yet; this build refuses it by name.
  kSectionContext = 10,  // a context model's side information
};
// A section type's name in messages ("payload", ..., or "type N").
std::string section_name(uint32_t type);
inline bool section_optional(uint32_t type) {
  return (type & 1) != 0;
}

struct Section {
  uint32_t type = 0;
  std::vector<uint8_t> bytes;
};

struct BitstreamHeader {
  uint8_t version = kBitstreamVersion;  // as read; write_bitstream always writes kBitstreamVersion
  std::string model_name;               // 1..255 bytes: names the model in "needs model X" messages
  uint64_t model_hash = 0;              // the encoder model's identity (its "id")
  uint32_t width = 0, height = 0;       // the original image size, 1..65536
  // Cross-resolution family identity: version 3's family section (absent outside a family), or the fixed
  // fields of versions 1 and 2.
  std::string family_id;  // empty when the model is not in a family; at most 255 bytes
  uint64_t entropy_hash = 0;
  uint32_t stride = 0;  // the encoder's total stride (image grid / latent grid); 0 when not recorded
  // The latent grid and the hyper latent's shape: stored in versions 1 and 2 (checked against the model),
  // implied by the model and image size in version 3, where the parser leaves them 0 and open_stream
  // (codec.h) fills the latent grid in.
  uint32_t latent_c = 0, latent_h = 0, latent_w = 0;
  uint32_t hyper_c = 0, hyper_h = 0, hyper_w = 0;
};

struct Bitstream {
  BitstreamHeader header;
  // The data sections, strictly increasing in type (the family section lives in the header). Versions 1 and
  // 2 are read into the same sections: payload, and hyper payload for version 2.
  std::vector<Section> sections;

  const std::vector<uint8_t>* find(uint32_t type) const;
  // The section's bytes, added (in type order) when absent.
  std::vector<uint8_t>& section(uint32_t type);
};

// Writes version 3. Throws aec::Error for fields out of range (empty or long names, sizes, section types).
std::vector<uint8_t> write_bitstream(const Bitstream& b);
// Reads versions 1, 2 and 3. Throws aec::Error saying what is wrong: not an .aec file, unsupported version,
// truncated, bad varint or length, unknown required section, checksum mismatch, implausible sizes.
Bitstream parse_bitstream(const uint8_t* data, size_t size);

// LEB128 unsigned varints, the version-3 header's integer encoding: 7 bits a byte, low group first.
void put_varint(std::vector<uint8_t>& out, uint64_t v);
// Reads a canonical varint of at most `max` from bytes[pos...] and advances pos; throws aec::Error naming
// `what` when it is truncated, not minimal or too large (a section's fields, as the header's).
uint64_t read_varint(const std::vector<uint8_t>& bytes, size_t& pos, uint64_t max, const std::string& what);

}  // namespace aec
