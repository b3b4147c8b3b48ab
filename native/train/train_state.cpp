#include "train_state.h"

#include <cmath>
#include <cstdio>

#include "aecodec/error.h"
#include "aecodec/model.h"

namespace aect {

namespace {

const std::string kPrior = "train.prior.";

std::vector<int64_t> shape_of(const torch::Tensor& t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

void put_f32(aec::ModelFile& f, const std::string& name, const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  f.put_floats(name, shape_of(c), c.data_ptr<float>());
}

// Copies tensor `name` of the file into `dst` when the file has it with dst's shape; false otherwise.
bool load_into(const aec::ModelFile& f, const std::string& name, torch::Tensor dst) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end() || it->second.shape != shape_of(dst)) return false;
  std::vector<float> v = f.floats(name, it->second.shape);
  torch::NoGradGuard ng;
  dst.copy_(torch::from_blob(v.data(), dst.sizes(), torch::kFloat).to(dst.device()));
  return true;
}

std::vector<float> reciprocal(std::vector<float> v) {
  for (float& x : v) x = 1.0f / x;
  return v;
}

// Files without the state still hold the prior's tabulation: integer CDFs over each channel's range of
// q = round(y - median), and the medians (latent.offset). Fitting the density networks to those pmfs by cross
// entropy recovers a prior that codes at almost the file's rate from the first step, instead of restarting
// from a broad density that costs about 4 bpp and takes hundreds of steps to relearn.
std::string fit_prior_to_tables(const aec::ModelFile& file, CodecImpl& model) {
  const int64_t C = model.eb->channels();
  if (file.meta.value("entropy", nlohmann::json::object()).value("kind", "") != "factorized" ||
      !file.has("entropy.cdf") || file.tensors.at("entropy.cdf").shape.at(0) != C)
    return "";  // another entropy model, or another latent width: nothing to fit
  const aec::CdfTables t = aec::read_cdf_tables(file, "entropy", C);
  const std::vector<float> med = file.floats("latent.offset", {C});
  size_t L = 0;
  for (const auto& cdf : t.cdf) L = std::max(L, cdf.size() - 2);
  // values [1, C, 1, L] (each channel's coded values y = median + q), their pmf as weights (0 = padding)
  std::vector<float> values(size_t(C) * L), weights(size_t(C) * L, 0.0f);
  torch::Tensor q = torch::empty({C, 1, 3});
  const double scale = double(1u << t.precision);
  for (int64_t c = 0; c < C; ++c) {
    const std::vector<uint32_t>& cdf = t.cdf[size_t(c)];
    const size_t n = cdf.size() - 2;  // symbols; the last entry pair is the escape
    for (size_t k = 0; k < L; ++k) {
      values[size_t(c) * L + k] = med[size_t(c)] + float(t.offset[size_t(c)]) + float(std::min(k, n - 1));
      if (k < n) weights[size_t(c) * L + k] = float((cdf[k + 1] - cdf[k]) / scale);
    }
    q[c][0][0] = med[size_t(c)] + float(t.offset[size_t(c)]);
    q[c][0][1] = med[size_t(c)];
    q[c][0][2] = med[size_t(c)] + float(t.offset[size_t(c)]) + float(n - 1);
  }
  const torch::Device dev = model.eb->quantiles().device();
  const torch::Tensor y = torch::from_blob(values.data(), {1, C, 1, int64_t(L)}, torch::kFloat).to(dev);
  const torch::Tensor w = torch::from_blob(weights.data(), {1, C, 1, int64_t(L)}, torch::kFloat).to(dev);
  {
    torch::NoGradGuard ng;
    model.eb->quantiles().copy_(q.to(dev));
  }
  torch::optim::Adam opt(model.eb->main_parameters(), torch::optim::AdamOptions(0.02));
  double bits = 0;
  for (int it = 0; it < 600; ++it) {
    opt.zero_grad();
    torch::Tensor loss = -(w * torch::log2(model.eb->likelihood(y))).sum() / double(C);
    loss.backward();
    opt.step();
    bits = loss.item<double>();
  }
  // The file's own entropy, for comparison: what a perfect fit would cost.
  const double floor = -(w * torch::log2(w.clamp_min(1e-12))).sum().item<double>() / double(C);
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "prior fitted to the file's tables (%.3f bits per symbol, tables' entropy %.3f)", bits,
                floor);
  return buf;
}

}  // namespace

