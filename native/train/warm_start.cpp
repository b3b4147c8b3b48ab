#include "warm_start.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "aecodec/error.h"
#include "aecodec/model.h"
#include "aecodec/model_file.h"
#include "family_channel_codec.h"
#include "gain_map.h"
#include "provenance.h"
#include "train_loop.h"
#include "train_state.h"

namespace aect {

namespace fs = std::filesystem;

void warm_start_from_run(TrainConfig& cfg, CodecImpl& model, torch::Device device) {
  const LoadedRun src = load_run(cfg.init, device);
  // A family's high member is its source's channel codec unchanged: the same network and the same gains.
  if (model.arch() == "family-channel")
    aec::require((src.cfg.arch == "channel" || src.cfg.arch == "family-channel") &&
                     src.cfg.lambdas == cfg.lambdas && src.cfg.N == cfg.N && src.cfg.M == cfg.M,
                 "family-channel: --init " + cfg.init +
                     " must be a channel run with this run's --N, --M and --lambdas");
  torch::NoGradGuard ng;
  auto from = src.model->named_parameters();
  int copied = 0, kept = 0, mapped = 0, fresh = 0;
  auto copy_matching = [&](torch::OrderedDict<std::string, torch::Tensor> dst,
                           const torch::OrderedDict<std::string, torch::Tensor>& srcs) {
    for (auto& kv : dst) {
      const std::string source_name = model.warm_start_source(kv.key(), src.cfg);
      if (source_name.empty()) {
        ++fresh;
        continue;
      }
      const torch::Tensor* t = srcs.find(source_name);
      const bool gains = kv.key() == "gain" || kv.key() == "inv_gain";
      if (t && t->sizes() == kv.value().sizes() && !(gains && src.cfg.lambdas != cfg.lambdas)) {
        kv.value().copy_(*t);
        ++copied;
      } else if (t && gains && t->dim() == 2 && t->size(0) >= 2 && t->size(1) == kv.value().size(1)) {
        // Other quality levels: each new one's gains from the trained levels' (gain_map.h).
        kv.value().copy_(map_gains(*t, src.cfg.lambdas, cfg.lambdas));
        ++copied, ++mapped;
      } else if (!t && gains && src.cfg.lambdas.size() == 1 && kv.value().dim() == 2) {
        // From a single-rate run: its lambda keeps gain 1 (the run's own latent), the others start at
        // the step that lambda's rate suggests, sqrt(lambda_q / lambda) (as init_gains).
        for (int64_t q = 0; q < kv.value().size(0); ++q) {
          const double g = std::sqrt(cfg.lambdas[size_t(q)] / src.cfg.lambdas[0]);
          kv.value()[q].fill_(kv.key() == "gain" ? g : 1.0 / g);
        }
        ++copied, ++mapped;
      } else {
        ++kept;
      }
    }
  };
  copy_matching(model.named_parameters(), from);
  copy_matching(model.named_buffers(), src.model->named_buffers());
  model.finish_warm_start(kept == 0);
  // A family run started from a channel file keeps that file as its high member (base.aem): a run
  // warm-started from it keeps it too, so its export also names the file instead of writing the network as a
  // new model.
  if (model.arch() == "family-channel" && fs::exists(fs::path(cfg.init) / "base.aem"))
    fs::copy_file(fs::path(cfg.init) / "base.aem", fs::path(cfg.out) / "base.aem",
                  fs::copy_options::overwrite_existing);
  if (cfg.warmup_steps <= 0) cfg.warmup_steps = 200;
  if (cfg.provenance.empty())
    cfg.provenance = provenance_from_run(src.cfg.provenance, src.state.step, cfg.init);
  std::fprintf(stderr, "warm start: %d tensors from run %s (step %lld), %d kept (lr warm-up %d steps)\n",
               copied, cfg.init.c_str(), (long long)src.state.step, kept, cfg.warmup_steps);
  if (fresh) std::fprintf(stderr, "warm start: %d tensors of new layers start as initialised\n", fresh);
  if (mapped)
    std::fprintf(stderr, "warm start: gains of %zu qualities mapped to %zu (by log lambda)\n",
                 src.cfg.lambdas.size(), cfg.lambdas.size());
}

namespace {

// The medium member's networks from a shipped family's medium file, after the high member came from --init:
// a file whose family's high is --init's model, this version (both halves one trained family) or another
// (the high retrained since: the old medium networks are the nearest start for the new family's).
int load_medium_member(const TrainConfig& cfg, CodecImpl& model, const aec::ModelFile& base_file,
                       const aec::ModelFile& medium_file) {
  aec::require(model.arch() == "family-channel", "--init-medium is for --arch family-channel");
  const aec::Model base = aec::Model::from_file(base_file), medium = aec::Model::from_file(medium_file);
  aec::require(medium.info().family_role == "medium" && medium.info().family_high == base.info().name,
               "family-channel: --init-medium " + cfg.init_medium +
                   " must be a family's medium member on the model of --init " + cfg.init + " ('" +
                   base.info().name + "')");
  int loaded = 0;
  for (Member& m : model.members())
    if (m.role == "medium") loaded += m.load_from(medium_file);
  // The up decoder, when the member has one and this run trains one (else it stays the high's g_s): each
  // layer from where warm_start_source finds it in a run trained as the member was (its up stages, recorded
  // in its training record since the option exists, may be fewer: the new ones start as the identity).
  if (auto* family = dynamic_cast<FamilyChannelCodecImpl*>(&model); family && family->u_s) {
    TrainConfig member;
    member.arch = "family-channel", member.up_synthesis = true;
    member.up_stages = medium_file.meta.value("training", nlohmann::json::object()).value("up_stages", 0);
    loaded += family->u_s->load_from(
        medium_file, [&](const std::string& layer) { return family->warm_start_source(layer, member); });
  }
  aec::require(loaded > 0, "family-channel: --init-medium " + cfg.init_medium + " holds no medium layer");
  std::fprintf(stderr, "warm start: %d medium layers from %s%s\n", loaded, cfg.init_medium.c_str(),
               medium.info().names_as_high(base.info().name, base.info().id)
                   ? ""
                   : (" (a member of another version of '" + base.info().name + "', " +
                      medium.info().family_high_id + "; --init is " + base.info().id + ")")
                         .c_str());
  return loaded;
}

}  // namespace

void warm_start_from_file(TrainConfig& cfg, CodecImpl& model) {
  const aec::ModelFile f = aec::ModelFile::read(cfg.init);
  if (model.arch() == "family-channel") {
    // The file is the family's high member: check it is a channel codec this run's network can hold, and keep
    // it in the run, so the export writes exactly this file as the high member (family_channel_codec.h).
    const aec::Model base = aec::Model::from_file(f);
    const std::vector<double> file_lambdas =
        base.info().lambdas.empty()
            ? std::vector<double>{f.meta.value("training", nlohmann::json::object()).value("lambda", 0.0)}
            : base.info().lambdas;
    aec::require(
        base.info().entropy_kind == "channel" && base.info().latent_channels == cfg.M &&
            file_lambdas == cfg.lambdas,
        "family-channel: --init " + cfg.init + " must be a channel model with this run's --M and --lambdas");
    fs::copy_file(cfg.init, fs::path(cfg.out) / "base.aem", fs::copy_options::overwrite_existing);
  }
  int loaded = 0;
  for (Member& m : model.members()) loaded += m.load_from(f);
  loaded += model.load_entropy_networks(f);
  const std::string state = load_train_state(f, model);
  model.finish_warm_start(false);
  std::optional<aec::ModelFile> medium;
  if (!cfg.init_medium.empty()) {
    medium = aec::ModelFile::read(cfg.init_medium);
    loaded += load_medium_member(cfg, model, f, *medium);
  }
  if (cfg.warmup_steps <= 0) cfg.warmup_steps = 500;
  // With --init-medium the trained networks are the medium member's (the high stays --init's, frozen): the
  // run carries on that member's history, not the base's.
  if (cfg.provenance.empty())
    cfg.provenance = medium ? provenance_from_model_file(medium->meta, cfg.init_medium)
                            : provenance_from_model_file(f.meta, cfg.init);
  std::fprintf(stderr, "warm start: %d layers%s from %s (lr warm-up %d steps)\n", loaded,
               state.empty() ? ", prior restarts" : (", " + state).c_str(), cfg.init.c_str(),
               cfg.warmup_steps);
}

}  // namespace aect
