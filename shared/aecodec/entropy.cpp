// rANS entropy coder for integer latents.
//
// Coder design (after ryg_rans' "rans_word"): the state x is a uint32_t kept in [kRansL, kRansL << 16) with
// kRansL = 2^16, and renormalisation moves exactly one 16-bit word per step. Symbol frequencies use at most
// 16 bits of precision, so every intermediate value fits in 32 bits and encode/decode use integer arithmetic
// only: the same bytes decode to the same values on every compiler and platform (wasm32 included).
//
// Stream layout: the encoder's final state as 4 little-endian bytes, then the 16-bit words (little-endian)
// in the order the decoder consumes them. The encoder starts from x = kRansL, so a decoder that consumed
// every word must end in that same state; this (together with the exact-length check) detects most
// truncated, extended or damaged streams.
//
// Escapes (value outside the table's alphabet) use CompressAI's mapping to a non-negative "raw" distance:
// s < 0 -> raw = -2s - 1 (odd), s >= n -> raw = 2(s - n) (even). raw is then coded in bypass mode with
// uniform symbols (frequency 1): its bit length (0..kMaxRawBits) as one kLengthBits-bit symbol, then the bits
// below its leading one in chunks of at most 16 bits. The leading one is implicit, so each raw value has
// exactly one encoding.
#include "aecodec/entropy.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <string>
#include <utility>

#include "aecodec/error.h"
#include "aecodec/parallel.h"

// Checks are written `if (!ok) throw Error(...)` rather than require(): the message is then built only on
// failure, which matters in the per-symbol loops (WebAssembly pays heavily for the string work).
namespace aec {
namespace {

constexpr uint32_t kRansL = 1u << 16;  // lower bound of the normalised state interval
constexpr int kLengthBits = 5;         // bypass symbol holding the bit length of raw
constexpr int kMaxRawBits = 21;        // raw <= 2 * kMaxEscape - 1 < 2^21
constexpr int kChunkBits = 16;         // widest uniform bypass symbol the coder supports
static_assert((int64_t(2) * kMaxEscape - 1) >> kMaxRawBits == 0, "kMaxRawBits too small");
static_assert(kMaxRawBits < (1 << kLengthBits), "bit length must fit its bypass symbol");

// One coding operation: a symbol occupying [start, start + freq) out of 1 << precision.
struct Op {
  uint32_t start;
  uint32_t freq;
  int precision;
};

class Encoder {
 public:
  // Symbols must be pushed in the reverse of decode order (rANS is last-in first-out).
  void put(const Op& op) {
    // x_max keeps x / freq << precision below 2^32; one 16-bit shift always brings x under it.
    const uint64_t x_max = (uint64_t(kRansL >> op.precision) << 16) * op.freq;
    if (x_ >= x_max) {
      words_.push_back(uint16_t(x_ & 0xffff));
      x_ >>= 16;
    }
    x_ = ((x_ / op.freq) << op.precision) + (x_ % op.freq) + op.start;
  }

  std::vector<uint8_t> finish() const {
    std::vector<uint8_t> out;
    out.reserve(4 + 2 * words_.size());
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(x_ >> (8 * i)));
    for (size_t i = words_.size(); i-- > 0;) {
      out.push_back(uint8_t(words_[i] & 0xff));
      out.push_back(uint8_t(words_[i] >> 8));
    }
    return out;
  }

