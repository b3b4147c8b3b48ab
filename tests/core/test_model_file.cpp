// The model file: round trips, half floats, and every kind of damage refused with a message.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "aecodec/error.h"
#include "aecodec/model.h"
#include "aecodec/model_file.h"
#include "random_model.h"
#include "variable_rate_model.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::with_quality_knob;

TEST_CASE("model file round-trips tensors and document") {
  const ModelFile f = make_random_model({});
  const std::vector<uint8_t> bytes = f.serialize();
  const ModelFile g = ModelFile::parse(bytes.data(), bytes.size());
  CHECK(g.meta == f.meta);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    REQUIRE(g.has(name));
    CHECK(g.tensors.at(name).bytes == t.bytes);
    CHECK(g.tensors.at(name).shape == t.shape);
  }
  CHECK(g.content_hash() == f.content_hash());
  CHECK(g.serialize() == bytes);  // deterministic layout
}

TEST_CASE("a model's id changes with what decoding reads, and only with that") {
  for (const char* arch : {"factorized", "hyperprior", "channel"}) {
    RandomModelSpec s;
    s.arch = arch;
    const ModelFile f = make_random_model(s);
    const uint64_t id = Model::from_file(f).info().model_hash;
    CHECK(id == f.decode_hash());
    CHECK(id != f.content_hash());  // the older whole-file id, which files made before still name
    auto edited = [&](auto edit) {
      ModelFile g = f;
      edit(g);
      return Model::from_file(g).info();
    };
    auto flip_first = [](StoredTensor& t) { t.bytes[0] ^= 1; };
    auto flipped_hash = [&](const char* tensor) {  // tables would no longer load: the hash alone
      ModelFile g = f;
      flip_first(g.tensors.at(tensor));
      return g.decode_hash();
    };
    INFO(arch);
    // What a person or the trainer reads, and what only the encoder reads: same id, another file.
    for (const auto& keep : std::vector<std::function<void(ModelFile&)>>{
             [](ModelFile& g) { g.meta["description"] = "another description"; },
             [](ModelFile& g) {
               g.meta["scores"] = {{"psnr", 30.5}, {"bpp", 0.4}};
             },
             [](ModelFile& g) { g.meta["training"]["provenance"] = "elsewhere"; },
             [](ModelFile& g) {
               const std::vector<float> state(4, 1.0f);
               g.put_floats("train.prior.x", {4}, state.data());
             },
             [&](ModelFile& g) { flip_first(g.tensors.at("enc.0.weight")); },
         }) {
      const ModelInfo i = edited(keep);
      CHECK(i.model_hash == id);
      CHECK(i.content_hash != Model::from_file(f).info().content_hash);
    }
    CHECK(edited([](ModelFile& g) { g.meta["id"] = "0123456789abcdef"; }).model_hash == id);
    // What decoding reads: another id.
    CHECK(edited([&](ModelFile& g) { flip_first(g.tensors.at("dec.0.weight")); }).model_hash != id);
    CHECK(edited([](ModelFile& g) { g.meta["name"] = "renamed"; }).model_hash != id);
    if (std::string(arch) == "factorized") {
      CHECK(flipped_hash("entropy.cdf") != id);
      CHECK(edited([&](ModelFile& g) { flip_first(g.tensors.at("latent.step")); }).model_hash != id);
    } else {
      CHECK(edited([&](ModelFile& g) { flip_first(g.tensors.at("hyper.h_a.0.weight")); }).model_hash == id);
      CHECK(edited([&](ModelFile& g) { flip_first(g.tensors.at("hyper.h_s.0.weight")); }).model_hash != id);
      CHECK(flipped_hash("hyper.z.cdf") != id);
      CHECK(flipped_hash("hyper.gaussian.cdf") != id);
      CHECK(edited([](ModelFile& g) { g.meta["entropy"]["mean_fraction_bits"] = 10; }).model_hash != id);
    }
    if (std::string(arch) == "channel")
      CHECK(edited([&](ModelFile& g) {
              flip_first(g.tensors.at("hyper.context.lrp.0.0.weight"));
            }).model_hash != id);
  }
  // A variable-rate model: the encoder's gains and the default quality are the encoder's; the decoder's are
  // not.
  RandomModelSpec s;
  s.arch = "hyperprior";
  const ModelFile vr = with_quality_knob(make_random_model(s));
  const uint64_t id = Model::from_file(vr).info().model_hash;
  ModelFile g = vr;
  g.meta["variable_rate"]["default_quality"] = 80;
  g.tensors.at("latent.gain").bytes[1] ^= 1;
  CHECK(Model::from_file(g).info().model_hash == id);
  g.tensors.at("latent.inv_gain").bytes[1] ^= 1;
  CHECK(Model::from_file(g).info().model_hash != id);
}

