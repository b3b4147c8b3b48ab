#include "layer_stack.h"

#include <cmath>

#include "aecodec/error.h"
#include "aecodec/ops.h"
#include "conv_transpose.h"

namespace aect {

void put_weights(aec::ModelFile& file, const std::string& name, const std::vector<int64_t>& shape,
                 const float* values, aec::DType dtype) {
  if (dtype == aec::DType::F16) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n; ++i)
      aec::require(std::fabs(values[i]) <= 65504.0f,
                   "tensor '" + name + "' holds " + std::to_string(values[i]) +
                       ", outside the F16 range (|v| <= 65504): store it as F32");
  }
  file.put_floats(name, shape, values, dtype);
}

LayerStackImpl::Entry& LayerStackImpl::add(const std::string& op) {
  Entry e;
  e.op = op;
  e.index = int(entries_.size());
  entries_.push_back(std::move(e));
  return entries_.back();
}

void LayerStackImpl::conv(int in, int out, int kernel, int stride) {
  Entry& e = add(aec::op::kConv2d);
  e.in = in, e.out = out, e.kernel = kernel, e.stride = stride;
  e.conv = register_module(
      std::to_string(e.index),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2)));
}

void LayerStackImpl::deconv(int in, int out, int kernel, int stride) {
  Entry& e = add(aec::op::kConvTranspose2d);
  e.in = in, e.out = out, e.kernel = kernel, e.stride = stride;
  e.deconv = register_module(std::to_string(e.index),
                             torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kernel)
                                                            .stride(stride)
                                                            .padding(kernel / 2)
                                                            .output_padding(stride - 1)));
}

void LayerStackImpl::gdn(int channels, bool inverse) {
  Entry& e = add(aec::op::kGdn);
  e.in = e.out = channels;
  e.gdn = register_module(std::to_string(e.index), GDN(channels, inverse));
}

void LayerStackImpl::linear(int in, int out) {
  Entry& e = add(aec::op::kLinear);
  e.in = in, e.out = out;
  e.linear = register_module(std::to_string(e.index), torch::nn::Linear(in, out));
}

void LayerStackImpl::reshape(int c, int h, int w) {
  Entry& e = add(aec::op::kReshape);
  e.shape[0] = c, e.shape[1] = h, e.shape[2] = w;
}

void LayerStackImpl::slice_channels(int begin, int end) {
  Entry& e = add(aec::op::kSliceChannels);
  e.begin = begin, e.end = end;
}

void LayerStackImpl::relu() {
  add(aec::op::kRelu);
}
void LayerStackImpl::leaky_relu(double slope) {
  add(aec::op::kLeakyRelu).slope = slope;
}
void LayerStackImpl::sigmoid() {
  add(aec::op::kSigmoid);
}
void LayerStackImpl::tanh() {
  add(aec::op::kTanh);
}

torch::Tensor LayerStackImpl::forward(torch::Tensor x) {
  for (Entry& e : entries_) {
    if (e.op == aec::op::kConv2d) {
      x = e.conv->forward(x);
    } else if (e.op == aec::op::kConvTranspose2d) {
      x = conv_transpose2d_fast(x, e.deconv->weight, e.deconv->bias, e.stride, e.kernel / 2, e.stride - 1);
    } else if (e.op == aec::op::kGdn) {
      x = e.gdn->forward(x);
    } else if (e.op == aec::op::kLinear) {
      x = e.linear->forward(x.flatten(1)).view({x.size(0), e.out, 1, 1});
    } else if (e.op == aec::op::kReshape) {
      x = x.reshape({x.size(0), e.shape[0], e.shape[1], e.shape[2]});
    } else if (e.op == aec::op::kSliceChannels) {
      x = x.narrow(1, e.begin, e.end - e.begin);
    } else if (e.op == aec::op::kRelu) {
      x = torch::relu(x);
    } else if (e.op == aec::op::kLeakyRelu) {
      x = torch::leaky_relu(x, e.slope);
    } else if (e.op == aec::op::kSigmoid) {
      x = torch::sigmoid(x);
    } else if (e.op == aec::op::kTanh) {
      x = torch::tanh(x);
    }
  }
  return x;
}