 private:
  uint32_t x_ = kRansL;
  std::vector<uint16_t> words_;
};

class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    if (!(size >= 4)) throw Error("corrupt entropy stream: truncated (" + std::to_string(size) + " bytes)");
    if (!(size % 2 == 0)) throw Error("corrupt entropy stream: odd length " + std::to_string(size));
    x_ = uint32_t(data[0]) | uint32_t(data[1]) << 8 | uint32_t(data[2]) << 16 | uint32_t(data[3]) << 24;
    pos_ = 4;
    if (!(x_ >= kRansL)) throw Error("corrupt entropy stream: invalid initial state");
  }

  // The slot in [0, 1 << precision) that identifies the next symbol.
  uint32_t peek(int precision) const { return x_ & ((1u << precision) - 1); }

  // Removes the symbol [start, start + freq) whose slot peek() returned. With x >= kRansL and
  // freq >= 1 the new x is >= 1, so a single 16-bit refill restores x >= kRansL.
  void advance(uint32_t start, uint32_t freq, int precision) {
    x_ = freq * (x_ >> precision) + peek(precision) - start;
    if (x_ < kRansL) {
      if (!(size_ - pos_ >= 2)) throw Error("corrupt entropy stream: truncated");
      x_ = (x_ << 16) | uint32_t(data_[pos_]) | uint32_t(data_[pos_ + 1]) << 8;
      pos_ += 2;
    }
  }

  uint32_t get_uniform(int bits) {
    const uint32_t v = peek(bits);
    advance(v, 1, bits);
    return v;
  }

  void finish() const {
    if (!(pos_ == size_))
      throw Error("corrupt entropy stream: " + std::to_string(size_ - pos_) + " trailing bytes");
    if (!(x_ == kRansL)) throw Error("corrupt entropy stream: final state mismatch");
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint32_t x_ = 0;
};

int bit_length(uint32_t v) {
  int n = 0;
  while (v >> n) ++n;
  return n;
}

const std::vector<uint32_t>& table_for(const CdfTables& tables, int32_t t) {
  if (!(t >= 0 && size_t(t) < tables.count()))
    throw Error("entropy table index " + std::to_string(t) + " out of range (" +
                std::to_string(tables.count()) + " tables)");
  return tables.cdf[size_t(t)];
}

// Symbol index and escape distance of a value; throws when the value cannot be coded.
struct Mapped {
  uint32_t symbol;  // n for the escape symbol
  uint32_t raw;     // escape distance (meaningful only for escapes)
};

Mapped map_value(int32_t value, int32_t offset, uint32_t n) {
  const int64_t s = int64_t(value) - offset;
  if (s >= 0 && s < int64_t(n)) return {uint32_t(s), 0};
  if (!(s >= -int64_t(kMaxEscape) && s <= kMaxEscape))
    throw Error("entropy coding: value " + std::to_string(value) + " is more than " +
                std::to_string(kMaxEscape) + " away from its table offset " + std::to_string(offset));
  const int64_t raw = s < 0 ? -2 * s - 1 : 2 * (s - int64_t(n));
  return {n, uint32_t(raw)};
}

// The coding operations of one value, in decode order; returns how many were written to ops.
int value_ops(const Mapped& m, const std::vector<uint32_t>& cdf, int precision, Op ops[4]) {
  int k = 0;
  ops[k++] = {cdf[m.symbol], cdf[m.symbol + 1] - cdf[m.symbol], precision};
  if (m.symbol + 2 < cdf.size()) return k;  // regular symbol
  const int nbits = bit_length(m.raw);
  ops[k++] = {uint32_t(nbits), 1, kLengthBits};
  for (int shift = 0; shift < nbits - 1; shift += kChunkBits) {
    const int width = std::min(kChunkBits, nbits - 1 - shift);
    ops[k++] = {(m.raw >> shift) & ((1u << width) - 1), 1, width};
  }
  return k;
}

}  // namespace

