// The trainer's configuration: what `aecodec-train train` parses, what a run directory records (config.json),
// and what the exported model document's "training" section reports. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aect {

struct TrainConfig {
  // fc | conv | vae | factorized | family | hyperprior | channel | channel-cb | family-channel
  std::string arch = "factorized";
  std::string data, valid, out;  // image folders; run directory
  std::string init;              // warm start from a model file (weights only) when there is no run dir
  // family-channel, with --init a channel model file: the medium member's networks from this family member
  // file (its family's high must be that model, this version or an earlier one), so a new run goes on from a
  // shipped family instead of the medium networks folded from the high's.
  std::string init_medium;
  int64_t steps = 0;                    // stop after this many steps (0: use minutes)
  double minutes = 0;                   // stop after this much wall time (0: use steps)
  std::vector<double> lambdas{0.0130};  // one per quality; more than one = variable rate with gain units
  int crop = 128, batch = 8;
  double lr = 1e-4, aux_lr = 1e-3, clip = 1.0;
  int N = 128, M = 192;
  uint64_t seed = 1;
  int threads = 0;  // 0 = hardware threads
  bool bf16 = false, channels_last = false;
  double downscale_prob = 0;  // chance that a crop is taken from the 2x box-downscaled image
  // family: keep the shared medium networks and the downscaler as initialised (--init) and train only the
  // upscaler and the prior: a fraction of the step's cost, when the medium model is already trained.
  bool freeze_shared = false;
  // family-channel: the loss weights of the down path, the up path and the medium codec
  // (family_channel_codec.h).
  std::vector<double> family_weights{1.0, 1.0, 1.0};
  // family-channel: the medium synthesis' third stage narrowed to this many channels (0: N, as the high's),
  // and whether it reads the latent after LRP (false: the coded latent; its decoding skips the LRP nets).
  int medium_width = 0;
  bool medium_lrp = true;
  // family-channel: extra stages (3x3 conv, GDN) of the medium analysis at the half-size image's resolution,
  // after its first layer: capacity for inferring, from half-size pixels, what the high analysis sees at full
  // size (the up path). Each starts as the identity.
  int medium_front = 0;
  // family-channel: the up path (a medium file decoded at full size) through its own synthesis, a trainable
  // copy of the high g_s that the medium member carries, instead of the frozen high g_s.
  bool up_synthesis = false;
  // family-channel with up_synthesis: u_s's gradient at quality q scaled by (largest lambda / lambda_q)^P,
  // the medium networks' left as the loss says. The up path's MSE enters the loss times lambda_q, so a shared
  // decoder otherwise learns almost only from the high qualities (lambda spans 370x).
  double up_balance = 0;
  // family-channel with up_synthesis: clip u_s's gradient norm apart from the other networks'. With one clip
  // over all, the balanced (scaled-up) low-quality u_s gradient shrinks the medium networks' steps too.
  bool up_clip_apart = false;
  // family-channel with up_synthesis: extra stages (3x3 conv, inverse GDN) of the up synthesis at the
  // half-size image's resolution, before its last upsampling layer: capacity for what bicubic upscaling
  // cannot do. Each starts as the identity, so a run warm-started without them begins where its source was.
  int up_stages = 0;
  // family-channel with up_synthesis: only u_s learns; the medium analysis and synthesis stay as loaded, so
  // the member's files and its own decodes (the up path's bicubic baseline) stay bit for bit as they were.
  bool up_only = false;
  // The qualities (1-based) the steps draw from, each as often as it is listed; empty: all of them, evenly.
  std::vector<int> train_qualities;
  int valid_every = 500;     // steps between validations
  int valid_max_images = 0;  // 0 = all
  double checkpoint_minutes = 5;
  double decay_start = 0.8, decay_factor = 0.1;  // lr *= decay_factor once progress passes decay_start
  int warmup_steps = 0;  // linear lr warm-up (set automatically when warm-starting from --init)
  int log_every = 10;
  // Variable rate: how the one factorized prior codes each quality's gained latent y*g. "scaled": the prior
  // is a density over y and quality q's bins are [k-1/2, k+1/2]/g_q, which is exact since y is the same for
  // every quality; "shared": one density over y*g for all qualities (runs before 2026-11-26, whose config
  // has no such key), a mixture that overcharges the low qualities' zeros and the high ones' tails.
  std::string gain_prior = "scaled";
  double ema = 0.999;  // decay of the weights' moving average that validation and export use (0: off)
  // Where the run's steps were taken when that is not what the config says (e.g. "steps 0-20700 on an H200,
  // batch 32 of 192x192"); written into config.json by hand or by scripts/gpu/unpack.sh, carried into the
  // exported model's description. No command-line option. A warm start with none inherits its source's
  // history (provenance.h).
  std::string provenance;
  std::string device;            // "" = cuda when available, else cpu
  int64_t inject_nan_step = -1;  // tests: poison this step's batch with a NaN (not saved)
  // --resume: the options given on the command line (JSON keys as to_json writes them); those that do not
  // change the model's shape (steps, minutes, threads, checkpoint/log/valid cadence, lr and its decay, valid
  // folder, device, bf16, ema, gain_prior, which changes only how the prior's density is read, and the data
  // stream: data folder, batch and crop, so a run can move to a GPU with bigger batches) replace the run's
  // saved values. Not saved.
  nlohmann::json overrides = nlohmann::json::object();

