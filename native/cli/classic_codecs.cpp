#include "classic_codecs.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace fs = std::filesystem;

namespace aec::rd {

namespace {

struct Tools {
  const char* encoder;
  const char* decoder;
  const char* package;
};

Tools tools(ClassicCodec c) {
  switch (c) {
    case ClassicCodec::jpeg:
      return {"cjpeg", "djpeg", "libjpeg-turbo-progs"};
    case ClassicCodec::webp:
      return {"cwebp", "dwebp", "webp"};
    case ClassicCodec::avif:
      return {"avifenc", "avifdec", "libavif-bin"};
  }
  return {"", "", ""};
}

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    if (::access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Single-quoted for /bin/sh.
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string tail(const std::string& path, size_t max_chars = 800) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.size() > max_chars ? "..." + text.substr(text.size() - max_chars) : text;
}

// Runs argv through /bin/sh with every argument quoted and the output captured in `log`; returns the wall
// time in ms. Throws with the command line and the tool's output when it does not exit with status 0.
double run(const std::vector<std::string>& argv, const std::string& log) {
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + quote(a);
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system((cmd + " >" + quote(log) + " 2>&1 </dev/null").c_str());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (status == -1) throw Error("could not start a shell for: " + cmd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                              : "killed by signal " + std::to_string(WTERMSIG(status));
    throw Error(argv[0] + " failed (" + why + "): " + cmd + "\n" + tail(log));
  }
  return ms;
}

void write_ppm(const std::string& path, const Image& image) {
  const std::string head =
      "P6\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
  std::vector<uint8_t> bytes(head.begin(), head.end());
  bytes.insert(bytes.end(), image.rgb.begin(), image.rgb.end());
  write_file_atomic(path, bytes);
}

}  // namespace

const char* codec_name(ClassicCodec c) {
  switch (c) {
    case ClassicCodec::jpeg:
      return "jpeg";
    case ClassicCodec::webp:
      return "webp";
    case ClassicCodec::avif:
      return "avif";
  }
  return "";
}

std::string level_label(ClassicCodec c, int quality) {
  return (c == ClassicCodec::avif ? "cq" : "q") + std::to_string(quality);
}

std::string codec_settings(ClassicCodec c) {
  switch (c) {
    case ClassicCodec::jpeg:
      return "cjpeg -quality Q -sample 2x2 (4:2:0); djpeg -bmp";
    case ClassicCodec::webp:
      return "cwebp -q Q; dwebp -nodither";
    case ClassicCodec::avif:
      return "avifenc -c aom -s 6 --min 0 --max 63 -a end-usage=q -a cq-level=Q (4:4:4 from PNG); avifdec -d "
             "8";
  }
  return "";
}

void require_tools(ClassicCodec c) {
  const Tools t = tools(c);
  for (const char* tool : {t.encoder, t.decoder})
    require(on_path(tool), std::string(tool) + " is not on PATH: install the Debian package " + t.package +
                               " (or leave " + codec_name(c) + " out with --codecs)");
}

std::string tool_version(ClassicCodec c) {
  const Tools t = tools(c);
  const std::string cmd =
      std::string(t.encoder) + (c == ClassicCodec::avif ? " --version" : " -version") + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  // cjpeg: "libjpeg-turbo version 2.1.5 (build ...)"; cwebp: "1.2.4" (+ libsharpyuv); avifenc: "Version: ..."
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (c == ClassicCodec::jpeg && line.find("version") == std::string::npos) continue;
    return std::string(t.encoder) + " " + line;
  }
  return "";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/aecodec-rd-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  require(::mkdtemp(buf.data()) != nullptr, "cannot make a temporary folder from " + templ);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ClassicInput write_classic_input(const Image& image, const std::string& dir) {
  ClassicInput in;
  in.ppm = dir + "/input.ppm";
  in.png = dir + "/input.png";
  in.width = image.width, in.height = image.height;
  write_ppm(in.ppm, image);
  write_png(in.png, image);
  return in;
}

ClassicResult run_classic(ClassicCodec c, int quality, const ClassicInput& input, const std::string& dir) {
  const std::string q = std::to_string(quality), log = dir + "/tool.log";
  std::string coded, decoded;
  ClassicResult r;
  switch (c) {
    case ClassicCodec::jpeg:
      coded = dir + "/coded.jpg", decoded = dir + "/decoded.bmp";
      r.encode_ms = run({"cjpeg", "-quality", q, "-sample", "2x2", "-outfile", coded, input.ppm}, log);
      r.decode_ms = run({"djpeg", "-bmp", "-outfile", decoded, coded}, log);
      break;
    case ClassicCodec::webp:
      coded = dir + "/coded.webp", decoded = dir + "/decoded.png";
      r.encode_ms = run({"cwebp", "-quiet", "-q", q, input.png, "-o", coded}, log);
      r.decode_ms = run({"dwebp", "-quiet", "-nodither", coded, "-o", decoded}, log);
      break;
    case ClassicCodec::avif:
      coded = dir + "/coded.avif", decoded = dir + "/decoded.png";
      r.encode_ms = run({"avifenc", "-c", "aom", "-s", "6", "-j", "1", "--min", "0", "--max", "63", "-a",
                         "end-usage=q", "-a", "cq-level=" + q, input.png, coded},
                        log);
      r.decode_ms = run({"avifdec", "-d", "8", coded, decoded}, log);
      break;
  }
  std::error_code ec;
  r.bytes = size_t(fs::file_size(coded, ec));
  require(!ec && r.bytes > 0, std::string(tools(c).encoder) + " wrote no file " + coded);
  r.decoded = load_image(decoded, {}, AlphaPolicy::drop);
  require(r.decoded.width == input.width && r.decoded.height == input.height,
          std::string(tools(c).decoder) + " gave a " + std::to_string(r.decoded.width) + "x" +
              std::to_string(r.decoded.height) + " image for a " + std::to_string(input.width) + "x" +
              std::to_string(input.height) + " input");
  fs::remove(coded, ec);
  fs::remove(decoded, ec);
  return r;
}

}  // namespace aec::rd
