// ggml's block formats decoded to float32, value for value as ggml's dequantize_row_*
// (and gguf-py's quants.py, the reference the tests compare with) give them: each
// product and difference rounded to float32 in the same order (this file is compiled
// with -ffp-contract=off, so no fused multiply-add changes a rounding).
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/gguf.h"

namespace lmf {

namespace {

float f16(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Q4_0 / Q4_1 / Q5_0 / Q5_1: 32 values; value j < 16 in the low nibble of qs[j], j >= 16
// in the high nibble of qs[j - 16]; the fifth bit (Q5) is bit j of the u32 qh.
template <bool kMin, bool kFive>
void block32(const unsigned char* b, float* out) {
  const float d = f16(b);
  const float m = kMin ? f16(b + 2) : 0.0f;
  const unsigned char* p = b + (kMin ? 4 : 2);
  uint32_t qh = 0;
  if (kFive) std::memcpy(&qh, p, 4), p += 4;
  for (int j = 0; j < 32; ++j) {
    int q = j < 16 ? (p[j] & 0x0F) : (p[j - 16] >> 4);
    if (kFive) q |= static_cast<int>((qh >> j) & 1u) << 4;
    if (kMin) {
      const float dq = d * static_cast<float>(q);
      out[j] = dq + m;
    } else {
      out[j] = d * static_cast<float>(q - (kFive ? 16 : 8));
    }
  }
}

void q8_0(const unsigned char* b, float* out) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// Q2_K: scales[16] (low nibble: scale, high: min), qs[64], d, dmin. Value e: bits 2s of
// qs[r*32 + b] where e = r*128 + s*32 + b; sub-block e / 16.
void q2_k(const unsigned char* b, float* out) {
  const unsigned char* sc = b;
  const unsigned char* qs = b + 16;
  const float d = f16(b + 80), dmin = f16(b + 82);
  for (int e = 0; e < 256; ++e) {
    const int r = e / 128, s = (e / 32) % 4, i = e % 32, g = e / 16;
    const float dl = d * static_cast<float>(sc[g] & 0xF), ml = dmin * static_cast<float>(sc[g] >> 4);
    const float q = static_cast<float>((qs[r * 32 + i] >> (2 * s)) & 3);
    const float dq = dl * q;
    out[e] = dq - ml;
  }
}

// Q3_K: hmask[32], qs[64], scales[12] (6-bit, packed), d. Low bits as Q2_K; the high bit
// e = i*32 + b is bit i of hmask[b], and it subtracts 4 when clear.
void q3_k(const unsigned char* b, float* out) {
  const unsigned char* hm = b;
  const unsigned char* qs = b + 32;
  const unsigned char* ps = b + 96;
  const float d = f16(b + 108);
  float scale[16];
  for (int k = 0; k < 16; ++k) {
    const int lo = k < 8 ? (ps[k] & 0xF) : (ps[k - 8] >> 4);
    const int hi = (ps[8 + k % 4] >> (2 * (k / 4))) & 3;
    scale[k] = static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(lo | (hi << 4))) - 32);
  }
  for (int e = 0; e < 256; ++e) {
    const int r = e / 128, s = (e / 32) % 4, i = e % 32;
    const int ql = (qs[r * 32 + i] >> (2 * s)) & 3;
    const int h = (hm[i] >> (e / 32)) & 1;
    const float dl = d * scale[e / 16];
    out[e] = dl * static_cast<float>(ql - ((h ^ 1) << 2));
  }
}

// The 8 6-bit scales and mins of Q4_K / Q5_K from their 12 bytes.
void scale_min_k4(const unsigned char* s, int* sc, int* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[4 + j] & 0x3F;
    sc[4 + j] = (s[8 + j] & 0x0F) | ((s[j] >> 2) & 0x30);
    mn[4 + j] = (s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30);
  }
}

// Q4_K: d, dmin, scales[12], qs[128]; Q5_K adds qh[32] before qs. Sub-block sb of 32
// values: nibble sb % 2 of qs[(sb / 2) * 32 + b]; the fifth bit is bit sb of qh[b].
template <bool kFive>
void q45_k(const unsigned char* b, float* out) {
  const float d = f16(b), dmin = f16(b + 2);
  int sc[8], mn[8];
  scale_min_k4(b + 4, sc, mn);
  const unsigned char* qh = b + 16;
  const unsigned char* qs = b + (kFive ? 48 : 16);
  for (int sb = 0; sb < 8; ++sb) {
    const float dl = d * static_cast<float>(sc[sb]), ml = dmin * static_cast<float>(mn[sb]);
    for (int i = 0; i < 32; ++i) {
      int q = (qs[(sb / 2) * 32 + i] >> (4 * (sb % 2))) & 0xF;
      if (kFive) q |= ((qh[i] >> sb) & 1) << 4;
      const float dq = dl * static_cast<float>(q);
      out[sb * 32 + i] = dq - ml;
    }
  }
}

// Q6_K: ql[128], qh[64], scales[16] (int8), d. Value e = r*128 + s*64 + c has low bits
// nibble s of ql[r*64 + c]; e = r*128 + t*32 + i has high bits 2t of qh[r*32 + i].
void q6_k(const unsigned char* b, float* out) {
  const unsigned char* ql = b;
  const unsigned char* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int e = 0; e < 256; ++e) {
    const int r = e / 128, w = e % 128;
    const int lo = (ql[r * 64 + w % 64] >> (4 * (w / 64))) & 0xF;
    const int hi = (qh[r * 32 + w % 32] >> (2 * (w / 32))) & 3;
    const float dl = d * static_cast<float>(sc[e / 16]);
    out[e] = dl * static_cast<float>((lo | (hi << 4)) - 32);
  }
}

}  // namespace

void gguf_dequantize_row(GgmlType type, const unsigned char* data, int64_t n, float* out) {
  const GgmlTypeTraits* tr = ggml_type_traits(static_cast<uint32_t>(type));
  LMF_CHECK(tr && tr->dequantize && n % tr->block == 0, kInvalidArgument, "gguf: cannot decode {} values of type {}", n,
            tr ? tr->name : "?");
  const int64_t blocks = n / tr->block, bb = tr->block_bytes, be = tr->block;
  auto each = [&](auto&& fn) {
    for (int64_t i = 0; i < blocks; ++i) fn(data + i * bb, out + i * be);
  };
  switch (type) {
    case GgmlType::kF32: std::memcpy(out, data, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16: each([](const unsigned char* b, float* o) { *o = f16(b); }); return;
    case GgmlType::kBF16:
      each([](const unsigned char* b, float* o) {
        uint16_t h;
        std::memcpy(&h, b, 2);
        *o = bf16_to_f32(h);
      });
      return;
    case GgmlType::kQ4_0: each(block32<false, false>); return;
    case GgmlType::kQ4_1: each(block32<true, false>); return;
    case GgmlType::kQ5_0: each(block32<false, true>); return;
    case GgmlType::kQ5_1: each(block32<true, true>); return;
    case GgmlType::kQ8_0: each(q8_0); return;
    case GgmlType::kQ2_K: each(q2_k); return;
    case GgmlType::kQ3_K: each(q3_k); return;
    case GgmlType::kQ4_K: each(q45_k<false>); return;
    case GgmlType::kQ5_K: each(q45_k<true>); return;
    case GgmlType::kQ6_K: each(q6_k); return;
    default: break;
  }
  fail(ErrorCode::kInternal, "gguf: type {} marked decodable but has no decoder", tr->name);
}

}  // namespace lmf