  int qualities() const { return int(lambdas.size()); }
};

void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);

struct ExportOptions {
  std::string run, out, name, description;
  int quality = -1;           // -1: every quality (one file each when there are several)
  double ae_psnr_drop = 0.1;  // plain autoencoders: largest quantiser step costing at most this (dB)
  bool codec_scores = true;   // measure bpp/PSNR of the validation set through the real codec
  bool fp16 = false;          // network weights as F16 (latent step/offset and entropy tables stay exact)
  bool gdn_f32 = false;       // with fp16: keep GDN beta/gamma F32
};

// `aecodec-train convert`: re-stores an existing model file's network tensors (a new id, the same name).
struct ConvertOptions {
  std::string in, out;
  std::string name;   // non-empty: the model's new name (a run trained under another name, e.g. on the GPU)
  std::string valid;  // non-empty: re-measure the scores through the codec on this folder of images
  std::string description;  // non-empty: the model's new description (what it is, at most 200 characters)
  bool fp16 = false, gdn_f32 = false;
};

struct BenchOptions {
  std::string arch = "factorized";
  int N = 128, M = 192, crop = 128, batch = 8, steps = 10, warmup = 2, threads = 0;
  bool fp32 = true, bf16 = true;
  std::string profile;  // prefix of the profiler traces (chrome://tracing JSON), "" = none
};

// Data-parallel training (distributed.h): this process's place among `world_size` ranks and where they meet.
// Not saved: a run's checkpoint is the same whatever the world size, so any world size resumes it.
struct DistOptions {
  int world_size = 1;                     // 1: no process group
  int rank = 0;                           // rank 0 resolves the run, validates, checkpoints, logs and exports
  int local_rank = -1;                    // this machine's GPU for CUDA (-1: the rank)
  std::string master_addr = "127.0.0.1";  // rank 0's address: it hosts the TCPStore rendezvous
  int master_port = 29500;
  double timeout_s = 1800;  // how long a rank waits for the others (rendezvous, each collective)
};
// WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT as torchrun sets them; unset ones keep the defaults.
DistOptions dist_options_from_env();

int run_train(const TrainConfig& cfg, bool resume, const DistOptions& dist = {});
int run_export(const ExportOptions& opt);
int run_convert(const ConvertOptions& opt);
int run_bench(const BenchOptions& opt);
// `aecodec-train validate`: prints a run's validation numbers as JSON (its moving average, or with
// last_weights the last step's weights) on `valid_dir` (empty: the run's own validation folder).
int run_validate(const std::string& run_dir, const std::string& valid_dir, bool last_weights, int threads);

}  // namespace aect
