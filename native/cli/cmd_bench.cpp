// bench: how fast the core runs one model at one image size -- encoder and decoder network time, whole-file
// encode and decode (entropy coding and container included), megapixels/s, GFLOP/s against the model's FLOP
// count, peak memory and threads -- and where the whole encode and decode spend their time, stage by stage.
// Codes a photo (--image) or synthetic noise. Prints figures; it asserts nothing (speed targets are read, not
// tested).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "aecodec/backprop.h"
#include "aecodec/channel_context.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/gaussian.h"
#include "aecodec/hyperprior.h"
#include "aecodec/int_layers.h"
#include "aecodec/latent_codec.h"
#include "aecodec/parallel.h"
#include "aecodec/refine.h"
#include "aecodec/substreams.h"
#include "commands.h"
#include "model_registry.h"

namespace aec::cli {

namespace {

struct BenchOptions {
  std::string model = "default", size = "768x512", image, json, int_kernel = "auto";
  int repeat = 3;
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t.empty() ? 0.0 : t[t.size() / 2];
}

// One run of fn, in ms.
double time_ms(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return ms_since(t0);
}

double median_ms(int repeat, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) t.push_back(time_ms(fn));
  return median(t);
}

// Stage times of repeated runs, in the order the stages first ran; medians per stage. Stages marked as
// networks are what "all nets" sums (every network, the hyper and context ones too).
class Stages {
 public:
  template <class F>
  auto time(const std::string& name, F&& fn, bool network = false) {
    const auto t0 = Clock::now();
    if constexpr (std::is_void_v<decltype(fn())>) {
      fn();
      add(name, ms_since(t0), network);
    } else {
      auto r = fn();
      add(name, ms_since(t0), network);
      return r;
    }
  }
  void add(const std::string& name, double ms, bool network = false) {
    if (!ms_.count(name)) order_.push_back(name);
    ms_[name].push_back(ms);
    if (network) networks_.insert(name);
  }
  bool network(const std::string& name) const { return networks_.count(name) > 0; }
  std::vector<std::string> networks() const { return {networks_.begin(), networks_.end()}; }
  std::vector<std::pair<std::string, double>> medians() const {
    std::vector<std::pair<std::string, double>> r;
    for (const std::string& n : order_) r.emplace_back(n, median(ms_.at(n)));
    return r;
  }
  double networks_ms() const {
    double sum = 0;
    for (const auto& [n, ms] : medians())
      if (network(n)) sum += ms;
    return sum;
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> ms_;
  std::set<std::string> networks_;
};

// The encode and decode pipelines of encode_image / decode_image (codec.cpp), one stage at a time, so that
// each stage can be timed on its own: the same public calls in the same order. The whole-file figures come
// from encode_image / decode_image themselves; a gap between them and these stages' sum shows what the
// breakdown misses. A channel context model (channel_context.h) runs its own stages slice by slice; they are
// summed over the slices.
void run_stages(const Model& model, const Image& im, const std::vector<uint8_t>& file, Stages& enc,
                Stages& dec) {
  const ModelInfo& info = model.info();
  const int s = info.stride;
  const int pw = info.fixed_width ? im.width : (im.width + s - 1) / s * s,
            ph = info.fixed_width ? im.height : (im.height + s - 1) / s * s;
  const Hyperprior* hp = model.hyperprior();
  const auto* channel = dynamic_cast<const ChannelCodec*>(&model.latent_codec());
  const std::string h_s = std::string("h_s (integer, ") + int_kernel_name() + ")";

  // ---- encode
  const Tensor x = enc.time("image -> tensor", [&] {
    return image_to_tensor(pw == im.width && ph == im.height ? im : pad_edge(im, pw, ph));
  });
  const Tensor y = enc.time(
      "g_a (analysis network)", [&] { return model.analysis(x); }, true);
  const size_t plane = y.plane();
  std::vector<int32_t> idx(y.size()), mean, q(y.size()), qz, zidx;
  std::vector<uint8_t> zbytes;
  Bitstream ybands;  // y's payload in its bands (and their substreams section), as the codec writes it
  const CdfTables* tables = &model.tables();
  int zh = 0, zw = 0;
  if (hp) {
    qz = enc.time(
        "h_a + z quantise",
        [&] {
          const Tensor z = hp->analysis(y);
          zh = z.h, zw = z.w;
          return hp->quantize_z(z);
        },
        true);
    zidx.resize(qz.size());
    for (size_t i = 0; i < qz.size(); ++i) zidx[i] = int32_t(i / (size_t(zh) * zw));
    zbytes =
        enc.time("z rANS", [&] { return entropy_encode(qz.data(), zidx.data(), qz.size(), hp->z_tables()); });
    tables = &hp->y_tables();
  }
  // h_s and the table choice, then quantisation around the means (hyperprior) or per channel (factorized).
  auto conditional = [&](Stages& st) {
    const IntTensor p = st.time(
        h_s, [&] { return hp->synthesis(qz, zh, zw); }, true);
    st.time("scale index + mean", [&] {
      mean.resize(y.size());
      parallel_for(y.c, [&](int c0, int c1) {  // as Hyperprior::conditional
        for (int c = c0; c < c1; ++c)
          for (int r = 0; r < y.h; ++r)
            for (int col = 0; col < y.w; ++col) {
              const size_t o = size_t(c) * plane + size_t(r) * y.w + col;
              idx[o] = hp->table_of(p.channel(c)[size_t(r) * p.w + col]);
              mean[o] = p.channel(y.c + c)[size_t(r) * p.w + col];
            }
      });
    });
  };
  const auto quantise = &HyperpriorCodec::round_symbol;  // the codec's quantiser
  // The context model's run (tables, means, the coder's slices, LRP: the decoder's, not the encoder's, as
  // `aecodec encode` has no use for the decoded latent), its own stages added to st; `coder` names what the
  // slice coder does.
  // latent = false: the encoder's run, no decoded latent. A decoder trained on the coded latent (decoder_lrp
  // false) skips LRP too.
  const auto context = [&](Stages& st, const char* coder, const ChannelContext::SliceCoder& code,
                           bool latent) {
    ChannelContext::Timing t;
    const Hyperprior::Conditional cond{idx, mean};  // a copy, as the codec's (not timed)
    const bool lrp = latent && channel->lrp();
    const Tensor latent_out = channel->context().run(cond, y.h, y.w, code, 0, &t, latent, channel->lrp());
    st.add("context embed (integer net)", t.embed_ms, true);
    st.add("slice param nets (integer)", t.param_ms, true);
    st.add("table pick + mean", t.pick_ms);
    st.add(coder, t.code_ms);
    st.add("decoded slices -> features", t.feed_ms);
    if (lrp)
      st.add(channel->context().integer_lrp() ? "LRP nets (integer)" : "LRP nets (float)", t.lrp_ms, true);
    if (t.side_by_side_ms > 0) st.add("LRP k beside param nets k+1", t.side_by_side_ms, true);
    st.add("context band copies", t.copy_ms);
    return latent_out;
  };
  if (channel) {
    conditional(enc);
    std::vector<int32_t> index(y.size());
    context(
        enc, "y quantise (by slice)",
        [&](int c0, int c, const int32_t* table, const int32_t* m, int32_t* symbols) {
          const size_t base = size_t(c0) * plane;
          parallel_for(c, [&](int k0, int k1) {  // as ChannelCodec::encode
            for (size_t j = size_t(k0) * plane; j < size_t(k1) * plane; ++j) {
              symbols[j] = q[base + j] = quantise(y.data[base + j] - hp->mean_value(m[j]));
              index[base + j] = table[j];
            }
          });
        },
        false);
    enc.time("y rANS", [&] {
      encode_payload(q.data(), index.data(), y.c, y.h, y.w, *tables, ybands);
      return ybands.sections.size();
    });
  } else {
    if (hp) {
      conditional(enc);
      enc.time("y quantise", [&] {
        for (size_t i = 0; i < q.size(); ++i) q[i] = quantise(y.data[i] - hp->mean_value(mean[i]));
      });
    } else {
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = int32_t(i / plane);
      q = enc.time("y quantise", [&] { return model.quantize(y); });
    }
    enc.time("y rANS", [&] {
      encode_payload(q.data(), idx.data(), y.c, y.h, y.w, *tables, ybands);
      return ybands.sections.size();
    });
    enc.time("dequantise", [&] {
      Tensor latent(y.c, y.h, y.w);
      if (hp)
        for (size_t i = 0; i < q.size(); ++i) latent.data[i] = float(q[i]) + hp->mean_value(mean[i]);
      else
        latent = model.dequantize(q, y.c, y.h, y.w);
      return latent.data[0];
    });
  }
  LatentCode code =
      code_latent(model, y, nullptr, false);  // the container stage's input (not timed: its parts are above)
  enc.time("container", [&] {
    Bitstream b = code.stream;
    return write_stream(model, im.width, im.height, b);
  });

  // ---- decode (the z and y payloads from the stages above: the same bytes the file holds)
  const Bitstream stream =
      dec.time("container", [&] { return open_stream(model, file.data(), file.size(), false); });
  if (hp) {
    dec.time("z rANS", [&] {
      return entropy_decode(zbytes.data(), zbytes.size(), zidx.data(), zidx.size(), hp->z_tables());
    });
    conditional(dec);
  }
  Tensor latent;
  if (channel) {
    PayloadDecoder yd(ybands, y.c, y.h, y.w, *tables);
    latent = context(
        dec, "y rANS (by slice)",
        [&](int, int c, const int32_t* table, const int32_t*, int32_t* symbols) {
          yd.decode_channels(c, table, symbols);
        },
        true);
    yd.finish();
  } else {
    const std::vector<int32_t> dq =
        dec.time("y rANS", [&] { return decode_payload(ybands, y.c, y.h, y.w, idx.data(), *tables); });
    latent = dec.time("dequantise", [&] {
      if (!hp) return model.dequantize(dq, y.c, y.h, y.w);
      Tensor t(y.c, y.h, y.w);
      for (size_t i = 0; i < dq.size(); ++i) t.data[i] = float(dq[i]) + hp->mean_value(mean[i]);
      return t;
    });
  }
  const Tensor out = dec.time(
      "g_s (synthesis network)", [&] { return model.synthesis(latent); }, true);
  dec.time("tensor -> image", [&] {
    const Image full = tensor_to_image(out);
    return full.width == im.width && full.height == im.height ? full : crop(full, im.width, im.height);
  });
}

void print_stages(const char* title, const Stages& st, double whole_ms, nlohmann::json& j) {
  double sum = 0;
  for (const auto& [n, ms] : st.medians()) sum += ms;
  std::printf("  %s, stage by stage (sum %.1f ms, the whole %.1f ms; * a network):\n", title, sum, whole_ms);
  for (const auto& [n, ms] : st.medians()) {
    std::printf("   %c%-34s %8.2f ms  %5.1f %%\n", st.network(n) ? '*' : ' ', n.c_str(), ms,
                sum > 0 ? 100 * ms / sum : 0.0);
    j[n] = ms;
  }
}

IntKernel parse_int_kernel(const std::string& s) {
  if (s == "auto") return IntKernel::kAuto;
  if (s == "scalar") return IntKernel::kScalar;
  if (s == "vec128") return IntKernel::kVec128;
  if (s == "avx2") return IntKernel::kAvx2;
  if (s == "avx512vnni") return IntKernel::kAvx512Vnni;
  throw Error("--int-kernel must be auto, scalar, vec128, avx2 or avx512vnni");
}

void run_bench(const BenchOptions& o) {
  set_int_kernel(parse_int_kernel(o.int_kernel));
  const Model loaded = load_model(o.model);
  // A variable-rate model codes at a quality: encode_image and decode_image fold its gains into the
  // transforms for the first image at a quality and reuse that fold after it (Model::at_quality_cached), so
  // the whole runs' median leaves the fold out, as coding many images in one process does; it is timed as a
  // stage of its own, and the networks and stages run the folded model.
  std::optional<Model> at_quality;
  double fold_ms = 0;
  if (loaded.variable_rate())
    fold_ms = median_ms(o.repeat, [&] { at_quality = loaded.at_quality(loaded.info().default_quality); });
  const Model& model = at_quality ? *at_quality : loaded;
  int w = 0, h = 0;
  double png_read_ms = 0;
  Image im;
  if (!o.image.empty()) {
    png_read_ms = median_ms(o.repeat, [&] { im = load_image(o.image); });
    w = im.width, h = im.height;
  } else {
    require(std::sscanf(o.size.c_str(), "%dx%d", &w, &h) == 2 && w > 0 && h > 0 && w <= 8192 && h <= 8192,
            "--size must be WIDTHxHEIGHT");
    if (model.info().fixed_width) w = model.info().fixed_width, h = model.info().fixed_height;
    im = Image(w, h);
    for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = uint8_t((i * 2654435761u) >> 24);  // busy content
  }
  const int s = model.info().stride;
  const int pw = model.info().fixed_width ? w : (w + s - 1) / s * s,
            ph = model.info().fixed_width ? h : (h + s - 1) / s * s;
  const Tensor x = image_to_tensor(pad_edge(im, pw, ph));
  int c = 3, lh = ph, lw = pw;
  model.encoder().output_shape(c, lh, lw);
  const double enc_gflop = 2 * model.encoder().macs(3, ph, pw) / 1e9;
  const double dec_gflop = 2 * model.decoder().macs(c, lh, lw) / 1e9;

  Tensor y;
  const double enc_ms = median_ms(o.repeat, [&] { y = model.analysis(x); });
  const double dec_ms = median_ms(o.repeat, [&] { model.synthesis(y); });
  // Encoder refinement (--effort > 0) runs the decoder forward, keeping what its backward pass reads, then
  // backward to the decoder's input (backprop.h): the same multiply-adds each way (a conv's input gradient is
  // a transposed conv with its weights, and the reverse), so their GFLOP/s compare the kernels.
  double refine_fwd_ms = 0, refine_bwd_ms = 0;
  if (refine_refusal(model).empty()) {
    GradNetwork g = GradNetwork::build(model.file().meta["decoder"], model.file(), "decoder");
    Tensor out;
    refine_fwd_ms = median_ms(o.repeat, [&] { out = g.forward(y); });
    Tensor grad(out.c, out.h, out.w);
    for (size_t i = 0; i < grad.data.size(); ++i) grad.data[i] = out.data[i] - 0.5f;
    refine_bwd_ms = median_ms(o.repeat, [&] { g.backward(grad); });
  }
  EncodeResult e;
  EncodeOptions eo;
  // As `aecodec encode`, which writes the file: no use for the decoded latent or the rates per channel.
  eo.latent = false, eo.rates = false;
  DecodeResult d;
  // The whole encode and decode, each run paired with a run of its network (in alternating order), so
  // that each ratio compares two runs a moment apart: a machine whose speed drifts over the bench (another
  // tenant, a clock) moves both alike. The ratios printed are the pairs' medians.
  const auto paired = [&](const std::function<void()>& whole, const std::function<void()>& net,
                          double& whole_ms, double& ratio) {
    std::vector<double> wt, r;
    for (int i = 0; i < o.repeat; ++i) {
      double tw, tn;
      if (i % 2 == 0) {
        tn = time_ms(net);
        tw = time_ms(whole);
      } else {
        tw = time_ms(whole);
        tn = time_ms(net);
      }
      wt.push_back(tw), r.push_back(tw / tn);
    }
    whole_ms = median(wt), ratio = median(r);
  };
  double file_enc_ms = 0, file_dec_ms = 0, enc_ratio = 0, dec_ratio = 0;
  paired([&] { e = encode_image(loaded, im, eo); }, [&] { y = model.analysis(x); }, file_enc_ms, enc_ratio);
  paired([&] { d = decode_image(loaded, e.bytes.data(), e.bytes.size()); }, [&] { model.synthesis(y); },
         file_dec_ms, dec_ratio);
  Stages enc_stages, dec_stages;
  if (at_quality) {
    enc_stages.add("gains folded in (once a quality)", fold_ms);
    dec_stages.add("gains folded in (once a quality)", fold_ms);
  }
  for (int i = 0; i < o.repeat; ++i) run_stages(model, im, e.bytes, enc_stages, dec_stages);
  const double enc_nets_ms = enc_stages.networks_ms(), dec_nets_ms = dec_stages.networks_ms();
  const double png_write_ms = median_ms(o.repeat, [&] { encode_png(d.image); });
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double mpx = double(w) * h / 1e6;
  const std::string quality =
      at_quality ? " at quality " + std::to_string(model.info().quality_code / 100.0).substr(0, 5) : "";
  std::printf("model %s (%s)%s, %dx%d %s, %d thread(s), integer kernel %s, median of %d\n",
              model.info().name.c_str(), model.info().id.c_str(), quality.c_str(), w, h,
              o.image.empty() ? "synthetic noise" : o.image.c_str(), num_threads(), int_kernel_name(),
              o.repeat);
  std::printf("  encoder network  %9.1f ms  %7.2f Mpx/s  %7.2f GFLOP  %7.1f GFLOP/s\n", enc_ms,
              mpx / enc_ms * 1e3, enc_gflop, enc_gflop / enc_ms * 1e3);
  std::printf("  decoder network  %9.1f ms  %7.2f Mpx/s  %7.2f GFLOP  %7.1f GFLOP/s\n", dec_ms,
              mpx / dec_ms * 1e3, dec_gflop, dec_gflop / dec_ms * 1e3);
  if (refine_bwd_ms > 0) {
    std::printf("  refine forward   %9.1f ms  %7.1f GFLOP/s (the decoder, keeping its activations)\n",
                refine_fwd_ms, dec_gflop / refine_fwd_ms * 1e3);
    std::printf(
        "  refine backward  %9.1f ms  %7.1f GFLOP/s (to the decoder's input: %.0f %% of the refine "
        "forward's, %.0f %% of the decoder network's)\n",
        refine_bwd_ms, dec_gflop / refine_bwd_ms * 1e3, 100.0 * refine_fwd_ms / refine_bwd_ms,
        100.0 * dec_ms / refine_bwd_ms);
  }
  // "The network" is the analysis or synthesis transform (g_a, g_s: what ONNX Runtime runs too); "all nets"
  // adds the hyper and context networks (h_a, h_s, a context model's integer and LRP nets), from the stages.
  std::printf(
      "  whole encode     %9.1f ms  (%.2fx the network, %.2fx all nets' %.1f ms), %zu bytes, %.4f bpp\n",
      file_enc_ms, enc_ratio, file_enc_ms / enc_nets_ms, enc_nets_ms, e.bytes.size(),
      8.0 * e.bytes.size() / (double(w) * h));
  std::printf("  whole decode     %9.1f ms  (%.2fx the network, %.2fx all nets' %.1f ms)\n", file_dec_ms,
              dec_ratio, file_dec_ms / dec_nets_ms, dec_nets_ms);
  std::printf("  encode+decode    %9.1f ms  vs networks %.1f ms: %.2fx\n", file_enc_ms + file_dec_ms,
              enc_ms + dec_ms, (file_enc_ms + file_dec_ms) / (enc_ms + dec_ms));
  nlohmann::json enc_j = nlohmann::json::object(), dec_j = nlohmann::json::object();
  print_stages("encode", enc_stages, file_enc_ms, enc_j);
  print_stages("decode", dec_stages, file_dec_ms, dec_j);
  if (!o.image.empty()) std::printf("  PNG read         %9.2f ms (file to image)\n", png_read_ms);
  std::printf("  PNG write        %9.2f ms (image to PNG bytes)\n", png_write_ms);
  std::printf("  peak memory      %9.1f MiB\n", double(ru.ru_maxrss) / 1024.0);
  if (!o.json.empty()) {
    const nlohmann::json j = {{"model", model.info().name},
                              {"image", o.image},
                              {"width", w},
                              {"height", h},
                              {"threads", num_threads()},
                              {"int_kernel", int_kernel_name()},
                              {"encoder_ms", enc_ms},
                              {"decoder_ms", dec_ms},
                              {"encode_file_ms", file_enc_ms},
                              {"encoder_nets_ms", enc_nets_ms},
                              {"decoder_nets_ms", dec_nets_ms},
                              {"encode_network_stages", enc_stages.networks()},
                              {"decode_network_stages", dec_stages.networks()},
                              {"decode_file_ms", file_dec_ms},
                              {"encode_over_network", enc_ratio},
                              {"decode_over_network", dec_ratio},
                              {"encode_stages_ms", enc_j},
                              {"decode_stages_ms", dec_j},
                              {"png_read_ms", png_read_ms},
                              {"png_write_ms", png_write_ms},
                              {"bytes", e.bytes.size()},
                              {"encoder_gflop", enc_gflop},
                              {"decoder_gflop", dec_gflop},
                              {"refine_forward_ms", refine_fwd_ms},
                              {"refine_backward_ms", refine_bwd_ms},
                              {"peak_rss_mib", double(ru.ru_maxrss) / 1024.0}};
    const std::string text = j.dump(2) + "\n";
    write_file_atomic(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
}

}  // namespace

void add_bench_command(CLI::App& app, const GlobalOptions&) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* b = app.add_subcommand("bench", "time the core on one model and image (prints figures)");
  b->add_option("-m,--model", o->model, "model file or name")->capture_default_str();
  b->add_option("--image", o->image, "code this image (PNG, JPEG, ...) instead of synthetic noise");
  b->add_option("--size", o->size, "synthetic image size WIDTHxHEIGHT (without --image)")
      ->capture_default_str();
  b->add_option("--repeat", o->repeat, "runs per figure (the median is printed)")->check(CLI::Range(1, 100));
  b->add_option(
       "--int-kernel", o->int_kernel,
       "integer hyper-synthesis kernel: auto, scalar (the reference loops), vec128, avx2, avx512vnni")
      ->capture_default_str();
  b->add_option("--json", o->json, "also write the figures as JSON");
  b->callback([o] { run_bench(*o); });
}

}  // namespace aec::cli
