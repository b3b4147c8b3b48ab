// The channel-conditional context model (kind "channel"): whole images through the container, the slice
// path against the documented formula (integer embedding and slice nets, the log-scale table pick, the
// corrected means), zero slice nets coding exactly as the plain hyperprior, the determinism contract (every
// table, mean and symbol the same under every integer kernel, GEMM kernel and thread count), damaged or
// forged files and broken model files refused, and EntropyStreamDecoder, which reads the slices' one stream
// in parts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "aecodec/channel_context.h"
#include "aecodec/codec.h"
#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/gaussian.h"
#include "aecodec/gemm.h"
#include "aecodec/hyperprior.h"
#include "aecodec/image.h"
#include "aecodec/int_layers.h"
#include "aecodec/latent_codec.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "aecodec/parallel.h"
#include "damaged_files.h"
#include "legacy_bitstream.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;
using aec::testing::write_legacy_bitstream;
using nlohmann::json;

namespace {

RandomModelSpec channel_spec() {
  RandomModelSpec s;
  s.arch = "channel", s.name = "test-channel", s.n = 8, s.m = 6;
  return s;
}

RandomModelSpec hyper_spec() {
  RandomModelSpec s;
  s.arch = "hyperprior", s.name = "test-hyperprior", s.n = 8, s.m = 6;
  return s;
}

const Model& channel_model() {
  static const Model m = Model::from_file(make_random_model(channel_spec()));
  return m;
}

const ChannelContext& context_of(const Model& m) {
  return dynamic_cast<const ChannelCodec&>(m.latent_codec()).context();
}

// The context with every slice net's output at zero: both layers of each param net, and the last conv of
// each LRP net (weights and biases).
ModelFile zero_slice_nets(ModelFile f) {
  for (auto& [name, t] : f.tensors) {
    const bool param = name.rfind("hyper.context.param.", 0) == 0;
    const bool lrp_out = name.rfind("hyper.context.lrp.", 0) == 0 && name.find(".3.") != std::string::npos;
    const bool shift = name.size() > 6 && name.compare(name.size() - 6, 6, ".shift") == 0;
    if (!(param || lrp_out) || shift) continue;
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const std::vector<int64_t> shape = t.shape;
    if (param) {
      const std::vector<int32_t> zeros(static_cast<size_t>(n), 0);
      f.put_ints(name, shape, zeros.data());
    } else {
      const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
      f.put_floats(name, shape, zeros.data());
    }
  }
  return f;
}

// The same file as a plain hyperprior model: the context and its tensors removed.
ModelFile without_context(ModelFile f) {
  f.meta["entropy"]["kind"] = "hyperprior";
  f.meta["entropy"].erase("context");
  for (auto it = f.tensors.begin(); it != f.tensors.end();)
    it = it->first.rfind("hyper.context.", 0) == 0 ? f.tensors.erase(it) : std::next(it);
  return f;
}

// What the decoder's slice path gives for a stream: every symbol, table and mean in (C, H, W) order, the
// slices in the order the context asked for them, and the latent.
struct Slices {
  std::vector<int32_t> symbol, table, mean;
  std::vector<std::pair<int, int>> order;  // (first channel, channels)
  Tensor latent;
};

// The hyperprior's tables and means for a file's latent, from its hyper payload (what the decoder computes
// before the context runs).
Hyperprior::Conditional hyper_conditional(const Model& m, const Bitstream& stream) {
  const Hyperprior& hp = *m.hyperprior();
  const int h = int(stream.header.latent_h), w = int(stream.header.latent_w);
  int zc, zh, zw;
  hp.hyper_shape(h, w, zc, zh, zw);
  const std::vector<uint8_t>& hyper = *stream.find(kSectionHyperPayload);
  const std::vector<int32_t> zidx = channel_index(zc, zh, zw);
  return hp.conditional(entropy_decode(hyper.data(), hyper.size(), zidx.data(), zidx.size(), hp.z_tables()),
                        zh, zw, h, w);
}

Slices decode_slices(const Model& m, const Bitstream& stream) {
  const Hyperprior& hp = *m.hyperprior();
  const int c = int(stream.header.latent_c), h = int(stream.header.latent_h), w = int(stream.header.latent_w);
  const std::vector<uint8_t>& payload = *stream.find(kSectionPayload);
  const Hyperprior::Conditional cond = hyper_conditional(m, stream);
  const size_t plane = size_t(h) * w;
  Slices r;
  r.symbol.resize(size_t(c) * plane), r.table.resize(r.symbol.size()), r.mean.resize(r.symbol.size());
  EntropyStreamDecoder dec(payload.data(), payload.size(), hp.y_tables());
  r.latent = context_of(m).run(
      cond, h, w, [&](int c0, int k, const int32_t* table, const int32_t* mean, int32_t* symbols) {
        const size_t n = size_t(k) * plane, base = size_t(c0) * plane;
        dec.decode(table, n, symbols);
        std::copy(symbols, symbols + n, r.symbol.begin() + std::ptrdiff_t(base));
        std::copy(table, table + n, r.table.begin() + std::ptrdiff_t(base));
        std::copy(mean, mean + n, r.mean.begin() + std::ptrdiff_t(base));
        r.order.push_back({c0, k});
      });
  dec.finish();
  return r;
}

double total_bits(const EncodeResult& e) {
  double total = 0;
  for (double b : e.channel_bits) total += b;
  return total;
}

std::string load_error(ModelFile f) {
  try {
    Model::from_file(std::move(f));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("channel: the test model is the hyperprior test model plus a context") {
  const ModelFile f = make_random_model(channel_spec());
  CHECK(f.meta["entropy"]["kind"] == "channel");
  CHECK(f.meta["quantizer"]["kind"] == "conditional_mean");
  CHECK(f.meta["entropy"]["context"]["slices"] == json::array({1, 2, 3}));
  ModelFile plain = without_context(f);
  plain.meta["name"] = "test-hyperprior", plain.meta["arch"] = "hyperprior";
  CHECK(plain.content_hash() == make_random_model(hyper_spec()).content_hash());
  // The log-scale table is the Gaussian tables' scales, ln(scale) in 12 fraction bits.
  const Model& m = channel_model();
  const std::vector<float>& scales = m.hyperprior()->scale_table();
  const std::vector<int32_t> log_scale = f.ints("hyper.context.log_scale", {int64_t(scales.size())});
  for (size_t i = 0; i < scales.size(); ++i)
    CHECK(std::abs(log_scale[i] - std::log(scales[i]) * 4096) <= 0.51);
  // Other slicings: uneven, and one slice for everything.
  for (const std::vector<int>& slices : {std::vector<int>{4, 1, 1}, std::vector<int>{6}}) {
    RandomModelSpec s = channel_spec();
    s.slices = slices;
    const Model other = Model::from_file(make_random_model(s));
    CHECK(context_of(other).slices() == slices);
  }
  RandomModelSpec two = channel_spec();
  two.n = 2, two.m = 2;
  CHECK(context_of(Model::from_file(make_random_model(two))).slices() == std::vector<int>{1, 1});
}

TEST_CASE("channel: images of awkward sizes round-trip through the container") {
  const Model& m = channel_model();
  REQUIRE(m.hyperprior());
  CHECK(m.info().entropy_kind == "channel");
  CHECK(context_of(m).slices() == std::vector<int>{1, 2, 3});
  CHECK_THROWS_WITH(m.quantize(Tensor(6, 2, 2)), Catch::Contains("hyperprior"));
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {17, 33}, {61, 20}, {200, 136}}) {
    INFO(w << "x" << h);
    const Image im = synthetic_image(w, h, uint32_t(w + 7 * h));
    const EncodeResult e = encode_image(m, im);
    CHECK(e.bytes[4] == kBitstreamVersion);
    const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
    CHECK(d.image.width == w);
    CHECK(d.image.height == h);
    const BitstreamHeader& hd = d.stream.header;
    CHECK(hd.latent_c == 6u);
    CHECK(hd.latent_h == uint32_t((h + 3) / 4));
    CHECK(hd.latent_w == uint32_t((w + 3) / 4));
    // The hyperprior's two sections and nothing else: the slices share the payload's one stream.
    CHECK(d.stream.sections.size() == 2);
    REQUIRE(d.stream.find(kSectionHyperPayload));
    REQUIRE(d.stream.find(kSectionPayload));
    // The decoder's latent is exactly the encoder's: same symbols, tables, means and LRP.
    std::vector<double> bits;
    const Tensor again = decode_latent(m, d.stream, &bits);
    CHECK(again.data == e.latent.data);
    CHECK(bits == e.channel_bits);
    const Image expect = crop(tensor_to_image(m.synthesis(e.latent)), w, h);
    CHECK(d.image.rgb == expect.rgb);
    // The test's own reading of the stream agrees, slice by slice in order.
    const Slices s = decode_slices(m, d.stream);
    CHECK(s.latent.data == e.latent.data);
    CHECK(s.order == std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {3, 3}});
    // Ideal bits: the payloads are within rANS' overhead of them.
    const double total = e.hyper_bits + total_bits(e);
    const double payload =
        8.0 * double(d.stream.find(kSectionPayload)->size() + d.stream.find(kSectionHyperPayload)->size());
    CHECK(payload >= total - 128);
    CHECK(payload <= total * 1.05 + 128);
  }
}

