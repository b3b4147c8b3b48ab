// The trainable architectures behind one interface (CodecImpl), each in its own file: fc, conv, vae (plain
// autoencoders, quantiser fitted at export: plain_codec.h), factorized (Balle 2018 factorized prior,
// optionally variable-rate with per-quality gain vectors: factorized_codec.h), family (a medium factorized
// member, stride 16, and a high member, stride 32, that wraps the same networks in a learned x2 downscaler
// and upscaler: one entropy model, one latent space; family_codec.h), hyperprior (mean-scale hyperprior,
// hyperprior_codec.h), channel (its channel-conditional context model, channel_codec.h) and family-channel
// (a frozen channel codec and a half-size member in its latent space: family_channel_codec.h).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "entropy_bottleneck.h"
#include "layer_stack.h"

namespace aect {

struct StepOut {
  torch::Tensor loss;  // scalar to minimise
  torch::Tensor bpp;   // scalar (undefined for plain autoencoders)
  torch::Tensor mse;   // scalar, [0,1] units, of the primary path
};

struct EvalOut {
  double bits = 0;      // ideal code length of the rounded latent (RD models; 0 otherwise)
  double sq_err = 0;    // sum of squared 8-bit errors of the primary path over the original region
  int64_t samples = 0;  // number of RGB samples in sq_err
  std::map<std::string, double> psnr;  // extra paths (family: "cross_h2m", "bicubic_m2h", ...)
};

// One exportable encoder/decoder pair (the family has two). A member's encoder may be a chain
// enc_pre -> enc and its decoder dec -> dec_post...: the family's high member is the medium member's networks
// with a learned x2 downscaler before and a learned x2 upscaler after, so both share one latent space.
struct Member {
  std::string role;  // "" for single models; "high" / "medium"
  int stride = 1;
  LayerStack enc{nullptr}, dec{nullptr};
  LayerStack enc_pre{nullptr};                          // optional
  std::vector<LayerStack> dec_post;                     // after dec, in order (optional)
  nlohmann::json enc_suffix = nlohmann::json::array();  // export-only layers after the encoder (VAE slice)

  torch::Tensor encode(torch::Tensor x);      // enc_pre, enc (no gains)
  torch::Tensor decode(torch::Tensor y);      // dec, dec_post (no gains)
  int load_from(const aec::ModelFile& file);  // warm start of every stack; returns layers loaded
  double macs(int& c, int& h, int& w);        // encoder + decoder forward
};

class CodecImpl : public torch::nn::Module {
 public:
  virtual ~CodecImpl() = default;
  virtual std::string arch() const = 0;
  virtual bool rate_distortion() const { return !eb.is_empty(); }
  virtual int stride() const = 0;               // crops must be a multiple (the largest member's stride)
  virtual int fixed_size() const { return 0; }  // fc: 32
  // Forward + loss on a training batch x [B,3,H,W] in [0,1] for `quality` (index into the lambdas).
  virtual StepOut train_step(const torch::Tensor& x, int quality, double lambda) = 0;
  // Evaluation-mode pass on one image x [1,3,H,W] padded to stride(); h, w: the original size.
  virtual EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) = 0;
  virtual std::vector<Member> members() = 0;
  // The latent y of the primary member's encoder before quantisation, gains applied ([1,C,h,w]).
  virtual torch::Tensor encode(const torch::Tensor& x, int quality, const std::string& role = "") = 0;
  // Warm start from a model file: the entropy model's own networks (beyond members()' transforms and the
  // prior in the train.* tensors); returns how many layers were loaded. Only the hyperprior has any.
  virtual int load_entropy_networks(const aec::ModelFile&) { return 0; }

  // Warm start from a run (warm_start.h): the name of the source run's tensor that this model's tensor `name`
  // starts from (the same name unless layers moved), or "" for a layer the source cannot have (a new layer by
  // design: it keeps its constructor's initialisation and does not count as missing).
  virtual std::string warm_start_source(const std::string& name, const TrainConfig& /*source*/) const {
    return name;
  }
  // After a warm start (warm_start.h) loaded what it could; source_had_all: every parameter had a source.
  virtual void finish_warm_start(bool /*source_had_all*/) {}

  torch::Tensor aux_loss() { return eb ? eb->aux_loss() : torch::Tensor(); }
  // The prior's quantiles, trained by aux_loss (none: no auxiliary optimizer).
  virtual std::vector<torch::Tensor> aux_parameters();
  std::vector<torch::Tensor> main_parameters();
  // main_parameters() in the groups whose gradient norms are clipped apart (one group unless a codec says).
  virtual std::vector<std::vector<torch::Tensor>> clip_groups() { return {main_parameters()}; }
  int qualities() const { return gain.defined() ? int(gain.size(0)) : 1; }
  std::vector<float> gain_of(int quality) const;  // empty when the model has no gains
  std::vector<float> inv_gain_of(int quality) const;
  // The prior's scale for `quality` (eb->forward / tabulate): the gain when the prior is over the ungained
  // latent (TrainConfig::gain_prior "scaled"), else undefined.
  torch::Tensor prior_scale(int quality) const;
  // Variable rate (more than one lambda): registers gain and inv_gain [Q, M], the qualities started apart.
  void init_gains(const std::vector<double>& lambdas, int M);
  // y * gain[quality] and y * inv_gain[quality] (y unchanged without gains).
  torch::Tensor apply_gain(const torch::Tensor& y, int quality) const;
  torch::Tensor remove_gain(const torch::Tensor& y, int quality) const;

  EntropyBottleneck eb{nullptr};
  torch::Tensor gain, inv_gain;  // [Q, M] when variable-rate
  bool scaled_prior = false;     // variable-rate: the prior is over y, each quality's bins scaled by its gain
  int latent_channels = 0;
};

std::shared_ptr<CodecImpl> make_codec(const TrainConfig& cfg);
// Default N/M for an arch when the command line leaves them at 0.
void default_sizes(const std::string& arch, int& N, int& M);

// For the codec classes: the mean squared error in float, and the Balle 2018 analysis / synthesis with
// `stages` stride-2 5x5 stages (GDN between them).
torch::Tensor mse_of(const torch::Tensor& x_hat, const torch::Tensor& x);
void build_factorized(LayerStackImpl& g_a, LayerStackImpl& g_s, int N, int M, int stages);

// Sum of squared 8-bit errors between x_hat (clamped, rounded to 8 bits) and x over [0,h) x [0,w).
double sq_err_8bit(const torch::Tensor& x_hat, const torch::Tensor& x, int h, int w);
inline double psnr_of(double sq_err, int64_t samples) {
  return samples > 0 && sq_err > 0 ? 10.0 * std::log10(255.0 * 255.0 * double(samples) / sq_err) : 99.0;
}

}  // namespace aect
