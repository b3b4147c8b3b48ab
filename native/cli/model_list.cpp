#include "model_list.h"

#include <cstdio>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "aecodec/codec_manifest.h"
#include "aecodec/error.h"
#include "aecodec/model.h"
#include "encode_options.h"
#include "model_registry.h"

namespace aec::cli {

namespace {

struct Entry {
  std::string name, path;
  ModelInfo info;
};

bool is_codec(const ModelInfo& i) {
  return i.arch == "factorized" || i.arch == "hyperprior" || i.arch == "channel";
}

// "hyperprior-q5" -> "hyperprior": the codec a single-rate level belongs to.
std::string codec_of(const std::string& name) {
  static const std::regex level("[-_]q[0-9]+$");
  return std::regex_replace(name, level, "");
}

std::string names(const std::vector<Entry>& v) {
  std::string s;
  for (const Entry& e : v) s += (s.empty() ? "" : ", ") + e.name;
  return s;
}

}  // namespace

void print_models(bool files) {
  std::vector<Entry> all;
  std::vector<std::string> unreadable;
  for (const std::string& p : installed_model_files()) {
    try {
      const Model m = Model::load(p);
      all.push_back({m.info().name, p, m.info()});
    } catch (const Error& e) {
      unreadable.push_back(p + ": " + e.what());
    }
  }
  // Codecs of several networks: their members are listed as the codec's, not on their own.
  std::vector<std::pair<std::string, CodecManifest>> manifests;
  std::map<std::string, std::string> member_of;
  for (const std::string& p : installed_codec_manifests()) {
    try {
      CodecManifest m = CodecManifest::read(p);
      if (m.members.size() < 2) continue;
      for (const CodecMember& c : m.members) member_of.emplace(c.model, m.name);
      manifests.emplace_back(p, std::move(m));
    } catch (const Error& e) {
      unreadable.push_back(p + ": " + e.what());
    }
  }
  if (files) {
    for (const std::string& dir : model_search_path()) std::printf("# %s\n", dir.c_str());
    for (const Entry& e : all)
      std::printf("%-28s %s  %-10s %s\n", e.name.c_str(), e.info.id.c_str(), e.info.arch.c_str(),
                  e.path.c_str());
    // Codecs as comments: the lines above are model files, one per line, for scripts to read.
    for (const auto& [path, m] : manifests) std::printf("# codec %s: %s\n", m.name.c_str(), path.c_str());
    for (const std::string& u : unreadable) std::printf("# unreadable: %s\n", u.c_str());
    return;
  }
  std::map<std::string, std::vector<Entry>> codecs, families;
  std::vector<Entry> demos;
  for (const Entry& e : all) {
    if (member_of.count(e.name))
      continue;
    else if (!e.info.family_id.empty())
      families[e.info.family_id].push_back(e);
    else if (is_codec(e.info))
      codecs[codec_of(e.name)].push_back(e);
    else
      demos.push_back(e);
  }
  std::string def;
  try {
    def = load_codec("default").name();
  } catch (const Error&) {
  }
  std::printf("Codecs (aecodec encode -m NAME; -q for a variable-rate one)%s:\n",
              def.empty() ? "" : ("; default " + def).c_str());
  for (const auto& [path, m] : manifests) {
    std::string spans;
    for (const CodecMember& c : m.members)
      spans +=
          (spans.empty() ? "" : ", ") + c.model + " " + format_quality(c.from) + "-" + format_quality(c.to);
    std::printf("  %-14s %-10s variable-rate: -q 1 to 100 (default %s) over %zu networks: %s\n",
                m.name.c_str(), "codec", format_quality(m.default_quality).c_str(), m.members.size(),
                spans.c_str());
  }
  for (const auto& [codec, v] : codecs) {
    for (const Entry& e : v)
      if (!e.info.lambdas.empty())
        std::printf("  %-14s %-10s variable-rate: -q 1 to 100 (default %s), %zu trained rates\n",
                    e.name.c_str(), e.info.arch.c_str(), format_quality(e.info.default_quality).c_str(),
                    e.info.lambdas.size());
    std::vector<Entry> levels;
    for (const Entry& e : v)
      if (e.info.lambdas.empty()) levels.push_back(e);
    if (levels.size() == 1)
      std::printf("  %-14s %-10s single-rate\n", levels[0].name.c_str(), levels[0].info.arch.c_str());
    else if (!levels.empty())
      std::printf("  %-14s %-10s %zu single-rate levels, lowest rate first: %s\n", codec.c_str(),
                  levels[0].info.arch.c_str(), levels.size(), names(levels).c_str());
  }
  if (!families.empty()) {
    std::printf(
        "Cross-resolution families (a latent from one member decodes with another: aecodec cross-decode):\n");
    for (const auto& [id, v] : families) {
      // "family-high" (role high) -> "family"
      const std::string& n = v[0].name;
      const std::string suffix = "-" + v[0].info.family_role;
      const bool cut =
          n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
      // A family built on a model file names that model as its high member (it is listed with the codecs).
      std::string members = names(v);
      for (const Entry& e : v)
        if (!e.info.family_high.empty()) members = e.info.family_high + " (high), " + members;
      std::printf("  %-14s %s\n", (cut ? n.substr(0, n.size() - suffix.size()) : n).c_str(), members.c_str());
    }
  }
  if (!demos.empty()) {
    std::printf("Demonstrations (the research note's plain autoencoders, not rate-distortion codecs):\n");
    for (const Entry& e : demos) std::printf("  %-14s %s\n", e.name.c_str(), e.info.arch.c_str());
  }
  for (const std::string& u : unreadable) std::printf("Unreadable: %s\n", u.c_str());
  std::printf("(aecodec models --files: one line per model file)\n");
}

}  // namespace aec::cli
