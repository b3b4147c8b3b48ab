#include "aecodec/network.h"

#include <algorithm>
#include <cmath>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/layers.h"
#include "aecodec/ops.h"
#include "aecodec/pool.h"

namespace aec {

using nlohmann::json;

// What flows between the layers of Network::forward: the network's input (not copied: read in place by a
// first layer that can), a tensor, or the source planes of the regular conv that comes next (layers.h: a conv
// feeding a conv writes its output straight into them).
struct Flow {
  const Tensor* input = nullptr;  // the network's input, until a layer has run
  Tensor t;
  ConvSource src;
  bool planes = false;  // the value is src

  const Tensor& tensor() const { return input ? *input : t; }
  void shape(int& c, int& h, int& w) const {
    if (planes)
      c = src.c, h = src.h, w = src.w;
    else
      c = tensor().c, h = tensor().h, w = tensor().w;
  }
  Tensor take() {  // the value as a tensor the layer may keep or change
    if (input) {
      t = *input;
      input = nullptr;
    }
    return std::move(t);
  }
  void done_with_input() {  // the value was read and is replaced: its storage goes back to the pool
    if (input)
      input = nullptr;
    else if (planes)
      pool_give(std::move(src.data));
    else
      pool_give(std::move(t.data));
    planes = false;
  }
};

// One op of a network. The arithmetic lives in layers.cpp; a Layer holds its weights and knows its shapes.
class Layer {
 public:
  virtual ~Layer() = default;
  virtual Tensor forward(Tensor x) const = 0;
  // Runs the layer on f's value. The default takes it as a tensor (a conv's source planes never reach a layer
  // that is not the conv they were made for).
  virtual void run(Flow& f) const { f.t = forward(f.take()); }
  virtual void output_shape(int& c, int& h, int& w) const = 0;
  virtual double macs(int /*c*/, int /*h*/, int /*w*/) const { return 0; }
  // Takes over the next layer's work where the two run faster fused; that layer then passes its input on.
  virtual bool absorb(Layer& /*next*/) { return false; }
  // Tiling (Network::input_range): maps output positions [lo, hi] of one axis to the input positions they
  // read; false for a layer that mixes positions. Pointwise layers keep the range.
  virtual bool input_range(int64_t& /*lo*/, int64_t& /*hi*/) const { return false; }
  virtual void strides(int& /*down*/, int& /*up*/) const {}
};

namespace {

std::string get_name(const json& j, const std::string& where) {
  require(j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty(),
          where + ": layer has no name");
  return j["name"].get<std::string>();
}

int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

void expect_channels(int c, int expected, const std::string& what) {
  require(c == expected,
          what + " expects " + std::to_string(expected) + " input channels, gets " + std::to_string(c));
}

class Conv : public Layer {
 public:
  Conv(const json& j, const ModelFile& f, const std::string& where, bool transposed)
      : transposed_(transposed) {
    name_ = get_name(j, where);
    s_.in = document_int(j, "in", where, 1, 4096);
    s_.out = document_int(j, "out", where, 1, 4096);
    s_.kernel = document_int(j, "kernel", where, 1, 15);
    s_.stride = document_int(j, "stride", where, 1, 8);
    s_.padding = document_int(j, "padding", where, 0, 15);
    s_.output_padding = transposed ? document_int(j, "output_padding", where, 0, s_.stride - 1) : 0;
    const int64_t k = s_.kernel;
    w_ = f.floats(name_ + ".weight", transposed ? std::vector<int64_t>{s_.in, s_.out, k, k}
                                                : std::vector<int64_t>{s_.out, s_.in, k, k});
    b_ = f.floats(name_ + ".bias", {s_.out});
    // Weights are constant: pack them for the GEMM kernel once, here, instead of on every forward.
    prepared_ = transposed ? prepare_conv_transpose2d(w_.data(), b_.data(), s_)
                           : prepare_conv2d(w_.data(), b_.data(), s_);
  }
  Tensor forward(Tensor x) const override {
    Tensor y = transposed_ ? conv_transpose2d(x, prepared_, post_) : conv2d(x, prepared_, post_);
    pool_give(std::move(x.data));  // the input's storage serves a later layer (pool.h)
    return y;
  }
  void run(Flow& f) const override {
    if (transposed_) {
      Tensor y = conv_transpose2d(f.tensor(), prepared_, post_);
      f.done_with_input();
      f.t = std::move(y);
      return;
    }
    ConvSource own;
    if (!f.planes) own = conv_source(f.tensor(), prepared_);
    const ConvSource& x = f.planes ? f.src : own;
    if (feeds_) {
      ConvSource y = conv2d_to_source(x, prepared_, post_, *feeds_);
      f.done_with_input();
      f.src = std::move(y);
      f.planes = true;
    } else {
      Tensor y = conv2d(x, prepared_, post_);
      f.done_with_input();
      f.t = std::move(y);
    }
    pool_give(std::move(own.data));
  }
  bool absorb(Layer& next) override;
  bool input_range(int64_t& lo, int64_t& hi) const override {
    const int64_t st = s_.stride, k = s_.kernel, p = s_.padding;
    if (transposed_) {  // output o = i * st - p + t, 0 <= t < k
      lo = floor_div(lo + p - k + st, st), hi = floor_div(hi + p, st);  // ceil, floor
    } else {                                                            // output o reads i = o * st - p + t
      lo = lo * st - p, hi = hi * st - p + k - 1;
    }
    return true;
  }
  void strides(int& down, int& up) const override { (transposed_ ? up : down) *= s_.stride; }
  // A regular conv whose output goes to `next` alone (the layers between them run fused, or pass it on)
  // writes it as next's source planes.
  bool feed(const Layer& next) {
    auto* c = dynamic_cast<const Conv*>(&next);
    if (transposed_ || !c || c->transposed_ || c->s_.in != s_.out) return false;
    feeds_ = &c->prepared_;
    return true;
  }
  void output_shape(int& c, int& h, int& w) const override {
    expect_channels(c, s_.in, "layer '" + name_ + "'");
    c = s_.out;
    if (transposed_) {
      h = (h - 1) * s_.stride - 2 * s_.padding + s_.kernel + s_.output_padding;
      w = (w - 1) * s_.stride - 2 * s_.padding + s_.kernel + s_.output_padding;
    } else {
      h = (h + 2 * s_.padding - s_.kernel) / s_.stride + 1;
      w = (w + 2 * s_.padding - s_.kernel) / s_.stride + 1;
    }
    require(h > 0 && w > 0, "layer '" + name_ + "': input too small");
  }
  double macs(int c, int h, int w) const override {
    int oc = c, oh = h, ow = w;
    output_shape(oc, oh, ow);
    const double taps = double(s_.in) * s_.out * s_.kernel * s_.kernel;
    return transposed_ ? taps * h * w : taps * oh * ow;
  }

