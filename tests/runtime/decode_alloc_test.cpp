// A decode step allocates no memory: every malloc-family call in the process
// (operator new included, and the libraries lmforge calls) is counted while
// decode steps run, after a warm-up.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>

#include "models/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "support/golden.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
inline void note() {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (std::getenv("LMF_ALLOC_TRAP")) __builtin_trap();  // debugging: a core shows who allocated
  }
}
}  // namespace

extern "C" {
void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  note();
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  note();
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;
}
}

namespace lmf {
namespace {

void decode_allocates_nothing(const std::string& name, int batch, int threads) {
  Model m = load_model(test::golden_dir(name));
  Session s(m, {.max_batch = batch, .max_context = 0, .max_step_tokens = 32, .threads = threads});
  Sampler greedy({}, m.info.vocab);
  std::vector<int32_t> next(static_cast<size_t>(batch), 3);
  std::vector<SeqChunk> chunks(static_cast<size_t>(batch));
  auto step = [&] {
    for (int b = 0; b < batch; ++b) chunks[static_cast<size_t>(b)] = {b, std::span<const int32_t>(&next[static_cast<size_t>(b)], 1)};
    auto logits = s.step(chunks, false);
    for (int b = 0; b < batch; ++b) next[static_cast<size_t>(b)] = greedy.sample(logits.data() + b * m.info.vocab);
  };
  for (int i = 0; i < 4; ++i) step();  // warm-up: thread pools start, libraries set up
  g_allocs = 0;
  g_counting = true;
  for (int i = 0; i < 32; ++i) step();
  g_counting = false;
  EXPECT_EQ(g_allocs.load(), 0) << name << " batch " << batch << " threads " << threads;
}

TEST(DecodeAlloc, Gpt2SingleThread) { decode_allocates_nothing("gpt2", 1, 1); }
TEST(DecodeAlloc, Gpt2TwoThreadsBatch3) { decode_allocates_nothing("gpt2", 3, 2); }
TEST(DecodeAlloc, LlamaTwoThreads) { decode_allocates_nothing("llama", 2, 2); }
TEST(DecodeAlloc, CounterWorks) {
  g_allocs = 0;
  g_counting = true;
  void* volatile p = std::malloc(64);
  g_counting = false;
  std::free(p);
  EXPECT_EQ(g_allocs.load(), 1);
}

}  // namespace
}  // namespace lmf
