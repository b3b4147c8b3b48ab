#include "conv_transpose.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <optional>

namespace aect {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Below this many output channels oneDNN's backward-data kernel loses to the fallback (measured: 128 -> 3
// channels, 64x64 -> 128x128, batch 8: 24 ms against 15), so the forward stays the fallback's.
constexpr int64_t kMinOutChannels = 16;

// "No bias sizes": c10's own nullopt type in LibTorch 1.13; std::nullopt once c10::optional became
// std::optional (2.2 on, where c10::nullopt is deprecated and slated for removal).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
constexpr auto kNoBiasSizes = std::nullopt;
#else
constexpr auto kNoBiasSizes = c10::nullopt;
#endif

struct ConvTransposeFn : torch::autograd::Function<ConvTransposeFn> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor w, torch::Tensor b,
                               int64_t stride, int64_t padding, int64_t output_padding) {
    // The inner ops run as called: autocast would otherwise cast the fallback's forward to its own liking.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    // Mixed inputs (bf16 activations under autocast, float32 weights) compute in float32: what 1.13's
    // autocast does for conv_transpose2d on the CPU.
    const auto type = at::promote_types(x.scalar_type(), w.scalar_type());
    const torch::Tensor xc = x.to(type), wc = w.to(type);
    const torch::Tensor bc = b.defined() ? b.to(type) : b;
    ctx->save_for_backward({xc, wc});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["bias"] = b.defined();
    ctx->saved_data["x_type"] = int64_t(x.scalar_type());  // the gradients go back in the inputs' types
    ctx->saved_data["w_type"] = int64_t(w.scalar_type());
    ctx->saved_data["b_type"] = int64_t(b.defined() ? b.scalar_type() : type);
    const int64_t out_channels = w.size(1), k = w.size(2);
    if (out_channels < kMinOutChannels)
      return at::slow_conv_transpose2d(xc, wc, {k, k}, bc, {stride, stride}, {padding, padding},
                                       {output_padding, output_padding}, {1, 1});
    const int64_t h = (x.size(2) - 1) * stride - 2 * padding + k + output_padding;
    const int64_t wd = (x.size(3) - 1) * stride - 2 * padding + k + output_padding;
    // The convolution's input: only its shape and layout are read.
    const torch::Tensor shape =
        at::empty({x.size(0), out_channels, h, wd}, xc.options().memory_format(xc.suggest_memory_format()));
    torch::Tensor y = std::get<0>(at::convolution_backward(xc, shape, wc, kNoBiasSizes, {stride, stride},
                                                           {padding, padding}, {1, 1}, false, {0, 0}, 1,
                                                           {true, false, false}));
    if (bc.defined()) y.add_(bc.view({1, -1, 1, 1}));
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[1];
    const int64_t s = ctx->saved_data["stride"].toInt(), p = ctx->saved_data["padding"].toInt();
    const torch::Tensor gy = grad[0].to(x.scalar_type());
    torch::Tensor gx, gw, gb;
    auto type_of = [&](const char* key) { return c10::ScalarType(ctx->saved_data[key].toInt()); };
    if (ctx->needs_input_grad(0))
      gx = at::convolution(gy, w, {}, {s, s}, {p, p}, {1, 1}, false, {0, 0}, 1).to(type_of("x_type"));
    if (ctx->needs_input_grad(1))
      gw = std::get<1>(at::convolution_backward(x, gy, w, kNoBiasSizes, {s, s}, {p, p}, {1, 1}, false, {0, 0},
                                                1, {false, true, false}))
               .to(type_of("w_type"));
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2))
      gb = gy.sum({0, 2, 3}).to(type_of("b_type"));
    return {gx, gw, gb, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor conv_transpose2d_fast(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                                    int64_t stride, int64_t padding, int64_t output_padding) {
  if (!x.device().is_cpu()) return torch::conv_transpose2d(x, w, b, stride, padding, output_padding);
  return ConvTransposeFn::apply(x, w, b, stride, padding, output_padding);
}

}  // namespace aect
