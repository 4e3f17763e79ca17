// Deterministic mutation fuzzing of every parser entry point (fuzz_support.h), in the
// default build: each target's seeds, then a few hundred seeded mutants of them (byte
// flips, truncations, deletions, insertions, numbers replaced by huge or negative ones,
// strings replaced, header lengths rewritten, deep nesting). Each case must parse or throw
// lmf::Error: never another exception type, a broken invariant, or a crash. The same
// seed gives the same cases on every machine (own RNG, no <random> distributions).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <typeinfo>

#include "core/error.h"
#include "core/random.h"
#include "fuzz/fuzz_support.h"

namespace lmf::fuzz {
namespace {

using Rng = SplitMix64;  // core/random.h

const char* const kNumbers[] = {"-1", "0", "-0", "1e308", "-1e308", "1.5", "2147483648", "4294967296", "65536",
                                "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                                "18446744073709551615", "18446744073709551616", "1152921504606846976",
                                "99999999999999999999999999", "16777216", "3", "1e-320"};
const char* const kStrings[] = {"\"\"", "\"F64\"", "\"../x\"", "\"\\u0000\"", "\"a/b\"", "\".hidden\"", "null", "[]",
                                "{}", "true", "\"gptq\"", "\"int8\"", "\"BPE\"", "\"\\ud800\""};
const uint64_t kU64[] = {0, 1, 7, 0xFFFFFFFFFFFFFFFFull, 0x7FFFFFFFFFFFFFFFull, 1ull << 60, 1ull << 32, 1ull << 20};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void mutate_once(std::string& s, Rng& r) {
  switch (r.below(10)) {
    case 0:  // flip a bit
      if (!s.empty()) s[r.below(s.size())] ^= static_cast<char>(1u << r.below(8));
      break;
    case 1: {  // an interesting byte
      static const char kBytes[] = {0, '\xFF', '\x7F', '\x80', '{', '[', '"', '-', '9', '\n', ' ', ':'};
      if (!s.empty()) s[r.below(s.size())] = kBytes[r.below(sizeof kBytes)];
      break;
    }
    case 2:  // truncate
      s.resize(r.below(s.size() + 1));
      break;
    case 3: {  // delete a range
      if (s.empty()) break;
      const size_t at = r.below(s.size());
      s.erase(at, 1 + r.below(std::min<size_t>(64, s.size() - at)));
      break;
    }
    case 4: {  // duplicate a range somewhere else
      if (s.empty()) break;
      const size_t at = r.below(s.size()), n = 1 + r.below(std::min<size_t>(64, s.size() - at));
      s.insert(r.below(s.size() + 1), s.substr(at, n));
      break;
    }
    case 5: {  // a number -> a huge, negative or fractional one
      std::vector<size_t> starts;
      for (size_t i = 0; i < s.size(); ++i)
        if (is_digit(s[i]) && (i == 0 || !is_digit(s[i - 1]))) starts.push_back(i);
      if (starts.empty()) break;
      size_t b = starts[r.below(starts.size())], e = b;
      while (e < s.size() && (is_digit(s[e]) || s[e] == '.')) ++e;
      if (b > 0 && s[b - 1] == '-') --b;
      s.replace(b, e - b, r.below(4) ? kNumbers[r.below(std::size(kNumbers))] : kStrings[r.below(std::size(kStrings))]);
      break;
    }
    case 6: {  // a string value -> another string or value
      std::vector<size_t> quotes;
      for (size_t i = 0; i < s.size(); ++i)
        if (s[i] == '"') quotes.push_back(i);
      if (quotes.size() < 2) break;
      const size_t k = r.below(quotes.size() - 1);
      s.replace(quotes[k], quotes[k + 1] - quotes[k] + 1, kStrings[r.below(std::size(kStrings))]);
      break;
    }
    case 7: {  // an 8-byte length or offset
      if (s.size() < 8) break;
      const uint64_t v = kU64[r.below(std::size(kU64))];
      const size_t at = r.below(4) == 0 ? r.below(s.size() - 7) : 0;
      std::memcpy(s.data() + at, &v, 8);
      break;
    }
    case 8: {  // deep nesting
      const size_t depth = r.below(2) ? 100000 : 600;
      const size_t at = r.below(s.size() + 1);
      std::string open, close;
      const bool obj = r.below(2);
      for (size_t i = 0; i < depth; ++i) open += obj ? "{\"a\":" : "[";
      close.assign(depth, obj ? '}' : ']');
      s.insert(at, open + "1" + close);
      break;
    }
    default: {  // random bytes
      const size_t n = 1 + r.below(16), at = r.below(s.size() + 1);
      std::string b;
      for (size_t i = 0; i < n; ++i) b += static_cast<char>(r.next());
      s.insert(at, b);
      break;
    }
  }
}

// Mutants per seed: more for the cheap parsers.
int mutants_per_seed(const Target& t) {
  const std::string_view n = t.name;
  if (n == "hf_model" || n == "init_config" || n == "token_dataset") return 400;
  if (n == "sentencepiece" || n == "tokenizer_json" || n == "gpt2_files" || n == "jsonl") return 600;
  return 1000;
}

class Mutation : public ::testing::TestWithParam<const Target*> {};

TEST_P(Mutation, EveryCaseParsesOrThrowsLmfError) {
  const Target& t = *GetParam();
  const std::vector<std::string> seeds = t.seeds();
  ASSERT_FALSE(seeds.empty());
  for (const std::string& s : seeds) ASSERT_NO_THROW(t.run(s)) << t.name << ": a seed does not parse";
  const auto t0 = std::chrono::steady_clock::now();
  int cases = 0, refused = 0, failures = 0;
  for (size_t si = 0; si < seeds.size(); ++si) {
    Rng r{0x6C6D66ull * 131 + si * 7919 + std::hash<std::string_view>{}(t.name) % 1000};
    for (int m = 0; m < mutants_per_seed(t); ++m) {
      std::string in = seeds[si];
      const size_t n = 1 + r.below(3);
      for (size_t k = 0; k < n; ++k) mutate_once(in, r);
      ++cases;
      std::string problem;
      try {
        t.run(in);
      } catch (const Error&) {
        ++refused;
      } catch (const Violation& v) {
        problem = std::string("invariant broken: ") + v.what();
      } catch (const std::exception& e) {
        problem = std::string("not an lmf::Error (") + typeid(e).name() + "): " + e.what();
      }
      if (!problem.empty() && ++failures <= 5) {
        const std::string path = ::testing::TempDir() + "lmf_fuzz_" + t.name + "_" + std::to_string(si) + "_" +
                                 std::to_string(m);
        write_bytes(path, in);
        ADD_FAILURE() << t.name << " seed " << si << " mutant " << m << ": " << problem << " (input: " << path << ")";
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %d cases (%d refused with lmf::Error) in %.2f s\n", t.name, cases, refused, secs);
  EXPECT_GT(refused, 0) << "no mutant was refused: the mutations do not reach the parser";
}

std::vector<const Target*> all_targets() {
  std::vector<const Target*> v;
  for (const Target& t : targets()) v.push_back(&t);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Parsers, Mutation, ::testing::ValuesIn(all_targets()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace lmf::fuzz