namespace {

std::vector<int64_t> shape_of(const torch::Tensor& t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

void put(aec::ModelFile& f, const std::string& name, const torch::Tensor& t, aec::DType dtype) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  put_weights(f, name, shape_of(c), c.data_ptr<float>(), dtype);
}

torch::Tensor scale_vec(const std::vector<float>& s) {
  return torch::from_blob(const_cast<float*>(s.data()), {int64_t(s.size())}, torch::kFloat).clone();
}

}  // namespace

namespace {

// Folds per-channel scales into a weighted layer's weight and bias: `out_scale` multiplies its output
// channels (weights and bias), `in_scale` its input channels. Output channels are dim 0 of a conv or linear
// weight, dim 1 of a transposed conv's; inputs the other.
void fold_scales(const std::string& op, torch::Tensor& w, torch::Tensor& b,
                 const std::vector<float>* out_scale, const std::vector<float>* in_scale) {
  const bool tr = op == aec::op::kConvTranspose2d;
  const int64_t out_dim = tr ? 1 : 0, in_dim = tr ? 0 : 1;
  auto shaped = [&](const std::vector<float>& s, int64_t dim) {
    std::vector<int64_t> v(size_t(w.dim()), 1);
    v[size_t(dim)] = -1;
    return scale_vec(s).to(w.device()).view(v);
  };
  if (out_scale) {
    w = w * shaped(*out_scale, out_dim);
    b = b * scale_vec(*out_scale).to(b.device());
  }
  if (in_scale) w = w * shaped(*in_scale, in_dim);
}

}  // namespace

std::pair<int, int> LayerStackImpl::weighted_ends() const {
  int first = -1, last = -1;
  for (const Entry& e : entries_)
    if (e.op == aec::op::kConv2d || e.op == aec::op::kConvTranspose2d || e.op == aec::op::kLinear) {
      if (first < 0) first = e.index;
      last = e.index;
    }
  return {first, last};
}

void LayerStackImpl::scale_ends(const std::vector<float>* out_scale, const std::vector<float>* in_scale) {
  torch::NoGradGuard ng;
  const auto [first, last] = weighted_ends();
  for (Entry& e : entries_) {
    if (e.index != first && e.index != last) continue;
    torch::Tensor& w = e.op == aec::op::kConv2d            ? e.conv->weight
                       : e.op == aec::op::kConvTranspose2d ? e.deconv->weight
                                                           : e.linear->weight;
    torch::Tensor& b = e.op == aec::op::kConv2d            ? e.conv->bias
                       : e.op == aec::op::kConvTranspose2d ? e.deconv->bias
                                                           : e.linear->bias;
    torch::Tensor nw = w.detach().clone(), nb = b.detach().clone();
    fold_scales(e.op, nw, nb, e.index == last ? out_scale : nullptr, e.index == first ? in_scale : nullptr);
    w.copy_(nw), b.copy_(nb);
  }
}

void LayerStackImpl::export_to(aec::ModelFile& file, nlohmann::json& list,
                               const std::vector<float>* out_scale, const std::vector<float>* in_scale,
                               const WeightStorage& storage) const {
  const auto [first_weighted, last_weighted] = weighted_ends();
  for (const Entry& e : entries_) {
    nlohmann::json l = {{"op", e.op}};
    const std::string name = name_of(e);
    torch::Tensor w, b;
    if (e.op == aec::op::kConv2d || e.op == aec::op::kConvTranspose2d) {
      const bool tr = e.op == aec::op::kConvTranspose2d;
      l["name"] = name;
      l["in"] = e.in, l["out"] = e.out, l["kernel"] = e.kernel, l["stride"] = e.stride,
      l["padding"] = e.kernel / 2;
      if (tr) l["output_padding"] = e.stride - 1;
      w = (tr ? e.deconv->weight : e.conv->weight).detach().to(torch::kCPU, torch::kFloat).clone();
      b = (tr ? e.deconv->bias : e.conv->bias).detach().to(torch::kCPU, torch::kFloat).clone();
    } else if (e.op == aec::op::kLinear) {
      l["name"] = name, l["in"] = e.in, l["out"] = e.out;
      w = e.linear->weight.detach().to(torch::kCPU, torch::kFloat).clone();
      b = e.linear->bias.detach().to(torch::kCPU, torch::kFloat).clone();
    } else if (e.op == aec::op::kGdn) {
      l["name"] = name, l["channels"] = e.in, l["inverse"] = e.gdn->inverse();
      put(file, name + ".beta", e.gdn->effective_beta(), storage.gdn);
      put(file, name + ".gamma", e.gdn->effective_gamma(), storage.gdn);
    } else if (e.op == aec::op::kReshape) {
      l["shape"] = {e.shape[0], e.shape[1], e.shape[2]};
    } else if (e.op == aec::op::kSliceChannels) {
      l["begin"] = e.begin, l["end"] = e.end;
    } else if (e.op == aec::op::kLeakyRelu) {
      l["slope"] = e.slope;
    }
    if (w.defined()) {
      fold_scales(e.op, w, b, e.index == last_weighted ? out_scale : nullptr,
                  e.index == first_weighted ? in_scale : nullptr);
      put(file, name + ".weight", w, storage.weights);
      put(file, name + ".bias", b, storage.weights);
    }
    list.push_back(l);
  }
}