TEST_CASE("channel: the slice path is the documented integer formula") {
  const ModelFile file = make_random_model(channel_spec());
  const Model& m = channel_model();
  const Hyperprior& hp = *m.hyperprior();
  const json& doc = file.meta["entropy"]["context"];
  const std::vector<int> slices = doc["slices"].get<std::vector<int>>();
  const int S = int(hp.y_tables().count());
  const std::vector<int32_t> log_scale = file.ints("hyper.context.log_scale", {S});
  const IntNetwork embed = IntNetwork::build(doc["embed"], file, "embed");

  const EncodeResult e = encode_image(m, synthetic_image(90, 70, 3));
  const Bitstream stream = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  const int M = 6, h = int(stream.header.latent_h), w = int(stream.header.latent_w);
  const size_t plane = size_t(h) * w;
  const Hyperprior::Conditional cond = hyper_conditional(m, stream);

  // Any symbols (the context does not care where they come from): random ones, escapes included.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> pick(-40, 40);
  Slices got;
  got.symbol.resize(size_t(M) * plane), got.table.resize(got.symbol.size()),
      got.mean.resize(got.symbol.size());
  got.latent = context_of(m).run(
      cond, h, w, [&](int c0, int k, const int32_t* table, const int32_t* mean, int32_t* symbols) {
        const size_t base = size_t(c0) * plane;
        for (size_t j = 0; j < size_t(k) * plane; ++j) {
          symbols[j] = got.symbol[base + j] = pick(rng);
          got.table[base + j] = table[j], got.mean[base + j] = mean[j];
        }
      });

  // The reference: features from [log_scale[hyperprior's table], hyperprior's mean]; slice k's nets over
  // [features, decoded slices before k]; first c channels correct the log scale, the next c the mean; the
  // table is #{i < S - 1 : log scale > log_scale[i]}; what the nets read is in F = feature_bits fraction
  // bits (the 12-bit values rounded half up): decoded = round((symbol * 2^12 + mean) / 2^(12 - F)).
  const auto sat = [](int64_t v) { return int32_t(std::clamp<int64_t>(v, -INT32_MAX, INT32_MAX)); };
  const int F = doc.value("feature_bits", 12), drop = 12 - F;
  REQUIRE(F < 12);  // the test model reads fewer bits than the means carry, so the rounding is exercised
  const auto to_features = [&](int64_t v) {
    return drop == 0 ? v
                     : int64_t(std::floor((double(v) + std::ldexp(1.0, drop - 1)) / std::ldexp(1.0, drop)));
  };
  IntTensor x0(2 * M, h, w);
  for (size_t i = 0; i < size_t(M) * plane; ++i) {
    x0.data[i] = int32_t(to_features(log_scale[size_t(cond.index[i])]));
    x0.data[size_t(M) * plane + i] = int32_t(to_features(cond.mean[i]));
  }
  const IntTensor feat = embed.forward(x0);
  REQUIRE(feat.c == 4);
  std::vector<int32_t> context(feat.data);  // features, then the decoded slices
  size_t tables_moved = 0, means_moved = 0, lrp_moved = 0;
  int off = 0;
  for (size_t k = 0; k < slices.size(); ++k) {
    const int c = slices[k];
    const IntNetwork param = IntNetwork::build(doc["param"][k], file, "param");
    IntTensor in(feat.c + off, h, w);
    in.data = context;
    const IntTensor d = param.forward(in);
    REQUIRE(d.c == 2 * c);
    for (size_t j = 0; j < size_t(c) * plane; ++j) {
      const size_t i = size_t(off) * plane + j;
      INFO("slice " << k << " element " << j);
      const int32_t mean = sat(int64_t(cond.mean[i]) + d.data[size_t(c) * plane + j]);
      const int64_t ls = int64_t(log_scale[size_t(cond.index[i])]) + d.data[j];
      int32_t table = 0;
      for (int t = 0; t + 1 < S; ++t) table += ls > log_scale[size_t(t)];
      REQUIRE(got.mean[i] == mean);
      REQUIRE(got.table[i] == table);
      tables_moved += table != cond.index[i];
      means_moved += mean != cond.mean[i];
      context.push_back(sat(to_features(int64_t(got.symbol[i]) * 4096 + mean)));
    }
    // The latent: symbol + mean, moved by LRP's 0.5 tanh of its net over [features, decoded slices 0..k],
    // the file's float conv, ReLU, conv quantised: the input with F fraction bits, the hidden layer with 10,
    // the output with ChannelContext::kLrpOutBits.
    IntTensor lin(feat.c + off + c, h, w);
    lin.data = context;
    std::vector<IntConv> lrp;
    for (int i : {0, 2}) {
      const json& l = doc["lrp"][k][size_t(i)];
      const ConvShape s{
          l["in"].get<int>(), l["out"].get<int>(), l["kernel"].get<int>(), 1, l["padding"].get<int>(), 0};
      const std::string name = l["name"].get<std::string>();
      const std::vector<float> wt = file.floats(name + ".weight", {s.out, s.in, s.kernel, s.kernel});
      const std::vector<float> b = file.floats(name + ".bias", {s.out});
      lrp.push_back(
          i == 0 ? quantize_conv(wt.data(), b.data(), s, false, true, F, 10)
                 : quantize_conv(wt.data(), b.data(), s, false, false, 10, ChannelContext::kLrpOutBits));
    }
    const IntTensor r = int_conv_reference(int_conv_reference(lin, lrp[0]), lrp[1]);
    REQUIRE(r.c == c);
    for (size_t j = 0; j < size_t(c) * plane; ++j) {
      const size_t i = size_t(off) * plane + j;
      const float expect =
          float(got.symbol[i]) + float(got.mean[i]) / 4096.0f +
          0.5f * std::tanh(float(r.data[j]) * std::ldexp(1.0f, -ChannelContext::kLrpOutBits));
      INFO("slice " << k << " element " << j);
      REQUIRE(std::abs(got.latent.data[i] - expect) <= 1e-5f * (1 + std::abs(expect)));
      lrp_moved +=
          std::abs(got.latent.data[i] - (float(got.symbol[i]) + float(got.mean[i]) / 4096.0f)) > 1e-3f;
    }
    off += c;
  }
  // The random nets do move tables and means (else this test would prove little).
  CHECK(tables_moved > plane);
  CHECK(means_moved > plane);
  CHECK(lrp_moved > plane);
}

