// A codec as users pick it: one quality knob, Q 1 to 100, over one or more variable-rate networks. A small
// network is the better codec at low rates and saturates at high ones; a wide network keeps gaining where
// the small one stops (docs/context-model.md). The manifest (models/NAME.codec.json, docs/model-format.md)
// splits the knob into spans, each served by one member network: inside a span the member's own quality
// (quality.h) is an affine function of the knob's, so both stay linear in log lambda and the curve is
// continuous where the measured rates of neighbouring members meet.
//
// A file records only the member's identity and the member's quality, so decoding needs the member and
// not the manifest: a manifest may be re-tuned (its spans moved) without breaking a single file.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace aec {

struct CodecMember {
  std::string model;  // the member's model name (its file NAME.aem sits beside the manifest)
  // The knob's span this member serves, [from, to] (a Q on a boundary goes to the lower member), and the
  // member's own qualities at its ends.
  double from = 1, to = 100;
  double member_from = 1, member_to = 100;
};

struct CodecManifest {
  static constexpr const char* kFormat = "aecodec-codec";
  static constexpr int kFormatVersion = 1;
  static constexpr const char* kSuffix = ".codec.json";  // a manifest's file name: NAME.codec.json

  std::string name, description;
  double default_quality = 0;  // the Q used when none is asked for
  std::vector<CodecMember> members;

  // Parses and validates a manifest: spans ascending, covering 1..100 without gaps, member qualities within
  // 1..100 and rising with the knob. Throws aec::Error naming the problem.
  static CodecManifest parse(const std::string& json_text);
  static CodecManifest read(const std::string& path);
  // The manifest of a codec that is one variable-rate model: the knob is the model's own quality.
  static CodecManifest single(const std::string& model, double default_quality);
  // Whether a path names a manifest file (ends in kSuffix, with a name before it).
  static bool is_path(const std::string& path);

  struct Setting {
    size_t member = 0;
    double quality = 0;  // the member's own quality, in hundredths
  };
  // The member and its quality for knob quality q (1..100, in hundredths; throws outside).
  Setting at(double q) const;
  // The knob quality at which member `member` runs at its own quality `member_q`, or a negative value when
  // the member never runs there (outside its span).
  double knob_quality(size_t member, double member_q) const;

 private:
  static CodecManifest from_json(const nlohmann::json& j);  // parse's checks, on the parsed document
};

}  // namespace aec
