#include "aecodec/model_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace aec {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::F16 || t == DType::I16 ? 2 : 4; }

static bool parse_dtype(const std::string& s, DType& t) {
  if (s == "F32") t = DType::F32;
  else if (s == "F16") t = DType::F16;
  else if (s == "I32") t = DType::I32;
  else if (s == "I16") t = DType::I16;
  else return false;
  return true;
}

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

ModelFile ModelFile::parse(const uint8_t* data, size_t size) {
  require(size >= 8, "not a model file: " + std::to_string(size) + " bytes is shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  require(header_len <= kMaxHeaderBytes && header_len <= size - 8,
          "not a model file: header length " + std::to_string(header_len) + " does not fit the file of " +
              std::to_string(size) + " bytes");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + header_len);
  } catch (const std::exception& e) {
    throw Error(std::string("model file header is not valid JSON: ") + e.what());
  }
  require(header.is_object(), "model file header is not a JSON object");
  const uint8_t* area = data + 8 + header_len;
  const uint64_t area_size = size - 8 - header_len;

  ModelFile file;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const auto& desc = it.value();
    const std::string where = "model file tensor '" + name + "'";
    require(desc.is_object() && desc.contains("dtype") && desc["dtype"].is_string() && desc.contains("shape") &&
                desc["shape"].is_array() && desc.contains("data_offsets") && desc["data_offsets"].is_array() &&
                desc["data_offsets"].size() == 2,
            where + ": needs dtype, shape and data_offsets");
    StoredTensor t;
    require(parse_dtype(desc["dtype"].get<std::string>(), t.dtype),
            where + ": unsupported dtype " + desc["dtype"].get<std::string>());
    require(desc["shape"].size() <= 8, where + ": more than 8 dimensions");
    uint64_t numel = 1;
    for (const auto& d : desc["shape"]) {
      require(d.is_number_integer() && d.get<int64_t>() >= 0 && d.get<int64_t>() <= (int64_t(1) << 32),
              where + ": bad dimension in shape");
      t.shape.push_back(d.get<int64_t>());
      numel *= uint64_t(t.shape.back());
      require(numel <= area_size, where + ": shape " + shape_str(t.shape) + " is larger than the file");
    }
    for (const auto& o : desc["data_offsets"])
      require(o.is_number_unsigned() || (o.is_number_integer() && o.get<int64_t>() >= 0),
              where + ": bad data_offsets");
    const uint64_t begin = desc["data_offsets"][0].get<uint64_t>(), end = desc["data_offsets"][1].get<uint64_t>();
    require(begin <= end && end <= area_size,
            where + ": data_offsets [" + std::to_string(begin) + "," + std::to_string(end) +
                ") outside the data area of " + std::to_string(area_size) + " bytes (truncated file?)");
    require(end - begin == numel * dtype_size(t.dtype),
            where + ": " + std::to_string(end - begin) + " bytes do not match shape " + shape_str(t.shape) + " of " +
                dtype_name(t.dtype));
    t.bytes.assign(area + begin, area + end);
    spans.push_back({begin, end, name});
    file.tensors.emplace(name, std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    require(spans[i].begin >= spans[i - 1].end,
            "model file tensors '" + spans[i - 1].name + "' and '" + spans[i].name + "' overlap");

  require(header.contains("__metadata__") && header["__metadata__"].is_object() &&
              header["__metadata__"].contains("aecodec") && header["__metadata__"]["aecodec"].is_string(),
          "not an aecodec model: the safetensors metadata has no \"aecodec\" document");
  try {
    file.meta = nlohmann::json::parse(header["__metadata__"]["aecodec"].get<std::string>());
  } catch (const std::exception& e) {
    throw Error(std::string("the model's aecodec document is not valid JSON: ") + e.what());
  }
  // (no json::value(): it throws nlohmann's type_error, not aec::Error, when the field has another type)
  require(file.meta.is_object() && file.meta.contains("format") && file.meta["format"].is_string() &&
              file.meta["format"] == kFormat,
          "not an aecodec model: document format is not \"aecodec-model\"");
  require(file.meta.contains("format_version") && file.meta["format_version"].is_number_integer(),
          "model document has no format_version");
  const int64_t version = file.meta["format_version"].get<int64_t>();  // (int would wrap 2^32 + 1 to 1)
  require(version == kFormatVersion, "model format version " + std::to_string(version) +
                                         " is not supported (this build reads version " +
                                         std::to_string(kFormatVersion) + ")");
  return file;
}