// The nets run over bands of latent rows with halos (bounded memory on large photos): any band height gives
// the whole latent's tables, means and decoded latent.
TEST_CASE("channel: the context nets by bands of rows equal the whole latent") {
  const Model& m = channel_model();
  const EncodeResult e = encode_image(m, synthetic_image(48, 92, 9));
  const Bitstream stream = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  const int h = int(stream.header.latent_h), w = int(stream.header.latent_w);
  REQUIRE(h == 23);  // the test model's stride is 4
  const Hyperprior::Conditional cond = hyper_conditional(m, stream);
  const size_t plane = size_t(h) * w;
  const auto run = [&](int band_rows, bool latent = true) {
    std::mt19937 rng(11);  // the same symbols for every band height
    std::uniform_int_distribution<int32_t> pick(-20, 20);
    Slices r;
    r.symbol.resize(size_t(stream.header.latent_c) * plane), r.table.resize(r.symbol.size()),
        r.mean.resize(r.symbol.size());
    r.latent = context_of(m).run(
        cond, h, w,
        [&](int c0, int k, const int32_t* table, const int32_t* mean, int32_t* symbols) {
          const size_t base = size_t(c0) * plane;
          for (size_t j = 0; j < size_t(k) * plane; ++j) {
            symbols[j] = r.symbol[base + j] = pick(rng);
            r.table[base + j] = table[j], r.mean[base + j] = mean[j];
          }
        },
        band_rows, nullptr, latent);
    return r;
  };
  const Slices whole = run(h);
  size_t moved = 0;
  for (size_t i = 0; i < whole.table.size(); ++i) moved += whole.table[i] != cond.index[i];
  REQUIRE(moved > plane);  // the context does change tables, so a wrong halo would show
  for (int rows : {1, 2, 3, 7, 16, 0}) {
    INFO("band rows " << rows);
    const Slices b = run(rows);
    CHECK(b.table == whole.table);
    CHECK(b.mean == whole.mean);
    float diff = 0;
    for (size_t i = 0; i < whole.latent.size(); ++i)
      diff = std::max(diff, std::abs(b.latent.data[i] - whole.latent.data[i]));
    CHECK(diff <= 1e-5f);
  }
  // Without the decoded latent (no LRP): the same tables, means and symbols, and no latent.
  const Slices bare = run(0, false);
  CHECK(bare.latent.data.empty());
  CHECK(bare.table == whole.table);
  CHECK(bare.mean == whole.mean);
  CHECK(bare.symbol == whole.symbol);
}

