// ONNX export of an aecodec model: the encoder and decoder layer lists of the model document, translated one
// op at a time into two ONNX graphs (opset 13, IR 8, weights as float32 initializers). LibTorch cannot export
// ONNX from C++, and the core has no autograd graph to trace anyway, so the document is the source of truth.
//
//   encoder: "image"  [1,3,H,W] float in [0,1]     -> "latent" [1,C,H/s,W/s]  (y, before quantisation)
//   decoder: "latent" [1,C,h,w] dequantised latent -> "image"  [1,3,h*s,w*s]  (not clamped)
//
// H and W are symbolic for fully convolutional models and fixed for models with input.size (fc). For a
// hyperprior model the graphs are its g_a and g_s: the hyper networks and the quantiser around their means
// stay in the core (the determinism contract, docs/bitstream.md), which a runtime calls between the two.
#pragma once
#include <string>

#include <onnx/onnx_pb.h>

#include "aecodec/model.h"

namespace aec::onnx_export {

struct Graphs {
  onnx::ModelProto encoder, decoder;
};

// Translates a loaded (and so already validated) model. Throws aec::Error for what ONNX cannot express here.
Graphs export_model(const Model& model);

// onnx::checker::check_model plus strict shape inference (catches a declared output shape that the ops do not
// produce). Throws aec::Error naming `what`.
void validate(const onnx::ModelProto& graph, const std::string& what);

}  // namespace aec::onnx_export
