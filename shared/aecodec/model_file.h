// The model file: safetensors layout (u64 little-endian header length, JSON header, raw little-endian tensor
// data) with the model's whole description -- architecture, quantiser, entropy tables' meaning, training
// provenance, measured scores -- as one JSON document stored in the header's "__metadata__"["aecodec"]
// string. See docs/model-format.md. Both the core (reading) and the trainer (writing) use this one class.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aec {

// I16: integer tensors whose every value fits in 16 bits (put_ints picks it: the integer hyper-synthesis'
// weights are 16-bit by construction), read back as int32.
enum class DType { F32, F16, I32, I16 };
const char* dtype_name(DType t);
size_t dtype_size(DType t);

struct StoredTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, row-major
  int64_t numel() const;
};

struct ModelFile {
  static constexpr const char* kFormat = "aecodec-model";
  static constexpr int kFormatVersion = 1;
  static constexpr uint64_t kMaxHeaderBytes = 16u << 20;

  nlohmann::json meta;  // the aecodec document (format, name, arch, encoder, decoder, ...)
  std::map<std::string, StoredTensor> tensors;

  // Parses and validates the container: header length within the file, JSON well formed, every tensor's
  // dtype known, shape non-negative, offsets in order, inside the data area, not overlapping, and of the size
  // the shape and dtype imply; "__metadata__"["aecodec"] present with the expected format and version.
  static ModelFile parse(const uint8_t* data, size_t size);
  static ModelFile read(const std::string& path);

  std::vector<uint8_t> serialize() const;
  void write(const std::string& path) const;  // atomic

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // Tensor `name` as float32 (F16 widened), checked to have exactly `shape`; throws aec::Error naming the
  // tensor and both shapes otherwise.
  std::vector<float> floats(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<int32_t> ints(const std::string& name, const std::vector<int64_t>& shape) const;

  void put_floats(const std::string& name, const std::vector<int64_t>& shape, const float* values,
                  DType stored = DType::F32);
  // Stored as I16 when every value fits in 16 bits, else I32 (ints() reads both).
  void put_ints(const std::string& name, const std::vector<int64_t>& shape, const int32_t* values);

  // Hash over the metadata's canonical dump and all tensors (names, dtypes, shapes, bytes): tells two files
  // apart, and is the id that files written before decode_hash named (decoders still accept it).
  uint64_t content_hash() const;
  // The model's id: a hash over what decoding reads (the document less its description, scores, training
  // and encoder-only parts; the decoder's, entropy model's and quantiser's tensors), so that editing what a
  // person reads, or retraining only the encoder's side, keeps every file made with the model decodable.
  uint64_t decode_hash() const;
};

// IEEE half <-> float, exact for every half value, round-to-nearest-even for float -> half.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

}  // namespace aec
