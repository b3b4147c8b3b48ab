#include "config.h"

#include <cstdlib>
#include <string>

#include "aecodec/error.h"

namespace aect {

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = {{"arch", c.arch},
       {"data", c.data},
       {"valid", c.valid},
       {"out", c.out},
       {"init", c.init},
       {"steps", c.steps},
       {"minutes", c.minutes},
       {"lambdas", c.lambdas},
       {"crop", c.crop},
       {"batch", c.batch},
       {"lr", c.lr},
       {"aux_lr", c.aux_lr},
       {"clip", c.clip},
       {"N", c.N},
       {"M", c.M},
       {"seed", c.seed},
       {"threads", c.threads},
       {"bf16", c.bf16},
       {"channels_last", c.channels_last},
       {"downscale_prob", c.downscale_prob},
       {"freeze_shared", c.freeze_shared},
       {"valid_every", c.valid_every},
       {"valid_max_images", c.valid_max_images},
       {"checkpoint_minutes", c.checkpoint_minutes},
       {"decay_start", c.decay_start},
       {"decay_factor", c.decay_factor},
       {"warmup_steps", c.warmup_steps},
       {"log_every", c.log_every},
       {"ema", c.ema},
       {"gain_prior", c.gain_prior},
       {"device", c.device},
       {"provenance", c.provenance}};
  if (c.arch == "family-channel") {
    j["family_weights"] = c.family_weights;
    j["medium_width"] = c.medium_width;
    j["medium_lrp"] = c.medium_lrp;
    j["medium_front"] = c.medium_front;
    j["up_synthesis"] = c.up_synthesis;
    j["up_balance"] = c.up_balance;
    j["up_clip_apart"] = c.up_clip_apart;
    j["up_stages"] = c.up_stages;
    j["up_only"] = c.up_only;
    j["init_medium"] = c.init_medium;
  }
  if (!c.train_qualities.empty()) j["train_qualities"] = c.train_qualities;
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  TrainConfig d;
  c.arch = j.value("arch", d.arch);
  c.data = j.value("data", d.data);
  c.valid = j.value("valid", d.valid);
  c.out = j.value("out", d.out);
  c.init = j.value("init", d.init);
  c.init_medium = j.value("init_medium", d.init_medium);
  c.steps = j.value("steps", d.steps);
  c.minutes = j.value("minutes", d.minutes);
  c.lambdas = j.value("lambdas", d.lambdas);
  c.crop = j.value("crop", d.crop);
  c.batch = j.value("batch", d.batch);
  c.lr = j.value("lr", d.lr);
  c.aux_lr = j.value("aux_lr", d.aux_lr);
  c.clip = j.value("clip", d.clip);
  c.N = j.value("N", d.N);
  c.M = j.value("M", d.M);
  c.seed = j.value("seed", d.seed);
  c.provenance = j.value("provenance", d.provenance);
  c.threads = j.value("threads", d.threads);
  c.bf16 = j.value("bf16", d.bf16);
  c.channels_last = j.value("channels_last", d.channels_last);
  c.downscale_prob = j.value("downscale_prob", d.downscale_prob);
  c.freeze_shared = j.value("freeze_shared", d.freeze_shared);
  c.valid_every = j.value("valid_every", d.valid_every);
  c.valid_max_images = j.value("valid_max_images", d.valid_max_images);
  c.checkpoint_minutes = j.value("checkpoint_minutes", d.checkpoint_minutes);
  c.decay_start = j.value("decay_start", d.decay_start);
  c.decay_factor = j.value("decay_factor", d.decay_factor);
  c.warmup_steps = j.value("warmup_steps", d.warmup_steps);
  c.log_every = j.value("log_every", d.log_every);
  c.ema = j.value("ema", d.ema);
  c.gain_prior = j.value("gain_prior", std::string("shared"));  // absent: a run from before the choice
  c.device = j.value("device", d.device);
  c.family_weights = j.value("family_weights", d.family_weights);
  c.medium_width = j.value("medium_width", d.medium_width);
  c.medium_lrp = j.value("medium_lrp", d.medium_lrp);
  c.medium_front = j.value("medium_front", 0);      // absent: a run from before the option
  c.up_synthesis = j.value("up_synthesis", false);  // absent: a run from before the option
  c.up_balance = j.value("up_balance", 0.0);
  c.up_clip_apart = j.value("up_clip_apart", false);
  c.up_stages = j.value("up_stages", 0);
  c.up_only = j.value("up_only", false);
  c.train_qualities = j.value("train_qualities", std::vector<int>{});
}

DistOptions dist_options_from_env() {
  DistOptions d;
  auto int_env = [](const char* name, int& v) {
    const char* s = std::getenv(name);
    if (!s || !*s) return;
    try {
      size_t used = 0;
      v = std::stoi(s, &used);
      if (used != std::string(s).size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      throw aec::Error(std::string("environment variable ") + name + " is not an integer: " + s);
    }
  };
  int_env("WORLD_SIZE", d.world_size);
  int_env("RANK", d.rank);
  int_env("LOCAL_RANK", d.local_rank);
  int_env("MASTER_PORT", d.master_port);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) d.master_addr = a;
  return d;
}

}  // namespace aect