int LayerStackImpl::load_from(const aec::ModelFile& file,
                              const std::function<std::string(const std::string&)>& source) {
  torch::NoGradGuard ng;
  int loaded = 0;
  auto load = [&](torch::Tensor& dst, const std::string& name) {
    std::vector<int64_t> shape(dst.sizes().begin(), dst.sizes().end());
    std::vector<float> v = file.floats(name, shape);
    dst.copy_(torch::from_blob(v.data(), dst.sizes(), torch::kFloat).to(dst.device()));
  };
  for (Entry& e : entries_) {
    const std::string name = source ? source(name_of(e)) : name_of(e);
    if (name.empty() || (!file.has(name + ".weight") && !file.has(name + ".beta"))) continue;
    if (e.op == aec::op::kConv2d) {
      load(e.conv->weight, name + ".weight"), load(e.conv->bias, name + ".bias");
    } else if (e.op == aec::op::kConvTranspose2d) {
      load(e.deconv->weight, name + ".weight"), load(e.deconv->bias, name + ".bias");
    } else if (e.op == aec::op::kLinear) {
      load(e.linear->weight, name + ".weight"), load(e.linear->bias, name + ".bias");
    } else if (e.op == aec::op::kGdn) {
      torch::Tensor beta = torch::empty({e.in}), gamma = torch::empty({e.in, e.in});
      load(beta, name + ".beta"), load(gamma, name + ".gamma");
      e.gdn->set_effective(beta.to(e.gdn->parameters()[0].device()),
                           gamma.to(e.gdn->parameters()[0].device()));
    } else {
      continue;
    }
    ++loaded;
  }
  return loaded;
}

double LayerStackImpl::macs(int& c, int& h, int& w) const {
  double total = 0;
  for (const Entry& e : entries_) {
    if (e.op == aec::op::kConv2d) {
      h = (h + 2 * (e.kernel / 2) - e.kernel) / e.stride + 1;
      w = (w + 2 * (e.kernel / 2) - e.kernel) / e.stride + 1;
      c = e.out;
      total += double(h) * w * e.out * e.in * e.kernel * e.kernel;
    } else if (e.op == aec::op::kConvTranspose2d) {
      total += double(h) * w * e.out * e.in * e.kernel * e.kernel;
      h = (h - 1) * e.stride - 2 * (e.kernel / 2) + e.kernel + e.stride - 1;
      w = (w - 1) * e.stride - 2 * (e.kernel / 2) + e.kernel + e.stride - 1;
      c = e.out;
    } else if (e.op == aec::op::kGdn) {
      total += double(h) * w * c * c;
    } else if (e.op == aec::op::kLinear) {
      total += double(e.in) * e.out;
      c = e.out, h = 1, w = 1;
    } else if (e.op == aec::op::kReshape) {
      c = e.shape[0], h = e.shape[1], w = e.shape[2];
    } else if (e.op == aec::op::kSliceChannels) {
      c = e.end - e.begin;
    }
  }
  return total;
}

int LayerStackImpl::stride() const {
  int s = 1;
  for (const Entry& e : entries_)
    if (e.op == aec::op::kConv2d || e.op == aec::op::kConvTranspose2d) s *= e.stride;
  return s;
}

}  // namespace aect