TEST_CASE("channel: an encode without the decoded latent writes the same file, LRP skipped") {
  const Model& m = channel_model();
  const Image im = synthetic_image(70, 45, 3);
  EncodeOptions bare;
  bare.latent = false;
  const EncodeResult with = encode_image(m, im), without = encode_image(m, im, bare);
  CHECK(without.bytes == with.bytes);
  CHECK(without.channel_bits == with.channel_bits);
  CHECK(without.latent.data.empty());
  REQUIRE(with.latent.size() > 0);
  // Nor the rates per channel: no bit accounting, the same file.
  bare.rates = false;
  const EncodeResult no_rates = encode_image(m, im, bare);
  CHECK(no_rates.bytes == with.bytes);
  CHECK(no_rates.channel_bits.empty());
  REQUIRE(with.channel_bits.size() == size_t(m.info().latent_channels));
  // The latent that the encoder shows is what the decoder decodes.
  const Bitstream stream = open_stream(m, with.bytes.data(), with.bytes.size(), false);
  CHECK(decode_latent(m, stream).data == with.latent.data);
  // The latent codec on its own: the same sections either way.
  const Tensor y = m.analysis(image_to_tensor(pad_edge(im, 72, 48)));
  const LatentCode a = code_latent(m, y, nullptr, false), b = code_latent(m, y);
  CHECK(a.latent.data.empty());
  for (uint32_t type : {kSectionPayload, kSectionHyperPayload}) {
    REQUIRE(a.stream.find(type));
    CHECK(*a.stream.find(type) == *b.stream.find(type));
  }
}

TEST_CASE("channel: a decoder on the coded latent (decoder_lrp false) gets symbol + mean, LRP skipped") {
  ModelFile coded_file = make_random_model(channel_spec());
  coded_file.meta["decoder_lrp"] = false;
  const Model coded = Model::from_file(coded_file);
  const Model& m = channel_model();
  CHECK(m.info().decoder_lrp);
  CHECK(!coded.info().decoder_lrp);
  // One entropy model: the file is the same, so a family member may decode the other's files.
  CHECK(coded.info().entropy_hash == m.info().entropy_hash);
  const Image im = synthetic_image(70, 45, 3);
  const EncodeResult e = encode_image(m, im), ec = encode_image(coded, im);
  CHECK(ec.bytes.size() == e.bytes.size());
  const Bitstream s = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  const Bitstream sc = open_stream(coded, ec.bytes.data(), ec.bytes.size(), false);
  CHECK(*s.find(kSectionPayload) == *sc.find(kSectionPayload));
  // The coded latent: every element an integer symbol plus its mean, which the Gaussian conditional's
  // means give; LRP moves the other model's latent off it by less than a half.
  const Tensor lc = decode_latent(coded, sc), l = decode_latent(m, s);
  CHECK(ec.latent.data == lc.data);
  REQUIRE(lc.size() == l.size());
  const Tensor y = coded.analysis(image_to_tensor(pad_edge(im, 72, 48)));
  const ConditionalRate r =
      coded.latent_codec().conditional_rate(y.c, y.h, y.w, coded.latent_codec().side_symbols(y), &y);
  double moved = 0;
  for (size_t i = 0; i < lc.size(); ++i) {
    const float v = lc.data[i] - r.base[i];
    CHECK(v == std::nearbyint(v));
    CHECK(std::fabs(l.data[i] - lc.data[i]) < 0.5f);
    moved = std::max(moved, double(std::fabs(l.data[i] - lc.data[i])));
  }
  CHECK(moved > 0);
  // The image is its decoder's synthesis of that latent.
  CHECK(decode_image(coded, ec.bytes.data(), ec.bytes.size()).image.rgb ==
        crop(tensor_to_image(coded.synthesis(lc)), 70, 45).rgb);
  // Only a context model has LRP to skip; the flag is a boolean.
  ModelFile hyper_file = make_random_model(hyper_spec());
  hyper_file.meta["decoder_lrp"] = false;
  CHECK_THROWS_WITH(Model::from_file(hyper_file), Catch::Contains("decoder_lrp"));
  coded_file.meta["decoder_lrp"] = "no";
  CHECK_THROWS_WITH(Model::from_file(coded_file), Catch::Contains("decoder_lrp"));
}

