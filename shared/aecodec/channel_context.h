// The channel-conditional context model (Minnen & Singh 2020, "Channel-wise autoregressive entropy models
// for learned image compression") on top of the mean-scale hyperprior: y is coded in a few channel slices,
// and each slice's means and tables come from the hyperprior's and from the slices decoded before it.
//
// Per slice k (c_k channels, off_k channels before it), in fixed point: means and log scales with the
// hyperprior's mean fraction bits B; what the nets read (log scales, means and decoded slices, rounded) and
// the features E with F = entropy.context.feature_bits (docs/model-format.md):
// clang-format off
//   E         = embed([log scale of the hyperprior's table, hyperprior's mean])   integer conv, ReLU
//   d         = param_k([E, decoded slices 0..k-1])                              integer conv, ReLU, conv
//   mean      = hyperprior's mean + d[c_k .. 2c_k)
//   log scale = log_scale[hyperprior's table] + d[0 .. c_k)
//   table     = #{i < S - 1 : log scale > log_scale[i]}     a zero correction keeps the hyperprior's table
//   decoded   = (symbol * 2^B + mean) / 2^(B - F), rounded  what later slices read
//   latent    = symbol + mean + 0.5 tanh(lrp_k([E, decoded slices 0..k]))  float weights, LRP
// clang-format on
// Everything that picks a table or a mean is integer arithmetic (int_layers.h): the decoder repeats it bit
// for bit on every platform and kernel. Latent residual prediction (LRP) only moves the latent that the
// synthesis transform sees, so the file holds it as a float network like g_s; the core runs it as an integer
// network quantised at load (weights to 15 bits per output channel, the hidden layer with the
// hyper-synthesis' 10 fraction bits, the output with 12), on the same kernels as the slice nets and over the
// same integer input: twice the multiply-adds per instruction of a float conv, and the input channels that
// are zero everywhere (most of the features, on a photo) skipped exactly. Its output is within about 1e-3 of
// the float nets' (tests/core/test_channel_context.cpp), far below what moves a decoded pixel by one level.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "aecodec/hyperprior.h"
#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class Network;

class ChannelContext {
 public:
  // Fraction bits of the integer LRP nets' output: a step of 2^-12 there moves the latent by at most 2^-13
  // (0.5 tanh has slope <= 0.5).
  static constexpr int kLrpOutBits = 12;

  ChannelContext();
  ChannelContext(ChannelContext&&) noexcept;
  ~ChannelContext();
  // From the document's entropy.context object and its "hyper.context.*" tensors; latent_channels = M, tables
  // = the Gaussian conditional's table count, fraction_bits = the hyperprior's mean fraction bits.
  static std::unique_ptr<ChannelContext> build(const nlohmann::json& context, const ModelFile& file,
                                               int latent_channels, int tables, int fraction_bits);

  const std::vector<int>& slices() const { return slices_; }

  // Called once per slice in decoding order with its first channel, its channel count, and per element
  // (channel-major, c x h x w) its table and its fixed-point mean; fills the slice's symbols (the encoder
  // quantises y, the decoder reads its stream).
  using SliceCoder = std::function<void(int first_channel, int channels, const int32_t* table,
                                        const int32_t* mean, int32_t* symbols)>;
  // Where run() spends its time, in ms, added to on each call (`aecodec bench` prints it): the integer nets
  // (feature embedding, slice parameter nets), the table and mean choice, the slice coder, the decoded
  // slices' conversion to features, and LRP; `copy` is the bands' input copies and conversions, which the
  // other figures leave out.
  struct Timing {
    double embed_ms = 0, param_ms = 0, pick_ms = 0, code_ms = 0, feed_ms = 0, lrp_ms = 0, copy_ms = 0;
    // On two threads: a slice's LRP net and the next slice's param net (with its table pick), side by side.
    double side_by_side_ms = 0;
  };
  // Runs the model over an h x w latent given the hyperprior's conditional (its tables and means for all M
  // channels) and returns the decoded latent (LRP applied). The nets run over bands of band_rows latent rows
  // (0: a size that bounds their memory); tables, means and symbols do not depend on it. timing: null, or
  // where to add the stages' times. latent = false: returns an empty tensor without running LRP, which
  // nothing but the decoded latent needs (an encoder that only writes the file). lrp = false: the decoded
  // latent is the coded one, symbol + mean, without LRP (a decoder trained on it: Model's decoder_lrp).
  Tensor run(const Hyperprior::Conditional& hyper, int h, int w, const SliceCoder& code, int band_rows = 0,
             Timing* timing = nullptr, bool latent = true, bool lrp = true) const;

  // Runs the file's float LRP nets instead of their integer form (tests compare the two); false by default.
  void use_float_lrp(bool on) { float_lrp_ = on; }
  bool integer_lrp() const { return !lrp_int_.empty() && !float_lrp_; }

 private:
  int channels_ = 0, bits_ = 0, feature_bits_ = 0, features_ = 0;
  // Rows around an output that each net reads (stride-1 convs with same padding): a band's halo.
  int embed_halo_ = 0;
  std::vector<int> param_halo_, lrp_halo_;
  std::vector<int> slices_;
  std::vector<int32_t> log_scale_;  // per table, increasing, fraction bits bits_
  SortedCounter table_counter_;     // over log_scale_ but the last: a log scale's table
  IntNetwork embed_;
  std::vector<IntNetwork> param_;
  std::vector<std::unique_ptr<Network>> lrp_;
  // lrp_ quantised (conv, ReLU, conv with 3x3 or other odd kernels); empty when some net has another form or
  // does not quantise, and then the float nets run.
  std::vector<IntNetwork> lrp_int_;
  bool float_lrp_ = false;  // run lrp_ even where lrp_int_ exists (a test's reference)
};

}  // namespace aec
