// info (a model or .aec file, as text or JSON) and models (what is installed).
#include <cmath>
#include <cstdio>

#include "aecodec/bitstream.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/hyperprior.h"
#include "aecodec/metrics.h"
#include "aecodec/quality.h"
#include "commands.h"
#include "model_list.h"
#include "model_registry.h"

namespace aec::cli {

namespace {

// Network weights (a hyperprior's hyper networks included), not entropy tables or quantiser constants.
int64_t parameter_count(const ModelFile& f) {
  int64_t n = 0;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("entropy.", 0) != 0 && name.rfind("latent.", 0) != 0 && name.rfind("hyper.z.", 0) != 0 &&
        name.rfind("hyper.gaussian.", 0) != 0)
      n += t.numel();
  return n;
}

nlohmann::json model_summary(const Model& m, const std::string& path) {
  const ModelInfo& i = m.info();
  nlohmann::json j = {{"kind", "model"},
                      {"path", path},
                      {"name", i.name},
                      {"id", i.id},
                      {"content_id", hash_hex(i.content_hash)},
                      {"arch", i.arch},
                      {"description", i.description},
                      {"parameters", parameter_count(m.file())},
                      {"stride", i.stride},
                      {"latent_channels", i.latent_channels},
                      {"entropy", i.entropy_kind},
                      {"entropy_id", hash_hex(i.entropy_hash)},
                      {"encoder_layers", m.encoder().size()},
                      {"decoder_layers", m.decoder().size()}};
  if (i.fixed_width) j["input_size"] = {i.fixed_width, i.fixed_height};
  if (m.hyperprior()) j["hyper_channels"] = m.hyperprior()->channels();
  if (!i.family_id.empty()) j["family"] = {{"id", i.family_id}, {"role", i.family_role}};
  if (!i.family_high.empty())
    j["family"]["high"] = {
        {"name", i.family_high}, {"id", i.family_high_id}, {"stride", i.family_high_stride}};
  if (!i.decoder_lrp) j["decoder_lrp"] = false;  // the decoder reads the coded latent (docs/model-format.md)
  if (i.up_decoder)
    j["up_decoder_layers"] = m.up_decoder().size();  // its files also decode at twice the size
  if (m.variable_rate()) {
    // Each trained lambda's quality: where Q's interpolated gains are the trained ones.
    nlohmann::json qs = nlohmann::json::array();
    for (double l : i.lambdas)
      qs.push_back(std::round(100.0 * (1.0 + 99.0 * std::log(l / i.lambdas.front()) /
                                                 std::log(i.lambdas.back() / i.lambdas.front()))) /
                   100.0);
    j["variable_rate"] = {
        {"lambdas", i.lambdas}, {"trained_qualities", qs}, {"default_quality", i.default_quality}};
  }
  for (const char* key : {"training", "scores"})
    if (m.file().meta.contains(key)) j[key] = m.file().meta[key];
  const int w = i.fixed_width ? i.fixed_width : 768, h = i.fixed_width ? i.fixed_height : 512;
  j["gmacs_" + std::to_string(w) + "x" + std::to_string(h)] = {{"encoder", m.encoder().macs(3, h, w) / 1e9},
                                                               {"decoder", [&] {
                                                                  int c = 3, lh = h, lw = w;
                                                                  m.encoder().output_shape(c, lh, lw);
                                                                  return m.decoder().macs(c, lh, lw) / 1e9;
                                                                }()}};
  if (i.up_decoder) {
    int c = 3, lh = h, lw = w;
    m.encoder().output_shape(c, lh, lw);
    j["gmacs_" + std::to_string(w) + "x" + std::to_string(h)]["up_decoder"] =
        m.up_decoder().macs(c, lh, lw) / 1e9;
  }
  return j;
}

nlohmann::json stream_summary(const std::vector<uint8_t>& bytes, const std::string& path) {
  const Bitstream b = parse_bitstream(bytes.data(), bytes.size());
  const BitstreamHeader& h = b.header;
  nlohmann::json j = {{"kind", "bitstream"},
                      {"path", path},
                      {"bytes", bytes.size()},
                      {"model", h.model_name},
                      {"model_id", hash_hex(h.model_hash)},
                      {"width", h.width},
                      {"height", h.height},
                      {"bpp", bits_per_pixel(bytes.size(), int(h.width), int(h.height))},
                      {"version", h.version}};
  // Versions 1 and 2 store the shapes and identities that version 3 derives from the model or keeps in its
  // family section.
  if (h.stride) j["stride"] = h.stride;
  if (h.latent_c) j["latent"] = {h.latent_c, h.latent_h, h.latent_w};
  if (h.hyper_c) j["hyper_latent"] = {h.hyper_c, h.hyper_h, h.hyper_w};
  if (h.version < kBitstreamVersion || !h.family_id.empty()) j["entropy_id"] = hash_hex(h.entropy_hash);
  if (!h.family_id.empty()) j["family"] = h.family_id;
  // A variable-rate model's quality: the member's own, for a file made through a codec of several networks.
  if (const std::vector<uint8_t>* q = b.find(kSectionQuality))
    j["quality"] = read_quality_section(*q) / 100.0;
  if (const std::vector<uint8_t>* p = b.find(kSectionPayload)) j["payload_bytes"] = p->size();
  // The payload's row bands (docs/bitstream.md, "Substreams"): the section's first varint; 1 without one.
  if (const std::vector<uint8_t>* p = b.find(kSectionSubstreams)) {
    size_t pos = 0;
    j["payload_bands"] = read_varint(*p, pos, UINT64_MAX, "substreams' band count");
  } else if (b.find(kSectionPayload)) {
    j["payload_bands"] = 1;
  }
  if (const std::vector<uint8_t>* p = b.find(kSectionHyperPayload)) j["hyper_payload_bytes"] = p->size();
  size_t sections = 0;
  for (const Section& s : b.sections) sections += s.bytes.size();
  j["container_bytes"] = bytes.size() - sections;  // header, section framing and checksum
  return j;
}

nlohmann::json codec_summary(const std::string& path) {
  const CodecManifest m = CodecManifest::read(path);
  nlohmann::json j = {{"kind", "codec"},
                      {"path", path},
                      {"name", m.name},
                      {"description", m.description},
                      {"default_quality", m.default_quality}};
  for (const CodecMember& c : m.members)
    j["members"][c.model] = {{"quality", {c.from, c.to}}, {"model_quality", {c.member_from, c.member_to}}};
  return j;
}

void print_text(const nlohmann::json& j, const std::string& indent = "") {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_object()) {
      std::printf("%s%s:\n", indent.c_str(), it.key().c_str());
      print_text(it.value(), indent + "  ");
    } else {
      const std::string v = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
      std::printf("%s%-16s %s\n", indent.c_str(), (it.key() + ":").c_str(), v.c_str());
    }
  }
}

}  // namespace

