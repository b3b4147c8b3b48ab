#include "checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "optimizer_state.h"

namespace aect {

std::string checkpoint_path(const std::string& run_dir) {
  return run_dir + "/checkpoint.pt";
}

std::string checkpoint_bytes(CodecImpl& model, torch::optim::Optimizer& main, torch::optim::Optimizer* aux,
                             const TrainState& state, const WeightAverage* avg) {
  torch::serialize::OutputArchive root, m, o, a;
  model.save(m);
  save_adam_state(main, o);
  root.write("model", m);
  root.write("optimizer_by_position", o);
  if (aux) {
    save_adam_state(*aux, a);
    root.write("aux_optimizer_by_position", a);
  }
  root.write("step", torch::tensor(state.step, torch::kLong));
  root.write("images", torch::tensor(state.images, torch::kLong));
  root.write("warmup_from", torch::tensor(state.warmup_from, torch::kLong));
  root.write("nan_events", torch::tensor(int64_t(state.nan_events), torch::kLong));
  root.write("lr_scale", torch::tensor(state.lr_scale, torch::kDouble));
  root.write("wall_s", torch::tensor(state.wall_s, torch::kDouble));
  root.write("cpu_s", torch::tensor(state.cpu_s, torch::kDouble));
  if (avg) avg->save(root);
  std::ostringstream out;
  root.save_to(out);
  return out.str();
}

bool drop_unusable_optimizer_state(torch::optim::Optimizer& opt) {
  size_t params = 0;
  for (const auto& g : opt.param_groups()) params += g.params().size();
  bool unusable = opt.state().size() > params;
  for (const auto& kv : opt.state()) unusable = unusable || !kv.second;
  if (unusable) opt.state().clear();
  return unusable;
}

void restore_checkpoint_bytes(const std::string& bytes, CodecImpl& model, torch::optim::Optimizer* main,
                              torch::optim::Optimizer* aux, TrainState& state, WeightAverage* avg) {
  torch::serialize::InputArchive root;
  std::istringstream in(bytes);
  const torch::Device device =
      model.parameters().empty() ? torch::Device(torch::kCPU) : model.parameters()[0].device();
  root.load_from(in, device);
  torch::serialize::InputArchive m;
  root.read("model", m);
  model.load(m);
  // The optimizers by parameter position (optimizer_state.h); checkpoints from before that hold LibTorch's
  // own format, which loads only under the LibTorch version that wrote it (see
  // drop_unusable_optimizer_state).
  bool misfit = false;
  auto load_optimizer = [&](torch::optim::Optimizer& opt, const char* by_position, const char* native) {
    torch::serialize::InputArchive arch;
    if (root.try_read(by_position, arch)) {
      misfit = !load_adam_state(opt, arch) || misfit;
    } else {
      root.read(native, arch);
      opt.load(arch);
      misfit = drop_unusable_optimizer_state(opt) || misfit;
    }
  };
  if (main) load_optimizer(*main, "optimizer_by_position", "optimizer");
  if (aux) load_optimizer(*aux, "aux_optimizer_by_position", "aux_optimizer");
  // A fresh tensor per read: reading into a defined tensor re-points it (set_) without converting the dtype.
  auto read_i = [&](const char* key) {
    torch::Tensor t;
    root.read(key, t);
    return t.to(torch::kLong).item<int64_t>();
  };
  auto read_d = [&](const char* key) {
    torch::Tensor t;
    root.read(key, t);
    return t.to(torch::kDouble).item<double>();
  };
  state.step = read_i("step");
  state.images = read_i("images");
  state.warmup_from = read_i("warmup_from");
  state.nan_events = int(read_i("nan_events"));
  state.lr_scale = read_d("lr_scale");
  state.wall_s = read_d("wall_s");
  state.cpu_s = read_d("cpu_s");
  if (avg) avg->load(root);
  state.optimizer_restarted = misfit;
  if (misfit) {
    if (main) main->state().clear();  // both restart together
    if (aux) aux->state().clear();
    std::fprintf(stderr,
                 "warning: the checkpoint's optimizer state does not fit (another model, or LibTorch's own "
                 "format from another version): the optimizers restart, with a learning-rate warm-up from "
                 "step %lld\n",
                 (long long)state.step);
    state.warmup_from = state.step;
  }
}

void save_checkpoint(const std::string& run_dir, CodecImpl& model, torch::optim::Optimizer& main,
                     torch::optim::Optimizer* aux, const TrainState& state, const WeightAverage* avg) {
  const std::string bytes = checkpoint_bytes(model, main, aux, state, avg);
  aec::write_file_atomic(checkpoint_path(run_dir), reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
}

bool load_checkpoint(const std::string& run_dir, CodecImpl& model, torch::optim::Optimizer* main,
                     torch::optim::Optimizer* aux, TrainState& state, WeightAverage* avg) {
  const std::string path = checkpoint_path(run_dir);
  if (!std::filesystem::exists(path)) return false;
  const std::vector<uint8_t> bytes = aec::read_file(path);
  try {
    restore_checkpoint_bytes(std::string(bytes.begin(), bytes.end()), model, main, aux, state, avg);
  } catch (const c10::Error& e) {
    throw aec::Error("cannot read checkpoint " + path + ": " + e.what_without_backtrace());
  }
  return true;
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  aec::write_file_atomic(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

nlohmann::json read_json(const std::string& path) {
  const std::vector<uint8_t> bytes = aec::read_file(path, 16u << 20);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw aec::Error("cannot parse " + path + ": " + e.what());
  }
}

}  // namespace aect
