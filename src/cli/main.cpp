// lmforge: the command-line tool. Each subcommand parses its flags and calls the
// library; only this file catches lmf::Error, printing one line and exiting 1.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/common.h"
#include "core/error.h"
#include "dist/communicator.h"

int main(int argc, char** argv) {
  CLI::App app{"lmforge: make transformer language models small, fast and distributed"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lmforge 0.1.0");
  lmf::cli::register_info(app);
  lmf::cli::register_graph(app);
  lmf::cli::register_generate(app);
  lmf::cli::register_bench(app);
  lmf::cli::register_ppl(app);
  lmf::cli::register_tokenizer(app);
  lmf::cli::register_data(app);
  lmf::cli::register_train(app);
  lmf::cli::register_quantize(app);
  lmf::cli::register_compare(app);
  lmf::cli::register_template(app);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "lmforge: error: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // lmf::Error and anything else
    std::fflush(stdout);
    if (lmf::dist::Communicator::world().distributed())
      std::fprintf(stderr, "lmforge: error: rank %d: %s\n", lmf::dist::Communicator::world().rank(), e.what());
    else
      std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    std::fflush(stderr);
    lmf::dist::abort_world(1);  // the other ranks stop instead of waiting for this one
    return 1;
  }
  lmf::dist::finalize();
  return 0;
}