TEST_CASE("channel: zero slice nets code exactly as the plain hyperprior") {
  const ModelFile zeroed = zero_slice_nets(make_random_model(channel_spec()));
  const Model channel = Model::from_file(zeroed);
  const Model plain = Model::from_file(without_context(zeroed));
  CHECK(channel.info().entropy_kind == "channel");
  CHECK(plain.info().entropy_kind == "hyperprior");
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {61, 20}, {150, 90}}) {
    INFO(w << "x" << h);
    const Image im = synthetic_image(w, h, 9);
    const EncodeResult a = encode_image(channel, im), b = encode_image(plain, im);
    const Bitstream sa = parse_bitstream(a.bytes.data(), a.bytes.size());
    const Bitstream sb = parse_bitstream(b.bytes.data(), b.bytes.size());
    // Zero corrections pick the hyperprior's table (log_scale[t] + 0 -> table t) and keep its mean: the same
    // symbols with the same tables, so the same bytes; zero LRP leaves the latent at symbol + mean.
    CHECK(*sa.find(kSectionHyperPayload) == *sb.find(kSectionHyperPayload));
    CHECK(*sa.find(kSectionPayload) == *sb.find(kSectionPayload));
    CHECK(a.latent.data == b.latent.data);
    CHECK(a.channel_bits == b.channel_bits);
    CHECK(a.hyper_bits == b.hyper_bits);
    const DecodeResult d = decode_image(channel, a.bytes.data(), a.bytes.size());
    CHECK(d.image.rgb == decode_image(plain, b.bytes.data(), b.bytes.size()).image.rgb);
  }
}

TEST_CASE("channel: the random slice nets change the rate, not the side information") {
  const ModelFile file = make_random_model(channel_spec());
  const Model& with_nets = channel_model();
  const Model zero = Model::from_file(zero_slice_nets(file));
  const Image im = synthetic_image(160, 120, 2);
  const EncodeResult a = encode_image(with_nets, im), b = encode_image(zero, im);
  const Bitstream sa = parse_bitstream(a.bytes.data(), a.bytes.size());
  const Bitstream sb = parse_bitstream(b.bytes.data(), b.bytes.size());
  CHECK(*sa.find(kSectionHyperPayload) == *sb.find(kSectionHyperPayload));
  CHECK(*sa.find(kSectionPayload) != *sb.find(kSectionPayload));
  INFO("ideal bits: context " << total_bits(a) << ", zero nets " << total_bits(b));
  CHECK(std::abs(total_bits(a) - total_bits(b)) > 0.01 * total_bits(b));
  // Slice 0 sees only the features, so its symbols differ by the mean corrections alone; its rate with the
  // nets differs from the hyperprior's as the tables move.
  CHECK(a.channel_bits[0] != b.channel_bits[0]);
  CHECK(a.latent.data != b.latent.data);
}

TEST_CASE(
    "channel: every table, mean and symbol is the same under every integer kernel, GEMM kernel and thread "
    "count") {
  const ModelFile file = make_random_model(channel_spec());
  const Image im = synthetic_image(150, 90, 4);
  set_gemm_isa(GemmIsa::kAuto);
  set_int_kernel(IntKernel::kAuto);
  const std::vector<uint8_t> bytes = encode_image(Model::from_file(file), im).bytes;
  Slices first;
  bool have_first = false;
  std::vector<std::string> isas;
  int runs = 0;
  for (GemmIsa isa : {GemmIsa::kVec128, GemmIsa::kAvx2, GemmIsa::kAvx512}) {
    set_gemm_isa(isa);  // weights are packed when the model loads: load one per kernel
    const std::string isa_name = gemm_isa_name();
    if (std::find(isas.begin(), isas.end(), isa_name) != isas.end()) continue;
    isas.push_back(isa_name);
    const Model m = Model::from_file(file);
    const Bitstream stream = open_stream(m, bytes.data(), bytes.size(), false);
    Tensor isa_latent;               // the first under this GEMM kernel
    std::vector<uint8_t> isa_bytes;  // the file encoded under this GEMM kernel, first run
    std::vector<std::string> kernels;
    for (IntKernel k : {IntKernel::kScalar, IntKernel::kVec128, IntKernel::kAvx2, IntKernel::kAvx512Vnni}) {
      set_int_kernel(k);
      const std::string int_name = int_kernel_name();
      if (std::find(kernels.begin(), kernels.end(), int_name) != kernels.end()) continue;
      kernels.push_back(int_name);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        INFO("GEMM " << isa_name << ", integer kernel " << int_name << ", " << threads << " threads");
        ++runs;
        const Slices s = decode_slices(m, stream);
        const Tensor latent = decode_latent(m, stream);
        CHECK(latent.data == s.latent.data);
        if (isa_latent.data.empty()) isa_latent = latent;
        // Under one GEMM kernel, the LRP nets (float) give the same latent whatever the integer kernel and
        // thread count.
        CHECK(latent.data == isa_latent.data);
        if (!have_first) {
          first = s, have_first = true;
          continue;
        }
        CHECK(s.symbol == first.symbol);
        CHECK(s.table == first.table);
        CHECK(s.mean == first.mean);
        // Across GEMM kernels only LRP's float rounding may move the latent.
        float worst = 0;
        for (size_t i = 0; i < latent.size(); ++i)
          worst = std::max(worst, std::abs(latent.data[i] - first.latent.data[i]));
        CHECK(worst < 1e-4f);
        // The encoder makes the same file under every integer kernel and thread count (its analysis
        // transform is float: across GEMM kernels it may round y differently).
        const std::vector<uint8_t> made = encode_image(m, im).bytes;
        if (isa_bytes.empty()) isa_bytes = made;
        CHECK(made == isa_bytes);
        // A file made here decodes with a model loaded under the default kernels.
        if (threads == 1) {
          const std::vector<uint8_t> mine = encode_image(m, im).bytes;
          set_gemm_isa(GemmIsa::kAuto);
          set_int_kernel(IntKernel::kAuto);
          const Model other = Model::from_file(file);
          CHECK_NOTHROW(decode_image(other, mine.data(), mine.size()));
          set_gemm_isa(isa);
          set_int_kernel(k);
        }
      }
    }
    INFO("integer kernels under " << isa_name << ": " << kernels.size());
    CHECK(kernels.size() >= 2);  // the scalar reference and at least one vector kernel
  }
  set_gemm_isa(GemmIsa::kAuto);
  set_int_kernel(IntKernel::kAuto);
  set_num_threads(0);
  CHECK(runs >= 6);
}

