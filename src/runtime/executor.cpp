#include "runtime/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "backend/cpu/prepack.h"
#include "core/error.h"
#include "core/tensor.h"

namespace lmf {

void lower_for_cpu(Graph& graph, const KernelOptions& kernels) {
  const cpu::Backend backend;  // plan-time questions to oneDNN (which weights take strips)
  prepack_for_cpu(graph, backend, kernels);
  graph.verify();
}

Executor::Executor(const Graph& graph, const PlanOptions& opts) : graph_(graph), opts_(opts) {
  LMF_CHECK(opts.max_tokens > 0 && opts.max_rows > 0 && opts.slots > 0 && opts.cache_len > 0, kInvalidArgument,
            "plan: capacities must be positive");
  if (opts.prepack) prepack_for_cpu(graph_, backend_, opts.kernels);
  ctx_.kernels = opts.kernels;
  const auto& values = graph_.values();
  views_.resize(values.size());
  dim0_kind_.assign(values.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    TensorView& tv = views_[i];
    tv.dtype = v.dtype;
    tv.rank = static_cast<int>(v.shape.size());
    LMF_CHECK(tv.rank <= 4, kInternal, "plan: value {} has rank {} > 4", v.name, tv.rank);
    for (int d = 0; d < tv.rank; ++d) {
      const Dim& dim = v.shape[static_cast<size_t>(d)];
      LMF_CHECK(d == 0 || !dim.symbolic() || v.kind == ValueKind::kState, kInternal,
                "plan: value {} has a symbolic dimension after the first", v.name);
      tv.dims[d] = bind(dim);
    }
    if (tv.rank > 0 && v.kind != ValueKind::kState) {
      if (v.shape[0].sym == "N") dim0_kind_[i] = 1;
      if (v.shape[0].sym == "M") dim0_kind_[i] = 2;
    }
    if (v.kind == ValueKind::kWeight) {
      // Kernels only read a node's weight inputs (the trainer writes its owned weights
      // through Tensor::mutable_data), so a read-only mapping may back the view.
      tv.data = const_cast<void*>(v.data.data());
    } else if (v.kind == ValueKind::kInput) {
      const size_t bytes = static_cast<size_t>(tv.numel()) * dtype_size(v.dtype);
      void* p = alloc_aligned(bytes);
      std::memset(p, 0, bytes);  // step inputs are small; a stale row must never be garbage
      owned_.push_back(p);
      tv.data = p;
    } else if (v.kind == ValueKind::kState) {
      // The KV cache: every position is written (this step's append) before any kernel
      // reads it, so it is not cleared; untouched pages stay unallocated by the OS.
      const size_t bytes = static_cast<size_t>(tv.numel()) * dtype_size(v.dtype);
      tv.data = alloc_aligned(bytes);
      state_.push_back(i);
      state_bytes_ += bytes;
    }
  }
  for (const Node& n : graph_.nodes()) {
    std::vector<const TensorView*> ins;
    std::vector<TensorView*> outs;
    for (int i : n.inputs) ins.push_back(&views_[static_cast<size_t>(i)]);
    for (int o : n.outputs) outs.push_back(&views_[static_cast<size_t>(o)]);
    node_in_.push_back(std::move(ins));
    node_out_.push_back(std::move(outs));
  }
  plan_memory();
  // Every kernel prepared once, its views bound to the largest shapes and placed.
  const auto& nodes = graph_.nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    kernels_.push_back(
        cpu_prepare(PrepareContext{nodes[i], node_in_[i].data(), node_out_[i].data(), opts_.kernels, backend_}));
  ctx_.threads = opts.threads;
  plan_scratch();
  ctx_.runs = static_cast<int64_t*>(alloc_aligned(static_cast<size_t>(4 * opts.max_tokens) * 8));
  owned_.push_back(ctx_.runs);
}

Executor::~Executor() {
  for (void* p : owned_) free_aligned(p);
  for (size_t i : state_) free_aligned(views_[i].data);
  free_aligned(ctx_.scratch);
}

// The kernels' scratch: per thread for the KV-cache attention over cache_len positions,
// and the largest any other node asks for. Sized again when the cache grows.
void Executor::plan_scratch() {
  int64_t per_thread = opts_.cache_len;  // KV-cache attention: attention_head's scratch per thread
  for (const Node& n : graph_.nodes()) per_thread = std::max(per_thread, cpu_scratch_per_thread(n, opts_.cache_len));
  ctx_.scratch_per_thread = (per_thread + 15) / 16 * 16;
  const int pool = std::max(opts_.threads, omp_get_max_threads());
  int64_t scratch = pool * ctx_.scratch_per_thread;
  for (size_t i = 0; i < graph_.nodes().size(); ++i)
    scratch = std::max(scratch, cpu_scratch_floats(graph_.nodes()[i], node_in_[i].data(), pool, opts_.kernels));
  free_aligned(ctx_.scratch);
  ctx_.scratch = static_cast<float*>(alloc_aligned(static_cast<size_t>(scratch) * 4));
}

// Every state value holds S positions in one dimension (e.g. the KV cache (SLOTS, Hkv,
// S, D)): a larger S gets a new buffer with the first `keep` positions of each block
// copied over; the rest is left unwritten, as at construction.
void Executor::grow_cache(int64_t cache_len, int64_t keep) {
  if (cache_len <= opts_.cache_len) return;
  LMF_CHECK(keep >= 0 && keep <= opts_.cache_len, kInternal, "plan: keep {} of a {}-position cache", keep,
            opts_.cache_len);
  const int64_t old_len = opts_.cache_len;
  opts_.cache_len = cache_len;
  state_bytes_ = 0;
  for (size_t i : state_) {
    const Value& v = graph_.value(static_cast<int>(i));
    TensorView& tv = views_[i];
    int sd = -1;  // the dimension bound to S
    for (int d = 0; d < tv.rank; ++d)
      if (v.shape[static_cast<size_t>(d)].sym == "S") sd = d;
    if (sd < 0) continue;
    const size_t elem = dtype_size(v.dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < sd; ++d) outer *= tv.dims[d];
    for (int d = sd + 1; d < tv.rank; ++d) inner *= tv.dims[d];
    tv.dims[sd] = cache_len;
    const size_t bytes = static_cast<size_t>(tv.numel()) * elem;
    auto* dst = static_cast<unsigned char*>(alloc_aligned(bytes));
    const auto* src = static_cast<const unsigned char*>(tv.data);
    const size_t row = static_cast<size_t>(inner) * elem;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + static_cast<size_t>(o * cache_len) * row, src + static_cast<size_t>(o * old_len) * row,
                  static_cast<size_t>(keep) * row);
    free_aligned(tv.data);
    tv.data = dst;
    state_bytes_ += bytes;
  }
  plan_scratch();
}