void CdfTables::validate() const {
  if (!(precision >= 1 && precision <= 16))
    throw Error("entropy tables: precision " + std::to_string(precision) + " outside [1, 16]");
  if (!(offset.size() == cdf.size()))
    throw Error("entropy tables: " + std::to_string(cdf.size()) + " cdfs but " +
                std::to_string(offset.size()) + " offsets");
  const uint32_t total = 1u << precision;
  for (size_t t = 0; t < cdf.size(); ++t) {
    const std::vector<uint32_t>& c = cdf[t];
    // The name only when it is needed: the coders validate on every call, and 64 strings a call showed.
    const auto name = [t] { return "entropy table " + std::to_string(t) + ": "; };
    if (!(c.size() >= 3))
      throw Error(name() + "needs at least 3 cdf entries, has " + std::to_string(c.size()));
    if (!(c.front() == 0)) throw Error(name() + "cdf does not start at 0");
    if (!(c.back() == total)) throw Error(name() + "cdf does not end at 1 << precision");
    for (size_t i = 1; i < c.size(); ++i)
      if (!(c[i] > c[i - 1])) throw Error(name() + "cdf not strictly increasing");
  }
}

std::vector<uint32_t> pmf_to_cdf(const std::vector<double>& pmf, double tail_mass, int precision) {
  if (!(precision >= 1 && precision <= 16))
    throw Error("pmf_to_cdf: precision " + std::to_string(precision) + " outside [1, 16]");
  const uint32_t total = 1u << precision;
  const size_t symbols = pmf.size() + 1;  // regular symbols + escape
  if (!(!pmf.empty() && symbols <= total))
    throw Error("pmf_to_cdf: " + std::to_string(pmf.size()) + " symbols do not fit precision " +
                std::to_string(precision));

  // Clean the masses (NaN, infinite or negative -> 0) and scale by the largest so the sum cannot overflow.
  std::vector<double> mass(symbols);
  for (size_t i = 0; i < symbols; ++i) {
    const double p = i < pmf.size() ? pmf[i] : tail_mass;
    mass[i] = std::isfinite(p) && p > 0 ? p : 0.0;
  }
  const double largest = *std::max_element(mass.begin(), mass.end());
  if (largest == 0) std::fill(mass.begin(), mass.end(), 1.0);  // no information: uniform
  double sum = 0;
  for (double& m : mass) {
    if (largest > 0) m /= largest;
    sum += m;
  }

  // Round to frequencies (each at least 1). The doubles only decide the rounding; IEEE arithmetic makes
  // that deterministic, and the total is then fixed in integers.
  std::vector<uint32_t> freq(symbols);
  int64_t assigned = 0;
  for (size_t i = 0; i < symbols; ++i) {
    const double scaled = std::round(mass[i] / sum * double(total));
    freq[i] = std::max<uint32_t>(1, uint32_t(scaled));
    assigned += freq[i];
  }
  // Give or take the difference from the currently largest frequencies (ties: lowest index), where one
  // unit changes the probability least in relative terms.
  using Entry = std::pair<uint32_t, int64_t>;  // (freq, -index): max-heap pops largest, then lowest index
  std::priority_queue<Entry> heap;
  for (size_t i = 0; i < symbols; ++i) heap.push({freq[i], -int64_t(i)});
  while (assigned != int64_t(total)) {
    Entry e = heap.top();
    heap.pop();
    const size_t i = size_t(-e.second);
    if (assigned > int64_t(total)) {
      // Only frequencies > 1 may give; since symbols <= total, the largest one always can.
      --freq[i];
      --assigned;
    } else {
      ++freq[i];
      ++assigned;
    }
    heap.push({freq[i], e.second});
  }

  std::vector<uint32_t> cdf(symbols + 1, 0);
  for (size_t i = 0; i < symbols; ++i) cdf[i + 1] = cdf[i] + freq[i];
  return cdf;
}

std::vector<uint8_t> entropy_encode(const int32_t* values, const int32_t* table_index, size_t n,
                                    const CdfTables& tables) {
  return entropy_encode_runs(values, table_index, n, 1, n, tables);
}