TEST_CASE("channel: damaged, truncated and forged files are refused, never crash") {
  const Model& m = channel_model();
  const aec::testing::DamagedFiles files(m, synthetic_image(70, 40));
  const std::vector<uint8_t>& good = files.good;
  const Bitstream& b0 = files.stream;
  auto forged = [&](auto edit) { return files.forged(edit); };
  auto refuse = [&](const std::vector<uint8_t>& f, const char* what) { files.refuse(f, what); };
  // Re-checksummed: the payload cut short or extended anywhere is refused (the slices before the cut decode
  // as before, then the stream runs out; an extended one has trailing bytes).
  const size_t payload_size = b0.find(kSectionPayload)->size();
  for (size_t cut = 1; cut <= payload_size; ++cut) {
    INFO("payload cut by " << cut);
    refuse(forged([&](Bitstream& b) { b.section(kSectionPayload).resize(payload_size - cut); }), "corrupt");
  }
  for (size_t extra : {1, 2, 4, 64}) {
    INFO("payload extended by " << extra);
    refuse(forged([&](Bitstream& b) { b.section(kSectionPayload).resize(payload_size + extra, 0x5a); }),
           "corrupt");
  }
  // Damaged payload bytes: refused, or (rANS cannot tell every change) decoded to some image. Never a crash.
  int refused = 0, flips = 0;
  for (size_t i = 0; i < payload_size; ++i)
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      const std::vector<uint8_t> f = forged([&](Bitstream& b) { b.section(kSectionPayload)[i] ^= mask; });
      ++flips;
      try {
        const DecodeResult d = decode_image(m, f.data(), f.size());
        CHECK(d.image.width == 70);
      } catch (const Error&) {
        ++refused;
      }
    }
  INFO(refused << " of " << flips << " damaged payloads refused");
  CHECK(refused > flips * 9 / 10);
  refuse(forged([](Bitstream& b) {
           for (auto& x : b.section(kSectionPayload)) x = uint8_t(x * 37 + 11);
         }),
         "corrupt");
  refuse(forged([](Bitstream& b) {
           for (auto& x : b.section(kSectionHyperPayload)) x = uint8_t(x * 37 + 11);
         }),
         "corrupt");
  refuse(forged([](Bitstream& b) { std::swap(b.section(kSectionHyperPayload), b.section(kSectionPayload)); }),
         "corrupt");
  refuse(forged([](Bitstream& b) {
           b.sections.erase(b.sections.begin() + (b.sections[0].type == kSectionHyperPayload ? 0 : 1));
         }),
         "has a channel entropy model");
  refuse(forged([](Bitstream& b) { b.section(kSectionContext) = {1, 2, 3}; }), "context model");
  // The plain hyperprior's file given to the channel model (and back): refused by identity.
  const Model hyper = Model::from_file(make_random_model(hyper_spec()));
  const std::vector<uint8_t> hf = encode_image(hyper, synthetic_image(70, 40)).bytes;
  CHECK_THROWS_WITH(decode_image(m, hf.data(), hf.size()), Catch::Contains("test-hyperprior"));
  CHECK_THROWS_WITH(decode_image(hyper, good.data(), good.size()), Catch::Contains("test-channel"));
  // Forged with the other model's identity, the streams decode or are refused, never crash.
  for (const auto& [from, to] : {std::pair{&good, &hyper}, std::pair{&hf, &m}}) {
    Bitstream b = parse_bitstream(from->data(), from->size());
    b.header.model_name = to->info().name, b.header.model_hash = to->info().model_hash;
    const std::vector<uint8_t> f = write_bitstream(b);
    try {
      decode_image(*to, f.data(), f.size());
    } catch (const Error&) {
    }
  }
}

TEST_CASE("channel: a version-2 container holding a channel stream is checked like the hyperprior's") {
  const Model& m = channel_model();
  const std::vector<uint8_t> good = encode_image(m, synthetic_image(70, 40)).bytes;
  const Bitstream b0 = open_stream(m, good.data(), good.size(), false);
  int zc, zh, zw;
  m.hyperprior()->hyper_shape(int(b0.header.latent_h), int(b0.header.latent_w), zc, zh, zw);
  auto forged_v2 = [&](auto edit) {
    Bitstream b = b0;
    b.header.version = kBitstreamVersionHyperprior, b.header.stride = uint32_t(m.info().stride);
    b.header.hyper_c = uint32_t(zc), b.header.hyper_h = uint32_t(zh), b.header.hyper_w = uint32_t(zw);
    edit(b);
    return write_legacy_bitstream(b);
  };
  const std::vector<uint8_t> as_v2 = forged_v2([](Bitstream&) {});
  CHECK(decode_image(m, as_v2.data(), as_v2.size()).image.rgb ==
        decode_image(m, good.data(), good.size()).image.rgb);
  for (auto edit :
       {+[](Bitstream& b) { b.header.hyper_w += 1; }, +[](Bitstream& b) { b.header.hyper_c = 3; }}) {
    const std::vector<uint8_t> f = forged_v2(edit);
    CHECK_THROWS_WITH(decode_image(m, f.data(), f.size()), Catch::Contains("hyper latent shape"));
  }
}

