#include "backend/cpu/prepack.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <tuple>

#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {

namespace {

// Each value's readers (graph outputs count as one).
struct Uses {
  std::vector<int> readers;
  explicit Uses(const Graph& g) : readers(g.values().size(), 0) {
    for (const Node& n : g.nodes())
      for (int v : n.inputs) ++readers[static_cast<size_t>(v)];
    for (int v : g.outputs()) ++readers[static_cast<size_t>(v)];
  }
  // The node producing v (Value::producer) when v is read once (by the fusing node), else null.
  Node* sole_producer(Graph& g, int v) const {
    const int p = g.value(v).producer;
    return p >= 0 && readers[static_cast<size_t>(v)] == 1 ? &g.mutable_nodes()[static_cast<size_t>(p)] : nullptr;
  }
};

// Runs `fuse(node, index, uses, dead)` on every node (true: it fused, flagging the nodes it
// made dead), then erases the dead ones.
template <class F>
int fuse_nodes(Graph& g, F&& fuse) {
  const Uses uses(g);
  std::vector<bool> dead(g.nodes().size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) fused += fuse(g.mutable_nodes()[i], i, uses, dead) ? 1 : 0;
  if (fused) g.erase_nodes(dead);
  return fused;
}

// linear / linear_q -> gelu_tanh, the linear's output read by nothing else: the gelu
// becomes the linear's attr fused_act (oneDNN's post-op on the strips path, else applied
// to the output in place) and its node goes.
int fuse_gelu(Graph& g) {
  return fuse_nodes(g, [&](Node& n, size_t i, const Uses& uses, std::vector<bool>& dead) {
    if (n.op != "gelu_tanh") return false;
    Node* lin = uses.sole_producer(g, n.inputs[0]);
    if (!lin || (lin->op != "linear" && lin->op != "linear_q") || lin->has_attr("fused_act")) return false;
    lin->attrs["fused_act"] = std::string("gelu_tanh");
    lin->outputs[0] = n.outputs[0];
    dead[i] = true;
    return true;
  });
}

// attention(split_cols(x, q range), split_cols(x, k range), split_cols(x, v range)),
// the three side by side covering x (GPT-2's c_attn output) and read by nothing else:
// the attention reads x itself (attr qkv = "packed") and the copies go.
int fuse_qkv_split(Graph& g) {
  return fuse_nodes(g, [&](Node& a, size_t, const Uses& uses, std::vector<bool>& dead) {
    if (a.op != "attention" || a.has_attr("qkv")) return false;
    const int64_t hd = a.attr_int("heads") * a.attr_int("head_dim"), kvd = a.attr_int("kv_heads") * a.attr_int("head_dim");
    const int64_t begin[3] = {0, hd, hd + kvd}, end[3] = {hd, hd + kvd, hd + 2 * kvd};
    int x = -1;
    for (size_t i = 0; i < 3; ++i) {
      const Node* s = uses.sole_producer(g, a.inputs[i]);
      if (!s || s->op != "split_cols" || s->attr_int("begin") != begin[i] || s->attr_int("end") != end[i] ||
          (x >= 0 && s->inputs[0] != x))
        return false;
      x = s->inputs[0];
    }
    if (g.value(x).shape[1] != Dim(hd + 2 * kvd)) return false;
    for (size_t i = 0; i < 3; ++i) dead[static_cast<size_t>(g.value(a.inputs[i]).producer)] = true;
    a.inputs[0] = a.inputs[1] = a.inputs[2] = x;
    a.attrs["qkv"] = std::string("packed");
    return true;
  });
}

// The ropes of a step (q and k of every layer) that share positions, head_dim and theta
// read one rope_table of those angles (attr angles = "table"), made by a node put first in
// the graph (its input, the positions, is a graph input), instead of each computing the
// same cos and sin again (Llama-shaped, 12 layers, pp128: 24 ropes took 1.7 ms, ~2% of
// a prefill). Results are bit-identical.
int share_rope_tables(Graph& g) {
  // (positions, head_dim, theta, inv_freq, scale) -> ropes; dynamic NTK ropes (their
  // frequencies depend on the step) compute their own.
  std::map<std::tuple<int, int64_t, double, std::string, double>, std::vector<size_t>> groups;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.op == "rope" && !n.has_attr("angles") && !n.has_attr("dynamic_factor"))
      groups[{n.inputs[1], n.attr_int("head_dim"), n.attr_float("theta"),
              n.has_attr("inv_freq") ? n.attr_str("inv_freq") : std::string(),
              n.has_attr("scale") ? n.attr_float("scale") : 1.0}]
          .push_back(i);
  }
  int shared = 0, tables = 0;
  for (const auto& [key, ropes] : groups) {
    const auto& [pos, d, theta, inv_freq, scale] = key;
    // One rope gains nothing; positions computed in the graph are left alone.
    if (ropes.size() < 2 || g.value(pos).producer >= 0) continue;
    std::map<std::string, Attr> attrs = {{"head_dim", d}, {"theta", theta}};
    if (!inv_freq.empty()) attrs["inv_freq"] = inv_freq;
    if (scale != 1.0) attrs["scale"] = scale;
    const int table = g.add("rope_table", {pos}, attrs);  // appended: indices hold
    ++tables;
    for (size_t i : ropes) {
      Node& n = g.mutable_nodes()[i];
      n.inputs[1] = table;
      n.attrs["angles"] = std::string("table");
    }
    shared += static_cast<int>(ropes.size());
  }
  if (tables == 0) return 0;
  auto& nodes = g.mutable_nodes();  // the tables' nodes first, then the rest in order
  std::rotate(nodes.begin(), nodes.end() - tables, nodes.end());
  g.erase_nodes(std::vector<bool>(nodes.size(), false));  // (renumbers the producers)
  return shared;
}

}  // namespace

