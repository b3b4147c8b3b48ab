// aecodec: the command-line codec. See `aecodec --help`.
#include <cstdio>
#include <exception>

#include "aecodec/error.h"
#include "aecodec/parallel.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"aecodec: a learned image codec (convolutional autoencoders with an entropy-coded latent)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "aecodec 0.1.0");
  aec::cli::GlobalOptions g;
  app.add_option("-t,--threads", g.threads, "threads for the networks (0 = all cores)")
      ->check(CLI::Range(0, 256));
  app.add_flag("-q,--quiet", g.quiet, "print only errors");
  app.parse_complete_callback([&] { aec::set_num_threads(g.threads); });
  aec::cli::add_codec_commands(app, g);
  aec::cli::add_eval_command(app, g);
  aec::cli::add_info_commands(app, g);
  aec::cli::add_bench_command(app, g);
  aec::cli::add_rd_command(app, g);
  aec::cli::add_compare_command(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const aec::Error& e) {
    std::fprintf(stderr, "aecodec: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "aecodec: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aecodec: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
