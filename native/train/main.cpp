// aecodec-train: train, export and benchmark the aecodec model architectures (see native/train/STATUS.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <sstream>

#include "config.h"
#include "progress_plot.h"

namespace {

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(std::stod(item));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aecodec-train: train, export and benchmark aecodec models"};
  app.require_subcommand(1);

  aect::TrainConfig cfg;
  bool resume = false;
  double lambda = 0;
  std::string lambdas, family_weights;
  CLI::App* train = app.add_subcommand("train", "train a model into a run directory");
  train
      ->add_option(
          "--arch", cfg.arch,
          "fc | conv | vae | factorized | family | hyperprior | channel | channel-cb | family-channel")
      ->capture_default_str();
  train->add_option("--data", cfg.data, "folder of training images (searched recursively)");
  train->add_option("--valid", cfg.valid, "folder of validation images");
  train->add_option("--out", cfg.out, "run directory (checkpoint.pt, config.json, log.csv, valid.json)")
      ->required();
  train->add_option("--init", cfg.init,
                    "warm start from a model file's weights, or from a run directory's checkpoint (every "
                    "tensor whose name and shape match, the prior included), with lr warm-up");
  train->add_option(
      "--init-medium", cfg.init_medium,
      "family-channel, with --init a channel model file: the medium member's networks from this "
      "family member file, whose family's high is that model (this version or an earlier one)");
  train->add_option("--steps", cfg.steps, "stop after this many steps in total");
  train->add_option("--minutes", cfg.minutes, "stop after this many minutes of training in total");
  train->add_option("--lambda", lambda, "rate-distortion trade-off (loss = lambda*255^2*MSE + bpp)");
  train->add_option("--lambdas", lambdas,
                    "comma-separated lambdas: one variable-rate network with gain units");
  train->add_option("--crop", cfg.crop)->capture_default_str();
  train->add_option("--batch", cfg.batch)->capture_default_str();
  train->add_option("--lr", cfg.lr)->capture_default_str();
  train->add_option("--aux-lr", cfg.aux_lr)->capture_default_str();
  train->add_option("--clip", cfg.clip, "gradient norm clip (0: off)")->capture_default_str();
  cfg.N = 0, cfg.M = 0;
  train->add_option("--N", cfg.N, "hidden channels (default 128; fc: 1024)");
  train->add_option("--M", cfg.M, "latent channels (default 192; fc: 256)");
  train->add_option("--seed", cfg.seed)->capture_default_str();
  train->add_flag("--resume", resume, "continue the run in --out exactly (model, optimizer, step)");
  train->add_option("--threads", cfg.threads, "CPU threads (0: all hardware threads)");
  train->add_flag("--bf16", cfg.bf16, "bf16 autocast (CPU with AVX512-BF16; CUDA)");
  train->add_flag("--channels-last", cfg.channels_last, "channels-last memory format");
  train->add_option("--downscale-prob", cfg.downscale_prob,
                    "chance a crop comes from the 2x-downscaled image");
  train->add_flag("--freeze-shared", cfg.freeze_shared,
                  "family: train only the upscaler and the prior (shared medium networks stay as --init)");
  train->add_option("--family-weights", family_weights,
                    "family-channel: loss weights of the down path, the up path and the medium codec, "
                    "and optionally of the medium latent's distance to the high latent (default 1,1,1)");
  train->add_option("--medium-width", cfg.medium_width,
                    "family-channel: channels of the medium synthesis' last stage (0: N, as the high's)");
  train->add_option(
      "--medium-front", cfg.medium_front,
      "family-channel: extra 3x3 conv + GDN stages of the medium analysis at half size, after its "
      "first layer (each starts as the identity)");
  train->add_flag("--up-synthesis", cfg.up_synthesis,
                  "family-channel: the medium member carries its own full-size synthesis for the up path "
                  "(a trainable copy of the high's)");
  train->add_option("--up-balance", cfg.up_balance,
                    "family-channel --up-synthesis: the up synthesis' gradient at quality q times "
                    "(largest lambda / lambda_q)^P (0: as the loss weighs it)");
  train->add_flag("--up-clip-apart", cfg.up_clip_apart,
                  "family-channel --up-synthesis: clip the up synthesis' gradient norm apart from the other "
                  "networks' (--clip each)");
  train->add_option(
      "--up-stages", cfg.up_stages,
      "family-channel --up-synthesis: extra 3x3 conv + inverse GDN stages of the up synthesis at "
      "half size, before its last layer (each starts as the identity)");
  train->add_flag("--up-only", cfg.up_only,
                  "family-channel --up-synthesis: train only the up synthesis (the medium member's files and "
                  "its own decodes stay as --init / --init-medium made them)");
  train
      ->add_option(
          "--train-qualities", cfg.train_qualities,
          "variable rate: the qualities (1-based, comma-separated) the steps draw from, each as often as "
          "it is listed (default: all)")
      ->delimiter(',');
  bool medium_no_lrp = false;
  train->add_flag("--medium-no-lrp", medium_no_lrp,
                  "family-channel: the medium synthesis reads the coded latent, so its decoding skips LRP");
  train->add_option("--valid-every", cfg.valid_every)->capture_default_str();
  train->add_option("--valid-max-images", cfg.valid_max_images, "0: all");
  train->add_option("--checkpoint-minutes", cfg.checkpoint_minutes)->capture_default_str();
  train->add_option("--decay-start", cfg.decay_start, "progress fraction where lr drops")
      ->capture_default_str();
  train->add_option("--decay-factor", cfg.decay_factor)->capture_default_str();
  train->add_option("--warmup-steps", cfg.warmup_steps);
  train->add_option("--log-every", cfg.log_every)->capture_default_str();
  train
      ->add_option("--ema", cfg.ema,
                   "decay of the weights' moving average that validation and export use (0: off)")
      ->capture_default_str();
  train
      ->add_option("--gain-prior", cfg.gain_prior,
                   "variable rate: scaled (one prior over y, bins scaled by each quality's gain) | shared "
                   "(one prior over the gained latent, runs before 2026-11-26)")
      ->check(CLI::IsMember({"scaled", "shared"}))
      ->capture_default_str();
  train->add_option("--device", cfg.device, "cpu | cuda (default: cuda when available)");
  // Data-parallel training (native/train/distributed.h); the variables torchrun sets are the defaults.
  aect::DistOptions dist;
  try {
    dist = aect::dist_options_from_env();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aecodec-train: %s\n", e.what());
    return 2;
  }
  train
      ->add_option(
          "--world-size", dist.world_size,
          "data-parallel: ranks in all (env WORLD_SIZE; 1: one process). --batch is the global batch")
      ->capture_default_str();
  train
      ->add_option("--rank", dist.rank,
                   "data-parallel: this process's rank, 0 .. world size - 1 (env RANK); rank 0 resolves the "
                   "run, validates, checkpoints and logs")
      ->capture_default_str();
  train->add_option("--local-rank", dist.local_rank,
                    "data-parallel: this rank's GPU on its machine (env LOCAL_RANK; default: the rank)");
  train
      ->add_option("--master-addr", dist.master_addr,
                   "data-parallel: rank 0's address, where it hosts the rendezvous (env MASTER_ADDR)")
      ->capture_default_str();
  train->add_option("--master-port", dist.master_port, "data-parallel: the rendezvous port (env MASTER_PORT)")
      ->capture_default_str();
  train
      ->add_option("--dist-timeout", dist.timeout_s,
                   "data-parallel: seconds a rank waits for the others (rendezvous, each step's all-reduce, "
                   "rank 0's validation and checkpoints) before it fails")
      ->capture_default_str();