TEST_CASE("channel model files: a broken context is refused with a message naming the problem") {
  const ModelFile good = make_random_model(channel_spec());
  REQUIRE(load_error(good).empty());
  auto with = [&](auto edit) {
    ModelFile f = good;
    edit(f);
    return load_error(std::move(f));
  };
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"].erase("context"); }), Catch::Contains("'context'"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"] = 3; }),
             Catch::Contains("entropy.context"));
  CHECK_THAT(with([](ModelFile& f) {
               f.meta["entropy"]["context"]["slices"] = json::array({1, 2, 2});
             }),
             Catch::Contains("the slices hold 5 channels; the latent has 6"));
  CHECK_THAT(with([](ModelFile& f) {
               f.meta["entropy"]["context"]["slices"] = json::array({1, 2, 4});
             }),
             Catch::Contains("the slices hold 7"));
  CHECK_THAT(with([](ModelFile& f) {
               f.meta["entropy"]["context"]["slices"] = json::array({0, 3, 3});
             }),
             Catch::Contains("every slice must have 1 to 6 channels"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"]["slices"] = json::array(); }),
             Catch::Contains("'slices'"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"]["slices"] = "1,2,3"; }),
             Catch::Contains("'slices'"));
  // log_scale: one per Gaussian table, strictly increasing.
  const int64_t S = good.tensors.at("hyper.context.log_scale").shape[0];
  CHECK_THAT(with([&](ModelFile& f) {
               std::vector<int32_t> ls = f.ints("hyper.context.log_scale", {S});
               std::swap(ls[3], ls[4]);
               f.put_ints("hyper.context.log_scale", {S}, ls.data());
             }),
             Catch::Contains("hyper.context.log_scale must increase"));
  CHECK_THAT(with([&](ModelFile& f) {
               std::vector<int32_t> ls = f.ints("hyper.context.log_scale", {S});
               ls[5] = ls[4];
               f.put_ints("hyper.context.log_scale", {S}, ls.data());
             }),
             Catch::Contains("must increase"));
  CHECK_THAT(with([&](ModelFile& f) {
               std::vector<int32_t> ls = f.ints("hyper.context.log_scale", {S});
               ls.pop_back();
               f.put_ints("hyper.context.log_scale", {S - 1}, ls.data());
             }),
             Catch::Contains("hyper.context.log_scale"));
  CHECK_THAT(with([](ModelFile& f) { f.tensors.erase("hyper.context.log_scale"); }),
             Catch::Contains("hyper.context.log_scale"));
  // Missing tensors and networks.
  CHECK_THAT(with([](ModelFile& f) { f.tensors.erase("hyper.context.param.1.0.shift"); }),
             Catch::Contains("hyper.context.param.1.0.shift"));
  CHECK_THAT(with([](ModelFile& f) { f.tensors.erase("hyper.context.lrp.2.3.weight"); }),
             Catch::Contains("hyper.context.lrp.2.3.weight"));
  CHECK_THAT(with([](ModelFile& f) { f.tensors.erase("hyper.context.embed.bias"); }),
             Catch::Contains("hyper.context.embed.bias"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"].erase("embed"); }),
             Catch::Contains("'embed'"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"]["param"].erase(2); }),
             Catch::Contains("one network per slice"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"].erase("lrp"); }),
             Catch::Contains("one network per slice"));
  // Networks of the wrong shape: a param net that makes c instead of 2c channels, one that reads the wrong
  // number of inputs, an LRP net that makes the wrong number of channels, a strided net.
  CHECK_THAT(with([](ModelFile& f) {
               IntConv l;
               l.shape = {4, 2, 3, 1, 1, 0};  // slice 1 has 2 channels: it must make 4
               l.weight.assign(size_t(4) * 2 * 9, 1), l.bias.assign(2, 0), l.shift.assign(2, 4);
               f.meta["entropy"]["context"]["param"][1][1] = put_int_conv(f, "hyper.context.param.1.1", l);
             }),
             Catch::Contains("entropy.context.param[1] must make 2 x the slice's channels"));
  CHECK_THAT(with([](ModelFile& f) {
               std::swap(f.meta["entropy"]["context"]["param"][1], f.meta["entropy"]["context"]["param"][2]);
             }),
             Catch::Contains("expects"));
  CHECK_THAT(with([](ModelFile& f) {
               std::swap(f.meta["entropy"]["context"]["lrp"][0], f.meta["entropy"]["context"]["lrp"][1]);
             }),
             Catch::Contains("expects"));
  CHECK_THAT(with([](ModelFile& f) {
               json& l = f.meta["entropy"]["context"]["embed"][0];
               l["stride"] = 2;
             }),
             Catch::Contains("must keep the latent grid's size"));
  CHECK_THAT(with([](ModelFile& f) { f.meta["entropy"]["context"]["embed"][0]["op"] = "conv2d"; }),
             Catch::Contains("not an integer layer"));
  // A forged shift beyond the integer layers' limits.
  CHECK_THAT(with([](ModelFile& f) {
               std::vector<int32_t> shift = f.ints("hyper.context.param.0.1.shift", {2});
               shift[0] = 70;
               f.put_ints("hyper.context.param.0.1.shift", {2}, shift.data());
             }),
             Catch::Contains("shift"));
}

TEST_CASE("EntropyStreamDecoder: a stream read in parts gives entropy_decode's values; its end is checked") {
  const CdfTables tables = gaussian_tables({0.2, 0.7, 2.0, 9.0});
  std::mt19937 rng(17);
  std::uniform_int_distribution<int32_t> table(0, 3), small(-6, 6), any(-kMaxEscape / 2, kMaxEscape / 2);
  std::uniform_int_distribution<int> rare(0, 19);
  const size_t n = 3000;
  std::vector<int32_t> values(n), index(n);
  for (size_t i = 0; i < n; ++i) {
    index[i] = table(rng);
    values[i] = rare(rng) == 0 ? any(rng) : small(rng);  // escapes among them
  }
  const std::vector<uint8_t> bytes = entropy_encode(values.data(), index.data(), n, tables);
  REQUIRE(entropy_decode(bytes.data(), bytes.size(), index.data(), n, tables) == values);
  for (int trial = 0; trial < 20; ++trial) {
    EntropyStreamDecoder dec(bytes.data(), bytes.size(), tables);
    std::vector<int32_t> got(n, 12345);
    size_t at = 0;
    std::uniform_int_distribution<size_t> part(0, trial < 10 ? 7 : 700);
    while (at < n) {
      const size_t k = std::min(n - at, part(rng));  // parts of 0 symbols too
      dec.decode(index.data() + at, k, got.data() + at);
      at += k;
    }
    CHECK_NOTHROW(dec.finish());
    CHECK(got == values);
  }
  // finish() checks the end: trailing bytes, symbols left unread.
  {
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0), longer.push_back(0);
    EntropyStreamDecoder dec(longer.data(), longer.size(), tables);
    std::vector<int32_t> got(n);
    dec.decode(index.data(), n, got.data());
    CHECK(got == values);
    CHECK_THROWS_WITH(dec.finish(), Catch::Contains("trailing bytes"));
  }
  {
    EntropyStreamDecoder dec(bytes.data(), bytes.size(), tables);
    std::vector<int32_t> got(n);
    dec.decode(index.data(), n - 10, got.data());
    CHECK_THROWS_AS(dec.finish(), Error);
  }
  // A stream cut short fails while decoding; odd or tiny ones when the decoder opens them.
  {
    EntropyStreamDecoder dec(bytes.data(), bytes.size() - 2, tables);
    std::vector<int32_t> got(n);
    CHECK_THROWS_WITH(dec.decode(index.data(), n, got.data()), Catch::Contains("truncated"));
  }
  CHECK_THROWS_WITH(EntropyStreamDecoder(bytes.data(), bytes.size() - 1, tables),
                    Catch::Contains("odd length"));
  CHECK_THROWS_WITH(EntropyStreamDecoder(bytes.data(), 2, tables), Catch::Contains("truncated"));
  // A table index out of range is refused, not read.
  {
    EntropyStreamDecoder dec(bytes.data(), bytes.size(), tables);
    const int32_t bad = 4;
    int32_t v;
    CHECK_THROWS_WITH(dec.decode(&bad, 1, &v), Catch::Contains("out of range"));
  }
  // An empty stream of zero symbols is the encoder's initial state alone.
  const std::vector<uint8_t> empty = entropy_encode(nullptr, nullptr, 0, tables);
  EntropyStreamDecoder none(empty.data(), empty.size(), tables);
  none.decode(nullptr, 0, nullptr);
  CHECK_NOTHROW(none.finish());
}

TEST_CASE("channel: the shipped model's LRP nets run as integer nets, within 1e-3 of its float nets") {
  // At its default quality: the variable-rate file with that quality's gains folded in.
  const Model file_model = Model::load(std::string(AEC_TEST_DATA) + "/../../models/channel.aem");
  const Model m = file_model.at_quality(file_model.info().default_quality);
  // The model is the test's own; switching its context to the float nets changes nothing but LRP.
  ChannelContext& ctx = const_cast<ChannelContext&>(context_of(m));
  REQUIRE(ctx.integer_lrp());
  CHECK(context_of(channel_model()).integer_lrp());  // random nets quantise too
  const Image im =
      aec::testing::mirrored_tiles(load_image(std::string(AEC_TEST_DATA) + "/v1/image.png"), 256, 192);
  const EncodeResult e = encode_image(m, im);
  const Bitstream stream = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  const Tensor integer = decode_latent(m, stream);
  CHECK(integer.data == e.latent.data);  // the encoder shows the latent the decoder decodes
  ctx.use_float_lrp(true);
  const Tensor floating = decode_latent(m, stream);
  const DecodeResult float_image = decode_image(m, e.bytes.data(), e.bytes.size());
  ctx.use_float_lrp(false);
  const DecodeResult int_image = decode_image(m, e.bytes.data(), e.bytes.size());
  REQUIRE(integer.size() == floating.size());
  float diff = 0, moved = 0;
  const Slices coded = decode_slices(m, stream);  // LRP applied too: the integer nets again
  CHECK(coded.latent.data == integer.data);
  for (size_t i = 0; i < integer.size(); ++i) {
    diff = std::max(diff, std::fabs(integer.data[i] - floating.data[i]));
    const float plain = float(coded.symbol[i]) +
                        float(coded.mean[i]) * std::ldexp(1.0f, -m.hyperprior()->mean_fraction_bits());
    moved = std::max(moved, std::fabs(floating.data[i] - plain));
  }
  INFO("largest difference " << diff << ", LRP's largest move " << moved);
  CHECK(moved > 0.1f);  // LRP does move the latent, so the comparison means something
  CHECK(diff <= 1e-3f);
  CHECK(std::fabs(psnr(im, int_image.image) - psnr(im, float_image.image)) < 0.01);
}