std::vector<uint8_t> entropy_encode_runs(const int32_t* values, const int32_t* table_index, size_t n,
                                         size_t runs, size_t stride, const CdfTables& tables) {
  tables.validate();
  Encoder enc;
  Op ops[4];
  for (size_t r = runs; r-- > 0;) {  // reverse order, so the decoder reads forwards
    const int32_t* v = values + r * stride;
    const int32_t* t = table_index + r * stride;
    for (size_t i = n; i-- > 0;) {
      const std::vector<uint32_t>& cdf = table_for(tables, t[i]);
      const Mapped m = map_value(v[i], tables.offset[size_t(t[i])], uint32_t(cdf.size() - 2));
      for (int k = value_ops(m, cdf, tables.precision, ops); k-- > 0;) enc.put(ops[k]);
    }
  }
  return enc.finish();
}

// The rANS decoder behind EntropyStreamDecoder's pointer (declared in the header).
class RansDecoder : public Decoder {
 public:
  using Decoder::Decoder;
};

std::shared_ptr<const SlotLookup> SlotLookup::build(const CdfTables& tables) {
  auto s = std::make_shared<SlotLookup>();
  s->bits = std::min(8, tables.precision);
  const int shift = tables.precision - s->bits;
  const size_t buckets = size_t(1) << s->bits;
  for (const std::vector<uint32_t>& cdf : tables.cdf)
    if (cdf.size() > 65536) return s;
  s->first_symbol.resize(tables.count() * buckets);
  for (size_t t = 0; t < tables.count(); ++t) {
    const std::vector<uint32_t>& cdf = tables.cdf[t];
    uint32_t sym = 0;
    for (size_t b = 0; b < buckets; ++b) {
      const uint32_t first = uint32_t(b) << shift;
      while (sym + 2 < cdf.size() && cdf[sym + 1] <= first) ++sym;  // at most the escape, cdf.size() - 2
      s->first_symbol[t * buckets + b] = uint16_t(sym);
    }
  }
  return s;
}

EntropyStreamDecoder::EntropyStreamDecoder(const uint8_t* data, size_t size, const CdfTables& tables,
                                           std::shared_ptr<const SlotLookup> slots)
    : tables_(tables), slots_(std::move(slots)) {
  tables.validate();
  dec_ = std::make_unique<RansDecoder>(data, size);
  if (!slots_) slots_ = SlotLookup::build(tables);
  require(slots_->first_symbol.empty() || slots_->first_symbol.size() == tables.count() << slots_->bits,
          "entropy decoder: a slot lookup built for other tables");
}

EntropyStreamDecoder::~EntropyStreamDecoder() = default;

void EntropyStreamDecoder::decode(const int32_t* table_index, size_t n, int32_t* values) {
  RansDecoder& dec = *dec_;
  const CdfTables& tables = tables_;
  const int precision = tables.precision;
  const std::vector<uint16_t>& lut = slots_->first_symbol;
  const int lut_bits = slots_->bits;
  for (size_t i = 0; i < n; ++i) {
    const std::vector<uint32_t>& cdf = table_for(tables, table_index[i]);
    const int32_t offset = tables.offset[size_t(table_index[i])];
    const uint32_t escape = uint32_t(cdf.size() - 2);

    // Largest s with cdf[s] <= slot; cdf[0] = 0 <= slot < cdf.back() keeps s in [0, escape].
    const uint32_t slot = dec.peek(precision);
    uint32_t s;
    if (!lut.empty()) {
      s = lut[(size_t(table_index[i]) << lut_bits) + (slot >> (precision - lut_bits))];
      while (cdf[s + 1] <= slot) ++s;  // stops at the escape at the latest: cdf.back() > slot
    } else {
      s = uint32_t(std::upper_bound(cdf.begin() + 1, cdf.end(), slot) - (cdf.begin() + 1));
    }
    dec.advance(cdf[s], cdf[s + 1] - cdf[s], precision);
    if (s < escape) {
      const int64_t v = int64_t(offset) + s;
      if (!(v <= INT32_MAX)) throw Error("corrupt entropy stream: value outside int32");
      values[i] = int32_t(v);
      continue;
    }

    const int nbits = int(dec.get_uniform(kLengthBits));
    if (!(nbits <= kMaxRawBits))
      throw Error("corrupt entropy stream: escape length " + std::to_string(nbits));
    uint32_t raw = nbits > 0 ? 1u << (nbits - 1) : 0;
    for (int shift = 0; shift < nbits - 1; shift += kChunkBits) {
      const int width = std::min(kChunkBits, nbits - 1 - shift);
      raw |= dec.get_uniform(width) << shift;
    }
    const int64_t sv = raw & 1 ? -(int64_t(raw) + 1) / 2 : int64_t(escape) + raw / 2;
    if (!(sv >= -int64_t(kMaxEscape) && sv <= kMaxEscape))
      throw Error("corrupt entropy stream: escaped value beyond " + std::to_string(kMaxEscape));
    const int64_t v = int64_t(offset) + sv;
    if (!(v >= INT32_MIN && v <= INT32_MAX))
      throw Error("corrupt entropy stream: escaped value outside int32");
    values[i] = int32_t(v);
  }
}

