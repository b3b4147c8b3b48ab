#include "export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "aecodec/codec.h"
#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "aecodec/ops.h"
#include "aecodec/quality.h"
#include "channel_codec.h"
#include "family_channel_codec.h"
#include "hyperprior_codec.h"
#include "train_state.h"

namespace aect {

namespace fs = std::filesystem;

std::string hex16(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

void put_entropy_tables(aec::ModelFile& file, const std::vector<std::vector<double>>& pmf,
                        const std::vector<double>& tail, const std::vector<int>& offset) {
  const int64_t C = int64_t(pmf.size());
  std::vector<std::vector<uint32_t>> cdfs;
  size_t L = 0;
  for (int64_t c = 0; c < C; ++c) {
    cdfs.push_back(aec::pmf_to_cdf(pmf[size_t(c)], tail[size_t(c)], aec::kCdfPrecision));
    L = std::max(L, cdfs.back().size());
  }
  std::vector<int32_t> cdf(size_t(C) * L, 0), length(static_cast<size_t>(C)),
      off(offset.begin(), offset.end());
  for (int64_t c = 0; c < C; ++c) {
    std::copy(cdfs[size_t(c)].begin(), cdfs[size_t(c)].end(), cdf.begin() + size_t(c) * L);
    length[size_t(c)] = int32_t(cdfs[size_t(c)].size());
  }
  file.put_ints("entropy.cdf", {C, int64_t(L)}, cdf.data());
  file.put_ints("entropy.cdf_length", {C}, length.data());
  file.put_ints("entropy.offset", {C}, off.data());
}

WeightStorage weight_storage(bool fp16, bool gdn_f32) {
  WeightStorage s;
  if (fp16) s.weights = aec::DType::F16;
  if (fp16 && !gdn_f32) s.gdn = aec::DType::F16;
  return s;
}

namespace {

// "training": {"weights_dtype", "gdn_dtype" (models with GDN layers)}; absent from F32 files, so their
// documents (and ids) are as before.
void note_storage(nlohmann::json& doc, const WeightStorage& storage) {
  if (doc.contains("training") && doc["training"].is_object()) {
    doc["training"].erase("weights_dtype");
    doc["training"].erase("gdn_dtype");
  }
  if (storage.weights == aec::DType::F32 && storage.gdn == aec::DType::F32) return;
  doc["training"]["weights_dtype"] = aec::dtype_name(storage.weights);
  bool gdn = false;
  for (const char* list : {"encoder", "decoder", "up_decoder"})
    if (doc.contains(list) && doc[list].is_array())
      for (const nlohmann::json& l : doc[list])
        gdn = gdn || (l.is_object() && l.value("op", "") == aec::op::kGdn);
  if (gdn) doc["training"]["gdn_dtype"] = aec::dtype_name(storage.gdn);
}

}  // namespace

void store_network_as(aec::ModelFile& file, const WeightStorage& storage) {
  for (const char* list : {"encoder", "decoder"})
    aec::require(file.meta.contains(list) && file.meta[list].is_array(),
                 std::string("model document has no \"") + list + "\" layer list");
  // A hyperprior's h_a is a float network like g_a (it only makes z, on the encoder's side); its integer h_s
  // and every table are exact integers and stay so (a file written before I16 existed gets them re-stored
  // below, as I16 where they fit).
  std::vector<const nlohmann::json*> lists = {&file.meta["encoder"], &file.meta["decoder"]};
  if (file.meta.contains("up_decoder") && file.meta["up_decoder"].is_array())
    lists.push_back(&file.meta["up_decoder"]);
  const nlohmann::json* entropy = file.meta.contains("entropy") ? &file.meta["entropy"] : nullptr;
  if (entropy && entropy->is_object() && entropy->contains("hyper_encoder") &&
      entropy->at("hyper_encoder").is_array())
    lists.push_back(&entropy->at("hyper_encoder"));
  for (const nlohmann::json* list : lists) {
    for (const nlohmann::json& l : *list) {
      const std::string op = l.value("op", "");
      std::vector<std::string> names;
      aec::DType dtype = storage.weights;
      if (aec::op::weighted(op)) {
        names = {".weight", ".bias"};
      } else if (op == aec::op::kGdn) {
        names = {".beta", ".gamma"};
        dtype = storage.gdn;
      } else {
        continue;
      }
      const std::string layer = l.value("name", "");
      for (const std::string& suffix : names) {
        const std::string name = layer + suffix;
        aec::require(file.has(name), "model has no tensor '" + name + "' (layer '" + layer + "')");
        const std::vector<int64_t> shape = file.tensors.at(name).shape;
        const std::vector<float> v = file.floats(name, shape);
        put_weights(file, name, shape, v.data(), dtype);
      }
    }
  }
  for (auto& [name, t] : file.tensors) {
    if (t.dtype != aec::DType::I32) continue;
    const std::vector<int32_t> v = file.ints(name, t.shape);
    file.put_ints(name, std::vector<int64_t>(t.shape), v.data());
  }
  note_storage(file.meta, storage);
}

namespace {

struct Quantizer {
  std::vector<float> step, offset;
  std::vector<std::vector<double>> pmf;
  std::vector<double> tail;
  std::vector<int> table_offset;
  nlohmann::json fit;  // how it was chosen
};

// Plain autoencoders: per-channel offset = mean of y, step = k * std(y) with the largest k (halving from 1)
// whose reconstruction PSNR drop on sample crops stays within max_drop dB; tables = smoothed histograms of q.
Quantizer fit_quantizer(LoadedRun& run, double max_drop) {
  torch::NoGradGuard ng;
  CodecImpl& model = *run.model;
  const std::string dir =
      !run.cfg.valid.empty() && fs::is_directory(run.cfg.valid) ? run.cfg.valid : run.cfg.data;
  const ImageSet set = load_images(dir, false, 64);
  BatchSpec spec;
  const int fixed = model.fixed_size();
  int smallest = 1 << 30;
  for (const auto& im : set.images) smallest = std::min({smallest, im.width, im.height});
  spec.crop =
      fixed ? fixed : std::max(model.stride(), std::min(128, smallest) / model.stride() * model.stride());
  spec.batch = fixed ? 256 : 16;
  std::vector<float> b = make_batch(set, spec, 12345, 0);
  const torch::Device device = model.parameters()[0].device();
  torch::Tensor x =
      torch::from_blob(b.data(), {spec.batch, 3, spec.crop, spec.crop}, torch::kFloat).to(device);
  Member m = model.members()[0];
  torch::Tensor y = model.encode(x, 0, "").to(torch::kFloat);
  const int64_t C = y.size(1);
  torch::Tensor flat = y.transpose(0, 1).reshape({C, -1});
  torch::Tensor mean = flat.mean(1), std = flat.std(1).clamp_min(1e-6);
  auto psnr_of_latent = [&](const torch::Tensor& z) {
    torch::Tensor xh = m.decode(z).to(torch::kFloat);
    return psnr_of(sq_err_8bit(xh, x, spec.crop, spec.crop), x.numel());
  };
  const double base = psnr_of_latent(y);
  auto quantise = [&](double k) {
    torch::Tensor s = (std * k).view({1, C, 1, 1}), o = mean.view({1, C, 1, 1});
    return torch::round((y - o) / s) * s + o;
  };
  double k = 1.0;
  double drop = base - psnr_of_latent(quantise(k));
  while (drop > max_drop && k > 1.0 / 4096) {
    k *= 0.5;
    drop = base - psnr_of_latent(quantise(k));
  }
  Quantizer qz;
  qz.step = to_floats(std * k);
  qz.offset = to_floats(mean);
  torch::Tensor q = torch::round((flat - mean.view({C, 1})) / (std * k).view({C, 1})).to(torch::kLong).cpu();
  for (int64_t c = 0; c < C; ++c) {
    torch::Tensor qc = q[c];
    const int64_t lo = std::max<int64_t>(qc.min().item<int64_t>() - 2, -2048);
    const int64_t hi = std::min<int64_t>(qc.max().item<int64_t>() + 2, 2047);
    torch::Tensor counts = torch::bincount(qc.clamp(lo, hi) - lo, {}, hi - lo + 1).to(torch::kDouble);
    counts = counts.contiguous();
    const auto ca = counts.accessor<double, 1>();
    std::vector<double> pmf(static_cast<size_t>(hi - lo + 1));
    const double total = counts.sum().item<double>() + 0.5 * double(pmf.size()) + 1.0;
    for (size_t i = 0; i < pmf.size(); ++i) pmf[i] = (ca[int64_t(i)] + 0.5) / total;
    qz.pmf.push_back(std::move(pmf));
    qz.tail.push_back(1.0 / total);
    qz.table_offset.push_back(int(lo));
  }
  qz.fit = {{"samples", spec.batch},    {"crop", spec.crop}, {"step_over_std", k},
            {"psnr_unquantised", base}, {"psnr_drop", drop}, {"from", dir}};
  return qz;
}

// What the codec's integer h_s costs against the float network it was quantised from, on the validation
// images: mean bpp with the float h_s (continuous scales, what training optimises), with the float h_s but
// scales mapped to the table (the table's own cost), and with the integer h_s (what the codec does).
nlohmann::json hyper_synthesis_cost(HyperpriorCodecImpl& model, const ImageSet& set, int quality) {
  torch::NoGradGuard ng;
  model.eval();
  using Mode = HyperpriorCodecImpl::HsMode;
  const IntHyperSynthesis hs = IntHyperSynthesis::quantize(*model.h_s);
  double bpp[3] = {0, 0, 0};
  for (const aec::Image& im : set.images) {
    int pw = 0, ph = 0;
    std::vector<float> planes = image_planes(im, model.stride(), pw, ph);
    const torch::Tensor y =
        model.encode(torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone(), quality);
    const double px = double(im.width) * im.height;
    int i = 0;
    for (Mode m : {Mode::float_continuous, Mode::float_table, Mode::integer}) {
      const auto c = model.code(y, m, &hs);
      bpp[i++] += (c.bits_y + c.bits_z) / px / double(set.images.size());
    }
  }
  const double cost = 100.0 * (bpp[2] / bpp[1] - 1);
  std::fprintf(stderr,
               "hyper-synthesis on %zu validation images: float h_s %.4f bpp (continuous scales), %.4f bpp "
               "(table scales); integer h_s %.4f bpp: the integer network costs %+.3f%%\n",
               set.images.size(), bpp[0], bpp[1], bpp[2], cost);
  return {{"float_bpp", bpp[0]},
          {"float_table_bpp", bpp[1]},
          {"integer_bpp", bpp[2]},
          {"integer_cost_percent", cost},
          {"images", set.images.size()}};
}

// The training.* record every exported model carries: how it was trained (recipe, data, steps, CPU time);
// callers add what is particular to the file (its lambda and quality, a family's loss weights).
nlohmann::json training_record(const LoadedRun& run) {
  const TrainConfig& cfg = run.cfg;
  return {{"trainer", "aecodec-train"},
          {"arch", cfg.arch},
          {"data", cfg.data},
          {"valid", cfg.valid},
          {"seed", cfg.seed},
          {"steps", run.state.step},
          {"images_seen", run.state.images},
          {"crop", cfg.crop},
          {"batch", cfg.batch},
          {"lr", cfg.lr},
          {"N", cfg.N},
          {"M", cfg.M},
          {"bf16", cfg.bf16},
          {"init", cfg.init},
          {"provenance", cfg.provenance},
          {"nan_events", run.state.nan_events},
          {"wall_hours", run.state.wall_s / 3600},
          {"cpu_seconds", run.state.cpu_s},
          {"cpu_hours", run.state.cpu_s / 3600}};
}

// What the model is, in a line (aecodec info, the cards, the demo); how it was trained is in training.*
// (steps, CPU-hours, provenance).
std::string short_description(const TrainConfig& cfg, int q, bool knob, const std::string& role) {
  char lam[64];
  std::snprintf(lam, sizeof lam, "lambda %g", cfg.lambdas[size_t(q)]);
  char rng[96];
  std::snprintf(rng, sizeof rng, "variable rate: quality 1-100 over lambda %g-%g", cfg.lambdas.front(),
                cfg.lambdas.back());
  const std::string size = " (N=" + std::to_string(cfg.N) + ", M=" + std::to_string(cfg.M) + ")";
  const std::string rate = knob ? rng : lam;
  if (cfg.arch == "channel")
    return "Channel-conditional context model on a mean-scale hyperprior" + size + ", " + rate;
  if (cfg.arch == "hyperprior") return "Mean-scale hyperprior codec" + size + ", " + rate;
  if (cfg.arch == "factorized") return "Factorized-prior codec with GDN" + size + ", " + rate;
  if (cfg.arch == "family") return "Cross-resolution family member (" + role + ")" + size + ", " + rate;
  if (cfg.arch == "conv") return "Convolutional autoencoder" + size + " (a demonstration, not an RD codec)";
  if (cfg.arch == "vae") return "Variational autoencoder" + size + " (a demonstration, not an RD codec)";
  if (cfg.arch == "fc") return "Fully connected autoencoder, 32x32 images (a demonstration, not an RD codec)";
  return cfg.arch + " model" + size;
}

}  // namespace

namespace {

// The family on the channel codec (family_channel_codec.h): the high member is the base channel file as it
// is (the run's base.aem, the --init file), which the medium member names as its family's high (no second
// copy: the base's own files cross-decode at half size), or else the run's frozen channel network exported
// as a channel model in the family; the medium member is the run's half-size networks with the base's
// entropy model, gains and quality knob copied verbatim, so both carry one entropy identity and the core
// cross-decodes them.
std::vector<std::pair<std::string, aec::ModelFile>> export_family_channel(LoadedRun& run,
                                                                          FamilyChannelCodecImpl& model,
                                                                          const std::string& base_name,
                                                                          const ExportOptions& opt) {
  const TrainConfig& cfg = run.cfg;
  aec::ModelFile base;
  const fs::path base_path = fs::path(run.dir) / "base.aem";
  const bool base_file = !run.dir.empty() && fs::exists(base_path);
  if (base_file) {
    base = aec::ModelFile::read(base_path.string());
  } else {
    LoadedRun channel;
    channel.cfg = cfg;
    channel.cfg.arch = "channel";
    auto net = std::make_shared<ChannelCodecImpl>(cfg.N, cfg.M, cfg.lambdas, false);
    {
      torch::NoGradGuard ng;
      const auto from = model.named_parameters();
      for (auto& kv : net->named_parameters())
        if (const torch::Tensor* t = from.find(kv.key())) kv.value().copy_(*t);
      const auto bfrom = model.named_buffers();
      for (auto& kv : net->named_buffers())
        if (const torch::Tensor* t = bfrom.find(kv.key())) kv.value().copy_(*t);
    }
    net->eval();
    channel.model = net;
    channel.state = run.state;
    ExportOptions o = opt;
    o.description.clear(), o.quality = -1;
    base = std::move(export_models(channel, base_name + "-high", o).front().second);
  }
  const aec::Model base_model = aec::Model::from_file(base);
  aec::require(base_model.info().entropy_kind == "channel" && base_model.info().stride == 16,
               "family-channel export: the high member must be a channel model of stride 16");
  const std::string family_id = "fam-" + hex16(base_model.info().entropy_hash);
  const std::string base_label = base.meta.value("name", std::string("channel"));
  nlohmann::json family_training = training_record(run);
  family_training["lambdas"] = cfg.lambdas;
  family_training["family_weights"] = cfg.family_weights;
  family_training["medium_width"] = cfg.medium_width;
  family_training["medium_lrp"] = cfg.medium_lrp;
  if (cfg.medium_front > 0) family_training["medium_front"] = cfg.medium_front;
  if (cfg.up_synthesis) family_training["up_synthesis"] = true;
  if (cfg.up_balance > 0) family_training["up_balance"] = cfg.up_balance;
  if (cfg.up_stages > 0) family_training["up_stages"] = cfg.up_stages;
  if (cfg.up_only) family_training["up_only"] = true;

  aec::ModelFile med;
  for (const auto& [name, t] : base.tensors)
    if (name.rfind("hyper.", 0) == 0 || name == "latent.gain" || name == "latent.inv_gain")
      med.tensors[name] = t;
  const WeightStorage storage = weight_storage(opt.fp16, opt.gdn_f32);
  nlohmann::json enc = nlohmann::json::array(), dec = nlohmann::json::array();
  // A quality-knob base keeps its gains in latent.gain (the core folds them per quality): none folded here.
  model.m_a->export_to(med, enc, nullptr, nullptr, storage);
  model.m_s->export_to(med, dec, nullptr, nullptr, storage);
  nlohmann::json up = nlohmann::json::array();
  if (model.u_s) model.u_s->export_to(med, up, nullptr, nullptr, storage);
  nlohmann::json& d = med.meta;
  d["format"] = aec::ModelFile::kFormat;
  d["format_version"] = aec::ModelFile::kFormatVersion;
  d["name"] = base_name + "-medium";
  d["arch"] = "channel";
  d["description"] =
      !opt.description.empty()
          ? opt.description
          : "Cross-resolution family member (medium): half-size images in the latent space and "
            "entropy model of the channel codec '" +
                base_label + "'";
  d["input"] = {{"channels", 3}, {"stride", 8}, {"size", nullptr}};
  d["latent"] = {{"channels", cfg.M}};
  d["family"] = {{"id", family_id}, {"role", "medium"}, {"stride", 8}};
  if (base_file) d["family"]["high"] = {{"name", base_label}, {"id", base_model.info().id}, {"stride", 16}};
  d["encoder"] = enc;
  d["decoder"] = dec;
  if (!model.medium_lrp()) d["decoder_lrp"] = false;
  if (model.u_s) d["up_decoder"] = up;  // the up path's full-size decoder (LRP's latent)
  d["quantizer"] = base.meta["quantizer"];
  d["entropy"] = base.meta["entropy"];
  if (base.meta.contains("variable_rate")) d["variable_rate"] = base.meta["variable_rate"];
  d["training"] = family_training;
  note_storage(d, storage);
  nlohmann::json scores = nlohmann::json::object();
  if (run.valid.is_object()) {
    // The trainer's validation at the quality nearest lambda 0.013, as a quality-knob export's.
    std::string key;
    if (cfg.lambdas.size() > 1) {
      size_t best = 0;
      for (size_t k = 1; k < cfg.lambdas.size(); ++k)
        if (std::fabs(std::log(cfg.lambdas[k] / 0.013)) < std::fabs(std::log(cfg.lambdas[best] / 0.013)))
          best = k;
      key = "q" + std::to_string(best + 1);
    }
    scores = !key.empty() && run.valid.contains(key) ? run.valid[key] : run.valid;
    scores["valid_set"] = cfg.valid;
    scores["step"] = run.valid.value("step", int64_t(0));
    scores["source"] = std::string(
                           "trainer validation (ideal bits; bpp and psnr: the medium latent of the half-size "
                           "image decoded at full size by ") +
                       (model.u_s ? "the member's up decoder)" : "the high member)");
  }
  d["scores"] = scores;
  d["id"] = hex16(med.decode_hash());
  const aec::Model check = aec::Model::from_file(med);
  aec::require(check.info().entropy_hash == base_model.info().entropy_hash,
               "family-channel export: the medium member's entropy model differs from the high member's");
  if (base_file) return {{base_name + "-medium", std::move(med)}};
  // From a channel run: its frozen network, written as the family's high member.
  aec::ModelFile high = std::move(base);
  high.meta["name"] = base_name + "-high";
  high.meta["description"] = !opt.description.empty()
                                 ? opt.description
                                 : "Cross-resolution family member (high): the channel codec '" + base_label +
                                       "' unchanged; its files also decode at half size";
  high.meta["family"] = {{"id", family_id}, {"role", "high"}, {"stride", 16}};
  high.meta["training"]["family"] = family_training;  // the base's own training stays: it is that network
  high.meta["id"] = hex16(high.decode_hash());
  return {{base_name + "-high", std::move(high)}, {base_name + "-medium", std::move(med)}};
}

}  // namespace

std::vector<std::pair<std::string, aec::ModelFile>> export_models(LoadedRun& run,
                                                                  const std::string& base_name,
                                                                  const ExportOptions& opt) {
  if (auto* family = dynamic_cast<FamilyChannelCodecImpl*>(run.model.get())) {
    family->eval();
    return export_family_channel(run, *family, base_name, opt);
  }
  CodecImpl& model = *run.model;
  model.eval();
  const TrainConfig& cfg = run.cfg;
  const int C = model.latent_channels;
  std::vector<std::pair<std::string, aec::ModelFile>> out;

  auto* hyper = dynamic_cast<HyperpriorCodecImpl*>(&model);  // codes y with its own entropy model
  Quantizer qz;
  if (hyper) {
    // nothing to fit: export_entropy writes the hyperprior below
  } else if (model.rate_distortion()) {
    EntropyTables t = model.eb->tabulate();
    qz.pmf = std::move(t.pmf), qz.tail = std::move(t.tail), qz.table_offset = std::move(t.offset);
    qz.step.assign(size_t(C), 1.0f);
    qz.offset = std::move(t.median);
  } else {
    qz = fit_quantizer(run, opt.ae_psnr_drop);
  }

  std::vector<Member> members = model.members();
  const int Q = model.qualities();
  const WeightStorage storage = weight_storage(opt.fp16, opt.gdn_f32);
  // A family's id: derived from the run's shared entropy tables, identical for every member.
  std::string family_id;
  if (members.size() > 1) {
    aec::ModelFile probe;
    probe.meta = nlohmann::json::object();
    put_entropy_tables(probe, qz.pmf, qz.tail, qz.table_offset);
    family_id = "fam-" + hex16(probe.content_hash());
  }
  // A variable-rate context model is the quality knob's network: one file with every quality's gains
  // (aec::Model::at_quality folds them), its default quality the one nearest lambda 0.013 (q5 of the
  // single-rate levels). Other variable-rate models export one file per quality, the gains folded in.
  const bool knob = Q > 1 && dynamic_cast<ChannelCodecImpl*>(&model) != nullptr;
  int knob_q = 0;
  for (int q = 1; knob && q < Q; ++q)
    if (std::fabs(std::log(cfg.lambdas[size_t(q)] / 0.013)) <
        std::fabs(std::log(cfg.lambdas[size_t(knob_q)] / 0.013)))
      knob_q = q;
  for (const Member& mem : members) {
    for (int q = 0; q < Q; ++q) {
      if (knob && q != knob_q) continue;
      if (!knob && opt.quality >= 0 && q != opt.quality) continue;
      std::string name = base_name;
      if (!mem.role.empty()) name += "-" + mem.role;
      if (Q > 1 && !knob) name += "-q" + std::to_string(q + 1);
      aec::ModelFile f;
      nlohmann::json enc = nlohmann::json::array(), dec = nlohmann::json::array();
      std::vector<float> g = model.gain_of(q), ig = model.inv_gain_of(q);
      if (knob) {
        std::vector<float> rows, inv_rows;
        for (int k = 0; k < Q; ++k) {
          const std::vector<float> a = model.gain_of(k), b = model.inv_gain_of(k);
          rows.insert(rows.end(), a.begin(), a.end());
          inv_rows.insert(inv_rows.end(), b.begin(), b.end());
        }
        f.put_floats("latent.gain", {int64_t(Q), int64_t(C)}, rows.data());
        f.put_floats("latent.inv_gain", {int64_t(Q), int64_t(C)}, inv_rows.data());
        f.meta["variable_rate"] = {
            {"lambdas", cfg.lambdas},
            {"default_quality", aec::quality_of_lambda(cfg.lambdas, cfg.lambdas[size_t(q)])}};
        g.clear(), ig.clear();
      }
      if (mem.enc_pre) mem.enc_pre->export_to(f, enc, nullptr, nullptr, storage);
      mem.enc->export_to(f, enc, g.empty() ? nullptr : &g, nullptr, storage);
      for (const auto& l : mem.enc_suffix) enc.push_back(l);
      mem.dec->export_to(f, dec, nullptr, ig.empty() ? nullptr : &ig, storage);
      for (const LayerStack& s : mem.dec_post) s->export_to(f, dec, nullptr, nullptr, storage);
      if (model.prior_scale(q).defined()) {  // each quality's own tabulation of the one prior
        EntropyTables t = model.eb->tabulate(model.prior_scale(q));
        qz.pmf = std::move(t.pmf), qz.tail = std::move(t.tail), qz.table_offset = std::move(t.offset);
        qz.offset = std::move(t.median);
      }
      if (!hyper) {
        f.put_floats("latent.step", {C}, qz.step.data());
        f.put_floats("latent.offset", {C}, qz.offset.data());
        put_entropy_tables(f, qz.pmf, qz.tail, qz.table_offset);
      }

      nlohmann::json& d = f.meta;
      d["format"] = aec::ModelFile::kFormat;
      d["format_version"] = aec::ModelFile::kFormatVersion;
      d["name"] = name;
      d["arch"] = cfg.arch == "family" ? "factorized" : cfg.arch;
      d["description"] =
          !opt.description.empty() ? opt.description : short_description(cfg, q, knob, mem.role);
      const int fixed = model.fixed_size();
      d["input"] = {{"channels", 3}, {"stride", mem.stride}, {"size", nullptr}};
      if (fixed) d["input"]["size"] = {fixed, fixed};
      d["latent"] = {{"channels", C}};
      if (!family_id.empty()) d["family"] = {{"id", family_id}, {"role", mem.role}, {"stride", mem.stride}};
      d["encoder"] = enc;
      d["decoder"] = dec;
      if (hyper) {
        hyper->export_entropy(f, d, storage);
      } else {
        d["quantizer"] = {{"kind", "uniform"}};
        if (!model.rate_distortion()) d["quantizer"]["fit"] = qz.fit;
        d["entropy"] = {{"kind", "factorized"}, {"precision", aec::kCdfPrecision}};
      }
      d["training"] = training_record(run);
      d["training"]["lambda"] = cfg.lambdas[size_t(q)];
      d["training"]["lambdas"] = cfg.lambdas;
      d["training"]["quality"] = q + 1;
      if (const nlohmann::json state = put_train_state(f, model, q); !state.is_null())
        d["training"]["state"] = state;
      note_storage(d, storage);
      nlohmann::json scores = nlohmann::json::object();
      if (run.valid.is_object()) {
        scores = Q > 1 && run.valid.contains("q" + std::to_string(q + 1))
                     ? run.valid["q" + std::to_string(q + 1)]
                     : run.valid;
        scores["valid_set"] = cfg.valid;
        scores["step"] = run.valid.value("step", int64_t(0));
        scores["source"] = "trainer validation (ideal bits of the rounded latent under the learned prior)";
      }
      d["scores"] = scores;
      d["id"] = hex16(f.decode_hash());
      out.emplace_back(name, std::move(f));
    }
  }
  return out;
}

// Scores by the real codec: the mean over `valid` of each image's .aec size (header included) and decoded
// PSNR (fixed-size models see the centre crop they take). Scores are not part of the id.
static void add_codec_scores(aec::ModelFile& f, const ImageSet& valid, int fixed) {
  const aec::Model model = aec::Model::from_file(f);
  double bpp = 0, psnr = 0;
  for (const aec::Image& full : valid.images) {
    const aec::Image im = fixed ? center_crop(full, fixed, fixed) : full;
    const aec::EncodeResult e = aec::encode_image(model, im);
    const aec::DecodeResult d = aec::decode_image(model, e.bytes.data(), e.bytes.size());
    bpp += aec::bits_per_pixel(e.bytes.size(), im.width, im.height);
    psnr += aec::psnr(d.image, im);
  }
  const double n = double(valid.images.size());
  f.meta["scores"]["codec_bpp"] = bpp / n;
  f.meta["scores"]["codec_psnr"] = psnr / n;
  f.meta["scores"]["codec_images"] = valid.images.size();
  f.meta["scores"]["codec_note"] =
      "mean over the validation images of the .aec file size (header included) and PSNR";
  std::fprintf(stderr, "%s: codec %.4f bpp, PSNR %.3f dB on %zu validation images\n",
               f.meta.value("name", "").c_str(), bpp / n, psnr / n, valid.images.size());
}

int run_export(const ExportOptions& opt) {
  aec::require(!opt.run.empty() && !opt.out.empty(), "export: --run and --out are required");
  LoadedRun run = load_run(opt.run, torch::kCPU);
  fs::path out(opt.out);
  const std::string base = opt.name.empty() ? out.stem().string() : opt.name;
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!dir.empty()) fs::create_directories(dir);
  auto files = export_models(run, base, opt);
  ImageSet valid;
  if (opt.codec_scores && !run.cfg.valid.empty() && fs::is_directory(run.cfg.valid))
    valid = load_images(run.cfg.valid, false);
  auto* hyper = dynamic_cast<HyperpriorCodecImpl*>(run.model.get());
  const bool family_channel = run.cfg.arch == "family-channel";
  for (auto& [name, f] : files) {
    // A family's members are named by role (NAME-medium.aem), also when the high member is the base's file.
    const std::string path =
        files.size() == 1 && !family_channel ? out.string() : (dir / (name + ".aem")).string();
    if (!valid.images.empty() && hyper && !family_channel) {
      const int quality = f.meta["training"].value("quality", 1) - 1;
      f.meta["scores"]["hyper_synthesis"] = hyper_synthesis_cost(*hyper, valid, quality);
    }
    if (!valid.images.empty() && family_channel && f.meta["family"].value("role", "") == "medium") {
      // The medium member codes half-size images: score it on the box-downscaled validation images.
      ImageSet half;
      for (const aec::Image& im : valid.images) half.images.push_back(aec::downscale2x_box(im));
      add_codec_scores(f, half, 0);
    } else if (!valid.images.empty()) {
      add_codec_scores(f, valid, run.model->fixed_size());
    }
    f.write(path);
    std::fprintf(stderr, "wrote %s (%s, id %s%s)\n", path.c_str(), name.c_str(),
                 f.meta["id"].get<std::string>().c_str(), opt.fp16 ? ", F16 weights" : "");
  }
  return 0;
}

int run_convert(const ConvertOptions& opt) {
  aec::require(!opt.in.empty() && !opt.out.empty(), "convert: IN and OUT model files are required");
  aec::require(opt.fp16 || !opt.name.empty() || !opt.valid.empty() || !opt.description.empty(),
               "convert: nothing to do (give --fp16, --name, --description or --valid)");
  aec::require(opt.description.size() <= 200, "convert: a description is at most 200 characters");
  aec::ModelFile f = aec::ModelFile::read(opt.in);
  const std::string old_id = f.meta.value("id", "");
  const uint64_t old_bytes = f.serialize().size();
  f.meta["training"]["converted_from"] = old_id;
  if (opt.fp16) {
    store_network_as(f, weight_storage(opt.fp16, opt.gdn_f32));
    if (f.meta.contains("scores") && f.meta["scores"].is_object() && !f.meta["scores"].empty())
      f.meta["scores"]["measured_on"] = "model " + old_id + " before conversion to F16 weights";
  }
  if (!opt.name.empty()) f.meta["name"] = opt.name;
  if (!opt.description.empty()) f.meta["description"] = opt.description;
  if (!opt.valid.empty()) {
    // Scores measured elsewhere (another validation set, a GPU run's JPEG copies) give way to this folder's.
    const ImageSet valid = load_images(opt.valid, false);
    aec::require(!valid.images.empty(), "convert: no images in " + opt.valid);
    const int fixed = aec::Model::from_file(f).info().fixed_width;  // (the Model is a temporary)
    f.meta["scores"] = nlohmann::json::object({{"valid_set", opt.valid}});
    add_codec_scores(f, valid, fixed);
  }
  // The id stays through a new description or scores, and changes with a new name or F16 weights.
  f.meta["id"] = hex16(f.decode_hash());
  aec::Model::from_file(f);  // the core must accept the result
  const uint64_t new_bytes = f.serialize().size();
  f.write(opt.out);
  std::fprintf(stderr, "wrote %s (%s, id %s, was %s): %llu -> %llu bytes\n", opt.out.c_str(),
               f.meta.value("name", "").c_str(), f.meta["id"].get<std::string>().c_str(), old_id.c_str(),
               (unsigned long long)old_bytes, (unsigned long long)new_bytes);
  return 0;
}

}  // namespace aect
