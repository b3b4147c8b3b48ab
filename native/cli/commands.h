// The aecodec subcommands. Each registers its options on the CLI11 app and runs when chosen; errors are
// thrown as aec::Error and turned into a message and exit code 1 by main().
#pragma once
#include <CLI/CLI.hpp>

namespace aec::cli {

struct GlobalOptions {
  int threads = 0;  // 0 = all cores
  bool quiet = false;
};

void add_codec_commands(CLI::App& app, const GlobalOptions& g);  // encode, decode, cross-decode
void add_eval_command(CLI::App& app, const GlobalOptions& g);
void add_info_commands(CLI::App& app, const GlobalOptions& g);  // info, models
void add_bench_command(CLI::App& app, const GlobalOptions& g);
void add_rd_command(CLI::App& app, const GlobalOptions& g);       // rate-distortion vs JPEG/WebP/AVIF
void add_compare_command(CLI::App& app, const GlobalOptions& g);  // metrics of an image against a reference

}  // namespace aec::cli