ModelFile ModelFile::read(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path, uint64_t(1) << 30);
  try {
    return parse(bytes.data(), bytes.size());
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

std::vector<uint8_t> ModelFile::serialize() const {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, so the layout is deterministic
    header[name] = {{"dtype", dtype_name(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  header["__metadata__"] = {{"aecodec", meta.dump()}};
  std::string text = header.dump();
  while ((8 + text.size()) % 8) text.push_back(' ');  // safetensors aligns the data area to 8 bytes
  std::vector<uint8_t> out(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const auto& kv : tensors) {
    if (!kv.second.bytes.empty()) std::memcpy(p, kv.second.bytes.data(), kv.second.bytes.size());
    p += kv.second.bytes.size();
  }
  return out;
}

void ModelFile::write(const std::string& path) const { write_file_atomic(path, serialize()); }

static const StoredTensor& find_checked(const ModelFile& f, const std::string& name,
                                        const std::vector<int64_t>& shape) {
  auto it = f.tensors.find(name);
  require(it != f.tensors.end(), "model has no tensor '" + name + "' (expected shape " + shape_str(shape) + ")");
  require(it->second.shape == shape, "model tensor '" + name + "' has shape " + shape_str(it->second.shape) +
                                         ", the architecture needs " + shape_str(shape));
  return it->second;
}

std::vector<float> ModelFile::floats(const std::string& name, const std::vector<int64_t>& shape) const {
  const StoredTensor& t = find_checked(*this, name, shape);
  std::vector<float> out(size_t(t.numel()));
  if (t.dtype == DType::F32) {
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t bits = uint32_t(t.bytes[4 * i]) | uint32_t(t.bytes[4 * i + 1]) << 8 |
                      uint32_t(t.bytes[4 * i + 2]) << 16 | uint32_t(t.bytes[4 * i + 3]) << 24;
      std::memcpy(&out[i], &bits, 4);
    }
  } else if (t.dtype == DType::F16) {
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = half_to_float(uint16_t(t.bytes[2 * i] | t.bytes[2 * i + 1] << 8));
  } else {
    throw Error("model tensor '" + name + "' is " + dtype_name(t.dtype) + ", expected floating point");
  }
  for (float v : out)  // (message built only on failure: a model has about a million weights)
    if (!std::isfinite(v)) throw Error("model tensor '" + name + "' holds a NaN or infinity");
  return out;
}

std::vector<int32_t> ModelFile::ints(const std::string& name, const std::vector<int64_t>& shape) const {
  const StoredTensor& t = find_checked(*this, name, shape);
  require(t.dtype == DType::I32 || t.dtype == DType::I16,
          "model tensor '" + name + "' is " + dtype_name(t.dtype) + ", expected I32 or I16");
  std::vector<int32_t> out(size_t(t.numel()));
  if (t.dtype == DType::I16) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = int16_t(uint16_t(t.bytes[2 * i] | t.bytes[2 * i + 1] << 8));
    return out;
  }
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = int32_t(uint32_t(t.bytes[4 * i]) | uint32_t(t.bytes[4 * i + 1]) << 8 |
                     uint32_t(t.bytes[4 * i + 2]) << 16 | uint32_t(t.bytes[4 * i + 3]) << 24);
  return out;
}

void ModelFile::put_floats(const std::string& name, const std::vector<int64_t>& shape, const float* values,
                           DType stored) {
  require(stored == DType::F32 || stored == DType::F16,
          "put_floats: " + std::string(dtype_name(stored)) + " is not a float type");
  StoredTensor t;
  t.dtype = stored;
  t.shape = shape;
  const size_t n = size_t(t.numel());
  t.bytes.resize(n * dtype_size(stored));
  for (size_t i = 0; i < n; ++i) {
    if (stored == DType::F32) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      for (int b = 0; b < 4; ++b) t.bytes[4 * i + b] = uint8_t(bits >> (8 * b));
    } else {
      uint16_t h = float_to_half(values[i]);
      t.bytes[2 * i] = uint8_t(h);
      t.bytes[2 * i + 1] = uint8_t(h >> 8);
    }
  }
  tensors[name] = std::move(t);
}

void ModelFile::put_ints(const std::string& name, const std::vector<int64_t>& shape, const int32_t* values) {
  StoredTensor t;
  t.shape = shape;
  const size_t n = size_t(t.numel());
  const bool narrow = std::all_of(values, values + n, [](int32_t v) { return v >= INT16_MIN && v <= INT16_MAX; });
  t.dtype = narrow ? DType::I16 : DType::I32;
  const size_t width = dtype_size(t.dtype);
  t.bytes.resize(n * width);
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < width; ++b) t.bytes[width * i + b] = uint8_t(uint32_t(values[i]) >> (8 * b));
  tensors[name] = std::move(t);
}

