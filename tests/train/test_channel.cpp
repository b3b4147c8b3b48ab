// The channel-conditional context model (channel_codec.h): finite likelihoods, a start that is exactly the
// hyperprior it warm-starts from, context that lowers the loss when only the slice nets train, exact resume,
// and an export whose file the core codes exactly as the trainer validates it (the checkerboard variant,
// which has no integer form, refuses to export).
#include <cstdio>

#include "aecodec/channel_context.h"
#include "aecodec/codec.h"
#include "aecodec/latent_codec.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "channel_codec.h"
#include "export.h"
#include "int_channel.h"
#include "int_hyper.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"

// LibTorch's headers bring glog's CHECK (a failure aborts the process): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

torch::Tensor image_batch(int n, int size, unsigned seed) {
  std::vector<torch::Tensor> xs;
  for (int i = 0; i < n; ++i) {
    const aec::Image im = synthetic_image(size, size, seed + unsigned(i));
    int pw = 0, ph = 0;
    std::vector<float> planes = image_planes(im, 16, pw, ph);
    xs.push_back(torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone());
  }
  return torch::cat(xs, 0);
}

// The hyperprior's h_s near its initialisation puts every scale in the table's first entry; larger weights
// make the scales and means vary, so the comparisons below are not about a degenerate prior.
void spread_hyper_synthesis(HyperpriorCodecImpl& m) {
  torch::NoGradGuard ng;
  torch::manual_seed(5);
  for (torch::Tensor& p : m.h_s->parameters()) {
    if (p.dim() == 4)
      p.normal_(0, 2.0 / std::sqrt(double(p.numel()) / double(p.size(0))));
    else
      p.uniform_(-0.5, 1.5);
  }
  const auto p = m.h_s->parameters();
  p.back().narrow(0, 0, m.M).add_(2.0);
}

void copy_matching(torch::nn::Module& dst, torch::nn::Module& src) {
  torch::NoGradGuard ng;
  auto from = src.named_parameters();
  for (auto& kv : dst.named_parameters())
    if (const torch::Tensor* t = from.find(kv.key())) kv.value().copy_(*t);
  auto bfrom = src.named_buffers();
  for (auto& kv : dst.named_buffers())
    if (const torch::Tensor* t = bfrom.find(kv.key())) kv.value().copy_(*t);
}

}  // namespace

TEST_CASE("channel model: slices, finite likelihoods, and a start identical to its hyperprior",
          "[train][channel]") {
  CHECK(ChannelCodecImpl::slice_sizes(96) == std::vector<int>{8, 8, 16, 32, 32});
  CHECK(ChannelCodecImpl::slice_sizes(8) == std::vector<int>{1, 2, 2, 3});
  torch::manual_seed(1);
  HyperpriorCodecImpl hyper(16, 8);
  spread_hyper_synthesis(hyper);
  for (bool cb : {false, true}) {
    torch::manual_seed(2);
    ChannelCodecImpl model(16, 8, {0.01}, cb);
    copy_matching(model, hyper);
    const torch::Tensor x = image_batch(2, 64, 7);
    const StepOut s = model.train_step(x, 0, 0.01);
    CHECK(std::isfinite(s.loss.item<double>()));
    CHECK(s.bpp.item<double>() > 0);

    // Zero-initialised corrections: evaluation is bit for bit the hyperprior's (same rounding, same table
    // indices), so a warm start begins at the hyperprior's rate and distortion.
    torch::NoGradGuard ng;
    model.eval(), hyper.eval();
    const torch::Tensor x1 = image_batch(1, 80, 3);
    const EvalOut a = model.evaluate(x1, 80, 80, 0), b = hyper.evaluate(x1, 80, 80, 0);
    std::printf("channel%s at init: %.3f bits (hyperprior %.3f), sq_err %.1f (%.1f)\n", cb ? "-cb" : "",
                a.bits, b.bits, a.sq_err, b.sq_err);
    CHECK(std::isfinite(a.bits));
    CHECK(a.bits == Approx(b.bits).epsilon(1e-6));  // summed per slice: float order only
    CHECK(a.sq_err == b.sq_err);
    CHECK(a.psnr.count("entropy_ms") == 1);
  }
}