 private:
  std::string name_;
  ConvShape s_;
  std::vector<float> w_, b_;
  bool transposed_;
  PreparedConv prepared_;
  const PreparedGdn* post_ = nullptr;    // a following GDN, run on the output tiles (absorb)
  const PreparedConv* feeds_ = nullptr;  // the regular conv whose source planes this one writes (feed)
};

class Gdn : public Layer {
 public:
  Gdn(const json& j, const ModelFile& f, const std::string& where) {
    name_ = get_name(j, where);
    c_ = document_int(j, "channels", where, 1, 4096);
    require(!j.contains("inverse") || j["inverse"].is_boolean(), where + ": 'inverse' must be true or false");
    inverse_ = j.value("inverse", false);
    beta_ = f.floats(name_ + ".beta", {c_});
    gamma_ = f.floats(name_ + ".gamma", {c_, c_});
    for (float b : beta_)  // (messages built only on failure)
      if (!(b > 0)) throw Error("layer '" + name_ + "': beta must be positive");
    for (float g : gamma_)
      if (!(g >= 0)) throw Error("layer '" + name_ + "': gamma must be non-negative");
    prepared_ = prepare_gdn(c_, beta_.data(), gamma_.data(), inverse_);  // packed once, as Conv's
  }
  Tensor forward(Tensor x) const override {
    if (!fused_) gdn(x, prepared_);
    return x;
  }
  void run(Flow& f) const override {
    if (!fused_) f.t = forward(f.take());  // fused: the conv before ran it, f passes on as it is
  }
  bool fused() const { return fused_; }
  int channels() const { return c_; }
  const PreparedGdn& run_by_previous() {
    fused_ = true;
    return prepared_;
  }
  void output_shape(int& c, int&, int&) const override { expect_channels(c, c_, "layer '" + name_ + "'"); }
  bool input_range(int64_t&, int64_t&) const override { return true; }
  double macs(int c, int h, int w) const override { return double(c) * c * h * w; }