TEST_CASE("half floats convert exactly where representable and round to nearest even") {
  for (float v : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f /*min normal*/, 5.9604645e-08f /*min sub*/})
    CHECK(half_to_float(float_to_half(v)) == v);
  CHECK(std::isinf(half_to_float(float_to_half(1e6f))));
  CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(half_to_float(float_to_half(1.0f + 1.0f / 4096)) == 1.0f);               // tie -> even
  CHECK(half_to_float(float_to_half(1.0f + 3.0f / 2048)) == 1.0f + 2.0f / 1024);  // tie -> even (up)
  for (uint32_t h = 0; h < 0x7C00; ++h) CHECK(float_to_half(half_to_float(uint16_t(h))) == h);
}

TEST_CASE("an F16 model computes what its F32 original computes, within half precision") {
  RandomModelSpec s;
  const Model a = Model::from_file(make_random_model(s));
  s.stored = DType::F16;
  const Model b = Model::from_file(make_random_model(s));
  Tensor x(3, 16, 20, 0.5f);
  for (size_t i = 0; i < x.size(); ++i) x.data[i] = float(i % 17) / 17.0f;
  const Tensor ya = a.analysis(x), yb = b.analysis(x);
  float m = 0;
  for (size_t i = 0; i < ya.size(); ++i) m = std::max(m, std::abs(ya.data[i] - yb.data[i]));
  CHECK(m < 0.02f);
  CHECK(m > 0.0f);
}

TEST_CASE("integer tensors are stored in 16 bits when every value fits, and read back exactly") {
  ModelFile f;
  const std::vector<int32_t> small = {-32768, -1, 0, 1, 32767}, wide = {-32769, 0, 65536};
  f.put_ints("small", {5}, small.data());
  f.put_ints("wide", {3}, wide.data());
  CHECK(f.tensors.at("small").dtype == DType::I16);
  CHECK(f.tensors.at("small").bytes.size() == 10);
  CHECK(f.tensors.at("wide").dtype == DType::I32);
  f.meta = make_random_model({}).meta;
  const std::vector<uint8_t> bytes = f.serialize();
  const ModelFile g = ModelFile::parse(bytes.data(), bytes.size());
  CHECK(g.ints("small", {5}) == small);
  CHECK(g.ints("wide", {3}) == wide);
  CHECK_THROWS_WITH(g.floats("small", {5}), Catch::Contains("I16") && Catch::Contains("expected floating point"));
}

TEST_CASE("a hyperprior model's integer hyper-synthesis is stored as I16 and loads") {
  RandomModelSpec s;
  s.arch = "hyperprior";
  const ModelFile f = make_random_model(s);
  int narrow = 0;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("hyper.h_s.", 0) == 0 && name.find(".weight") != std::string::npos)
      narrow += t.dtype == DType::I16;
  CHECK(narrow == 3);  // its three layers' weights
  const std::vector<uint8_t> bytes = f.serialize();
  const Model m = Model::from_file(ModelFile::parse(bytes.data(), bytes.size()));
  CHECK(m.hyperprior() != nullptr);
}

TEST_CASE("every truncation of a model file is refused") {
  const std::vector<uint8_t> bytes = make_random_model({}).serialize();
  for (size_t n = 0; n < bytes.size(); n += (n < 64 ? 1 : 97))
    CHECK_THROWS_AS(ModelFile::parse(bytes.data(), n), Error);
}

namespace {
// Rewrites the JSON header of a serialized model with `edit` and returns the new file.
template <class F>
std::vector<uint8_t> edit_header(const std::vector<uint8_t>& bytes, F edit) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  nlohmann::json h = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  edit(h);
  const std::string text = h.dump();
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(text.size()) >> (8 * i));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), bytes.begin() + 8 + long(n), bytes.end());
  return out;
}