TEST_CASE("channel model: gradients reach the slice nets, and training them alone lowers the loss",
          "[train][channel]") {
  for (bool cb : {false, true}) {
    torch::manual_seed(3);
    ChannelCodecImpl model(16, 8, {0.01}, cb);
    spread_hyper_synthesis(model);
    model.train();
    const torch::Tensor x = image_batch(2, 64, 11);
    std::vector<torch::Tensor> slice_params;
    for (auto& kv : model.named_parameters())
      if (kv.key().rfind("slice_", 0) == 0) slice_params.push_back(kv.value());
    REQUIRE(!slice_params.empty());
    torch::optim::Adam opt(slice_params, torch::optim::AdamOptions(3e-3));
    double first = 0, last = 0, first_bpp = 0, last_bpp = 0;
    for (int step = 0; step < 40; ++step) {
      torch::manual_seed(100);  // the same noise every step: a fixed objective
      opt.zero_grad();
      const StepOut s = model.train_step(x, 0, 0.01);
      s.loss.backward();
      if (step == 0) {
        first = s.loss.item<double>(), first_bpp = s.bpp.item<double>();
        // The zero last layers get a gradient at once (the rest follows through them).
        double g = 0;
        for (const torch::Tensor& p : slice_params)
          if (p.grad().defined()) g += p.grad().abs().sum().item<double>();
        CHECK(g > 0);
      }
      last = s.loss.item<double>(), last_bpp = s.bpp.item<double>();
      opt.step();
    }
    std::printf("channel%s, slice nets only: loss %.4f -> %.4f, bpp %.4f -> %.4f after 40 steps\n",
                cb ? "-cb" : "", first, last, first_bpp, last_bpp);
    CHECK(last < first);
  }
}

TEST_CASE("channel model: resume continues exactly; the checkerboard variant refuses to export",
          "[train][channel][resume]") {
  const std::string data = make_image_dir("channel-resume");
  TrainConfig straight = tiny_config("channel-cb", data, data + "/straight");
  straight.steps = 6;
  train_run(straight, false);
  TrainConfig split = tiny_config("channel-cb", data, data + "/split");
  split.steps = 3;
  CHECK(train_run(split, false).step == 3);
  split.steps = 6;
  CHECK(train_run(split, true).step == 6);

  LoadedRun a = load_run(straight.out), b = load_run(split.out);
  REQUIRE(a.model->arch() == "channel-cb");
  auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
  REQUIRE(pa.size() == pb.size());
  double d = 0;
  int slice_tensors = 0;
  for (const auto& kv : pa) {
    d = std::max(d, (kv.value() - pb[kv.key()]).abs().max().item<double>());
    if (kv.key().rfind("slice_", 0) == 0) ++slice_tensors;
  }
  std::printf("channel resume: max |param(straight 6) - param(3 + resumed 3)| = %.3g over %zu tensors\n", d,
              pa.size());
  CHECK(slice_tensors > 0);
  CHECK(d < 1e-6);
  CHECK(a.valid.contains("bpp"));

  CHECK_THROWS(export_models(a, "channel", ExportOptions()));
}

