#include "aecodec/backprop.h"

#include <algorithm>
#include <cmath>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/gemm.h"
#include "aecodec/ops.h"
#include "aecodec/parallel.h"

namespace aec {

using nlohmann::json;

namespace {

// out[C x P] = a[C x C] * b[C x P], the columns cut into chunks that threads take (each chunk's numbers do
// not depend on how many threads run).
void channel_mix(const std::vector<float>& a, int c, const float* b, size_t p, float* out) {
  constexpr int kChunk = 2048;
  const int chunks = int((p + kChunk - 1) / kChunk);
  parallel_for(chunks, [&](int c0, int c1) {
    for (int t = c0; t < c1; ++t) {
      const size_t j0 = size_t(t) * kChunk;
      const int n = int(std::min<size_t>(kChunk, p - j0));
      gemm(c, n, c, a.data(), c, b + j0, int(p), out + j0, int(p), false);
    }
  });
}

std::vector<float> transposed(const std::vector<float>& m, int c) {
  std::vector<float> t(m.size());
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) t[size_t(j) * c + i] = m[size_t(i) * c + j];
  return t;
}

}  // namespace

void gdn_forward_keep(const Tensor& x, const std::vector<float>& beta, const std::vector<float>& gamma,
                      bool inverse, Tensor& y, Tensor& norm) {
  const int c = x.c;
  const size_t p = x.plane();
  Tensor sq(c, x.h, x.w);
  parallel_for(c, [&](int k0, int k1) {
    for (size_t i = size_t(k0) * p; i < size_t(k1) * p; ++i) sq.data[i] = x.data[i] * x.data[i];
  });
  norm = Tensor(c, x.h, x.w);
  channel_mix(gamma, c, sq.data.data(), p, norm.data.data());
  y = Tensor(c, x.h, x.w);
  parallel_for(c, [&](int k0, int k1) {
    for (int k = k0; k < k1; ++k) {
      float* n = norm.channel(k);
      const float* xs = x.channel(k);
      float* ys = y.channel(k);
      for (size_t i = 0; i < p; ++i) {
        n[i] = std::sqrt(n[i] + beta[size_t(k)]);
        ys[i] = inverse ? xs[i] * n[i] : xs[i] / n[i];
      }
    }
  });
}

// Inverse GDN, y_i = x_i n_i with n_i = sqrt(beta_i + sum_j gamma_ij x_j^2):
//   dL/dx_k = g_k n_k + x_k sum_i gamma_ik (g_i x_i / n_i)
// GDN, y_i = x_i / n_i:
//   dL/dx_k = g_k / n_k - x_k sum_i gamma_ik (g_i x_i / n_i^3)
Tensor gdn_backward(const Tensor& x, const Tensor& norm, const std::vector<float>& gamma, bool inverse,
                    const Tensor& grad_y) {
  const int c = x.c;
  const size_t p = x.plane();
  require(grad_y.c == c && grad_y.h == x.h && grad_y.w == x.w, "gdn backward: gradient shape mismatch");
  Tensor u(c, x.h, x.w);
  parallel_for(c, [&](int k0, int k1) {
    for (size_t i = size_t(k0) * p; i < size_t(k1) * p; ++i) {
      const float n = norm.data[i];
      u.data[i] = inverse ? grad_y.data[i] * x.data[i] / n : grad_y.data[i] * x.data[i] / (n * n * n);
    }
  });
  Tensor t(c, x.h, x.w);
  channel_mix(transposed(gamma, c), c, u.data.data(), p, t.data.data());
  // t becomes the input gradient in place.
  parallel_for(c, [&](int k0, int k1) {
    for (size_t i = size_t(k0) * p; i < size_t(k1) * p; ++i) {
      const float n = norm.data[i];
      t.data[i] =
          inverse ? grad_y.data[i] * n + x.data[i] * t.data[i] : grad_y.data[i] / n - x.data[i] * t.data[i];
    }
  });
  return t;
}

struct GradNetwork::Layer {
  enum Kind { kConv, kConvTranspose, kGdn, kRelu, kLeakyRelu } kind = kRelu;
  ConvShape shape;
  std::vector<float> weight, bias;
  PreparedConv fwd;
  // The backward convolution. A regular conv's depends on the input size through output_padding: prepared
  // for each value that occurs (at most stride of them).
  std::vector<PreparedConv> bwd;
  std::vector<bool> bwd_ready;
  std::vector<float> beta, gamma;
  bool inverse = false;
  float slope = 0;
  Tensor input, norm;      // what the last forward kept (GDN, relu)
  int in_h = 0, in_w = 0;  // a convolution's input size
};

GradNetwork::GradNetwork() = default;
GradNetwork::GradNetwork(GradNetwork&&) noexcept = default;
GradNetwork& GradNetwork::operator=(GradNetwork&&) noexcept = default;
GradNetwork::~GradNetwork() = default;

