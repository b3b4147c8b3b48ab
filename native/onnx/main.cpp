// aecodec-onnx MODEL.aem OUTDIR: writes OUTDIR/NAME.encoder.onnx and OUTDIR/NAME.decoder.onnx (NAME: the
// model document's name) and prints their sizes. Both graphs pass onnx::checker and strict shape inference
// before anything is written; each file is written atomically.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "onnx_export.h"

namespace {

// The document's name is free text: keep it to characters that are safe in a file name on every system.
std::string file_stem(const std::string& name) {
  std::string s = name;
  for (char& ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) ch = '_';
  if (s.empty() || s[0] == '.') s = "_" + s;  // no hidden files, no "." or ".."
  return s;
}

std::string dims_text(const onnx::ValueInfoProto& v) {
  std::string s = v.name() + " [";
  const auto& shape = v.type().tensor_type().shape();
  for (int i = 0; i < shape.dim_size(); ++i) {
    if (i) s += ",";
    s += shape.dim(i).has_dim_value() ? std::to_string(shape.dim(i).dim_value()) : shape.dim(i).dim_param();
  }
  return s + "]";
}

size_t write_graph(const onnx::ModelProto& m, const std::string& path) {
  // Protobuf cannot serialise a message of 2 GiB or more (ONNX's external-data files are not written here).
  aec::require(m.ByteSizeLong() < size_t(std::numeric_limits<int>::max()),
               "'" + path + "': graph exceeds protobuf's 2 GiB limit");
  std::string bytes;
  aec::require(m.SerializeToString(&bytes), "'" + path + "': protobuf serialisation failed");
  aec::write_file_atomic(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return bytes.size();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: aecodec-onnx MODEL.aem OUTDIR\n"
                 "  writes OUTDIR/NAME.encoder.onnx (image [1,3,H,W] in [0,1] -> latent y) and\n"
                 "  OUTDIR/NAME.decoder.onnx (dequantised latent -> image, not clamped); opset 13\n");
    return 2;
  }
  try {
    const aec::Model model = aec::Model::load(argv[1]);
    const aec::onnx_export::Graphs graphs = aec::onnx_export::export_model(model);
    aec::onnx_export::validate(graphs.encoder, "encoder");
    aec::onnx_export::validate(graphs.decoder, "decoder");

    const std::filesystem::path dir = argv[2];
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    aec::require(!ec && std::filesystem::is_directory(dir),
                 "cannot create output directory '" + dir.string() + "'" + (ec ? ": " + ec.message() : ""));
    const std::string stem = (dir / file_stem(model.info().name)).string();
    for (const auto& [part, m] :
         {std::pair{"encoder", &graphs.encoder}, std::pair{"decoder", &graphs.decoder}}) {
      const std::string path = stem + "." + part + ".onnx";
      const size_t size = write_graph(*m, path);
      std::printf("%s  %zu bytes  %s -> %s\n", path.c_str(), size, dims_text(m->graph().input(0)).c_str(),
                  dims_text(m->graph().output(0)).c_str());
    }
  } catch (const std::exception& e) {  // aec::Error for bad input; anything else is reported the same way
    std::fprintf(stderr, "aecodec-onnx: %s\n", e.what());
    return 1;
  }
  return 0;
}