  aect::ExportOptions ex;
  CLI::App* exp = app.add_subcommand("export", "write a run's model file(s)");
  exp->add_option("--run", ex.run, "run directory")->required();
  exp->add_option(
         "--out", ex.out,
         "model file; variable-rate runs write NAME-q1.aem... and families NAME-high/medium.aem beside it (a "
         "family on a channel model file: NAME-medium.aem, whose high member is that file)")
      ->required();
  exp->add_option("--name", ex.name, "model name (default: the file name's stem)");
  exp->add_option("--description", ex.description);
  int quality = 0;
  exp->add_option("--quality", quality, "export only this quality (1-based)");
  bool no_codec_scores = false;
  exp->add_flag("--no-codec-scores", no_codec_scores, "skip measuring the validation set through the codec");
  exp->add_option("--ae-psnr-drop", ex.ae_psnr_drop, "plain autoencoders: quantiser PSNR cost (dB)")
      ->capture_default_str();
  exp->add_flag("--fp16", ex.fp16,
                "store the network weights as F16 (half the file; latent step/offset and entropy tables stay "
                "exact)");
  exp->add_flag("--gdn-f32", ex.gdn_f32, "with --fp16: keep GDN beta/gamma F32");

  aect::ConvertOptions co;
  CLI::App* conv = app.add_subcommand(
      "convert", "re-store an existing model file's network weights, rename it or re-score it (new id)");
  conv->add_option("in", co.in, "model file to read")->required();
  conv->add_option("out", co.out, "model file to write")->required();
  conv->add_flag("--fp16", co.fp16,
                 "network weights as F16 (latent step/offset and entropy tables stay exact)");
  conv->add_flag("--gdn-f32", co.gdn_f32, "with --fp16: keep GDN beta/gamma F32");
  conv->add_option("--name", co.name, "the model's new name (default: unchanged)");
  conv->add_option("--description", co.description,
                   "the model's new description: what it is, at most 200 characters (its history stays in "
                   "training.provenance)");
  conv->add_option("--valid", co.valid,
                   "replace the scores with the codec's bpp and PSNR on this folder of images");