GradNetwork GradNetwork::build(const json& layers, const ModelFile& file, const std::string& where) {
  require(layers.is_array(), where + " is not a list of layers");
  GradNetwork net;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& j = layers[i];
    const std::string at = where + " layer " + std::to_string(i);
    require(j.is_object() && j.contains("op") && j["op"].is_string(), at + ": layer without \"op\"");
    const std::string op = j["op"].get<std::string>();
    auto l = std::make_unique<Layer>();
    if (op == op::kConv2d || op == op::kConvTranspose2d) {
      const bool tr = op == op::kConvTranspose2d;
      l->kind = tr ? Layer::kConvTranspose : Layer::kConv;
      const std::string name = j.value("name", "");
      ConvShape& s = l->shape;
      // The ranges the inference network accepts (model.cpp).
      s.in = document_int(j, "in", at, 1, 4096), s.out = document_int(j, "out", at, 1, 4096);
      s.kernel = document_int(j, "kernel", at, 1, 15), s.stride = document_int(j, "stride", at, 1, 8);
      s.padding = document_int(j, "padding", at, 0, 15);
      s.output_padding = tr ? document_int(j, "output_padding", at, 0, s.stride - 1) : 0;
      require(s.in > 0 && s.out > 0 && s.kernel > 0 && s.stride > 0, at + ": bad convolution shape");
      const int64_t k = s.kernel;
      l->weight = file.floats(name + ".weight", tr ? std::vector<int64_t>{s.in, s.out, k, k}
                                                   : std::vector<int64_t>{s.out, s.in, k, k});
      l->bias = file.floats(name + ".bias", {s.out});
      l->fwd = tr ? prepare_conv_transpose2d(l->weight.data(), l->bias.data(), s)
                  : prepare_conv2d(l->weight.data(), l->bias.data(), s);
      // The weights read as the adjoint op's: a transposed conv's [in, out, k, k] is a conv's [out', in', k,
      // k] with out' = in, and the other way round.
      ConvShape b{s.out, s.in, s.kernel, s.stride, s.padding, 0};
      if (tr) {
        l->bwd.push_back(prepare_conv2d(l->weight.data(), nullptr, b));
        l->bwd_ready.push_back(true);
      } else {
        l->bwd.resize(size_t(s.stride));
        l->bwd_ready.assign(size_t(s.stride), false);
      }
    } else if (op == op::kGdn) {
      l->kind = Layer::kGdn;
      const std::string name = j.value("name", "");
      const int c = document_int(j, "channels", at, 1, 4096);
      l->inverse = j.value("inverse", false);
      l->beta = file.floats(name + ".beta", {c});
      l->gamma = file.floats(name + ".gamma", {c, c});
    } else if (op == op::kRelu) {
      l->kind = Layer::kRelu;
    } else if (op == op::kLeakyRelu) {
      l->kind = Layer::kLeakyRelu;
      l->slope = j.value("slope", 0.01f);
    } else {
      throw Error(at + ": op '" + op +
                  "' has no backward pass (refinement supports conv2d, conv_transpose2d, "
                  "gdn, relu, leaky_relu)");
    }
    net.layers_.push_back(std::move(l));
  }
  return net;
}

Tensor GradNetwork::forward(const Tensor& x0) {
  Tensor x = x0;
  for (auto& lp : layers_) {
    Layer& l = *lp;
    switch (l.kind) {
      case Layer::kConv:
        l.in_h = x.h, l.in_w = x.w;  // the backward pass needs only the input's size
        x = conv2d(x, l.fwd);
        break;
      case Layer::kConvTranspose:
        x = conv_transpose2d(x, l.fwd);
        break;
      case Layer::kGdn: {
        require(x.c == int(l.beta.size()), "gdn: channel count mismatch");
        Tensor y;
        gdn_forward_keep(x, l.beta, l.gamma, l.inverse, y, l.norm);
        l.input = std::move(x);
        x = std::move(y);
        break;
      }
      case Layer::kRelu:
      case Layer::kLeakyRelu: {
        l.input = x;
        const float s = l.kind == Layer::kRelu ? 0.0f : l.slope;
        for (float& v : x.data) v = v > 0 ? v : v * s;
        break;
      }
    }
  }
  return x;
}

Tensor GradNetwork::backward(const Tensor& grad_output) {
  Tensor g = grad_output;
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& l = *layers_[i];
    switch (l.kind) {
      case Layer::kConvTranspose:
        g = conv2d(g, l.bwd[0]);
        break;
      case Layer::kConv: {
        // Output size of the adjoint (transposed) conv must be the forward input's: pick output_padding.
        const ConvShape& s = l.shape;
        const int op = l.in_h - ((g.h - 1) * s.stride - 2 * s.padding + s.kernel);
        const int opw = l.in_w - ((g.w - 1) * s.stride - 2 * s.padding + s.kernel);
        require(op >= 0 && op < s.stride && op == opw, "conv backward: input size not reachable");
        if (!l.bwd_ready[size_t(op)]) {
          l.bwd[size_t(op)] = prepare_conv_transpose2d(
              l.weight.data(), nullptr, ConvShape{s.out, s.in, s.kernel, s.stride, s.padding, op});
          l.bwd_ready[size_t(op)] = true;
        }
        g = conv_transpose2d(g, l.bwd[size_t(op)]);
        break;
      }
      case Layer::kGdn:
        g = gdn_backward(l.input, l.norm, l.gamma, l.inverse, g);
        break;
      case Layer::kRelu:
      case Layer::kLeakyRelu: {
        const float s = l.kind == Layer::kRelu ? 0.0f : l.slope;
        for (size_t k = 0; k < g.size(); ++k)
          if (!(l.input.data[k] > 0)) g.data[k] *= s;
        break;
      }
    }
  }
  return g;
}

}  // namespace aec