std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    Model::from_file(ModelFile::parse(b.data(), b.size()));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("forged or inconsistent model files are refused with a message that names the problem") {
  const std::vector<uint8_t> good = make_random_model({}).serialize();
  REQUIRE(parse_error(good).empty());

  std::vector<uint8_t> huge = good;
  huge[7] = 0x7F;  // header length of petabytes
  CHECK_THAT(parse_error(huge), Catch::Contains("header length"));

  CHECK_THAT(parse_error(edit_header(good, [](nlohmann::json& h) { h["enc.0.bias"]["data_offsets"][1] = 1u << 30; })),
             Catch::Contains("enc.0.bias"));
  CHECK_THAT(parse_error(edit_header(good, [](nlohmann::json& h) { h["enc.0.bias"]["dtype"] = "F64"; })),
             Catch::Contains("unsupported dtype"));
  CHECK_THAT(parse_error(edit_header(good, [](nlohmann::json& h) { h["enc.0.bias"]["shape"] = {3}; })),
             Catch::Contains("do not match shape"));
  CHECK_THAT(parse_error(edit_header(good,
                                     [](nlohmann::json& h) {
                                       auto a = h["enc.0.bias"]["data_offsets"];
                                       h["dec.0.bias"]["data_offsets"] = a;
                                     })),
             Catch::Contains("overlap"));
  CHECK_THAT(parse_error(edit_header(good, [](nlohmann::json& h) { h.erase("__metadata__"); })), Catch::Contains("aecodec"));
  CHECK_THAT(parse_error(edit_header(good,
                                     [](nlohmann::json& h) {
                                       auto m = nlohmann::json::parse(h["__metadata__"]["aecodec"].get<std::string>());
                                       m["format_version"] = 99;
                                       h["__metadata__"]["aecodec"] = m.dump();
                                     })),
             Catch::Contains("version 99"));
  CHECK_THAT(parse_error(edit_header(good,
                                     [](nlohmann::json& h) {
                                       auto m = nlohmann::json::parse(h["__metadata__"]["aecodec"].get<std::string>());
                                       m["encoder"][0]["out"] = 9;
                                       h["__metadata__"]["aecodec"] = m.dump();
                                     })),
             Catch::Contains("enc.0.weight"));
  CHECK_THAT(parse_error(edit_header(good,
                                     [](nlohmann::json& h) {
                                       auto m = nlohmann::json::parse(h["__metadata__"]["aecodec"].get<std::string>());
                                       m["encoder"][1]["op"] = "softmax";
                                       h["__metadata__"]["aecodec"] = m.dump();
                                     })),
             Catch::Contains("unknown op 'softmax'"));
  CHECK_THAT(parse_error(edit_header(good,
                                     [](nlohmann::json& h) {
                                       auto m = nlohmann::json::parse(h["__metadata__"]["aecodec"].get<std::string>());
                                       m["latent"]["channels"] = 5;
                                       h["__metadata__"]["aecodec"] = m.dump();
                                     })),
             Catch::Contains("latent channels"));

  // NaN weights and a broken CDF table.
  ModelFile f = make_random_model({});
  std::vector<float> bias = f.floats("dec.0.bias", {8});
  bias[3] = std::numeric_limits<float>::quiet_NaN();
  f.put_floats("dec.0.bias", {8}, bias.data());
  const std::vector<uint8_t> nan_file = f.serialize();
  CHECK_THAT(parse_error(nan_file), Catch::Contains("NaN"));
  ModelFile g = make_random_model({});
  auto& cdf = g.tensors.at("entropy.cdf").bytes;
  cdf[4 * 5] = 0xFF, cdf[4 * 5 + 1] = 0xFF;  // channel 0 no longer increasing
  const std::vector<uint8_t> bad_cdf = g.serialize();
  CHECK_FALSE(parse_error(bad_cdf).empty());
}

TEST_CASE("document fields of another JSON type or beyond int are refused with aec::Error") {
  const std::vector<uint8_t> good = make_random_model({}).serialize();
  auto with_doc = [&good](auto edit) {
    return edit_header(good, [&edit](nlohmann::json& h) {
      auto m = nlohmann::json::parse(h["__metadata__"]["aecodec"].get<std::string>());
      edit(m);
      h["__metadata__"]["aecodec"] = m.dump();
    });
  };
  // (a fuzz_model_file finding: json::value("format", "") threw nlohmann's type_error for an object)
  CHECK_THAT(parse_error(with_doc([](nlohmann::json& m) { m["format"] = nlohmann::json::object(); })),
             Catch::Contains("document format is not"));
  CHECK_THAT(parse_error(with_doc([](nlohmann::json& m) { m["encoder"][1]["inverse"] = "yes"; })),
             Catch::Contains("'inverse' must be true or false"));
  CHECK_THAT(parse_error(with_doc([](nlohmann::json& m) {
               m["family"] = {{"id", "f"}, {"role", 1}, {"stride", 4}};
             })),
             Catch::Contains("role must be a string"));
  // Integers that an int would wrap to a valid value.
  CHECK_THAT(parse_error(with_doc([](nlohmann::json& m) { m["format_version"] = (int64_t(1) << 32) + 1; })),
             Catch::Contains("version 4294967297"));
  CHECK_THAT(parse_error(with_doc([](nlohmann::json& m) {
               m["input"]["size"] = {(int64_t(1) << 32) + 8, 8};
             })),
             Catch::Contains("bad fixed size"));
}

TEST_CASE("all architectures of the random-model builder load and keep their shapes") {
  for (const char* arch : {"factorized", "conv", "vae", "fc", "hyperprior"}) {
    RandomModelSpec s;
    s.arch = arch;
    const Model m = Model::from_file(make_random_model(s));
    const int w = m.info().fixed_width ? m.info().fixed_width : 24, h = m.info().fixed_width ? m.info().fixed_height : 12;
    const Tensor y = m.analysis(Tensor(3, h, w, 0.3f));
    CHECK(y.c == s.m);
    const Tensor x = m.synthesis(y);
    CHECK(x.c == 3);
    CHECK(x.h == h);
    CHECK(x.w == w);
  }
}
