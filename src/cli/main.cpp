// lmforge: the command-line tool. Each subcommand parses its flags and calls the
// library; only this file catches lmf::Error, printing one line and exiting 1. It owns the
// process's communicator (dist::Communicator: MPI initialized here under mpirun and
// finalized at exit), passed to the commands that need it; a failing rank aborts the job.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "dist/communicator.h"

int main(int argc, char** argv) {
  std::unique_ptr<lmf::dist::Communicator> world;  // declared first: outlives the commands
  try {
    world = std::make_unique<lmf::dist::Communicator>();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    return 1;
  }
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
  lmf::cli::register_train(app, *world);
  lmf::cli::register_quantize(app);
  lmf::cli::register_prune(app);
  lmf::cli::register_compare(app);
  lmf::cli::register_template(app);
  lmf::cli::register_chat(app);
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
    if (world->distributed())
      std::fprintf(stderr, "lmforge: error: rank %d: %s\n", world->rank(), e.what());
    else
      std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    std::fflush(stderr);
    world->abort(1);  // the other ranks stop instead of waiting for this one
    return 1;
  }
  return 0;  // ~Communicator finalizes MPI
}
