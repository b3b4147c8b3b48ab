// Reading the model document's fields with the checks every reader applies: a missing or mistyped field, or
// a value out of its range, is an aec::Error that names the layer and the field.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "aecodec/error.h"

namespace aec {

// j[key] as an int in [lo, hi]; `where` names the layer in the message.
inline int document_int(const nlohmann::json& j, const char* key, const std::string& where, int lo, int hi) {
  require(j.contains(key) && j[key].is_number_integer(),
          where + ": field '" + key + "' missing or not an integer");
  const int64_t v = j[key].get<int64_t>();
  require(v >= lo && v <= hi, where + ": field '" + key + "' = " + std::to_string(v) + " outside [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int(v);
}

}  // namespace aec