int64_t Executor::bind(const Dim& d) const {
  if (!d.symbolic()) return d.n;
  if (d.sym == "N") return opts_.max_tokens;
  if (d.sym == "M") return opts_.max_rows;
  if (d.sym == "SLOTS") return opts_.slots;
  if (d.sym == "S") return opts_.cache_len;
  fail(ErrorCode::kInternal, "plan: unknown symbolic dimension '{}'", d.sym);
}

// Places every activation in one arena. Live ranges are [producer, last use];
// values are placed largest first at the lowest offset not overlapping any
// already placed value whose live range intersects.
void Executor::plan_memory() {
  const auto& values = graph_.values();
  const auto& nodes = graph_.nodes();
  const int end = static_cast<int>(nodes.size());
  std::vector<int> last(values.size(), -1);
  for (int ni = 0; ni < end; ++ni)
    for (int i : nodes[static_cast<size_t>(ni)].inputs) last[static_cast<size_t>(i)] = ni;
  for (int o : graph_.outputs()) last[static_cast<size_t>(o)] = end;
  struct Item { size_t id, bytes, offset; int first, last; };
  std::vector<Item> items;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].kind != ValueKind::kActivation) continue;
    size_t bytes = (static_cast<size_t>(views_[i].numel()) * dtype_size(values[i].dtype) + 63) / 64 * 64;
    items.push_back({i, bytes, 0, values[i].producer, std::max(last[i], values[i].producer)});
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return items[a].bytes > items[b].bytes; });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t idx : order) {
    Item& it = items[idx];
    std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of overlapping-in-time values
    for (size_t p : placed) {
      const Item& o = items[p];
      if (o.first <= it.last && it.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [b, e] : busy) {
      if (offset + it.bytes <= b) break;
      offset = std::max(offset, e);
    }
    it.offset = offset;
    total = std::max(total, offset + it.bytes);
    placed.push_back(idx);
  }
  arena_bytes_ = total;
  auto* arena = static_cast<unsigned char*>(alloc_aligned(std::max<size_t>(total, 64)));
  owned_.push_back(arena);
  for (const Item& it : items) views_[it.id].data = arena + it.offset;
}

