// Writes a small random-weight model file (tests/support/random_model.h) for the CLI and browser tests:
//   make_test_model OUT.aem [arch] [name] [stages] [family_id role] [n=CHANNELS] [m=LATENT_CHANNELS]
//                   [knob[=Q]] [entropy=FILE.aem] [high=FILE.aem] [no-lrp] [up=FILE.aem]
// arch: factorized (default), conv, fc, vae, hyperprior or channel (a hyperprior with a channel context
// model). knob: a variable-rate model (tests/support/variable_rate_model.h: the quality knob's per-lambda
// gains, default quality Q or 50); hyperprior and channel only. entropy=FILE: the entropy model of that file
// (its hyper.* and entropy.* tensors and its document's "entropy"), as a family's members share one: a
// medium member made after its high member, from that member's file. high=FILE: a medium member whose
// family's high member is the model in FILE, which names no family (as the shipped family's medium names
// `channel`, a member of the codec channel): the document's family.high names that model (its name, decode id
// and stride), and the family id, unless one is given, is "fam-" and that model's entropy id with role
// "medium" (give entropy=FILE too, so that the entropy ids agree). no-lrp: "decoder_lrp": false (a channel
// model whose decoder reads the coded latent, as the channel family's medium member). up=FILE: a medium
// member's up decoder, a copy of the decoder of the model in FILE (whose stride must be twice this one's), so
// that a medium file decodes at full size through it exactly as through that model.
#include <cstdio>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/model.h"
#include "random_model.h"
#include "variable_rate_model.h"

int main(int argc, char** argv) {
  aec::testing::RandomModelSpec s;
  std::vector<std::string> pos;
  double knob = 0;  // > 0: the default quality of a variable-rate model
  std::string entropy_from, high_from, up_from;
  bool no_lrp = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "knob")
      knob = 50;
    else if (a.rfind("knob=", 0) == 0)
      knob = std::stod(a.substr(5));
    else if (a.rfind("entropy=", 0) == 0)
      entropy_from = a.substr(8);
    else if (a.rfind("high=", 0) == 0)
      high_from = a.substr(5);
    else if (a.rfind("up=", 0) == 0)
      up_from = a.substr(3);
    else if (a == "no-lrp")
      no_lrp = true;
    else if (a.rfind("n=", 0) == 0)
      s.n = std::stoi(a.substr(2));
    else if (a.rfind("m=", 0) == 0)
      s.m = std::stoi(a.substr(2));
    else
      pos.push_back(a);
  }
  if (pos.empty()) {
    std::fprintf(stderr,
                 "usage: make_test_model OUT.aem [arch] [name] [stages] [family_id role] [n=N] [m=M] "
                 "[knob[=Q]] [entropy=FILE.aem] [high=FILE.aem] [no-lrp] [up=FILE.aem]\n");
    return 2;
  }
  if (pos.size() > 1) s.arch = pos[1];
  s.name = pos.size() > 2 ? pos[2] : "test-" + s.arch;
  if (pos.size() > 3) s.stages = std::stoi(pos[3]);
  if (pos.size() > 5) s.family_id = pos[4], s.family_role = pos[5];
  try {
    aec::ModelInfo high;
    if (!high_from.empty()) {
      high = aec::Model::from_file(aec::ModelFile::read(high_from)).info();
      if (!high.family_id.empty())
        throw aec::Error(high_from + ": model '" + high.name + "' is in family '" + high.family_id +
                         "'; high= takes a model in none");
      if (s.family_id.empty())
        s.family_id = "fam-" + aec::hash_hex(high.entropy_hash), s.family_role = "medium";
    }
    aec::ModelFile f = aec::testing::make_random_model(s);
    if (!high_from.empty())
      f.meta["family"]["high"] = {{"name", high.name}, {"id", high.id}, {"stride", high.stride}};
    if (!entropy_from.empty()) {
      const aec::ModelFile e = aec::ModelFile::read(entropy_from);
      for (const auto& [name, t] : e.tensors)
        if (name.rfind("hyper.", 0) == 0 || name.rfind("entropy.", 0) == 0) f.tensors[name] = t;
      f.meta["entropy"] = e.meta.at("entropy");
    }
    if (no_lrp) f.meta["decoder_lrp"] = false;
    if (!up_from.empty()) f = aec::testing::with_up_decoder(std::move(f), aec::ModelFile::read(up_from));
    if (knob > 0) f = aec::testing::with_quality_knob(std::move(f), {0.001, 0.004, 0.016, 0.064}, knob);
    f.write(pos[0]);
  } catch (const aec::Error& e) {
    std::fprintf(stderr, "make_test_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
