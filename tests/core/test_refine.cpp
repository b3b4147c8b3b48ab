// Encoder refinement: the synthesis transform's input gradient against finite differences, and refinement as
// a user sees it -- a file the unchanged decoder decodes, with a lower rate-distortion loss than effort 0,
// the same bytes at any thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "aecodec/backprop.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/metrics.h"
#include "aecodec/parallel.h"
#include "aecodec/refine.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;

namespace {

Tensor random_tensor(int c, int h, int w, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  Tensor t(c, h, w);
  for (float& v : t.data) v = d(rng);
  return t;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a.data[i]) * b.data[i];
  return s;
}

// <backward(w), d> against the central difference of <w, f(x + e d)> (f evaluated in double where the tensors
// allow: the check is relative).
template <class F, class B>
void check_directional(F&& f, B&& backward, const Tensor& x, uint32_t seed) {
  const Tensor y = f(x);
  const Tensor w = random_tensor(y.c, y.h, y.w, seed + 1);
  const Tensor g = backward(w);
  REQUIRE(g.c == x.c);
  REQUIRE(g.h == x.h);
  REQUIRE(g.w == x.w);
  for (uint32_t k = 0; k < 3; ++k) {
    const Tensor d = random_tensor(x.c, x.h, x.w, seed + 10 + k);
    const float e = 1e-2f;
    Tensor xp = x, xm = x;
    for (size_t i = 0; i < x.size(); ++i) xp.data[i] += e * d.data[i], xm.data[i] -= e * d.data[i];
    const double numeric = (dot(w, f(xp)) - dot(w, f(xm))) / (2.0 * e);
    const double analytic = dot(g, d);
    INFO("numeric " << numeric << " analytic " << analytic);
    CHECK(std::fabs(numeric - analytic) <= 2e-3 * std::fabs(numeric) + 1e-3);
  }
}

ModelFile with_lambda(ModelFile f, double lambda) {
  f.meta["training"]["lambda"] = lambda;
  return f;
}

// The loss refinement minimises, measured as a user would: the file's bits per pixel and the decoded image.
double rd_loss(const Model& m, const Image& im, const std::vector<uint8_t>& bytes, double lambda) {
  const DecodeResult d = decode_image(m, bytes.data(), bytes.size());
  const double mse_ = mse(im, d.image) / (255.0 * 255.0);
  return double(bytes.size()) * 8 / (double(im.width) * im.height) + lambda * 255.0 * 255.0 * mse_;
}

}  // namespace

