// The model document's op names (docs/model-format.md, "Layers"): one spelling for the core that reads them,
// the trainer's exporter that writes them and the ONNX writer that translates them.
#pragma once
#include <string>

namespace aec::op {

inline constexpr const char* kConv2d = "conv2d";
inline constexpr const char* kConvTranspose2d = "conv_transpose2d";
inline constexpr const char* kLinear = "linear";
inline constexpr const char* kGdn = "gdn";
inline constexpr const char* kRelu = "relu";
inline constexpr const char* kLeakyRelu = "leaky_relu";
inline constexpr const char* kSigmoid = "sigmoid";
inline constexpr const char* kTanh = "tanh";
inline constexpr const char* kReshape = "reshape";
inline constexpr const char* kSliceChannels = "slice_channels";
// Integer layers (int_layers.h): the networks that pick entropy tables.
inline constexpr const char* kIntConv2d = "int_conv2d";
inline constexpr const char* kIntConvTranspose2d = "int_conv_transpose2d";

// The ops with weights (NAME.weight, NAME.bias): what a variable-rate model's gains fold into.
inline bool weighted(const std::string& op) {
  return op == kConv2d || op == kConvTranspose2d || op == kLinear;
}

}  // namespace aec::op