void* Executor::input(const std::string& name, DType dtype) {
  for (int i : graph_.inputs()) {
    if (graph_.value(i).name != name) continue;
    LMF_CHECK(graph_.value(i).dtype == dtype, kInternal, "plan: step input '{}' is {}, not {}", name,
              dtype_name(graph_.value(i).dtype), dtype_name(dtype));
    return views_[static_cast<size_t>(i)].data;
  }
  fail(ErrorCode::kInternal, "plan: no step input '{}'", name);
}

int32_t* Executor::input_i32(const std::string& name) { return static_cast<int32_t*>(input(name, DType::kI32)); }

float* Executor::input_f32(const std::string& name) { return static_cast<float*>(input(name, DType::kF32)); }

void Executor::run(int64_t n, int64_t m) {
  LMF_CHECK(n > 0 && n <= opts_.max_tokens && m >= 0 && m <= std::min(n, opts_.max_rows), kInvalidArgument,
            "plan: a step of {} tokens and {} logit rows, the plan holds {} tokens and {} rows", n, m,
            opts_.max_tokens, opts_.max_rows);
  for (size_t i = 0; i < views_.size(); ++i) {
    if (dim0_kind_[i] == 1) views_[i].dims[0] = n;
    if (dim0_kind_[i] == 2) views_[i].dims[0] = m;
  }
  const int saved = omp_get_max_threads();
  if (saved != opts_.threads) omp_set_num_threads(opts_.threads);
  const auto& nodes = graph_.nodes();
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto t0 = profiling_ ? Clock::now() : Clock::time_point{};
    kernels_[i].run(node_in_[i].data(), node_out_[i].data(), ctx_);
    if (ctx_.failed) [[unlikely]] {
      const char* what = ctx_.failed;
      ctx_.failed = nullptr;
      if (saved != opts_.threads) omp_set_num_threads(saved);
      fail(ErrorCode::kInternal, "plan: node {} ({}, output {}): {} failed in a step of {} tokens", i, nodes[i].op,
           graph_.value(nodes[i].outputs.at(0)).name, what, n);
    }
    if (profiling_) {
      OpTime& t = profile_[nodes[i].op];
      t.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++t.calls;
    }
    if (observer_) observer_(i, node_in_[i].data(), node_out_[i].data());
  }
  if (saved != opts_.threads) omp_set_num_threads(saved);
}

const float* Executor::output() const { return views_[static_cast<size_t>(graph_.outputs().at(0))].f32(); }

int64_t Executor::output_cols() const { return views_[static_cast<size_t>(graph_.outputs().at(0))].dims[1]; }

}  // namespace lmf