 private:
  std::string name_;
  int c_;
  bool inverse_;
  std::vector<float> beta_, gamma_;
  PreparedGdn prepared_;
  bool fused_ = false;  // the conv before runs it
};

// A GDN after a conv runs on the conv's output tiles while they are in cache: one pass over the tensor
// instead of three (write, read + write back).
bool Conv::absorb(Layer& next) {
  auto* g = dynamic_cast<Gdn*>(&next);
  if (!g || g->channels() != s_.out) return false;
  post_ = &g->run_by_previous();
  return true;
}

class Linear : public Layer {
 public:
  Linear(const json& j, const ModelFile& f, const std::string& where) {
    name_ = get_name(j, where);
    in_ = document_int(j, "in", where, 1, 1 << 24);
    out_ = document_int(j, "out", where, 1, 1 << 20);
    require(int64_t(in_) * out_ <= (int64_t(1) << 28), where + ": linear layer too large");
    w_ = f.floats(name_ + ".weight", {out_, in_});
    b_ = f.floats(name_ + ".bias", {out_});
  }
  Tensor forward(Tensor x) const override { return linear(x, w_.data(), b_.data(), out_); }
  void output_shape(int& c, int& h, int& w) const override {
    require(int64_t(c) * h * w == in_, "layer '" + name_ + "' expects " + std::to_string(in_) +
                                           " inputs, gets " + std::to_string(int64_t(c) * h * w));
    c = out_, h = 1, w = 1;
  }
  double macs(int, int, int) const override { return double(in_) * out_; }

 private:
  std::string name_;
  int in_, out_;
  std::vector<float> w_, b_;
};

class Reshape : public Layer {
 public:
  Reshape(const json& j, const std::string& where) {
    require(j.contains("shape") && j["shape"].is_array() && j["shape"].size() == 3,
            where + ": reshape needs [C,H,W]");
    for (int i = 0; i < 3; ++i) {
      require(j["shape"][i].is_number_integer() && j["shape"][i].get<int64_t>() > 0 &&
                  j["shape"][i].get<int64_t>() <= 65536,
              where + ": bad reshape dimension");
      dims_[i] = j["shape"][i].get<int>();
    }
  }
  Tensor forward(Tensor x) const override {
    x.c = dims_[0], x.h = dims_[1], x.w = dims_[2];
    return x;
  }
  void output_shape(int& c, int& h, int& w) const override {
    require(int64_t(c) * h * w == int64_t(dims_[0]) * dims_[1] * dims_[2], "reshape: element count differs");
    c = dims_[0], h = dims_[1], w = dims_[2];
  }

 private:
  int dims_[3];
};

class SliceChannels : public Layer {
 public:
  SliceChannels(const json& j, const std::string& where) {
    begin_ = document_int(j, "begin", where, 0, 4096);
    end_ = document_int(j, "end", where, begin_ + 1, 4096);
  }
  Tensor forward(Tensor x) const override {
    Tensor y(end_ - begin_, x.h, x.w);
    std::copy(x.channel(begin_), x.channel(begin_) + y.size(), y.data.begin());
    return y;
  }
  void output_shape(int& c, int&, int&) const override {
    require(end_ <= c, "slice_channels: input has only " + std::to_string(c) + " channels");
    c = end_ - begin_;
  }
  bool input_range(int64_t&, int64_t&) const override { return true; }

 private:
  int begin_, end_;
};

class Elementwise : public Layer {
 public:
  Elementwise(std::string op, float slope) : op_(std::move(op)), slope_(slope) {}
  Tensor forward(Tensor x) const override {
    if (op_ == op::kRelu)
      relu(x);
    else if (op_ == op::kLeakyRelu)
      leaky_relu(x, slope_);
    else if (op_ == op::kSigmoid)
      sigmoid(x);
    else
      tanh_inplace(x);
    return x;
  }
  void output_shape(int&, int&, int&) const override {}
  bool input_range(int64_t&, int64_t&) const override { return true; }