int prepack_for_cpu(Graph& g, const cpu::Backend& backend, const cpu::KernelOptions& ko) {
  int count = 0;
  if (ko.fuse) count += fuse_gelu(g) + fuse_qkv_split(g) + share_rope_tables(g);
  const std::vector<int>& outputs = g.outputs();
  // The head stays (N, K): it runs on few rows (decode, and prefill's last rows), where
  // the row-dot kernel draws more bandwidth than the (K, N) one (measured on GPT-2
  // small's head, 2 threads: 55-60 against 48-52 GB/s with a 56 GB/s probe), and a tied
  // head then needs no transposed copy of the embedding (-154 MB at GPT-2 small).
  auto is_head = [&](const Node& n) {
    return std::find(outputs.begin(), outputs.end(), n.outputs[0]) != outputs.end();
  };
  // Weight w replaced by make(its tensor), once per weight (cache: w -> the new one's id),
  // named w's name + suffix. The mapped original is no longer read by the plan: its pages
  // leave the resident set.
  auto relaid = [&](std::map<int, int>& cache, int w, const char* suffix, auto&& make) {
    auto it = cache.find(w);
    if (it != cache.end()) return it->second;
    const Tensor& src = g.value(w).data;
    Tensor t = make(src);
    if (src.mapped()) release_mapped_pages(src.data(), src.nbytes());
    const std::string name = g.value(w).name + suffix;
    ++count;
    return cache.emplace(w, g.add_weight(name, std::move(t))).first->second;
  };
  // Float weights in 64-column strips where oneDNN's matmul primitive would take that layout
  // (backend.h: AVX-512 CPUs): packed once from (N, K) or (K, N), the original's mapped
  // pages released.
  std::map<int, int> packed;  // weight -> its strips
  for (Node& n : g.mutable_nodes()) {
    if (n.op != "linear" || is_head(n)) continue;
    const std::string layout = n.attr_str("layout");
    const Value& v = g.value(n.inputs[1]);
    if ((layout != "nk" && layout != "kn") || v.kind != ValueKind::kWeight || v.dtype != DType::kF32) continue;
    const bool nk = layout == "nk";
    const int64_t K = v.data.dim(nk ? 1 : 0), N = v.data.dim(nk ? 0 : 1);
    if (!backend.strips_fast(K, N, ko)) continue;
    n.inputs[1] = relaid(packed, n.inputs[1], ".strips", [&](const Tensor& src) {
      Tensor t = Tensor::empty(DType::kF32, {cpu::strip_count(N), K, cpu::kStripCols});
      cpu::pack_strips(src.data_as<float>(), nk, K, N, t.mutable_data_as<float>());
      return t;
    });
    n.attrs["layout"] = std::string("strips");
    n.attrs["out_features"] = N;
  }
  std::map<int, int> done;  // (N, K) weight -> its (K, N) transpose
  for (Node& n : g.mutable_nodes()) {
    if (n.op != "linear" || n.attr_str("layout") != "nk" || is_head(n)) continue;
    const Value& v = g.value(n.inputs[1]);
    LMF_CHECK(v.kind == ValueKind::kWeight && v.dtype == DType::kF32, kInternal, "prepack: {} is not a float32 weight",
              v.name);
    n.inputs[1] = relaid(done, n.inputs[1], ".T", [&](const Tensor& src) {
      const int64_t N = src.dim(0), K = src.dim(1);
      Tensor t = Tensor::empty(DType::kF32, {K, N});
      transpose_f32(src.data_as<float>(), t.mutable_data_as<float>(), N, K);
      return t;
    });
    n.attrs["layout"] = std::string("kn");
  }
  // Float weights the streaming kernels read, 64-byte aligned: a checkpoint's tensors sit
  // wherever its header puts them (Hugging Face's writer aligns them to 8 bytes), and
  // vector loads that straddle cache lines cost decode ~10% in the high-bandwidth regime
  // (GPT-2 small, 2 threads, side by side: 61-76% of the bound misaligned, 76-89% aligned).
  // The copy replaces the tensor for every reader (a tied embedding too); the mapped
  // pages leave the resident set.
  for (const Node& n : g.nodes()) {
    if (n.op != "linear") continue;
    Value& v = g.values()[static_cast<size_t>(n.inputs[1])];
    if (v.kind != ValueKind::kWeight || v.data.dtype() != DType::kF32 ||
        reinterpret_cast<uintptr_t>(v.data.data()) % 64 == 0)
      continue;
    Tensor t = Tensor::empty(DType::kF32, v.data.shape());
    const int64_t total = v.data.numel(), chunk = int64_t{4} << 20;  // floats: 16 MiB at a time
    for (int64_t i = 0; i < total; i += chunk) {  // releasing as it goes keeps the peak low
      std::copy_n(v.data.data_as<float>() + i, std::min(chunk, total - i), t.mutable_data_as<float>() + i);
      if (v.data.mapped()) release_mapped_pages(v.data.data(), static_cast<size_t>(std::min(total, i + chunk)) * sizeof(float));
    }
    v.data = std::move(t);
    ++count;
  }
  // Quantized weights: GPTQ tensors -> strips (qmatmul.h), once per qweight and
  // activation type (a tied embedding and head share theirs; an int8-dynamic head's
  // embedding lookup reads a float-activation copy). Float activations at 4 bits get the
  // wide strips of the bf16 kernel where the CPU has it (q_strip_cols).
  std::map<std::pair<int, std::string>, std::pair<std::array<int, 3>, int64_t>> strips;
  for (Node& n : g.mutable_nodes()) {
    if ((n.op != "linear_q" && n.op != "embedding_q") || n.attr_str("layout") != "gptq") continue;
    const size_t first = n.op == "linear_q" ? 1 : 0;
    const int qw = n.inputs[first];
    const std::string act = n.attrs.count("act") ? n.attr_str("act") : "float";
    const bool i8 = act == "int8";
    auto it = strips.find({qw, act});
    if (it == strips.end()) {
      const int64_t K = n.attr_int("in_features"), N = n.attr_int("out_features"), G = n.attr_int("group_size");
      const int bits = static_cast<int>(n.attr_int("bits"));
      const int64_t W = i8 ? cpu::kQStrip : cpu::q_strip_cols(bits, G, act == "float", ko), st = cpu::q_strips(N, W);
      const Tensor& scales = g.value(n.inputs[first + 1]).data;
      const bool f32 = scales.dtype() == DType::kF32;
      Tensor q = Tensor::empty(DType::kI32, {st, K / (32 / cpu::strip_bits(bits)), W});
      Tensor s = Tensor::empty(DType::kF32, {st, K / G, W});
      Tensor zs = Tensor::empty(i8 ? DType::kI32 : DType::kF32, {st, K / G, W});
      if (i8)
        cpu::q_tile_i8(g.value(qw).data.data_as<int32_t>(), scales.data(), f32, K, N, q.mutable_data_as<int32_t>(),
                       s.mutable_data_as<float>(), zs.mutable_data_as<int32_t>());
      else
        cpu::q_tile(g.value(qw).data.data_as<int32_t>(), scales.data(), f32,
                    g.value(n.inputs[first + 2]).data.data_as<int32_t>(), K, N, bits, G, q.mutable_data_as<int32_t>(),
                    s.mutable_data_as<float>(), zs.mutable_data_as<float>(), W);
      const std::string base = g.value(qw).name + (act == "float" ? "" : "." + act);
      std::array<int, 3> ids = {g.add_weight(base + ".strips", std::move(q)), g.add_weight(base + ".s", std::move(s)),
                                g.add_weight(base + ".zs", std::move(zs))};
      it = strips.emplace(std::make_pair(qw, act), std::make_pair(ids, W)).first;
      ++count;
    }
    for (size_t i = 0; i < 3; ++i) n.inputs[first + i] = it->second.first[i];
    n.attrs["layout"] = std::string("strips");
    n.attrs["strip_cols"] = it->second.second;
    n.attrs["bits"] = int64_t{cpu::strip_bits(static_cast<int>(n.attr_int("bits")))};
  }
  g.remove_unused_values();
  return count;
}

}  // namespace lmf
