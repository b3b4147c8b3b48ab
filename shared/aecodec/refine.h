// Encoder refinement: for a fixed decoder, search the latent that minimises the model's own training loss,
// rate + lambda * 255^2 * MSE, for one image (Yang, Bamler & Mandt 2020, "Improving Inference for Neural
// Image Compression"). The decoder and the bitstream are unchanged: only which symbols the encoder writes.
//
// A hyperprior model keeps its hyper latent z (so every mean and table) fixed and rates y with the Gaussian
// conditional's closed form at the scale its table index stands for; a factorized model rates y with its own
// tables, the log-mass interpolated between integers. The gradient of the distortion comes from the
// synthesis transform's backward pass (backprop.h). Soft rounding by stochastic Gumbel annealing (SGA) for
// the higher efforts, then rate-distortion-optimised rounding of every element at the end.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aecodec/model.h"
#include "aecodec/tensor.h"

namespace aec {

// What one effort level does.
struct EffortPlan {
  int sga_steps = 0;  // Adam steps on the latent with SGA soft rounding
  float lr = 5e-3f;   // Adam's learning rate
  float tau0 = 0.5f;  // SGA temperature at the first step (annealed exponentially to tau_end)
  float tau_end = 0.003f;
  int rdo_passes = 0;  // passes of per-element rate-distortion-optimised rounding at the end
};
EffortPlan effort_plan(int effort);
constexpr int kMaxEffort = 9;
constexpr int64_t kMaxRefinePixels = 4200000;  // the padded image, for effort > 0

struct RefineOptions {
  int effort = 1;                        // 1..9 (effort_plan says what each does)
  const EffortPlan* plan = nullptr;      // instead of effort_plan(effort): experiments with the ladder
  std::function<bool(double)> progress;  // fraction done; false cancels (throws aec::Cancelled)
  int width = 0, height = 0;             // the original image inside the padded one (0: all of it counts)
};

struct RefineResult {
  Tensor latent;  // y whose rounding (around the means) gives the chosen symbols exactly
  double loss_before = 0, loss_after = 0;  // the RD loss of the rounded latent (bits per pixel + lambda term)
};

// Why effort > 0 cannot run on this model (no training.lambda to optimise for, or no rate model: neither a
// factorized nor a hyperprior codec), or empty when it can. The CLI, the page and refine_latent ask this.
std::string refine_refusal(const Model& model);

// image: the padded image tensor the encoder saw; y: its analysis; qz: the hyper latent's symbols for a
// hyperprior model (null for a factorized one). The model's document must give training.lambda.
RefineResult refine_latent(const Model& model, const Tensor& image, const Tensor& y,
                           const std::vector<int32_t>* qz, const RefineOptions& options);

}  // namespace aec
