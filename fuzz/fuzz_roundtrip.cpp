// libFuzzer target: random small images survive encode -> decode with the right size, and the decoder's
// latent is exactly the encoder's quantised latent (every symbol round-trips through the entropy coder); with
// a factorized model, a hyperprior model and a channel context model, chosen by the first byte's top bits
// (0x80 clear: factorized; set: 0x40 picks the channel model over the hyperprior), the payload in as many row
// bands as the second byte's top bits ask for.
// The latent is compared rather than a second synthesis of the encoder's latent against the decoded image:
// decode_image synthesises the decoded latent, so equal latents give equal images. The synthesis saved was
// 15 % of each execution (perf), less the entropy decode this repeats: 4 % net.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "aecodec/codec.h"
#include "aecodec/parallel.h"
#include "random_model.h"

// One thread: parallel_for would start threads for work this small (slower, and a second core).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  aec::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const aec::Model factorized = aec::Model::from_file(aec::testing::make_random_model({}));
  static const aec::Model hyperprior =
      aec::Model::from_file(aec::testing::make_random_model_of("hyperprior"));
  static const aec::Model channel = aec::Model::from_file(aec::testing::make_random_model_of("channel"));
  if (size < 2) return 0;
  const aec::Model& model = !(data[0] & 0x80) ? factorized : data[0] & 0x40 ? channel : hyperprior;
  const int w = 1 + data[0] % 48, h = 1 + data[1] % 48;
  aec::Image im(w, h);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = size > 2 ? data[2 + i % (size - 2)] : 0;
  // The payload in 1 to 4 row bands (docs/bitstream.md, "Substreams"), from the second byte's top bits: each
  // band's stream must decode to its rows.
  aec::EncodeOptions o;
  o.bands = 1 + (data[1] >> 6);
  const aec::EncodeResult e = aec::encode_image(model, im, o);
  const aec::DecodeResult d = aec::decode_image(model, e.bytes.data(), e.bytes.size());
  if (d.image.width != w || d.image.height != h || d.image.rgb.size() != im.rgb.size()) std::abort();
  const aec::Tensor latent = aec::decode_latent(model, d.stream);
  if (latent.c != e.latent.c || latent.h != e.latent.h || latent.w != e.latent.w ||
      latent.data != e.latent.data)
    std::abort();
  return 0;
}