TEST_CASE("channel model: its export codes in the core as the trainer validates it",
          "[train][channel][export]") {
  const std::string data = make_image_dir("channel-export");
  TrainConfig cfg = tiny_config("channel", data, data + "/run");
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  auto& model = dynamic_cast<ChannelCodecImpl&>(*run.model);
  scales_into_table(model);  // three steps leave h_s's scales tiny
  {
    // Three steps leave the slice nets near their zero start: random corrections, so the context path
    // (means, tables, LRP) is exercised, and the hyperprior's scales up into the table.
    torch::NoGradGuard ng;
    torch::manual_seed(9);
    for (auto* nets : {&model.param_nets, &model.lrp_nets})
      for (torch::nn::Sequential& net : *nets)
        for (torch::Tensor& p : net->parameters()) p.normal_(0, 0.005);
    for (torch::Tensor& p : model.hyper_embed->parameters()) p.normal_(0, 0.005);
  }
  auto files = export_models(run, "ctx", ExportOptions());
  REQUIRE(files.size() == 1);
  const aec::Model core = aec::Model::from_file(files[0].second);
  CHECK(core.info().entropy_kind == "channel");

  torch::NoGradGuard ng;
  model.eval();
  const aec::Image im = synthetic_image(96, 80, 4);
  int pw = 0, ph = 0;
  std::vector<float> planes = image_planes(im, 16, pw, ph);
  torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();

  // The integer path on the same y and z symbols: the core's latent is the trainer's reference's up to
  // LRP's float arithmetic (a different mean or symbol would move an element by 2^-12 or more) with the
  // file's float LRP nets, and within 1e-3 with the integer form the core runs by default.
  const torch::Tensor y = model.encode(x, 0).to(torch::kFloat);
  const torch::Tensor z_int = model.quantize_z(y);
  const std::vector<int32_t> med = model.z_median_fixed();
  std::vector<int32_t> qz;
  {
    torch::Tensor zc = z_int.contiguous();
    const double* zd = zc.data_ptr<double>();
    const int64_t plane = zc.size(2) * zc.size(3);
    for (int64_t i = 0; i < zc.numel(); ++i)
      qz.push_back(int32_t((zd[i] - med[size_t(i / plane)]) / std::ldexp(1.0, aec::kHyperZBits)));
  }
  const torch::Tensor p =
      IntHyperSynthesis::quantize(*model.h_s).forward(z_int).narrow(2, 0, y.size(2)).narrow(3, 0, y.size(3));
  const ChannelCodecImpl::SlicesOut ref = IntChannelContext::quantize(model).code(model, y, p);
  auto& context =
      const_cast<aec::ChannelContext&>(dynamic_cast<const aec::ChannelCodec&>(core.latent_codec()).context());
  REQUIRE(context.integer_lrp());
  const aec::LatentCode lc = core.latent_codec().encode(to_core(y), &qz);
  context.use_float_lrp(true);
  const aec::LatentCode lc_float = core.latent_codec().encode(to_core(y), &qz);
  context.use_float_lrp(false);
  double y_bits = 0;
  for (double b : lc.channel_bits) y_bits += b;
  const double diff = max_abs(ref.y_hat, to_torch(lc_float.latent));
  const double diff_int = max_abs(ref.y_hat, to_torch(lc.latent));
  std::printf(
      "channel export: latent max |core - trainer| %.2g (float LRP), %.2g (integer LRP); y bits trainer "
      "%.1f, "
      "codec %.1f\n",
      diff, diff_int, ref.bits.item<double>(), y_bits);
  CHECK(diff < 1e-4);
  CHECK(diff_int < 1e-3);
  CHECK(std::abs(ref.bits.item<double>() - y_bits) <= 0.01 * y_bits + 8);

  // The whole codec against the trainer's validation, and against the hyperprior alone: the context must
  // change the rate, or it was not used.
  const aec::EncodeResult enc = aec::encode_image(core, im);
  const aec::DecodeResult dec = aec::decode_image(core, enc.bytes.data(), enc.bytes.size());
  double codec_bits = enc.hyper_bits;
  for (double b : enc.channel_bits) codec_bits += b;
  const EvalOut ev = model.evaluate(x, im.height, im.width, 0);
  const EvalOut hp = model.HyperpriorCodecImpl::evaluate(x, im.height, im.width, 0);
  std::printf(
      "channel export: trainer %.1f bits, codec %.1f ideal bits (hyperprior path %.1f), PSNR %.2f / %.2f "
      "dB\n",
      ev.bits, codec_bits, hp.bits, psnr_of(ev.sq_err, ev.samples), aec::psnr(dec.image, im));
  CHECK(std::abs(ev.bits - codec_bits) <= 0.01 * codec_bits + 8);
  CHECK(std::abs(ev.bits - hp.bits) > 1);
  CHECK(std::abs(psnr_of(ev.sq_err, ev.samples) - aec::psnr(dec.image, im)) < 0.05);
}