void add_info_commands(CLI::App& app, const GlobalOptions&) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* info = app.add_subcommand(
      "info", "describe a model file (.aem), a codec manifest (.codec.json) or a compressed file (.aec)");
  info->add_option("file", *path, "model, codec manifest or .aec file, or an installed model's name")
      ->required();
  info->add_flag("--json", *json, "print JSON");
  info->callback([path, json] {
    nlohmann::json j;
    std::vector<uint8_t> head;
    bool is_file = false;
    {
      FILE* f = std::fopen(path->c_str(), "rb");
      if (f) {
        is_file = true;
        head.resize(4);
        head.resize(std::fread(head.data(), 1, 4, f));
        std::fclose(f);
      }
    }
    if (is_file && head.size() == 4 && head[0] == 'A' && head[1] == 'E' && head[2] == 'C' && head[3] == 0x1A)
      j = stream_summary(read_file(*path, uint64_t(1) << 30), *path);
    else if (is_file && CodecManifest::is_path(*path))
      j = codec_summary(*path);
    else
      j = model_summary(load_model(*path), *path);
    if (*json)
      std::printf("%s\n", j.dump(2).c_str());
    else
      print_text(j);
  });

  CLI::App* models = app.add_subcommand("models", "list the models on the model path, grouped into codecs");
  auto files = std::make_shared<bool>(false);
  models->add_flag("--files", *files, "one line per model file: name, id, arch, path");
  models->callback([files] { print_models(*files); });
}

}  // namespace aec::cli
