// The images of a folder, for the commands that measure many (eval, rd).
#pragma once
#include <string>
#include <vector>

namespace aec::cli {

// Every PNG, JPEG, BMP and TGA below dir (recursively), sorted; throws when there is none.
std::vector<std::string> image_files(const std::string& dir);

}  // namespace aec::cli