nlohmann::json put_train_state(aec::ModelFile& file, CodecImpl& model, int quality) {
  if (!model.eb) return nullptr;  // plain autoencoders: the fitted quantiser is all there is
  nlohmann::json state = {{"tensors", "train.*"}, {"prior", kPrior + "*"}};
  for (const auto& kv : model.eb->named_parameters()) put_f32(file, kPrior + kv.key(), kv.value());
  if (model.gain.defined()) {
    put_f32(file, "train.gain", model.gain);
    put_f32(file, "train.inv_gain", model.inv_gain);
    state["gains"] = {{"qualities", model.qualities()}, {"folded_quality", quality + 1}};
  }
  // What the prior's density is over: the coded latent (the file's own), or the latent before the gains.
  state["prior_over"] = model.prior_scale(quality).defined() ? "ungained latent" : "coded latent";
  return state;
}

std::string load_train_state(const aec::ModelFile& file, CodecImpl& model) {
  if (!model.eb) return "";
  const nlohmann::json state =
      file.meta.value("training", nlohmann::json::object()).value("state", nlohmann::json());
  if (!state.is_object()) return fit_prior_to_tables(file, model);
  std::string what;
  // A prior over the ungained latent means nothing to a model that codes the gained one directly (a
  // single-rate warm start from one quality of a variable-rate file): fit it to this quality's tables
  // instead. (The other way round, a shared prior read as the ungained one, is close: the gains' geometric
  // mean starts at 1, and training corrects the rest.)
  const bool file_ungained = state.value("prior_over", "coded latent") == "ungained latent";
  if (file_ungained && !model.prior_scale(0).defined()) {
    what = fit_prior_to_tables(file, model);
  } else {
    int prior = 0, missing = 0;
    for (auto& kv : model.eb->named_parameters())
      (load_into(file, kPrior + kv.key(), kv.value()) ? prior : missing)++;
    if (prior > 0)
      what = "prior (" + std::to_string(prior) + " tensors" +
             (missing ? ", " + std::to_string(missing) + " missing" : "") + ")";
  }

  // The file's weights hold its quality's gains; a variable-rate network of the same shape takes every gain
  // and gets the folded ones divided out. (A single-rate network keeps the folded weights: a valid model as
  // is.)
  const nlohmann::json gains = state.value("gains", nlohmann::json());
  if (gains.is_object() && model.gain.defined() && file.meta.contains("variable_rate")) {
    // A quality-knob file keeps its gains out of the weights (latent.gain): take them as they are.
    if (load_into(file, "train.gain", model.gain) && load_into(file, "train.inv_gain", model.inv_gain))
      what += std::string(what.empty() ? "" : ", ") + std::to_string(model.qualities()) + " qualities' gains";
  } else if (gains.is_object() && model.gain.defined()) {
    const int folded = gains.value("folded_quality", 0) - 1;
    std::vector<Member> members = model.members();
    aec::require(members.size() == 1, "train state: gains on a model with several members");
    if (folded >= 0 && folded < model.qualities() && load_into(file, "train.gain", model.gain) &&
        load_into(file, "train.inv_gain", model.inv_gain)) {
      const std::vector<float> g = reciprocal(model.gain_of(folded)),
                               ig = reciprocal(model.inv_gain_of(folded));
      members[0].enc->scale_ends(&g, nullptr);
      members[0].dec->scale_ends(nullptr, &ig);
      what += std::string(what.empty() ? "" : ", ") + std::to_string(model.qualities()) +
              " qualities' gains (unfolded quality " + std::to_string(folded + 1) + ")";
    }
  }
  return what;
}

}  // namespace aect
