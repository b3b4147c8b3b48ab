// Whole-file reads and crash-safe writes. Every output file of aecodec goes through write_file_atomic, so a
// failure (or a kill) never leaves a partial file under the requested name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aec {

// Reads a whole file; throws aec::Error naming the path when it cannot be opened or is larger than max_bytes.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = uint64_t(1) << 31);

// Writes to "<path>.tmp-<pid>", flushes, then renames over path. Removes the temporary on any failure.
void write_file_atomic(const std::string& path, const uint8_t* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// 64-bit FNV-1a: the identity hash of models and entropy tables (not a security hash).
uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);
std::string hash_hex(uint64_t h);  // 16 lowercase hex digits
// CRC-32 (IEEE 802.3, as zlib's crc32): the bitstream checksum.
uint32_t crc32(const uint8_t* data, size_t size);

}  // namespace aec
