#include "aecodec/file_io.h"

#include <cstdio>
#include <fstream>

#include "aecodec/error.h"

#if defined(_WIN32)
#include <process.h>
#define aec_getpid _getpid
#else
#include <unistd.h>
#define aec_getpid getpid
#endif

namespace aec {

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  require(bool(in), "cannot open '" + path + "'");
  std::streamoff size = in.tellg();
  require(size >= 0, "cannot read '" + path + "' (not a regular file?)");
  require(uint64_t(size) <= max_bytes,
          "'" + path + "' is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  require(bool(in), "error reading '" + path + "'");
  return bytes;
}

void write_file_atomic(const std::string& path, const uint8_t* data, size_t size) {
  const std::string tmp = path + ".tmp-" + std::to_string(aec_getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  require(f != nullptr, "cannot create '" + tmp + "'");
  bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  ok = (std::fflush(f) == 0) && ok;
#if !defined(_WIN32) && !defined(__EMSCRIPTEN__)
  ok = (fsync(fileno(f)) == 0) && ok;
#endif
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot write '" + path + "'");
  }
}

uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t seed) {
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hash_hex(uint64_t h) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) s[size_t(i)] = digits[h & 15];
  return s;
}

uint32_t crc32(const uint8_t* data, size_t size) {
  struct Table {  // built once; a function-local static is initialised thread-safely
    uint32_t v[256];
    Table() {
      for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        v[i] = c;
      }
    }
  };
  static const Table t;
  const uint32_t* table = t.v;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace aec
