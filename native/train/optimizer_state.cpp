#include "optimizer_state.h"

#include <sstream>
#include <string>
#include <type_traits>

namespace aect {

namespace {

using torch::optim::AdamParamState;

// The optimizer's key for a parameter: its address, as text (LibTorch 1.13: "0x..." as ostream writes a
// pointer, what c10::guts::to_string gives) or as the pointer itself (2.x).
template <typename Key>
Key state_key(const torch::Tensor& p) {
  void* address = p.unsafeGetTensorImpl();
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << address;
    return s.str();
  } else {
    return static_cast<Key>(address);
  }
}

using StateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
using Key = typename StateMap::key_type;

std::string prefix(size_t group, size_t param) {
  return "g" + std::to_string(group) + "/p" + std::to_string(param) + "/";
}

}  // namespace

void save_adam_state(torch::optim::Optimizer& opt, torch::serialize::OutputArchive& out) {
  const auto& groups = opt.param_groups();
  out.write("groups", torch::tensor(int64_t(groups.size())));
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    out.write("g" + std::to_string(g) + "/params", torch::tensor(int64_t(params.size())));
    for (size_t i = 0; i < params.size(); ++i) {
      const auto it = opt.state().find(state_key<Key>(params[i]));
      const auto* s =
          it == opt.state().end() ? nullptr : dynamic_cast<const AdamParamState*>(it->second.get());
      const std::string k = prefix(g, i);
      out.write(k + "step", torch::tensor(s ? s->step() : int64_t(-1)));
      if (!s) continue;
      out.write(k + "exp_avg", s->exp_avg());
      out.write(k + "exp_avg_sq", s->exp_avg_sq());
      if (s->max_exp_avg_sq().defined()) out.write(k + "max_exp_avg_sq", s->max_exp_avg_sq());
    }
  }
}

bool load_adam_state(torch::optim::Optimizer& opt, torch::serialize::InputArchive& in) {
  opt.state().clear();
  auto read_int = [&](const std::string& key, int64_t& v) {
    torch::Tensor t;
    if (!in.try_read(key, t)) return false;
    v = t.item<int64_t>();
    return true;
  };
  const auto& groups = opt.param_groups();
  int64_t n_groups = 0;
  if (!read_int("groups", n_groups) || n_groups != int64_t(groups.size())) return false;
  StateMap loaded;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    int64_t n = 0;
    if (!read_int("g" + std::to_string(g) + "/params", n) || n != int64_t(params.size())) return false;
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string k = prefix(g, i);
      int64_t step = -1;
      if (!read_int(k + "step", step)) return false;
      if (step < 0) continue;
      torch::Tensor m, v, vmax;
      if (!in.try_read(k + "exp_avg", m) || !in.try_read(k + "exp_avg_sq", v)) return false;
      if (!m.sizes().equals(params[i].sizes()) || !v.sizes().equals(params[i].sizes())) return false;
      auto s = std::make_unique<AdamParamState>();
      s->step(step);
      s->exp_avg(m.to(params[i].device()));
      s->exp_avg_sq(v.to(params[i].device()));
      if (in.try_read(k + "max_exp_avg_sq", vmax)) s->max_exp_avg_sq(vmax.to(params[i].device()));
      loaded[state_key<Key>(params[i])] = std::move(s);
    }
  }
  for (auto& kv : loaded) opt.state()[kv.first] = std::move(kv.second);
  return true;
}

}  // namespace aect