  std::string val_run, val_dir;
  int val_threads = 0;
  bool last_weights = false;
  CLI::App* val = app.add_subcommand("validate", "a run's validation numbers now (bpp, PSNR; every quality)");
  val->add_option("--run", val_run, "run directory")->required();
  val->add_option("--valid", val_dir, "folder of images (default: the run's validation folder)");
  val->add_flag("--last-weights", last_weights, "the last step's weights instead of their moving average");
  val->add_option("--threads", val_threads, "CPU threads (0: all hardware threads)");

  std::string plot_run;
  CLI::App* plot = app.add_subcommand("plot", "draw a run's loss.svg and rd.svg from its log.csv");
  plot->add_option("--run", plot_run, "run directory")->required();

  aect::BenchOptions bo;
  bool only_fp32 = false, only_bf16 = false;
  CLI::App* bench = app.add_subcommand("bench", "ms per training step, pixels/s, GFLOP/s");
  bench->add_option("--arch", bo.arch)->capture_default_str();
  bench->add_option("--N", bo.N)->capture_default_str();
  bench->add_option("--M", bo.M)->capture_default_str();
  bench->add_option("--crop", bo.crop)->capture_default_str();
  bench->add_option("--batch", bo.batch)->capture_default_str();
  bench->add_option("--steps", bo.steps)->capture_default_str();
  bench->add_option("--warmup", bo.warmup)->capture_default_str();
  bench->add_option("--threads", bo.threads);
  bench->add_flag("--fp32-only", only_fp32);
  bench->add_flag("--bf16-only", only_bf16);
  bench->add_option(
      "--profile", bo.profile,
      "write the autograd profiler's trace of the timed steps to PREFIX.fp32.json / .bf16.json");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) {
      if (!lambdas.empty())
        cfg.lambdas = parse_list(lambdas);
      else if (lambda > 0)
        cfg.lambdas = {lambda};
      if (!family_weights.empty()) cfg.family_weights = parse_list(family_weights);
      if (medium_no_lrp) cfg.medium_lrp = false;
      const nlohmann::json all = cfg;
      for (auto it = all.begin(); it != all.end(); ++it) {
        std::string flag = "--" + it.key();
        for (char& ch : flag)
          if (ch == '_') ch = '-';
        try {
          if (train->get_option(flag)->count() > 0) cfg.overrides[it.key()] = it.value();
        } catch (const CLI::OptionNotFound&) {
        }
      }
      return aect::run_train(cfg, resume, dist);
    }
    if (*exp) {
      ex.quality = quality - 1;
      ex.codec_scores = !no_codec_scores;
      return aect::run_export(ex);
    }
    if (*conv) return aect::run_convert(co);
    if (*val) return aect::run_validate(val_run, val_dir, last_weights, val_threads);
    if (*plot) {
      const std::vector<std::string> files = aect::write_progress_plots(plot_run);
      for (const std::string& f : files) std::printf("%s\n", f.c_str());
      if (files.empty())
        std::fprintf(stderr, "aecodec-train: %s/log.csv has no training rows\n", plot_run.c_str());
      return files.empty() ? 1 : 0;
    }
    if (*bench) {
      bo.fp32 = !only_bf16, bo.bf16 = !only_fp32;
      return aect::run_bench(bo);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aecodec-train: %s\n", e.what());
    return 1;
  }
  return 0;
}