 private:
  std::string op_;
  float slope_;
};

std::unique_ptr<Layer> make_layer(const json& j, const ModelFile& f, const std::string& where) {
  require(j.is_object() && j.contains("op") && j["op"].is_string(), where + ": layer without \"op\"");
  const std::string op = j["op"].get<std::string>();
  if (op == op::kConv2d) return std::make_unique<Conv>(j, f, where, false);
  if (op == op::kConvTranspose2d) return std::make_unique<Conv>(j, f, where, true);
  if (op == op::kGdn) return std::make_unique<Gdn>(j, f, where);
  if (op == op::kLinear) return std::make_unique<Linear>(j, f, where);
  if (op == op::kReshape) return std::make_unique<Reshape>(j, where);
  if (op == op::kSliceChannels) return std::make_unique<SliceChannels>(j, where);
  if (op == op::kRelu || op == op::kSigmoid || op == op::kTanh)
    return std::make_unique<Elementwise>(op, 0.0f);
  if (op == op::kLeakyRelu) {
    const float slope = j.contains("slope") && j["slope"].is_number() ? j["slope"].get<float>() : 0.01f;
    require(std::isfinite(slope), where + ": bad leaky_relu slope");
    return std::make_unique<Elementwise>(op, slope);
  }
  throw Error(where + ": unknown op '" + op + "'");
}

}  // namespace

Network::Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

Network Network::build(const json& layers, const ModelFile& file, const std::string& where) {
  require(layers.is_array() && !layers.empty(),
          "model document: '" + where + "' must be a non-empty list of layers");
  require(layers.size() <= 256, "model document: '" + where + "' has too many layers");
  Network net;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto layer = make_layer(layers[i], file, where + " layer " + std::to_string(i));
    if (!net.layers_.empty()) net.layers_.back()->absorb(*layer);
    net.layers_.push_back(std::move(layer));
  }
  // A regular conv followed (past the GDN it runs itself) by another writes that one's source planes.
  for (size_t i = 0; i < net.layers_.size(); ++i) {
    auto* conv = dynamic_cast<Conv*>(net.layers_[i].get());
    if (!conv) continue;
    size_t j = i + 1;
    while (j < net.layers_.size()) {
      auto* g = dynamic_cast<const Gdn*>(net.layers_[j].get());
      if (!g || !g->fused()) break;
      ++j;
    }
    if (j < net.layers_.size()) conv->feed(*net.layers_[j]);
  }
  return net;
}

Tensor Network::forward(const Tensor& x) const {
  Flow f;
  f.input = &x;
  for (const auto& l : layers_) {
    int c, h, w;
    f.shape(c, h, w);
    l->output_shape(c, h, w);  // checks the input shape, so a forged stream cannot feed a wrong shape
    l->run(f);
  }
  return f.take();  // the last layer is no conv feeding another: a tensor
}

void Network::output_shape(int& c, int& h, int& w) const {
  for (const auto& l : layers_) l->output_shape(c, h, w);
}

bool Network::input_range(int64_t& lo, int64_t& hi) const {
  for (auto l = layers_.rbegin(); l != layers_.rend(); ++l)
    if (!(*l)->input_range(lo, hi)) return false;
  return true;
}

bool Network::strides(int& down, int& up) const {
  down = up = 1;
  int64_t lo = 0, hi = 0;
  if (!input_range(lo, hi)) return false;
  for (const auto& l : layers_) l->strides(down, up);
  return true;
}

double Network::macs(int c, int h, int w) const {
  double total = 0;
  for (const auto& l : layers_) {
    total += l->macs(c, h, w);
    l->output_shape(c, h, w);
  }
  return total;
}

double Network::peak_floats(int c, int h, int w) const {
  double peak = double(c) * h * w;
  for (const auto& l : layers_) {
    l->output_shape(c, h, w);
    peak = std::max(peak, double(c) * h * w);
  }
  return peak;
}

}  // namespace aec
