// Spatial substreams: a latent's payload as row bands, each band's symbols in its own rANS stream, so that
// threads code and decode the bands at once (docs/bitstream.md, "Substreams").
//
// Band b of B covers the latent rows [h * b / B, h * (b + 1) / B) of every channel; its stream holds those
// rows' symbols channel after channel, so a decoder that needs the channels in order (a channel-conditional
// context model, slice after slice) takes the next channels from every band at once. The payload section is
// the bands' streams one after another; the substreams section (type 8) holds B and each stream's length.
// A latent of one band writes no substreams section: its payload is the single stream every older file has.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/entropy.h"

namespace aec {

// The encoder's bands: one per 65,536 symbols of the latent (rounded down), at most 64 and at most one per
// row. A function of the shape alone, so a file's bytes do not depend on the thread count. Each band costs
// about 6 bytes (its coder's final state, its length). With 96 latent channels at stride 16, images under
// about 350,000 pixels keep one stream; 768x512 takes 2 bands, 4000x3000 64.
constexpr size_t kSymbolsPerBand = 1 << 16;
constexpr int kMaxEncoderBands = 64;
int substream_bands(int c, int h, int w);
// What a decoder accepts: up to this many bands, at most one per row.
constexpr int kMaxBands = 256;

// Codes the c x h x w values (value i with table table_index[i]) into stream's payload section, in `bands`
// bands (0: substream_bands(c, h, w); else at most h and kMaxBands), and, with more than one, its
// substreams section. The bands are coded on the core's threads.
void encode_payload(const int32_t* values, const int32_t* table_index, int c, int h, int w,
                    const CdfTables& tables, Bitstream& stream, int bands = 0);

// The whole payload of a stream whose latent is c x h x w at once, each value with its table
// table_index[i] (a codec whose tables do not depend on the values decoded before): PayloadDecoder's
// decode_channels over all c channels, then finish.
std::vector<int32_t> decode_payload(const Bitstream& stream, int c, int h, int w, const int32_t* table_index,
                                    const CdfTables& tables);

// The payload of a stream whose latent is c x h x w, in bands as its substreams section says (one without).
// Throws aec::Error for a substreams section that does not describe the payload (a band count outside
// [2, min(h, kMaxBands)], lengths that do not add up to the payload's, trailing bytes).
class PayloadDecoder {
 public:
  PayloadDecoder(const Bitstream& stream, int c, int h, int w, const CdfTables& tables);
  ~PayloadDecoder();
  // The next k channels' symbols (k planes of h x w) with their tables, from every band on the core's
  // threads. The channels' count over all calls is at most c.
  void decode_channels(int k, const int32_t* table_index, int32_t* values);
  // Checks that every channel was decoded and that each band's stream ended where its encoder ended it.
  void finish() const;
  int bands() const { return int(bands_.size()); }

 private:
  int c_, h_, w_, done_ = 0;
  std::vector<std::unique_ptr<EntropyStreamDecoder>> bands_;
};

}  // namespace aec