void EntropyStreamDecoder::finish() const {
  dec_->finish();
}

std::vector<int32_t> entropy_decode(const uint8_t* data, size_t size, const int32_t* table_index, size_t n,
                                    const CdfTables& tables) {
  EntropyStreamDecoder dec(data, size, tables);
  std::vector<int32_t> values(n);
  dec.decode(table_index, n, values.data());
  dec.finish();
  return values;
}

namespace {

// Each table's symbol costs, precision - log2(frequency), computed once per call instead of once per value (a
// log2 per value was most of an encode's bit accounting).
std::vector<std::vector<double>> symbol_costs(const CdfTables& tables) {
  std::vector<std::vector<double>> cost(tables.cdf.size());
  for (size_t t = 0; t < cost.size(); ++t) {
    const std::vector<uint32_t>& cdf = tables.cdf[t];
    cost[t].resize(cdf.size() - 1);
    for (size_t i = 0; i + 1 < cdf.size(); ++i)
      cost[t][i] = tables.precision - std::log2(double(cdf[i + 1] - cdf[i]));
  }
  return cost;
}

// The bits of value_ops' operations: the symbol's cost, then for an escape its uniform symbols (frequency 1:
// exactly their width each), added in the same order as one operation at a time.
double bits_unchecked(const int32_t* values, const int32_t* table_index, size_t n, const CdfTables& tables,
                      const std::vector<std::vector<double>>& cost) {
  double bits = 0;
  Op ops[4];
  for (size_t i = 0; i < n; ++i) {
    const size_t t = size_t(table_index[i]);
    const std::vector<uint32_t>& cdf = table_for(tables, table_index[i]);
    const Mapped m = map_value(values[i], tables.offset[t], uint32_t(cdf.size() - 2));
    bits += cost[t][m.symbol];
    if (m.symbol + 2 < cdf.size()) continue;  // a regular symbol
    const int k = value_ops(m, cdf, tables.precision, ops);
    for (int j = 1; j < k; ++j) bits += ops[j].precision - std::log2(double(ops[j].freq));
  }
  return bits;
}

}  // namespace

double entropy_bits(const int32_t* values, const int32_t* table_index, size_t n, const CdfTables& tables) {
  tables.validate();
  return bits_unchecked(values, table_index, n, tables, symbol_costs(tables));
}

std::vector<double> entropy_bits_runs(const int32_t* values, const int32_t* table_index, size_t n,
                                      size_t runs, const CdfTables& tables) {
  tables.validate();
  const std::vector<std::vector<double>> cost = symbol_costs(tables);
  std::vector<double> bits(runs);
  parallel_for(int(runs), [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      bits[size_t(r)] = bits_unchecked(values + size_t(r) * n, table_index + size_t(r) * n, n, tables, cost);
  });
  return bits;
}

}  // namespace aec
