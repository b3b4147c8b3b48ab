#include "aecodec/substreams.h"

#include <algorithm>
#include <string>

#include "aecodec/error.h"
#include "aecodec/latent_codec.h"
#include "aecodec/parallel.h"

namespace aec {

namespace {

// Band b's first row of B bands over h rows.
int band_row(int h, int b, int bands) {
  return int(int64_t(h) * b / bands);
}

}  // namespace

int substream_bands(int c, int h, int w) {
  const size_t symbols = size_t(c) * size_t(h) * size_t(w);
  const size_t by_size = std::max<size_t>(1, symbols / kSymbolsPerBand);
  return int(std::min<size_t>({by_size, size_t(std::max(h, 1)), size_t(kMaxEncoderBands)}));
}

void encode_payload(const int32_t* values, const int32_t* table_index, int c, int h, int w,
                    const CdfTables& tables, Bitstream& stream, int requested) {
  const size_t plane = size_t(h) * w;
  const int bands =
      requested > 0 ? std::max(1, std::min({requested, h, kMaxBands})) : substream_bands(c, h, w);
  std::vector<std::vector<uint8_t>> coded(static_cast<size_t>(bands));
  parallel_for(bands, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      const int r0 = band_row(h, b, bands), r1 = band_row(h, b + 1, bands);
      const size_t first = size_t(r0) * w;
      coded[size_t(b)] = entropy_encode_runs(values + first, table_index + first, size_t(r1 - r0) * w,
                                             size_t(c), plane, tables);
    }
  });
  std::vector<uint8_t>& payload = stream.section(kSectionPayload);
  payload.clear();
  for (const std::vector<uint8_t>& band : coded) payload.insert(payload.end(), band.begin(), band.end());
  if (bands == 1) {  // no section (nor one left from an earlier call on the same stream)
    auto& s = stream.sections;
    s.erase(std::remove_if(s.begin(), s.end(), [](const Section& x) { return x.type == kSectionSubstreams; }),
            s.end());
    return;
  }
  std::vector<uint8_t>& section = stream.section(kSectionSubstreams);
  section.clear();
  put_varint(section, uint64_t(bands));
  for (const std::vector<uint8_t>& band : coded) put_varint(section, band.size());
}

PayloadDecoder::PayloadDecoder(const Bitstream& stream, int c, int h, int w, const CdfTables& tables)
    : c_(c), h_(h), w_(w) {
  const std::vector<uint8_t>& payload = required_section(stream, kSectionPayload);
  std::vector<size_t> lengths{payload.size()};
  if (const std::vector<uint8_t>* section = stream.find(kSectionSubstreams)) {
    size_t pos = 0;
    const int most = std::min(h, kMaxBands);
    require(most >= 2, "corrupt .aec file: substreams in a latent of one row");
    const int bands = int(read_varint(*section, pos, uint64_t(most), "substreams' band count"));
    require(bands >= 2,
            "corrupt .aec file: substreams' band count " + std::to_string(bands) + " (at least 2)");
    lengths.assign(size_t(bands), 0);
    size_t left = payload.size();
    for (size_t& n : lengths) {
      n = size_t(read_varint(*section, pos, left, "substream length"));
      left -= n;
    }
    require(left == 0, "corrupt .aec file: the substreams leave " + std::to_string(left) +
                           " bytes of the payload unread");
    require(pos == section->size(), "corrupt .aec file: trailing bytes in the substreams section");
  }
  const std::shared_ptr<const SlotLookup> slots = SlotLookup::build(tables);
  size_t at = 0;
  for (size_t n : lengths) {
    bands_.push_back(std::make_unique<EntropyStreamDecoder>(payload.data() + at, n, tables, slots));
    at += n;
  }
}

PayloadDecoder::~PayloadDecoder() = default;

void PayloadDecoder::decode_channels(int k, const int32_t* table_index, int32_t* values) {
  require(k >= 0 && k <= c_ - done_, "payload decoder: more channels than the latent has");
  const int bands = int(bands_.size());
  const size_t plane = size_t(h_) * w_;
  const auto decode_band = [&](int b) {
    const int r0 = band_row(h_, b, bands), r1 = band_row(h_, b + 1, bands);
    const size_t first = size_t(r0) * w_, n = size_t(r1 - r0) * w_;
    for (int ch = 0; ch < k; ++ch) {
      const size_t o = size_t(ch) * plane + first;
      bands_[size_t(b)]->decode(table_index + o, n, values + o);
    }
  };
  if (bands == 1)
    decode_band(0);
  else
    parallel_for(bands, [&](int b0, int b1) {
      for (int b = b0; b < b1; ++b) decode_band(b);
    });
  done_ += k;
}

void PayloadDecoder::finish() const {
  require(done_ == c_, "payload decoder: " + std::to_string(c_ - done_) + " channels not decoded");
  for (const auto& band : bands_) band->finish();
}

std::vector<int32_t> decode_payload(const Bitstream& stream, int c, int h, int w, const int32_t* table_index,
                                    const CdfTables& tables) {
  std::vector<int32_t> values(size_t(c) * size_t(h) * size_t(w));
  PayloadDecoder dec(stream, c, h, w, tables);
  dec.decode_channels(c, table_index, values.data());
  dec.finish();
  return values;
}

}  // namespace aec
