// The mean-scale hyperprior entropy model (Balle et al. 2018, Minnen et al. 2018 without the context model):
// a hyper-analysis h_a turns the latent y into a small hyper latent z, coded with per-channel factorized
// tables; an integer hyper-synthesis h_s turns the decoded z back into a mean and a scale per element of y,
// and y - mean is coded with the Gaussian table that the scale picks.
//
// Split by the determinism contract (docs/bitstream.md): h_a is a float network like the encoder (only the
// encoder runs it, and what it decides is written into the file), while everything the decoder needs to pick
// tables and offsets -- z's symbols, h_s, the scale index, the mean -- is integer arithmetic (int_layers.h),
// identical natively, in WebAssembly, at any thread count and under every GEMM kernel.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aecodec/entropy.h"
#include "aecodec/gaussian.h"
#include "aecodec/int_layers.h"
#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class Network;

// The exporters' fixed-point formats (a file records its own z and mean bits in its document): z_hat enters
// h_s with 8 fraction bits, hidden activations have 10, the output (scales, means) 12.
constexpr int kHyperZBits = 8, kHyperHiddenBits = 10, kHyperOutBits = 12;

// The integer hyper-synthesis: a list of int_conv2d / int_conv_transpose2d layers.
class IntNetwork {
 public:
  static IntNetwork build(const nlohmann::json& layers, const ModelFile& file, const std::string& where);
  // From layers made in memory (validated here), each with its name for messages.
  static IntNetwork from_layers(std::vector<IntConv> layers, std::vector<std::string> names);
  // Reads x in place (a context model's growing buffer of features and decoded slices is its input as is).
  IntTensor forward(const IntTensor& x) const;
  void output_shape(int& c, int& h, int& w) const;  // throws when the input shape does not fit
  const std::vector<IntConv>& layers() const { return layers_; }

 private:
  std::vector<IntConv> layers_;
  std::vector<std::string> names_;
};

class Hyperprior {
 public:
  Hyperprior();
  Hyperprior(Hyperprior&&) noexcept;
  ~Hyperprior();
  // From the document's "entropy" object ({"kind": "hyperprior", ...}) and the "hyper.*" tensors; checks
  // every shape, limit and table.
  static std::unique_ptr<Hyperprior> build(const nlohmann::json& entropy, const ModelFile& file,
                                           int latent_channels);

  int channels() const { return channels_; }  // of z
  int z_fraction_bits() const { return z_bits_; }
  int mean_fraction_bits() const { return mean_bits_; }
  // The hyper latent grid h_a makes from a latent grid (throws when the grid is too small).
  void hyper_shape(int yh, int yw, int& zc, int& zh, int& zw) const;

  // Encoder side (float, like the analysis transform): z = h_a(y), and z's symbols round(z - median).
  Tensor analysis(const Tensor& y) const;
  std::vector<int32_t> quantize_z(const Tensor& z) const;

  // The integer path, run identically by the encoder and the decoder. synthesis: z's symbols (zc x zh x zw,
  // channel-major) -> h_s's output [2C, ., .] in fixed point: channels [0, C) scales, [C, 2C) means.
  IntTensor synthesis(const std::vector<int32_t>& qz, int zh, int zw) const;
  // For each element of a yh x yw latent (h_s's output cropped to it): the Gaussian table (scale index) and
  // the mean in fixed point (mean_value converts).
  struct Conditional {
    std::vector<int32_t> index, mean;
  };
  Conditional conditional(const std::vector<int32_t>& qz, int zh, int zw, int yh, int yw) const;
  // m * 2^-mean_fraction_bits: a power-of-two scale, so the float is exact (for |m| <= 2^24) and an FMA
  // contraction with a following add cannot change the sum.
  float mean_value(int32_t m) const { return float(m) * mean_scale_; }

  const CdfTables& z_tables() const { return z_tables_; }
  const CdfTables& y_tables() const { return y_tables_; }
  const Network& hyper_analysis() const { return *h_a_; }
  const IntNetwork& hyper_synthesis() const { return h_s_; }
  const std::vector<int32_t>& z_median() const { return z_median_; }  // fixed point, z_fraction_bits
  const std::vector<int32_t>& scale_thresholds() const { return table_counter_.entries(); }
  // The table for a fixed-point scale: scale_index(scale, scale_thresholds()), by lookup.
  int32_t table_of(int32_t scale) const { return int32_t(table_counter_.count(scale)); }
  // The scale each Gaussian table was built for (hyper.gaussian.scale; where a file lacks it, read back from
  // the thresholds, threshold[i] = floor(scale[i] * 2^12)): the rate model of encoder refinement.
  const std::vector<float>& scale_table() const { return scales_; }

 private:
  int latent_channels_ = 0, channels_ = 0;
  int z_bits_ = 0, mean_bits_ = 0;
  float mean_scale_ = 1;
  std::unique_ptr<Network> h_a_;
  IntNetwork h_s_;
  std::vector<int32_t> z_median_;
  CdfTables z_tables_, y_tables_;
  SortedCounter table_counter_;  // over the scale thresholds (hyper.gaussian.threshold)
  std::vector<float> scales_;
};

// The writer's side of an integer layer (export and test models): puts NAME.weight / .bias / .shift into the
// file and returns the layer's document entry.
nlohmann::json put_int_conv(ModelFile& file, const std::string& name, const IntConv& layer);

}  // namespace aec
