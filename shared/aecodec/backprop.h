// The gradient of a network's output with respect to its input (no weight gradients): what encoder
// refinement (refine.h) needs of the synthesis transform. A forward pass keeps what the backward pass reads
// (each GDN's input and norm); the backward pass runs on the core's fast kernels: the input gradient of a
// transposed convolution is a convolution with the same weights, that of a convolution a transposed one, and
// a GDN's is two CxC GEMMs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "aecodec/layers.h"
#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class GradNetwork {
 public:
  GradNetwork();
  GradNetwork(GradNetwork&&) noexcept;
  GradNetwork& operator=(GradNetwork&&) noexcept;
  ~GradNetwork();
  // From a layer list of the model document (docs/model-format.md). Supports conv2d, conv_transpose2d, gdn
  // (either direction), relu and leaky_relu; throws aec::Error naming any other op.
  static GradNetwork build(const nlohmann::json& layers, const ModelFile& file, const std::string& where);
  // The network's output; keeps the activations the next backward() reads.
  Tensor forward(const Tensor& x);
  // d loss / d input, given d loss / d output of the last forward().
  Tensor backward(const Tensor& grad_output);

  struct Layer;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

// The GDN layer's pieces on their own (tested against finite differences): forward keeps norm (the square
// root, per element); backward gives the input gradient.
void gdn_forward_keep(const Tensor& x, const std::vector<float>& beta, const std::vector<float>& gamma,
                      bool inverse, Tensor& y, Tensor& norm);
Tensor gdn_backward(const Tensor& x, const Tensor& norm, const std::vector<float>& gamma, bool inverse,
                    const Tensor& grad_y);

}  // namespace aec
