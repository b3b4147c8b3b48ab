// The family on the channel codec (family_channel_codec.h): a tiny variable-rate channel model is the base,
// a family warm-started from its file trains a few steps with the high member frozen, and the export is
// checked through the core: the base file is the high member (the export adds only the medium member, which
// names it), the base's files cross-decode at half size with the medium member and a medium file at full size
// with the base, at the file's quality; from a channel run instead of a file, the export writes both.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "aecodec/codec.h"
#include "aecodec/image.h"
#include "aecodec/model.h"
#include "aecodec/tile.h"
#include "export.h"
#include "family_channel_codec.h"
#include "int_channel.h"
#include "test_util.h"
#include "train_loop.h"
#include "warm_start.h"

// LibTorch's headers bring glog's CHECK (a failure aborts the process): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

std::vector<float> floats_of(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Config `v` trained in `dir` from `init` for `steps` steps, validated every `valid_every`: the loaded run.
LoadedRun train_variant(TrainConfig v, const fs::path& dir, const std::string& init, int steps,
                        int valid_every) {
  v.out = dir.string();
  v.init = init;
  v.steps = steps;
  v.valid_every = valid_every;
  train_run(v, false);
  return load_run(v.out);
}

}  // namespace

TEST_CASE("family-channel: a frozen channel codec and a half-size member export as one family",
          "[train][family]") {
  const std::string data = make_image_dir("family-channel");
  const fs::path root = fs::temp_directory_path() / ("aect-family-channel-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);

  // The base: a tiny channel network with a quality knob.
  TrainConfig c = tiny_config("channel", data, (root / "channel").string());
  c.lambdas = {0.004, 0.016};
  train_run(c, false);
  LoadedRun channel = load_run(c.out);
  const std::string base_path = (root / "base.aem").string();
  {
    auto files = export_models(channel, "base", ExportOptions{});
    REQUIRE(files.size() == 1);
    files[0].second.write(base_path);
  }
  const aec::ModelFile base_file = aec::ModelFile::read(base_path);

  // The family, warm-started from the base file; validation runs every path once.
  TrainConfig f = tiny_config("family-channel", data, (root / "family").string());
  f.lambdas = c.lambdas;
  f.init = base_path;
  f.steps = 4;
  f.valid_every = 4;
  f.family_weights = {1, 1, 1, 0.5};  // with the latent term
  const TrainState st = train_run(f, false);
  CHECK(st.step == 4);
  CHECK(st.nan_events == 0);
  LoadedRun fam = load_run(f.out);
  REQUIRE(fam.valid.is_object());
  for (const char* k : {"cross_h2m", "cross_m2h", "medium", "high", "baseline_h2m_box"})
    CHECK(std::isfinite(fam.valid["q2"].value(k, -1.0)));
  auto* net = dynamic_cast<FamilyChannelCodecImpl*>(fam.model.get());
  REQUIRE(net != nullptr);
  // The high analysis is the base's, bit for bit, after training (frozen, and averaged as frozen).
  CHECK(floats_of(net->g_a->named_parameters()["0.weight"]) ==
        base_file.floats("g_a.0.weight", {16, 3, 5, 5}));
  // The context nets came from the file: requantised, they are the file's integers.
  {
    const IntChannelContext ctx = IntChannelContext::quantize(*net);
    const aec::StoredTensor& t = base_file.tensors.at("hyper.context.param.0.0.weight");
    CHECK(ctx.param[0][0].weight == base_file.ints("hyper.context.param.0.0.weight", t.shape));
    CHECK(ctx.embed.weight == base_file.ints("hyper.context.embed.weight",
                                             base_file.tensors.at("hyper.context.embed.weight").shape));
  }
  // A wrong base is refused: lambdas other than the file's.
  TrainConfig bad = f;
  bad.out = (root / "bad").string();
  bad.lambdas = {0.004, 0.02};
  CHECK_THROWS_WITH(train_run(bad, false), Catch::Contains("--lambdas"));

  // From a channel model file, the family is that file (its high member, unchanged) and one new file, the
  // medium member, which names the base as its high.
  auto files = export_models(fam, "fam", ExportOptions{});
  REQUIRE(files.size() == 1);
  REQUIRE(files[0].first == "fam-medium");
  const aec::Model base = aec::Model::from_file(base_file);
  const aec::Model& high = base;
  const aec::Model medium = aec::Model::from_file(files[0].second);
  CHECK(medium.info().stride == 8);
  CHECK(medium.info().family_role == "medium");
  CHECK(!medium.info().family_id.empty());
  CHECK(medium.info().family_high == "base");
  CHECK(medium.info().family_high_id == base.info().id);
  CHECK(medium.info().family_high_stride == 16);
  CHECK(medium.info().entropy_hash == base.info().entropy_hash);
  CHECK(medium.variable_rate());

  const aec::Image im = synthetic_image(70, 46, 9);
  aec::EncodeOptions o;
  o.quality = 40;
  const aec::EncodeResult eh = aec::encode_image(high, im, o);
  const aec::DecodeResult db = aec::decode_image(base, eh.bytes.data(), eh.bytes.size());

  // A file cross-decoded by the other member: w x h pixels, that member's synthesis of the file's latent at
  // the file's quality.
  const auto check_cross = [](const aec::Model& decoder, const aec::EncodeResult& e, int w, int h) {
    const aec::DecodeResult d = aec::cross_decode_image(decoder, e.bytes.data(), e.bytes.size());
    CHECK(d.image.width == w);
    CHECK(d.image.height == h);
    CHECK(d.image.rgb ==
          aec::crop(aec::tensor_to_image(decoder.at_quality(40).synthesis(e.latent)), w, h).rgb);
  };
  // The base's own file (no family section) decodes at half size with the medium member.
  check_cross(medium, eh, 35, 23);
  // A medium file of the half-size image decodes at full size with the base.
  const aec::EncodeResult em = aec::encode_image(medium, aec::downscale2x_box(im), o);
  check_cross(high, em, 70, 46);
  // ... and with its own decoder at half size; a plain decode by the other model points to cross-decode.
  CHECK(aec::decode_image(medium, em.bytes.data(), em.bytes.size()).image.width == 35);
  CHECK_THROWS_WITH(aec::decode_image(medium, eh.bytes.data(), eh.bytes.size()),
                    Catch::Contains("use cross-decode"));
  // Another version of the base is not the medium member's high: refused.
  aec::ModelFile other_file = base_file;
  other_file.meta["description"] = "another version";
  other_file.tensors.at("g_s.0.bias").bytes[0] ^= 1;
  const aec::Model other = aec::Model::from_file(other_file);
  REQUIRE(other.info().id != base.info().id);
  const aec::EncodeResult eo = aec::encode_image(other, im, o);
  CHECK_THROWS_WITH(aec::cross_decode_image(medium, eo.bytes.data(), eo.bytes.size()),
                    Catch::Contains("not in a cross-resolution family"));

  // From the channel run itself: the export writes the run's frozen network as the high member, which is
  // what the channel run's own export is.
  LoadedRun from_run = train_variant(f, root / "from-run", c.out, 2, 0);
  auto run_files = export_models(from_run, "fam", ExportOptions{});
  REQUIRE(run_files.size() == 2);
  const aec::Model high2 = aec::Model::from_file(run_files[0].second);
  const aec::Model medium2 = aec::Model::from_file(run_files[1].second);
  CHECK(high2.info().entropy_hash == base.info().entropy_hash);
  CHECK(medium2.info().entropy_hash == base.info().entropy_hash);
  const aec::EncodeResult eh2 = aec::encode_image(high2, im, o);
  CHECK(aec::decode_image(high2, eh2.bytes.data(), eh2.bytes.size()).image.rgb == db.image.rgb);
  CHECK(aec::cross_decode_image(medium2, eh2.bytes.data(), eh2.bytes.size()).image.width == 35);

  // A run warm-started from the family run keeps its base file: its export also names the base.
  LoadedRun chained_run = train_variant(f, root / "chained", f.out, 1, 0);
  const auto chained_files = export_models(chained_run, "fam", ExportOptions{});
  REQUIRE(chained_files.size() == 1);
  CHECK(aec::Model::from_file(chained_files[0].second).info().family_high_id == base.info().id);

  // A new run from the base file and that medium file (--init-medium) starts where the family left off: with
  // the learning rate 0, its medium networks are the file's. A file that is not the base's medium member is
  // refused.
  {
    const std::string medium_path = (root / "fam-medium.aem").string();
    files[0].second.write(medium_path);
    TrainConfig g = f;
    g.init_medium = medium_path;
    g.lr = 0;
    LoadedRun resumed = train_variant(g, root / "from-medium", f.init, 1, 0);
    auto* rnet = dynamic_cast<FamilyChannelCodecImpl*>(resumed.model.get());
    REQUIRE(rnet != nullptr);
    // Its history is the medium member's (the networks it trains), not the base file's.
    CHECK_THAT(resumed.cfg.provenance,
               Catch::Contains("continued from fam-medium.aem (exported at its step "));
    for (const auto& [stack, prefix] : {std::pair{rnet->m_a, "m_a."}, std::pair{rnet->m_s, "m_s."}})
      for (const auto& kv : stack->named_parameters()) {
        const std::string name = prefix + kv.key();
        // Convolutions (GDN parameters are held reparametrised, the file holds their effective form).
        if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
        const std::vector<float> want = files[0].second.floats(
            name, std::vector<int64_t>(kv.value().sizes().begin(), kv.value().sizes().end()));
        const std::vector<float> got = floats_of(kv.value());
        REQUIRE(got.size() == want.size());
        float worst = 0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
        INFO(name);
        CHECK(worst < 1e-6f);
      }
    TrainConfig wrong = g;
    wrong.init_medium = base_path;
    wrong.out = (root / "wrong-medium").string();
    CHECK_THROWS_WITH(train_run(wrong, false), Catch::Contains("--init-medium"));
    // A retrained base (another version of the same model) starts its family from the old member.
    const std::string retrained_path = (root / "base-retrained.aem").string();
    aec::ModelFile retrained = base_file;
    retrained.tensors.at("g_s.0.bias").bytes[0] ^= 1;
    retrained.write(retrained_path);
    REQUIRE(aec::Model::from_file(retrained).info().id != base.info().id);
    TrainConfig again = g;
    LoadedRun from_old = train_variant(again, root / "from-old-medium", retrained_path, 1, 0);
    auto* onet = dynamic_cast<FamilyChannelCodecImpl*>(from_old.model.get());
    REQUIRE(onet != nullptr);
    CHECK(floats_of(onet->m_s->named_parameters()["6.weight"]) ==
          floats_of(rnet->m_s->named_parameters()["6.weight"]));
  }

  // The cheaper medium synthesis: its last stage narrowed to 6 of N = 16 channels, reading the coded latent
  // (no LRP). It starts as the high's channels that the folded output layer weighs most.
  TrainConfig n = f;
  n.medium_width = 6;
  n.medium_lrp = false;
  LoadedRun narrow = train_variant(n, root / "narrow", f.init, 2, 2);
  REQUIRE(narrow.cfg.medium_width == 6);
  REQUIRE(!narrow.cfg.medium_lrp);
  for (const char* k : {"cross_h2m", "medium", "baseline_h2m_box"})
    CHECK(std::isfinite(narrow.valid["q2"].value(k, -1.0)));
  auto narrow_files = export_models(narrow, "fam", ExportOptions{});
  REQUIRE(narrow_files.size() == 1);
  const aec::Model& high3 = base;
  const aec::Model medium3 = aec::Model::from_file(narrow_files[0].second);
  CHECK(high3.info().decoder_lrp);
  CHECK(!medium3.info().decoder_lrp);
  CHECK(medium3.info().entropy_hash == base.info().entropy_hash);
  CHECK(narrow_files[0].second.tensors.at("m_s.4.weight").shape == std::vector<int64_t>{16, 6, 5, 5});
  CHECK(narrow_files[0].second.tensors.at("m_s.6.weight").shape == std::vector<int64_t>{3, 6, 3, 3});
  // A high file at half size: the medium synthesis of the coded latent (what the medium member's latent
  // codec decodes), not of the high's LRP latent.
  const aec::Bitstream s3 = aec::open_stream(medium3, eh.bytes.data(), eh.bytes.size(), true);
  const aec::Model medium3_q = medium3.at_quality(40);
  const aec::Tensor coded = aec::decode_latent(medium3_q, s3);
  CHECK(coded.data != eh.latent.data);
  CHECK(aec::cross_decode_image(medium3, eh.bytes.data(), eh.bytes.size()).image.rgb ==
        aec::crop(aec::tensor_to_image(medium3_q.synthesis(coded)), 35, 23).rgb);
  // A medium file decodes at full size with the high member, which reads LRP's latent.
  const aec::EncodeResult em3 = aec::encode_image(medium3, aec::downscale2x_box(im), o);
  const aec::Model high3_q = high3.at_quality(40);
  const aec::Tensor lrp_latent =
      aec::decode_latent(high3_q, aec::open_stream(high3, em3.bytes.data(), em3.bytes.size(), true));
  CHECK(lrp_latent.data != em3.latent.data);
  CHECK(aec::cross_decode_image(high3, em3.bytes.data(), em3.bytes.size()).image.rgb ==
        aec::crop(aec::tensor_to_image(high3_q.synthesis(lrp_latent)), 70, 46).rgb);

  // A deeper medium analysis (--medium-front 1) warm-started from the narrow run: its source's layers after
  // the new half-size stage move up one stage, and the new stage starts as the identity, so before any step
  // the medium analysis is the source's exactly.
  TrainConfig d = n;
  d.out = (root / "front").string();
  d.init = narrow.dir;
  d.medium_front = 1;
  fs::create_directories(d.out);
  std::shared_ptr<CodecImpl> deep_model = make_codec(d);
  warm_start_from_run(d, *deep_model, torch::kCPU);
  auto* deep = dynamic_cast<FamilyChannelCodecImpl*>(deep_model.get());
  auto* shallow = dynamic_cast<FamilyChannelCodecImpl*>(narrow.model.get());
  REQUIRE(deep != nullptr);
  REQUIRE(shallow != nullptr);
  CHECK(deep->m_a->named_parameters()["2.weight"].sizes() == torch::IntArrayRef{16, 16, 3, 3});
  CHECK(floats_of(deep->m_a->named_parameters()["4.weight"]) ==
        floats_of(shallow->m_a->named_parameters()["2.weight"]));
  {
    torch::NoGradGuard ng;
    deep->eval(), shallow->eval();
    const torch::Tensor x = torch::rand({1, 3, 32, 48});
    CHECK(torch::allclose(deep->encode(x, 1, "medium"), shallow->encode(x, 1, "medium"), 1e-5, 1e-6));
  }
  // Trained and exported, the core runs the deeper analysis: a half-size image codes into the family's
  // latents and decodes at full size with the base.
  fs::remove_all(d.out);
  LoadedRun front = train_variant(d, d.out, d.init, 2, 2);
  REQUIRE(front.cfg.medium_front == 1);
  auto front_files = export_models(front, "fam", ExportOptions{});
  REQUIRE(front_files.size() == 1);
  CHECK(front_files[0].second.tensors.at("m_a.2.weight").shape == std::vector<int64_t>{16, 16, 3, 3});
  const aec::Model medium4 = aec::Model::from_file(front_files[0].second);
  CHECK(medium4.info().entropy_hash == base.info().entropy_hash);
  const aec::EncodeResult em4 = aec::encode_image(medium4, aec::downscale2x_box(im), o);
  CHECK(aec::cross_decode_image(high3, em4.bytes.data(), em4.bytes.size()).image.width == 70);

  // The up path's own synthesis (--up-synthesis), warm-started from the narrow run, which has none: it starts
  // as the high g_s, and the medium networks are the source's.
  TrainConfig u = n;
  u.out = (root / "up").string();
  u.init = narrow.dir;
  u.up_synthesis = true;
  fs::create_directories(u.out);
  {
    std::shared_ptr<CodecImpl> fresh = make_codec(u);
    warm_start_from_run(u, *fresh, torch::kCPU);
    auto* up0 = dynamic_cast<FamilyChannelCodecImpl*>(fresh.get());
    REQUIRE(up0 != nullptr);
    REQUIRE(up0->u_s);
    CHECK(floats_of(up0->u_s->named_parameters()["0.weight"]) ==
          floats_of(shallow->g_s->named_parameters()["0.weight"]));
    CHECK(floats_of(up0->m_s->named_parameters()["6.weight"]) ==
          floats_of(shallow->m_s->named_parameters()["6.weight"]));
  }
  fs::remove_all(u.out);
  LoadedRun upr = train_variant(u, u.out, u.init, 2, 2);
  REQUIRE(upr.cfg.up_synthesis);
  auto* up = dynamic_cast<FamilyChannelCodecImpl*>(upr.model.get());
  REQUIRE(up != nullptr);
  // u_s learned; the high g_s stayed the base's.
  const std::vector<int64_t> gs0 = base_file.tensors.at("g_s.0.weight").shape;
  CHECK(floats_of(up->g_s->named_parameters()["0.weight"]) == base_file.floats("g_s.0.weight", gs0));
  CHECK(floats_of(up->u_s->named_parameters()["0.weight"]) != base_file.floats("g_s.0.weight", gs0));
  CHECK(std::isfinite(upr.valid["q2"].value("cross_m2h", -1.0)));
  // Exported, the medium member carries it as its up decoder: a medium file decodes at full size through
  // it, from the latent after LRP.
  auto up_files = export_models(upr, "fam", ExportOptions{});
  REQUIRE(up_files.size() == 1);
  const aec::ModelFile& up_file = up_files[0].second;
  CHECK(up_file.floats("u_s.0.weight", gs0) == floats_of(up->u_s->named_parameters()["0.weight"]));
  const aec::Model medium5 = aec::Model::from_file(up_file);
  REQUIRE(medium5.info().up_decoder);
  CHECK(!medium5.info().decoder_lrp);
  const aec::EncodeResult em5 = aec::encode_image(medium5, aec::downscale2x_box(im), o);
  const aec::DecodeResult full5 = aec::up_decode_image(medium5, em5.bytes.data(), em5.bytes.size());
  const aec::Tensor lrp5 =
      aec::decode_latent(high3_q, aec::open_stream(high3, em5.bytes.data(), em5.bytes.size(), true));
  CHECK(full5.image.rgb ==
        aec::crop(aec::tensor_to_image(medium5.at_quality(40).up_decoder().forward(lrp5)), 70, 46).rgb);
  CHECK(full5.image.rgb != aec::cross_decode_image(high3, em5.bytes.data(), em5.bytes.size()).image.rgb);
  // A family run from the base file and this member (--init-medium) starts its up synthesis from the
  // member's up decoder.
  const std::string up_member = (root / "fam-up-medium.aem").string();
  up_file.write(up_member);
  TrainConfig uf = u;
  uf.out = (root / "up-from-file").string();
  uf.init = base_path;
  uf.init_medium = up_member;
  fs::create_directories(uf.out);
  {
    std::shared_ptr<CodecImpl> fresh = make_codec(uf);
    warm_start_from_file(uf, *fresh);
    auto* up1 = dynamic_cast<FamilyChannelCodecImpl*>(fresh.get());
    REQUIRE(up1 != nullptr);
    CHECK(floats_of(up1->u_s->named_parameters()["0.weight"]) == up_file.floats("u_s.0.weight", gs0));
  }
  // ... and with up stages the member has none of, its last layer from the member's, the stage new.
  uf.up_stages = 1;
  fs::remove_all(uf.out);
  fs::create_directories(uf.out);
  {
    std::shared_ptr<CodecImpl> fresh = make_codec(uf);
    warm_start_from_file(uf, *fresh);
    auto* up2 = dynamic_cast<FamilyChannelCodecImpl*>(fresh.get());
    REQUIRE(up2 != nullptr);
    const std::vector<int64_t> last = up_file.tensors.at("u_s.6.weight").shape;
    CHECK(floats_of(up2->u_s->named_parameters()["8.weight"]) == up_file.floats("u_s.6.weight", last));
    CHECK(floats_of(up2->u_s->named_parameters()["0.weight"]) == up_file.floats("u_s.0.weight", gs0));
    const torch::Tensor stage = up2->u_s->named_parameters()["6.weight"];
    CHECK(stage.sizes() == torch::IntArrayRef({stage.size(0), stage.size(0), 3, 3}));
    CHECK(stage.abs().sum().item<double>() == Approx(double(stage.size(0))));  // the identity
  }
  // Trained and exported with a stage, the member's up decoder is what the core runs, whole and by tiles.
  TrainConfig us = u;
  us.up_stages = 1;
  LoadedRun usr = train_variant(us, (root / "up-stages").string(), narrow.dir, 2, 2);
  auto us_files = export_models(usr, "fam", ExportOptions{});
  REQUIRE(us_files.size() == 1);
  const aec::Model medium6 = aec::Model::from_file(us_files[0].second);
  REQUIRE(medium6.info().up_decoder);
  const aec::EncodeResult em6 = aec::encode_image(medium6, aec::downscale2x_box(im), o);
  const aec::DecodeResult full6 = aec::up_decode_image(medium6, em6.bytes.data(), em6.bytes.size());
  CHECK(full6.image.width == 70);
  aec::set_tile_options(aec::TileOptions{0, 16});
  std::vector<uint8_t> tiled;
  aec::decode_image_rows(
      medium6, em6.bytes.data(), em6.bytes.size(),
      [&](int w, int, int, int n, const uint8_t* rgb) {
        tiled.insert(tiled.end(), rgb, rgb + size_t(w) * n * 3);
      },
      {}, aec::DecodeAs::up);
  aec::set_tile_options(aec::TileOptions{});
  CHECK(tiled == full6.image.rgb);
  // Only the up decoder learning, at the top quality only (--up-only --train-qualities 2): the medium
  // networks stay the source's (so its files and its own decodes stay as they were), the up decoder moves,
  // and every step drew quality 2.
  TrainConfig uo = u;
  uo.up_only = true, uo.train_qualities = {2};
  const fs::path uo_dir = root / "up-only";
  LoadedRun uor = train_variant(uo, uo_dir.string(), narrow.dir, 3, 3);
  auto* only = dynamic_cast<FamilyChannelCodecImpl*>(uor.model.get());
  REQUIRE(only != nullptr);
  CHECK(floats_of(only->m_s->named_parameters()["6.weight"]) ==
        floats_of(shallow->m_s->named_parameters()["6.weight"]));
  CHECK(floats_of(only->m_a->named_parameters()["0.weight"]) ==
        floats_of(shallow->m_a->named_parameters()["0.weight"]));
  CHECK(floats_of(only->u_s->named_parameters()["0.weight"]) !=
        floats_of(shallow->g_s->named_parameters()["0.weight"]));
  {
    std::ifstream log(uo_dir / "log.csv");
    std::string line;
    int steps = 0;
    while (std::getline(log, line)) {
      if (line.rfind("train,", 0) != 0) continue;
      std::vector<std::string> cols;
      std::stringstream ss(line);
      for (std::string c; std::getline(ss, c, ',');) cols.push_back(c);
      REQUIRE(cols.size() > 9);
      CHECK(cols[9] == "2");
      ++steps;
    }
    CHECK(steps > 0);
  }
  auto uo_files = export_models(uor, "fam", ExportOptions{});
  REQUIRE(uo_files.size() == 1);
  CHECK(uo_files[0].second.meta["training"].value("up_only", false));
  // A quality the run does not have is refused.
  TrainConfig bad_q = uo;
  bad_q.train_qualities = {3};
  CHECK_THROWS_WITH(train_variant(bad_q, (root / "bad-q").string(), narrow.dir, 1, 1),
                    Catch::Contains("no quality 3"));
  fs::remove_all(root);
  fs::remove_all(data);
}

TEST_CASE("family-channel --up-balance scales the up synthesis' gradient at a quality, not the medium's",
          "[train][family]") {
  const std::vector<double> lambdas = {0.001, 0.016};
  // Two identical families (the same seed), one with the up synthesis' gradient balanced (P = 1): at the low
  // quality its gradient is 16x, the medium analysis' the same.
  auto grads = [&](double balance) {
    torch::manual_seed(5);
    FamilyChannelCodecImpl f(16, 12, lambdas, {1, 1, 1, 0}, 6, false, 0, true, balance);
    f.train();
    torch::manual_seed(6);
    const torch::Tensor x = torch::rand({2, 3, 32, 32});
    f.train_step(x, 0, lambdas[0]).loss.backward();
    return std::make_pair(f.u_s->named_parameters()["0.weight"].grad().clone(),
                          f.m_a->named_parameters()["0.weight"].grad().clone());
  };
  const auto [up0, ma0] = grads(0);
  const auto [up1, ma1] = grads(1);
  REQUIRE(up0.abs().sum().item<double>() > 0);
  CHECK(torch::allclose(up1, up0 * 16.0, 1e-3, 1e-9));
  CHECK(torch::allclose(ma1, ma0, 1e-4, 1e-9));
  CHECK(!torch::allclose(ma0, torch::zeros_like(ma0)));
}

TEST_CASE(
    "family-channel --up-clip-apart: the balanced up synthesis' gradient does not shrink the medium's steps",
    "[train][family]") {
  const std::vector<double> lambdas = {0.001, 0.016};
  // The medium analysis' gradient after clipping (to 1e-3, well under the raw norms), with the up synthesis'
  // gradient balanced (P = 1: 16x at the low quality) or not: clipped apart, the same; clipped as one group,
  // the balanced u_s takes the medium's share of the norm.
  auto clipped = [&](double balance, bool apart) {
    torch::manual_seed(5);
    FamilyChannelCodecImpl f(16, 12, lambdas, {1, 1, 1, 0}, 6, false, 0, true, balance, apart);
    f.train();
    torch::manual_seed(6);
    const torch::Tensor x = torch::rand({2, 3, 32, 32});
    f.train_step(x, 0, lambdas[0]).loss.backward();
    const std::vector<std::vector<torch::Tensor>> groups = f.clip_groups();
    size_t n = 0;
    for (const auto& g : groups) n += g.size();
    CHECK(n == f.main_parameters().size());
    CHECK(groups.size() == (apart ? 2u : 1u));
    if (apart) CHECK(groups[1].size() == f.u_s->parameters().size());
    for (const auto& g : groups) torch::nn::utils::clip_grad_norm_(g, 1e-3);
    return f.m_a->named_parameters()["0.weight"].grad().clone();
  };
  const torch::Tensor apart0 = clipped(0, true), apart1 = clipped(1, true);
  CHECK(torch::allclose(apart1, apart0, 1e-4, 1e-12));
  const torch::Tensor one0 = clipped(0, false), one1 = clipped(1, false);
  CHECK(one1.norm().item<double>() < 0.5 * one0.norm().item<double>());
}

TEST_CASE("family-channel --up-stages: the up synthesis' extra stages start as the identity",
          "[train][family]") {
  const std::vector<double> lambdas = {0.001, 0.016};
  torch::manual_seed(5);
  FamilyChannelCodecImpl plain(16, 12, lambdas, {1, 1, 1, 0}, 6, false, 0, true, 0.5);
  FamilyChannelCodecImpl staged(16, 12, lambdas, {1, 1, 1, 0}, 6, false, 0, true, 0.5, false, 2);
  // Two conv + GDN stages more, before the last layer, which moves from index 6 to 10.
  CHECK(staged.u_s->named_parameters()["6.weight"].sizes() == torch::IntArrayRef({16, 16, 3, 3}));
  CHECK(staged.u_s->named_parameters()["10.weight"].sizes() ==
        plain.u_s->named_parameters()["6.weight"].sizes());
  // Warm-started from a run whose up synthesis has no stages: every tensor but the new stages' comes from
  // the source, under its own (shifted) name.
  TrainConfig source;
  source.arch = "family-channel", source.up_synthesis = true;
  plain.u_s->named_parameters()["6.bias"].data().normal_();  // tell the last layer's bias apart from 0
  int copied = 0, fresh = 0;
  {
    torch::NoGradGuard ng;
    auto from = plain.named_parameters();
    for (auto& kv : staged.named_parameters()) {
      if (kv.key().rfind("u_s.", 0) != 0) continue;
      const std::string s = staged.warm_start_source(kv.key(), source);
      if (s.empty()) {
        ++fresh;
        continue;
      }
      REQUIRE(from.find(s) != nullptr);
      REQUIRE(from[s].sizes() == kv.value().sizes());
      kv.value().copy_(from[s]);
      ++copied;
    }
  }
  CHECK(fresh == int(staged.u_s->parameters().size() - plain.u_s->parameters().size()));
  CHECK(copied == int(plain.u_s->parameters().size()));
  // From a run without an up synthesis, its layers come from the source's high synthesis.
  TrainConfig channel_source;
  channel_source.arch = "channel";
  CHECK(staged.warm_start_source("u_s.10.weight", channel_source) == "g_s.6.weight");
  CHECK(staged.warm_start_source("u_s.7.beta", channel_source).empty());
  // ... and the staged synthesis decodes as the plain one.
  torch::manual_seed(6);
  const torch::Tensor y = torch::randn({1, 12, 4, 4});
  torch::NoGradGuard ng;
  plain.eval(), staged.eval();
  const torch::Tensor a = plain.u_s->forward(y), b = staged.u_s->forward(y);
  REQUIRE(a.sizes() == b.sizes());
  CHECK(torch::allclose(a, b, 1e-4, 1e-5));
}
