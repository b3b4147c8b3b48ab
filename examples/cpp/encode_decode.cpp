// Encodes an image with an aecodec model or codec, writes the .aec file, decodes it back and prints its
// PSNR; or decodes an .aec file to PNG. Uses only the installed library's header.
//
//   encode_decode MODEL IMAGE OUT.aec [QUALITY]   encode (at QUALITY 1-100 of a variable-rate model or a
//                                                 codec), write OUT.aec, decode again, print size and PSNR
//   encode_decode MODEL IN.aec OUT.png            decode IN.aec (made with MODEL) into OUT.png
// MODEL is a model file (.aem) or a codec manifest (.codec.json, e.g. models/channel.codec.json).
#include <aecodec/aecodec.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw aecodec::Error("cannot open '" + path + "'");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out.flush()) throw aecodec::Error("cannot write '" + path + "'");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL IMAGE OUT.aec [QUALITY] | MODEL IN.aec OUT.png\n", argv[0]);
    return 2;
  }
  try {
    const aecodec::Codec codec = aecodec::Codec::load(argv[1]);

    if (ends_with(argv[2], ".aec")) {
      const std::vector<uint8_t> file = read_file(argv[2]);
      const aecodec::Image image = codec.decode(file);
      write_file(argv[3], aecodec::encode_png(image));
      std::printf("%s: %dx%d -> %s\n", argv[2], image.width, image.height, argv[3]);
      return 0;
    }

    // Any 8-bit RGB buffer will do: pixels, width, height, and the bytes from one row to the next.
    const aecodec::Image image = aecodec::load_image(argv[2]);
    aecodec::EncodeOptions options;
    options.effort = 0;  // 1..9: smaller files, slower encoding
    if (argc == 5) {     // else 0: the model's own default
      char* end = nullptr;
      options.quality = std::strtod(argv[4], &end);
      if (end == argv[4] || *end) throw aecodec::Error(std::string("not a quality: '") + argv[4] + "'");
    }
    const std::vector<uint8_t> file =
        codec.encode(image.rgb.data(), image.width, image.height, size_t(image.width) * 3, options);
    write_file(argv[3], file);

    const aecodec::FileInfo info = aecodec::read_info(file);
    const aecodec::Image decoded = codec.decode(file);
    std::printf("%s: %dx%d -> %s: %zu bytes, %.4f bpp, model %s %s, PSNR %.2f dB\n", argv[2], info.width,
                info.height, argv[3], file.size(), file.size() * 8.0 / (double(info.width) * info.height),
                info.model_name.c_str(), info.model_id.c_str(), aecodec::psnr(image, decoded));
    return 0;
  } catch (const aecodec::Error& e) {
    std::fprintf(stderr, "encode_decode: %s\n", e.what());
    return 1;
  }
}
