// A network as an ordered list of the model file's layer ops (docs/model-format.md): the same list runs the
// LibTorch forward pass and writes the exported "encoder"/"decoder" layer lists and tensors, so training and
// the core compute the same function by construction.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aecodec/model_file.h"
#include "gdn.h"

namespace aect {

// How a network's exported tensors are stored (docs/model-format.md; the core widens F16 to float).
struct WeightStorage {
  aec::DType weights = aec::DType::F32;  // conv2d / conv_transpose2d / linear weight and bias
  aec::DType gdn = aec::DType::F32;      // GDN beta and gamma
};

// Stores a float tensor as `dtype` (F32 or F16); refuses values an F16 cannot hold (|v| > 65504), naming
// the tensor.
void put_weights(aec::ModelFile& file, const std::string& name, const std::vector<int64_t>& shape,
                 const float* values, aec::DType dtype);

class LayerStackImpl : public torch::nn::Module {
 public:
  // `file_prefix` names the layers in the model file ("g_a" -> tensors "g_a.0.weight", ...).
  explicit LayerStackImpl(std::string file_prefix) : prefix_(std::move(file_prefix)) {}

  // Builders (call in the owner's constructor). Convolutions use padding k/2; transposed ones output_padding
  // stride-1, so each stage scales the size by exactly its stride.
  void conv(int in, int out, int kernel, int stride);
  void deconv(int in, int out, int kernel, int stride);
  void gdn(int channels, bool inverse);
  void linear(int in, int out);
  void reshape(int c, int h, int w);
  void slice_channels(int begin, int end);
  void relu();
  void leaky_relu(double slope);
  void sigmoid();
  void tanh();

  torch::Tensor forward(torch::Tensor x);

  // Appends this stack's layers to `list` and their tensors to `file`. `out_scale` multiplies the output
  // channels of the last weighted layer (weights and bias), `in_scale` the input channels of the first
  // weighted layer: how per-channel gains fold into the exported weights. `storage` picks the tensors'
  // dtypes.
  void export_to(aec::ModelFile& file, nlohmann::json& list, const std::vector<float>* out_scale = nullptr,
                 const std::vector<float>* in_scale = nullptr, const WeightStorage& storage = {}) const;
  // Multiplies the live weights the way export_to folds scales (unfolding a warm start's gains: pass the
  // reciprocals).
  void scale_ends(const std::vector<float>* out_scale, const std::vector<float>* in_scale);
  // Copies the weights of the same-named layers from a model file (warm start); returns how many layers.
  // `source`, when given, names each layer's source in the file ("" skips the layer).
  int load_from(const aec::ModelFile& file,
                const std::function<std::string(const std::string&)>& source = nullptr);
  // Multiply-accumulates of one forward pass on a [c, h, w] input; updates c, h, w to the output shape.
  double macs(int& c, int& h, int& w) const;
  int stride() const;  // total downscaling (encoder) or upscaling (decoder) factor

 private:
  struct Entry {
    std::string op;
    int index = 0;
    int in = 0, out = 0, kernel = 0, stride = 1;
    double slope = 0;
    int shape[3] = {0, 0, 0};
    int begin = 0, end = 0;
    torch::nn::Conv2d conv{nullptr};
    torch::nn::ConvTranspose2d deconv{nullptr};
    torch::nn::Linear linear{nullptr};
    GDN gdn{nullptr};
  };
  Entry& add(const std::string& op);
  std::pair<int, int> weighted_ends() const;  // indices of the first and last weighted layer (-1: none)
  std::string name_of(const Entry& e) const { return prefix_ + "." + std::to_string(e.index); }
  std::string prefix_;
  std::vector<Entry> entries_;
};
TORCH_MODULE(LayerStack);

}  // namespace aect
