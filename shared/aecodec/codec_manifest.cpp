#include "aecodec/codec_manifest.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "aecodec/error.h"
#include "aecodec/quality.h"

namespace aec {

namespace {

using nlohmann::json;

bool valid_quality(double q) {
  return std::isfinite(q) && q >= 1.0 && q <= 100.0;
}

// A [low, high] pair of qualities from the manifest's field `key` of `member`.
void read_span(const json& j, const char* key, const std::string& member, double& lo, double& hi) {
  const std::string where = "codec manifest: member '" + member + "': ";
  require(j.contains(key) && j[key].is_array() && j[key].size() == 2 && j[key][0].is_number() &&
              j[key][1].is_number(),
          where + "\"" + key + "\" must be a pair of numbers [from, to]");
  lo = j[key][0].get<double>(), hi = j[key][1].get<double>();
  require(valid_quality(lo) && valid_quality(hi) && lo <= hi,
          where + "\"" + key + "\" must rise within 1..100");
}

}  // namespace

CodecManifest CodecManifest::parse(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(std::string("codec manifest: not valid JSON: ") + e.what());
  }
  // The checks read fields with json::value, which throws json's own exception for a field of another type.
  try {
    return from_json(j);
  } catch (const json::exception& e) {
    throw Error(std::string("codec manifest: a field has the wrong type: ") + e.what());
  }
}

CodecManifest CodecManifest::from_json(const nlohmann::json& j) {
  require(j.is_object() && j.value("format", "") == kFormat,
          std::string("codec manifest: \"format\" must be \"") + kFormat + "\"");
  require(j.value("version", 0) == kFormatVersion,
          "codec manifest: version " + std::to_string(j.value("version", 0)) +
              " is not supported (this build reads " + std::to_string(kFormatVersion) + ")");
  CodecManifest m;
  require(j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty(),
          "codec manifest: \"name\" missing");
  m.name = j["name"].get<std::string>();
  m.description = j.value("description", "");
  require(j.contains("members") && j["members"].is_array() && !j["members"].empty(),
          "codec manifest: \"members\" must list at least one model");
  for (const json& e : j["members"]) {
    require(e.is_object() && e.contains("model") && e["model"].is_string() &&
                !e["model"].get<std::string>().empty(),
            "codec manifest: every member needs a \"model\" name");
    CodecMember c;
    c.model = e["model"].get<std::string>();
    read_span(e, "quality", c.model, c.from, c.to);
    read_span(e, "model_quality", c.model, c.member_from, c.member_to);
    require(c.from < c.to || m.members.empty(),
            "codec manifest: member '" + c.model + "' serves an empty span of the quality knob");
    if (m.members.empty())
      require(c.from == 1.0, "codec manifest: the first member's span must start at quality 1");
    else
      require(c.from == m.members.back().to, "codec manifest: member '" + c.model +
                                                 "' must start where the one before it ends (quality " +
                                                 std::to_string(m.members.back().to) + ")");
    m.members.push_back(c);
  }
  require(m.members.back().to == 100.0, "codec manifest: the last member's span must end at quality 100");
  m.default_quality = j.value("default_quality", 0.0);
  require(valid_quality(m.default_quality), "codec manifest: \"default_quality\" must be within 1..100");
  return m;
}

CodecManifest CodecManifest::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), "cannot open codec manifest '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  require(s.str().size() < (1u << 20), "codec manifest '" + path + "' is too large");
  try {
    return parse(s.str());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

CodecManifest CodecManifest::single(const std::string& model, double default_quality) {
  CodecManifest m;
  m.name = model;
  m.default_quality = default_quality;
  m.members.push_back({model, 1, 100, 1, 100});
  return m;
}

bool CodecManifest::is_path(const std::string& path) {
  const std::string suffix = kSuffix;
  const size_t slash = path.find_last_of('/');
  const size_t name = slash == std::string::npos ? 0 : slash + 1;
  return path.size() > name + suffix.size() &&
         path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

CodecManifest::Setting CodecManifest::at(double q) const {
  const double knob = quality_code(q) / 100.0;  // checks the range
  size_t i = 0;
  while (i + 1 < members.size() && knob > members[i].to) ++i;
  const CodecMember& c = members[i];
  const double t = c.to > c.from ? (knob - c.from) / (c.to - c.from) : 0.0;
  return {i, quality_code(c.member_from + t * (c.member_to - c.member_from)) / 100.0};
}

double CodecManifest::knob_quality(size_t member, double member_q) const {
  if (member >= members.size()) return -1;
  const CodecMember& c = members[member];
  if (member_q < c.member_from || member_q > c.member_to) return -1;
  if (c.member_to == c.member_from) return c.from;
  const double t = (member_q - c.member_from) / (c.member_to - c.member_from);
  const double q = quality_code(c.from + t * (c.to - c.from)) / 100.0;
  // A Q on the boundary belongs to the member below: the upper member's first quality is one step on.
  return member > 0 && q <= c.from ? -1 : q;
}

}  // namespace aec
