// A network of the model file's layers (the document's "encoder", "decoder" and the hyper networks' float
// lists): built from a JSON list with the weights from the file, every shape checked; layers that run faster
// together are fused (a conv with the GDN after it, a conv writing the next conv's source planes). The
// arithmetic lives in layers.h.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class Layer;  // one op of the network (layers.cpp holds the arithmetic)

class Network {
 public:
  Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();
  // Builds from a JSON list of layers, taking the weights from the file and checking every shape.
  // `where` names the list ("encoder"/"decoder") in messages.
  static Network build(const nlohmann::json& layers, const ModelFile& file, const std::string& where);
  Tensor forward(const Tensor& x) const;
  // Shape the network gives for an input shape (checks channel counts, linear sizes); throws when invalid.
  void output_shape(int& c, int& h, int& w) const;
  // Multiply-accumulates for an input of the given shape (for benchmarks' GFLOP/s).
  double macs(int c, int h, int w) const;
  // The largest tensor the network computes for an input of this shape, its input included, in floats (for
  // sizing tiles: tile.h).
  double peak_floats(int c, int h, int w) const;
  size_t size() const { return layers_.size(); }
  // For running the network by tiles (tile.h), one axis at a time (kernels are square, so both axes alike):
  // the input positions [lo, hi] that output positions [lo, hi] read, padding included (outside [0, n) when
  // they reach it), and the product of the strides of the regular (down) and transposed (up) convolutions.
  // false when a layer mixes positions (linear, reshape): such a network runs whole.
  bool input_range(int64_t& lo, int64_t& hi) const;
  bool strides(int& down, int& up) const;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace aec
