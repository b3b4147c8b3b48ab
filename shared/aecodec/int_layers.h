// Integer convolutions: the layers of a hyperprior model's hyper-synthesis (Balle et al. 2019, "Integer
// networks for data compression"). Everything that selects an entropy table must decode to the same bits on
// every platform, build, thread count and GEMM kernel (docs/bitstream.md, determinism contract), and float
// arithmetic cannot promise that. So these layers hold integer weights and compute with integers only: int32
// activations and weights, int64 accumulation, a rounding right shift per output channel, ReLU, saturation.
// int_conv runs them on 16-bit SIMD multiplies (int_gemm.h) with every input split exactly into 16-bit pieces
// and every int32 partial sum bounded before it is widened, so it returns the same integers as the scalar
// reference (int_conv_reference) under every kernel and thread count; layers or inputs outside those bounds
// take the reference.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "aecodec/layers.h"

namespace aec {

// One image-shaped int32 tensor, channel-major (C, H, W), like Tensor.
struct IntTensor {
  int c = 0, h = 0, w = 0;
  std::vector<int32_t> data;

  IntTensor() = default;
  IntTensor(int channels, int height, int width)
      : c(channels), h(height), w(width), data(size_t(channels) * height * width, 0) {}
  size_t size() const { return data.size(); }
  size_t plane() const { return size_t(h) * w; }
  int32_t* channel(int k) { return data.data() + size_t(k) * plane(); }
  const int32_t* channel(int k) const { return data.data() + size_t(k) * plane(); }
};

// Limits that keep every accumulation inside int64: |acc| <= fan_in * max|w| * max|x| + |bias|
// <= 2^15 * 2^16 * 2^31 + 2^31 < 2^63, and adding the rounding term 2^(shift-1) <= 2^61 stays below 2^63.
constexpr int32_t kMaxIntWeight = 1 << 16;  // |weight| <= this
constexpr int kMaxIntFanIn = 1 << 15;       // in * kernel * kernel <= this
constexpr int kMaxIntShift = 62;

// out[o] = saturate(relu?(round(acc[o] / 2^shift[o]))), acc[o] = bias[o] + sum of weight * input (int64);
// round = half up (floor((acc + 2^(shift-1)) / 2^shift)); saturate = clamp to [-(2^31 - 1), 2^31 - 1].
// Weight layouts are PyTorch's ([out,in,k,k]; transposed: [in,out,k,k]), as the float layers'.
struct IntConvPanel;  // int_layers.cpp: the weights packed for a SIMD kernel

struct IntConv {
  ConvShape shape;
  bool transposed = false;
  bool relu = false;
  std::vector<int32_t> weight;
  std::vector<int32_t> bias;   // accumulator units (input scale x weight scale)
  std::vector<int32_t> shift;  // per output channel, in [0, kMaxIntShift]
  // The weights packed for the SIMD kernel in use, built on a layer's first call and kept (a network runs
  // its layers once per image, and packing them took a third of the integer nets' time, all on one thread);
  // shared by copies, and rebuilt when the kernel or the weights change.
  mutable std::shared_ptr<IntConvPanel> panel;
  // Checks sizes and the limits above; throws aec::Error naming `name`.
  void validate(const std::string& name) const;
};

IntTensor int_conv(const IntTensor& x, const IntConv& layer);
// The plain int64 loops: the reference the SIMD path is tested against, and its fallback.
IntTensor int_conv_reference(const IntTensor& x, const IntConv& layer);

// Which kernel int_conv uses. kAuto = the best this CPU runs (AVX-512 VNNI > AVX2 > 128-bit vectors: SSE2 /
// wasm simd128); kScalar = the reference loops; forcing one the CPU or build lacks falls back to kAuto. The
// choice changes speed only, never a result.
enum class IntKernel { kAuto, kScalar, kVec128, kAvx2, kAvx512Vnni };
void set_int_kernel(IntKernel kernel);
const char* int_kernel_name();  // "avx512vnni", "avx2", "vec128" or "scalar"
// How many 16-bit pieces int_conv splits this input into for this layer under the current kernel (1..4), or
// 0 when the layer runs the reference loops (scalar kernel, a weight outside int16, or no piece split whose
// sums provably stay exact).
int int_conv_pieces(const IntTensor& x, const IntConv& layer);

// floor((v + 2^(s-1)) / 2^s) for s in [0, 62]: the half-up rounding. Branch-free with only unsigned shifts
// (well defined in C++17): adding 2^63 maps int64 onto uint64 in order, so the unsigned shift floors, and
// since 2^63 is a multiple of 2^s the offset comes back out exactly. (A branch on v's sign was a
// misprediction for every other output of a layer.)
inline int64_t rounding_shift(int64_t v, int s) {
  if (s == 0) return v;
  const uint64_t u = (uint64_t(v) + (uint64_t(1) << (s - 1))) ^ (uint64_t(1) << 63);
  return int64_t(u >> s) - (int64_t(1) << (63 - s));
}

// Export-time quantisation of a float conv (the trainer and the test models use it; the core never
// calls it at decode time). The input is fixed point with in_bits fraction bits (real = int / 2^in_bits), the
// output with out_bits. Per output channel o the weights get a power-of-two scale 2^f_o, the largest that
// keeps max|w_o| * 2^f_o <= 2^weight_bits - 1 and |bias_o| * 2^(in_bits + f_o) <= 2^30; then
// shift_o = in_bits + f_o - out_bits. Throws aec::Error when a layer cannot be represented.
IntConv quantize_conv(const float* weight, const float* bias, const ConvShape& s, bool transposed, bool relu,
                      int in_bits, int out_bits, int weight_bits = 15);

}  // namespace aec
