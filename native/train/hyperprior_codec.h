// The mean-scale hyperprior (Balle et al. 2018 / Minnen et al. 2018 without the context model): g_a / g_s
// exactly as the factorized model's (same layer names, so --init from a factorized model file warm-starts
// them), h_a (conv 3x3 M->N, ReLU, conv 5x5 s2, ReLU, conv 5x5 s2) to a hyper latent z coded with the
// factorized EntropyBottleneck, h_s (transposed conv 5x5 s2, ReLU, transposed conv 5x5 s2, ReLU, conv 3x3
// N->2M) to the scales and means of a Gaussian conditional for y.
//
// Variable rate (several lambdas): per-quality gains on y, as in the factorized model (constructor).
//
// Training uses float h_s and additive noise (loss = lambda * 255^2 * MSE + bpp(y) + bpp(z)); validation
// runs the codec's own path -- z rounded around its fixed-point medians, the integer h_s (int_hyper.h), the
// scale table picked by integer thresholds, y rounded around the fixed-point means -- so its bpp is what the
// exported model codes.
#pragma once
#include "int_hyper.h"
#include "models.h"

namespace aect {

class HyperpriorCodecImpl : public CodecImpl {
 public:
  // One lambda: a single-rate model. Several: one network for every quality, with per-quality gains on y
  // (as the factorized model's) that h_a, h_s and the Gaussian conditional see: the gained latent is what
  // each quality codes, so export folds the gains into g_a and g_s and the entropy model is shared as it is.
  HyperpriorCodecImpl(int N, int M, const std::vector<double>& lambdas = {0.013});
  std::string arch() const override { return "hyperprior"; }
  int stride() const override { return 16; }
  torch::Tensor encode(const torch::Tensor& x, int quality, const std::string& role = "") override;
  StepOut train_step(const torch::Tensor& x, int quality, double lambda) override;
  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override;
  std::vector<Member> members() override;
  // h_a from the file's float layers; h_s from its integer network, dequantised (each weight times its
  // layer's power-of-two scale): the codec's own h_s, within its rounding, instead of a random one whose
  // scales cost several bits per latent element until retrained.
  int load_entropy_networks(const aec::ModelFile& file) override;

  // How y is coded in evaluation. `mode`: the codec's integer h_s, or the float h_s with its scales mapped to
  // the table ("float_table") or kept continuous ("float") -- the last two only to measure what the integer
  // network and the scale table cost.
  enum class HsMode { integer, float_table, float_continuous };
  struct Coded {
    torch::Tensor y_hat;  // [1, M, h, w] what the synthesis gets
    torch::Tensor index;  // [1, M, h, w] scale table index (integer modes)
    torch::Tensor z_int;  // [1, N, zh, zw] the integer network's input
    double bits_y = 0, bits_z = 0;
  };
  Coded code(const torch::Tensor& y, HsMode mode, const IntHyperSynthesis* hs = nullptr);

  // The entropy model's part of the model file: hyper networks, z tables and medians, Gaussian tables and
  // thresholds, and the document's "entropy" / "quantizer" entries.
  // h_a is stored as `storage` says, like g_a; h_s and the tables are integers.
  virtual void export_entropy(aec::ModelFile& file, nlohmann::json& doc, const WeightStorage& storage = {});
  // Fixed-point z medians (kHyperZBits fraction bits), as exported.
  std::vector<int32_t> z_median_fixed() const;
  // z = h_a(y) quantised around the fixed-point medians, exactly as aec::Hyperprior::quantize_z, in the
  // integer h_s's input format (double, kHyperZBits fraction bits, on the CPU).
  torch::Tensor quantize_z(const torch::Tensor& y);

  LayerStack g_a{nullptr}, g_s{nullptr}, h_a{nullptr}, h_s{nullptr};
  int N, M;
};

}  // namespace aect
