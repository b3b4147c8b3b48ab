// Entropy coding of integer latents with per-channel (or per-table) discrete distributions.
//
// Tables follow CompressAI's layout: a table for an alphabet of n regular symbols has n+2 CDF entries
// cdf[0] = 0 < cdf[1] < ... < cdf[n+1] = 1 << precision; symbol n is the escape ("tail") symbol. A value v
// coded with table t maps to s = v - offset[t]; when s is outside [0, n) the escape symbol is coded and the
// value follows in bypass (uniform) chunks, so every int32 in [-kMaxEscape, kMaxEscape] can be coded.
// Encoding and decoding use integer arithmetic only (rANS, 32-bit state, 16-bit renormalisation), so a
// bitstream decodes to the same symbols on every platform and compiler.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace aec {

constexpr int kCdfPrecision = 16;        // every table sums to 1 << 16
constexpr int32_t kMaxEscape = 1 << 20;  // |value - offset| limit for escaped values

struct CdfTables {
  int precision = kCdfPrecision;
  std::vector<std::vector<uint32_t>> cdf;  // per table: n+2 entries as above
  std::vector<int32_t> offset;             // per table: the value coded as symbol 0

  size_t count() const { return cdf.size(); }
  // Checks the invariants above (strictly increasing, ends, sizes); throws aec::Error naming the bad table.
  void validate() const;
};

// Quantises a probability mass function over n symbols (plus the tail mass for the escape symbol) into a
// CDF of n+2 entries at the given precision, giving every symbol (escape included) a frequency >= 1.
// Deterministic: the same pmf gives the same table everywhere it runs.
std::vector<uint32_t> pmf_to_cdf(const std::vector<double>& pmf, double tail_mass,
                                 int precision = kCdfPrecision);

// Codes values[i] with table table_index[i]. Throws aec::Error for a table index out of range or a value
// beyond kMaxEscape.
std::vector<uint8_t> entropy_encode(const int32_t* values, const int32_t* table_index, size_t n,
                                    const CdfTables& tables);

// entropy_encode of `runs` runs of n values, run r at values + r * stride and table_index + r * stride (a band
// of a latent's rows, channel after channel): one stream, the runs in order.
std::vector<uint8_t> entropy_encode_runs(const int32_t* values, const int32_t* table_index, size_t n,
                                         size_t runs, size_t stride, const CdfTables& tables);

// Inverse of entropy_encode. Never reads outside [data, data+size); throws aec::Error("corrupt ...") when the
// stream is truncated, has trailing bytes, or does not end in the encoder's final state.
std::vector<int32_t> entropy_decode(const uint8_t* data, size_t size, const int32_t* table_index, size_t n,
                                    const CdfTables& tables);

// entropy_decode in parts, for coders whose later tables depend on earlier symbols (a context model): the
// same stream, decoded n symbols at a time with tables chosen in between; finish() checks the end as
// entropy_decode does. `tables` must outlive the decoder.
class RansDecoder;
// Per table, for each of 2^bits slot ranges, the largest symbol whose cdf is at most the range's first slot:
// a decode starts there and steps up at most a symbol or two (a search mispredicted about half of its
// steps). Empty when a table has 65536 symbols or more. Built once per set of tables, shared by the
// decoders of a file's substreams.
struct SlotLookup {
  std::vector<uint16_t> first_symbol;
  int bits = 0;
  static std::shared_ptr<const SlotLookup> build(const CdfTables& tables);
};
class EntropyStreamDecoder {
 public:
  // slots: the tables' SlotLookup, when the caller has one (else it is built here).
  EntropyStreamDecoder(const uint8_t* data, size_t size, const CdfTables& tables,
                       std::shared_ptr<const SlotLookup> slots = nullptr);
  ~EntropyStreamDecoder();
  void decode(const int32_t* table_index, size_t n, int32_t* values);
  void finish() const;

 private:
  const CdfTables& tables_;
  std::unique_ptr<RansDecoder> dec_;
  std::shared_ptr<const SlotLookup> slots_;
};

// Ideal code length in bits of the values under the tables (for per-channel bit accounting in the UI).
double entropy_bits(const int32_t* values, const int32_t* table_index, size_t n, const CdfTables& tables);
// entropy_bits of `runs` consecutive runs of n values (a latent's channels): the tables validated once, the
// runs on the core's threads (each run summed in its own order: the same figures for any thread count).
std::vector<double> entropy_bits_runs(const int32_t* values, const int32_t* table_index, size_t n,
                                      size_t runs, const CdfTables& tables);

}  // namespace aec
