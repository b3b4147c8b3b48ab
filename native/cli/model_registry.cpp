#include "model_registry.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "aecodec/error.h"

namespace fs = std::filesystem;

namespace aec::cli {

// The fields of `s` between `sep`s, empty ones included ("a::b" -> a, "", b).
static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    fields.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

std::vector<std::string> model_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("AECODEC_MODELS"))
    for (const std::string& d : split(env, ':'))
      if (!d.empty()) dirs.push_back(d);
  dirs.push_back("models");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // build/<preset>/native/aecodec -> <repo>/models ; <prefix>/bin/aecodec -> <prefix>/share/aecodec/models
    for (const fs::path& p :
         {exe.parent_path() / "../../../models", exe.parent_path() / "../share/aecodec/models"})
      if (fs::is_directory(p, ec)) dirs.push_back(fs::weakly_canonical(p, ec).string());
  }
  return dirs;
}

// Files on the search path that `match` accepts, each reached once (sorted within each folder).
template <class Match>
static std::vector<std::string> files_on_path(const Match& match) {
  std::vector<std::string> files;
  std::set<std::string> seen;
  for (const std::string& dir : model_search_path()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (match(e.path())) found.push_back(e.path());
    std::sort(found.begin(), found.end());
    for (const auto& p : found) {
      const std::string canon = fs::weakly_canonical(p, ec).string();
      if (seen.insert(canon).second) files.push_back(p.string());
    }
  }
  return files;
}

std::vector<std::string> installed_model_files() {
  return files_on_path([](const fs::path& p) { return p.extension() == ".aem"; });
}

std::vector<std::string> installed_codec_manifests() {
  std::vector<std::string> out;
  std::set<std::string> names;
  for (const std::string& f :
       files_on_path([](const fs::path& p) { return CodecManifest::is_path(p.string()); }))
    if (names.insert(fs::path(f).filename().string()).second) out.push_back(f);
  return out;
}

// The model used when none is named: the name in the first "DEFAULT" file on the search path.
static std::string default_model_name() {
  for (const std::string& dir : model_search_path()) {
    std::ifstream in(fs::path(dir) / "DEFAULT");
    std::string name;
    if (in >> name) return name;
  }
  throw Error("no model given (-m) and no models/DEFAULT file on the model path");
}

Model load_model(const std::string& path_or_name) {
  if (path_or_name == "default") return load_model(default_model_name());
  std::error_code ec;
  if (fs::is_regular_file(path_or_name, ec)) return Model::load(path_or_name);
  const std::string file =
      fs::path(path_or_name).extension() == ".aem" ? path_or_name : path_or_name + ".aem";
  for (const std::string& dir : model_search_path()) {
    const fs::path p = fs::path(dir) / file;
    if (fs::is_regular_file(p, ec)) return Model::load(p.string());
  }
  std::string where;
  for (const std::string& d : model_search_path()) where += (where.empty() ? "" : ", ") + d;
  throw Error("no model '" + path_or_name + "' (not a file, and not found in: " + where + ")");
}

std::string codec_manifest_path(const std::string& path_or_name) {
  if (path_or_name == "default") return codec_manifest_path(default_model_name());
  std::error_code ec;
  if (CodecManifest::is_path(path_or_name)) return fs::is_regular_file(path_or_name, ec) ? path_or_name : "";
  if (fs::is_regular_file(path_or_name, ec) || fs::path(path_or_name).extension() == ".aem") return "";
  for (const std::string& dir : model_search_path()) {
    const fs::path p = fs::path(dir) / (path_or_name + CodecManifest::kSuffix);
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

std::string codec_member_file(const std::string& manifest, const std::string& model) {
  std::error_code ec;
  const fs::path beside = fs::path(manifest).parent_path() / (model + ".aem");
  return fs::is_regular_file(beside, ec) ? beside.string() : model;
}

QualityCodec load_codec(const std::string& path_or_name) {
  if (path_or_name == "default") return load_codec(default_model_name());
  const std::string manifest = codec_manifest_path(path_or_name);
  if (manifest.empty()) return QualityCodec(load_model(path_or_name));
  return QualityCodec(CodecManifest::read(manifest), [manifest](const std::string& model) {
    return load_model(codec_member_file(manifest, model));
  });
}

// Where a released version that is not installed can be found: its line in a VERSIONS.tsv on the search path
// (scripts/model-versions.sh writes models/VERSIONS.tsv from git history), as advice; "" when none lists it.
static std::string released_version_advice(const std::string& name, const std::string& id) {
  for (const std::string& dir : model_search_path()) {
    std::ifstream in(fs::path(dir) / "VERSIONS.tsv");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const std::vector<std::string> col = split(line, '\t');
      if (col.size() < 5 || col[0] != name || col[1] != id) continue;
      const std::string file = name + "-" + id + ".aem";
      return "; that version was released in commit " + col[2] + " (" + col[3] +
             "): in the aecodec repository, `git show " + col[2] + ":" + col[4] + " > " + file +
             "`, then decode with -m " + file;
    }
  }
  return "";
}

Model find_model_for(const std::string& name, const std::string& id) {
  std::vector<std::string> other_versions;
  for (const std::string& path : installed_model_files()) {
    try {
      const ModelFile f = ModelFile::read(path);
      if (f.meta.value("name", "") != name) continue;
      Model m = Model::from_file(f);
      if (m.info().is_version(id)) return m;
      other_versions.push_back(m.info().id + " (" + path + ")");
    } catch (const Error&) {
      continue;  // a broken file on the path does not stop the search for the right one
    }
  }
  std::string msg = "the file needs model '" + name + "' version " + id + ", which is not installed";
  if (!other_versions.empty()) {
    msg += "; installed versions of '" + name + "':";
    for (const auto& v : other_versions) msg += " " + v;
  }
  const std::string advice = released_version_advice(name, id);
  throw Error(msg +
              (advice.empty() ? " (pass the model with -m, or add its folder to AECODEC_MODELS)" : advice));
}

}  // namespace aec::cli
