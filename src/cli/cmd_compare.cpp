// `lmforge compare BASE MODEL... --data DATA`: the quantization report. For the original
// model and each variant: size on disk, peak resident memory, perplexity, KL divergence
// from the original and same-top-token rate, prefill and decode tokens/s. Every
// measurement runs this binary's own `ppl` or `bench` in a child process (posix_spawn), so
// the peak resident set (from wait4) is that model's alone and nothing leaks from one to
// the next.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/subprocess.h"

namespace lmf::cli {

namespace {

namespace fs = std::filesystem;

struct CompareArgs {
  std::string base, data, split = "valid";
  std::vector<std::string> models;
  int64_t ctx = 256, max_tokens = 0, p = 128, n = 64;
  int reps = 3, threads = 1;
  bool json = false;
};

struct Child {
  nlohmann::json out;
  double peak_rss_mib = 0;
};

// Runs `lmforge ARGS...` (this executable) via run_process, which reads the child's
// stdout and stderr together; returns its JSON stdout and peak RSS; a failing child's
// error line becomes this command's error.
Child run_self(const std::vector<std::string>& args) {
  static const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> argv = {"lmforge"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult p = run_process(self, argv);
  if (!p.ok()) {
    std::string& errors = p.err;
    while (!errors.empty() && errors.back() == '\n') errors.pop_back();
    const size_t nl = errors.rfind('\n');
    std::string line = nl == std::string::npos ? errors : errors.substr(nl + 1);
    const std::string prefix = "lmforge: error: ";
    if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
    fail(ErrorCode::kInvalidArgument, "compare: {} failed: {}", args.at(0) + " " + args.at(1),
         line.empty() ? "exit status " + std::to_string(p.status) : line);
  }
  Child c;
  c.out = nlohmann::json::parse(p.out);
  c.peak_rss_mib = p.peak_rss_mib;
  return c;
}

double file_mib(const std::string& dir) {
  uintmax_t bytes = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") bytes += e.file_size();
  return static_cast<double>(bytes) / (1 << 20);
}

std::string method_of(const std::string& dir) {
  // A label for the table only: fields of another type than lmforge writes are ignored.
  const std::string text = read_text_file(dir + "/config.json");
  const nlohmann::json cfg = json_depth_ok(text) ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json();
  if (!cfg.is_object() || !cfg.contains("quantization_config")) return "float";
  const auto& q = cfg["quantization_config"];
  auto field = [](const nlohmann::json& o, const char* key) {
    return o.is_object() && o.contains(key) ? o[key] : nlohmann::json();
  };
  const nlohmann::json lmf = field(q, "lmforge"), method = field(lmf, "method");
  if (method.is_string()) {
    std::string m = method.get<std::string>();
    const nlohmann::json group = field(q, "group_size");
    if (m != "int8-dynamic") m += fmt::format(" g{}", group.is_number_integer() ? group.get<int64_t>() : 0);
    if (field(lmf, "act") == "int8" && m != "int8-dynamic") m += " a8";
    return m;
  }
  const nlohmann::json qm = field(q, "quant_method");
  return qm.is_string() ? qm.get<std::string>() : std::string("quantized");
}

void run_compare(const CompareArgs& a) {
  LMF_CHECK(!a.models.empty(), kInvalidArgument, "compare: give the original model and at least one variant");
  std::vector<std::string> all = {a.base};
  all.insert(all.end(), a.models.begin(), a.models.end());
  const std::string t = std::to_string(a.threads);
  for (const std::string& m : all)
    LMF_CHECK(fs::exists(m + "/config.json"), kInvalidArgument, "compare: {}: not a model folder (no config.json)", m);
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& m : all) {
    std::vector<std::string> ppl = {"ppl", m, "--data", a.data, "--split", a.split, "--ctx", std::to_string(a.ctx),
                                    "-t", t, "--json", "-q"};
    if (a.max_tokens > 0) ppl.insert(ppl.end(), {"--max-tokens", std::to_string(a.max_tokens)});
    if (m != a.base) ppl.insert(ppl.end(), {"--base", a.base});
    Child q = run_self(ppl);
    Child b = run_self({"bench", m, "-p", std::to_string(a.p), "-n", std::to_string(a.n), "-r", std::to_string(a.reps),
                        "-t", t, "--json", "--no-probe"});
    nlohmann::json r = {{"model", m}, {"method", method_of(m)}, {"file_mib", file_mib(m)},
                        {"peak_rss_mib", b.peak_rss_mib}, {"ppl", q.out["ppl"]}, {"ppl_stderr", q.out["ppl_stderr"]},
                        {"tokens_scored", q.out["tokens_scored"]}};
    if (m != a.base) r["kl_mean"] = q.out["kl_mean"], r["kl_p99"] = q.out["kl_p99"], r["same_top"] = q.out["same_top"];
    for (const auto& test : b.out["tests"]) r[test["test"].get<std::string>() + "_tokens_per_s"] = test["tokens_per_s"];
    rows.push_back(r);
    if (!a.json) fmt::print(stderr, "compare: {} done\n", m);
  }
  if (a.json) {
    fmt::print("{}\n", nlohmann::json({{"data", a.data}, {"split", a.split}, {"ctx", a.ctx}, {"threads", a.threads},
                                       {"models", rows}})
                           .dump(2));
    return;
  }
  const double base_ppl = rows[0]["ppl"].get<double>();
  const std::string pp = fmt::format("pp{}", a.p), tg = fmt::format("tg{}", a.n);
  fmt::print("| model | method | file MiB | peak RSS MiB | ppl ({} split) | vs original | KL mean | same top | {} t/s | {} t/s |\n",
             a.split, pp, tg);
  fmt::print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& r : rows) {
    const double ppl = r["ppl"].get<double>();
    fmt::print("| {} | {} | {:.2f} | {:.1f} | {:.3f} ± {:.3f} | {} | {} | {} | {:.1f} | {:.1f} |\n",
               r["model"].get<std::string>(), r["method"].get<std::string>(), r["file_mib"].get<double>(),
               r["peak_rss_mib"].get<double>(), ppl, r["ppl_stderr"].get<double>(),
               r.contains("kl_mean") ? fmt::format("{:+.2f}%", 100.0 * (ppl / base_ppl - 1)) : "",
               r.contains("kl_mean") ? fmt::format("{:.5f}", r["kl_mean"].get<double>()) : "",
               r.contains("same_top") ? fmt::format("{:.2f}%", 100.0 * r["same_top"].get<double>()) : "",
               r.value(pp + "_tokens_per_s", 0.0), r.value(tg + "_tokens_per_s", 0.0));
  }
}

}  // namespace

void register_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Report size, peak memory, perplexity, KL and speed of model variants against the original");
  cmd->add_option("base", a->base, "The original model folder")->required();
  cmd->add_option("models", a->models, "Variant model folders (e.g. outputs of `lmforge quantize`)")->required();
  cmd->add_option("--data", a->data, "Evaluation data: a `data prepare` folder or a text file")->required();
  cmd->add_option("--split", a->split, "Split of a prepared folder (default valid)");
  cmd->add_option("-c,--ctx", a->ctx, "Perplexity window (default 256)");
  cmd->add_option("--max-tokens", a->max_tokens, "Score only the first N tokens");
  cmd->add_option("-p,--n-prompt", a->p, "Prefill test tokens (default 128)");
  cmd->add_option("-n,--n-gen", a->n, "Decode test tokens (default 64)");
  cmd->add_option("-r,--repetitions", a->reps, "Speed repetitions (default 3)");
  cmd->add_flag("--json", a->json, "Print JSON");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_compare(*a); });
}

}  // namespace lmf::cli
