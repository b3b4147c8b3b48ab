#include "train_state.h"

#include "aecodec/error.h"

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
  return state;
}

std::string load_train_state(const aec::ModelFile& file, CodecImpl& model) {
  const nlohmann::json state =
      file.meta.value("training", nlohmann::json::object()).value("state", nlohmann::json());
  if (!state.is_object() || !model.eb) return "";
  int prior = 0, missing = 0;
  for (auto& kv : model.eb->named_parameters())
    (load_into(file, kPrior + kv.key(), kv.value()) ? prior : missing)++;
  std::string what;
  if (prior > 0)
    what = "prior (" + std::to_string(prior) + " tensors" +
           (missing ? ", " + std::to_string(missing) + " missing" : "") + ")";

  // The file's weights hold its quality's gains; a variable-rate network of the same shape takes every gain
  // and gets the folded ones divided out. (A single-rate network keeps the folded weights: a valid model as
  // is.)
  const nlohmann::json gains = state.value("gains", nlohmann::json());
  if (gains.is_object() && model.gain.defined()) {
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
