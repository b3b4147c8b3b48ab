#include "image_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "aecodec/error.h"

namespace fs = std::filesystem;

namespace aec::cli {

std::vector<std::string> image_files(const std::string& dir) {
  std::error_code ec;
  require(fs::is_directory(dir, ec), "'" + dir + "' is not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (e.is_regular_file() &&
        (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga"))
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  require(!files.empty(), "no images (png, jpg, bmp, tga) in '" + dir + "'");
  return files;
}

}  // namespace aec::cli