TEST_CASE("GDN's input gradient matches finite differences, both directions") {
  const int c = 5;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.05f, 0.5f);
  std::vector<float> beta(c), gamma(size_t(c) * c);
  for (float& b : beta) b = u(rng) + 0.5f;
  for (float& g : gamma) g = u(rng);
  const Tensor x = random_tensor(c, 6, 7, 11);
  for (bool inverse : {true, false}) {
    auto f = [&](const Tensor& in) {
      Tensor y, n;
      gdn_forward_keep(in, beta, gamma, inverse, y, n);
      return y;
    };
    auto b = [&](const Tensor& w) {
      Tensor y, n;
      gdn_forward_keep(x, beta, gamma, inverse, y, n);
      return gdn_backward(x, n, gamma, inverse, w);
    };
    check_directional(f, b, x, inverse ? 20 : 30);
    // And the forward agrees with the core's GDN layer.
    Tensor ref = x;
    gdn(ref, beta.data(), gamma.data(), inverse);
    const Tensor y = f(x);
    for (size_t i = 0; i < y.size(); ++i) CHECK(y.data[i] == Approx(ref.data[i]).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("a synthesis transform's input gradient matches finite differences") {
  // Every op the backward pass supports: transposed convs with odd output sizes, a strided conv, GDN both
  // ways, relu and leaky relu.
  ModelFile f;
  auto conv = [&](const std::string& name, int in, int out, int k, bool tr, uint32_t seed) {
    const Tensor w = random_tensor(tr ? in : out, tr ? out : in, k * k, seed, 0.3f);
    f.put_floats(name + ".weight", {tr ? in : out, tr ? out : in, k, k}, w.data.data());
    const Tensor b = random_tensor(out, 1, 1, seed + 1, 0.1f);
    f.put_floats(name + ".bias", {out}, b.data.data());
  };
  auto gdn_w = [&](const std::string& name, int c) {
    std::vector<float> beta(size_t(c), 1.0f), gamma(size_t(c) * c, 0.1f);
    f.put_floats(name + ".beta", {c}, beta.data());
    f.put_floats(name + ".gamma", {c, c}, gamma.data());
  };
  conv("a", 4, 6, 5, true, 1), gdn_w("b", 6), conv("c", 6, 5, 3, false, 2), conv("d", 5, 5, 4, true, 3);
  gdn_w("e", 5), conv("f", 5, 3, 3, true, 4);
  const nlohmann::json layers = {
      {{"op", "conv_transpose2d"},
       {"name", "a"},
       {"in", 4},
       {"out", 6},
       {"kernel", 5},
       {"stride", 2},
       {"padding", 2},
       {"output_padding", 1}},
      {{"op", "gdn"}, {"name", "b"}, {"channels", 6}, {"inverse", true}},
      {{"op", "conv2d"}, {"name", "c"}, {"in", 6}, {"out", 5}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
      {{"op", "conv_transpose2d"},
       {"name", "d"},
       {"in", 5},
       {"out", 5},
       {"kernel", 4},
       {"stride", 2},
       {"padding", 1},
       {"output_padding", 0}},
      {{"op", "gdn"}, {"name", "e"}, {"channels", 5}, {"inverse", false}},
      {{"op", "conv_transpose2d"},
       {"name", "f"},
       {"in", 5},
       {"out", 3},
       {"kernel", 3},
       {"stride", 1},
       {"padding", 1},
       {"output_padding", 0}}};
  GradNetwork net = GradNetwork::build(layers, f, "decoder");
  const Tensor x = random_tensor(4, 5, 7, 5);
  auto fwd = [&](const Tensor& in) { return net.forward(in); };
  auto bwd = [&](const Tensor& w) {
    net.forward(x);
    return net.backward(w);
  };
  check_directional(fwd, bwd, x, 40);

  // relu and leaky relu on their own, their inputs away from the kink that a finite difference would
  // straddle.
  for (const nlohmann::json& op :
       {nlohmann::json{{"op", "relu"}}, nlohmann::json{{"op", "leaky_relu"}, {"slope", 0.1}}}) {
    GradNetwork act = GradNetwork::build(nlohmann::json::array({op}), f, "decoder");
    Tensor r = random_tensor(3, 4, 5, 50);
    for (float& v : r.data) v += v > 0 ? 0.5f : -0.5f;
    check_directional([&](const Tensor& in) { return act.forward(in); },
                      [&](const Tensor& w) {
                        act.forward(r);
                        return act.backward(w);
                      },
                      r, 60);
  }
  // An op without a backward pass is refused by name.
  const nlohmann::json bad = {{{"op", "sigmoid"}}};
  CHECK_THROWS_WITH(GradNetwork::build(bad, f, "decoder"), Catch::Contains("sigmoid"));
}

TEST_CASE("refinement makes files the unchanged decoder decodes, at a lower RD loss than effort 0") {
  const double lambda = 0.01;
  for (const std::string arch : {"factorized", "hyperprior", "channel"}) {
    RandomModelSpec spec;
    spec.arch = arch, spec.name = "test-" + arch;
    const Model m = Model::from_file(with_lambda(make_random_model(spec), lambda));
    const Image im = synthetic_image(37, 29);  // not a multiple of the stride: the padding must not count
    const std::vector<uint8_t> e0 = encode_image(m, im).bytes;
    const double l0 = rd_loss(m, im, e0, lambda);
    for (int effort : {1, 4}) {
      INFO(arch << " effort " << effort);
      EncodeOptions o;
      o.effort = effort;
      const EncodeResult e = encode_image(m, im, o);
      // The file decodes to exactly the latent the encoder chose: the same image as synthesising it.
      const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
      const Image expect = crop(tensor_to_image(m.synthesis(e.latent)), im.width, im.height);
      CHECK(d.image.rgb == expect.rgb);
      // Rounding decisions alone may find nothing on random weights; the search must.
      const double l = rd_loss(m, im, e.bytes, lambda);
      if (effort == 1)
        CHECK(l <= l0);
      else
        CHECK(l < 0.99 * l0);
    }
  }
}

TEST_CASE("refinement gives the same bytes at any thread count and can be cancelled") {
  RandomModelSpec spec;
  spec.arch = "hyperprior", spec.name = "test-hyperprior";
  const Model m = Model::from_file(with_lambda(make_random_model(spec), 0.01));
  const Image im = synthetic_image(32, 24);
  EncodeOptions o;
  o.effort = 3;
  set_num_threads(1);
  const std::vector<uint8_t> one = encode_image(m, im, o).bytes;
  set_num_threads(2);
  const std::vector<uint8_t> two = encode_image(m, im, o).bytes;
  set_num_threads(0);
  CHECK(one == two);

  int calls = 0;
  o.progress = [&](double f) {
    CHECK(f >= 0.0);
    CHECK(f <= 1.0);
    return ++calls < 3;
  };
  CHECK_THROWS_AS(encode_image(m, im, o), Cancelled);
  CHECK(calls == 3);
}

TEST_CASE("refinement needs a model that states its lambda") {
  RandomModelSpec spec;
  const Model m = Model::from_file(make_random_model(spec));  // no training.lambda
  EncodeOptions o;
  o.effort = 1;
  CHECK_THROWS_WITH(encode_image(m, synthetic_image(16, 16), o), Catch::Contains("lambda"));
  CHECK_THROWS_WITH(effort_plan(10), Catch::Contains("effort"));
}

TEST_CASE("on the shipped default model, effort saves RD loss on a photo-like image") {
  const Model m = Model::load(std::string(AEC_TEST_DATA) + "/../../models/hyperprior-q5.aem");
  const double lambda = m.file().meta["training"]["lambda"].get<double>();
  const Image im = synthetic_image(96, 64, 5);
  const double l0 = rd_loss(m, im, encode_image(m, im).bytes, lambda);
  EncodeOptions o;
  o.effort = 3;
  const double l3 = rd_loss(m, im, encode_image(m, im, o).bytes, lambda);
  INFO("effort 0: " << l0 << ", effort 3: " << l3);
  CHECK(l3 < 0.99 * l0);
}
