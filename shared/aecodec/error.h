// The one exception type of the core: every rejected input (file, bitstream, model, image) throws it with a
// message that says what is wrong, so the CLI and the browser can show it and exit cleanly.
#pragma once
#include <stdexcept>
#include <string>

namespace aec {

struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A long operation stopped because its caller asked it to (a progress callback returned false).
struct Cancelled : Error {
  Cancelled() : Error("cancelled") {}
};

// Throws aec::Error(message) when the condition is false. Used for every check on outside data.
inline void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}
// The same for a literal message, which then becomes a string only on failure: a check inside a per-element
// loop (a context model's 150,000 table indices) otherwise allocated its message on every call.
inline void require(bool ok, const char* message) {
  if (!ok) throw Error(message);
}

}  // namespace aec