uint64_t ModelFile::content_hash() const {
  nlohmann::json m = meta;
  m.erase("id");  // the id is the hash itself
  const std::string doc = m.dump();
  uint64_t h = fnv1a64(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
  for (const auto& [name, t] : tensors) {
    h = fnv1a64(reinterpret_cast<const uint8_t*>(name.data()), name.size(), h);
    const std::string desc = std::string(dtype_name(t.dtype)) + shape_str(t.shape);
    h = fnv1a64(reinterpret_cast<const uint8_t*>(desc.data()), desc.size(), h);
    h = fnv1a64(t.bytes.data(), t.bytes.size(), h);
  }
  return h;
}

namespace {

// Layer names in a list of layers (nested lists included: a channel context's slices are lists of lists).
void collect_layer_names(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_array()) {
    for (const auto& e : j) collect_layer_names(e, out);
  } else if (j.is_object()) {
    if (j.contains("name") && j["name"].is_string()) out.insert(j["name"].get<std::string>());
    for (const auto& [key, value] : j.items())
      if (value.is_array() || value.is_object()) collect_layer_names(value, out);
  }
}

bool names_layer_tensor(const std::set<std::string>& layers, const std::string& tensor) {
  const size_t dot = tensor.rfind('.');
  return dot != std::string::npos && layers.count(tensor.substr(0, dot)) != 0;
}

}  // namespace

uint64_t ModelFile::decode_hash() const {
  nlohmann::json m = meta;
  std::set<std::string> encoder_layers, decoder_layers;
  // Only the encoder reads these: its layers, the hyper analysis (z is in the file), the gains the knob
  // folds into the encoder, and the quality used when none is asked for. What the user reads (description,
  // scores) and what training reads (training, train.* tensors) do not change a decoded pixel either.
  if (m.contains("encoder")) collect_layer_names(m["encoder"], encoder_layers);
  if (m.contains("entropy") && m["entropy"].is_object() && m["entropy"].contains("hyper_encoder")) {
    collect_layer_names(m["entropy"]["hyper_encoder"], encoder_layers);
    m["entropy"].erase("hyper_encoder");
  }
  if (m.contains("variable_rate") && m["variable_rate"].is_object())
    m["variable_rate"].erase("default_quality");
  for (const char* key : {"id", "description", "scores", "training", "encoder"}) m.erase(key);
  // A layer named on both sides (none is today) stays hashed: what decoding reads is never left out.
  collect_layer_names(m, decoder_layers);
  const std::string doc = "aecodec decode id 1\n" + m.dump();  // never equal to a content_hash input
  uint64_t h = fnv1a64(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
  for (const auto& [name, t] : tensors) {
    if (name.rfind("train.", 0) == 0 || name == "latent.gain") continue;
    if (names_layer_tensor(encoder_layers, name) && !names_layer_tensor(decoder_layers, name)) continue;
    h = fnv1a64(reinterpret_cast<const uint8_t*>(name.data()), name.size(), h);
    const std::string desc = std::string(dtype_name(t.dtype)) + shape_str(t.shape);
    h = fnv1a64(reinterpret_cast<const uint8_t*>(desc.data()), desc.size(), h);
    h = fnv1a64(t.bytes.data(), t.bytes.size(), h);
  }
  return h;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exp = (x >> 23) & 0xFFu;
  uint32_t mant = x & 0x7FFFFFu;
  if (exp == 0xFF) return uint16_t(sign | 0x7C00u | (mant ? 0x200u : 0));  // inf / nan
  int e = int(exp) - 127 + 15;
  if (e >= 0x1F) return uint16_t(sign | 0x7C00u);  // overflow -> inf
  if (e <= 0) {                                     // subnormal half (or zero)
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;  // carries into the exponent correctly
  return uint16_t(half);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // normalise the subnormal
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while (!(mant & 0x400u));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3FFu) << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp - 15 + 127) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace aec
