#!/usr/bin/env bash
# Bad input: each malformed file or flag gets one error line naming the file or
# flag and the problem, and a non-zero exit; never a crash or a hang.
source "$(dirname "$0")/lib.bash"
G="$LMF_GOLDEN"
T="$LMF_TMP/bad"; rm -rf "$T"; mkdir -p "$T"
copy() { rm -rf "$T/$1"; cp -r "$G/$2" "$T/$1"; echo "$T/$1"; }

# Rewrites DIR/model.safetensors with a modified header (python: h is the header dict).
patch_header() {
  "$PY" - "$1/model.safetensors" "$2" <<'PY'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n]); data = raw[8 + n:]
names = sorted(k for k in h if k != "__metadata__")
exec(code)
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + data)
PY
}

expect_error "missing folder" "does/not/exist: not a model folder" "$LMF" info "$T/does/not/exist"
d=$(copy garbled gpt2); echo '{"architectures": [' > "$d/config.json"
expect_error "garbled config.json" "config.json: not valid JSON" "$LMF" info "$d"
d=$(copy nofield gpt2); "$PY" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); del c['n_layer']; json.dump(c,open(p,'w'))" "$d/config.json"
expect_error "missing config field" "config.json: missing field 'n_layer'" "$LMF" info "$d"
d=$(copy wrongtype llama); "$PY" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['hidden_size']='64'; json.dump(c,open(p,'w'))" "$d/config.json"
expect_error "config field of the wrong type" "field 'hidden_size' must be an integer" "$LMF" info "$d"
d=$(copy arch gpt2); "$PY" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['architectures']=['BertModel']; json.dump(c,open(p,'w'))" "$d/config.json"
expect_error "unknown architecture" "architecture 'BertModel' is not supported" "$LMF" info "$d"
d=$(copy noweights gpt2); rm "$d/model.safetensors"
expect_error "no weights" "no model.safetensors" "$LMF" info "$d"
# config.json fields of the new families (rope_scaling, head_dim, sliding_window).
setcfg() { "$PY" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); exec(sys.argv[2]); json.dump(c,open(p,'w'))" "$1/config.json" "$2"; }
d=$(copy ropetype llama); setcfg "$d" "c['rope_scaling']={'rope_type': 'su', 'factor': 2.0}"
expect_error "unknown rope_scaling type" "config.json: rope_scaling.rope_type 'su' is not supported" "$LMF" info "$d"
d=$(copy ropefactor llama); setcfg "$d" "c['rope_scaling']={'rope_type': 'llama3', 'factor': 8.0}"
expect_error "rope_scaling field missing" "config.json: rope_scaling.low_freq_factor is missing" "$LMF" info "$d"
d=$(copy headdim llama); setcfg "$d" "c['head_dim']=32"
expect_error "head_dim not the projections'" "config.json: head_dim 32 does not match the projections" "$LMF" info "$d"
d=$(copy window0 mistral_window); setcfg "$d" "c['sliding_window']=0"
expect_error "sliding_window 0" "config.json: sliding_window 0 must be positive" "$LMF" info "$d"
d=$(copy windowneg mistral_window); setcfg "$d" "c['sliding_window']=-4"
expect_error "sliding_window negative" "config.json: sliding_window -4 must be positive" "$LMF" info "$d"

d=$(copy hdrlen gpt2); "$PY" - "$d/model.safetensors" <<'PY'
import struct, sys
p = sys.argv[1]; raw = bytearray(open(p, "rb").read()); raw[:8] = struct.pack("<Q", len(raw) * 2); open(p, "wb").write(raw)
PY
expect_error "header length past the end" "model.safetensors: header length .* runs past the end" "$LMF" info "$d"
d=$(copy shortfile gpt2); head -c 5 "$G/gpt2/model.safetensors" > "$d/model.safetensors"
expect_error "truncated file" "model.safetensors: too short" "$LMF" info "$d"
d=$(copy badjson gpt2); "$PY" - "$d/model.safetensors" <<'PY'
import struct, sys
p = sys.argv[1]; raw = bytearray(open(p, "rb").read()); raw[8] = ord("x"); open(p, "wb").write(raw)
PY
expect_error "header not JSON" "model.safetensors: header is not valid JSON" "$LMF" info "$d"
d=$(copy range gpt2); patch_header "$d" 'h[names[0]]["data_offsets"][1] = len(data) + 4'
expect_error "offsets out of range" "data_offsets .* run past the end" "$LMF" info "$d"
d=$(copy overlap gpt2); patch_header "$d" '
a, b = names[0], names[1]
size = h[b]["data_offsets"][1] - h[b]["data_offsets"][0]
h[b]["data_offsets"] = [h[a]["data_offsets"][0], h[a]["data_offsets"][0] + size]'
expect_error "overlapping tensors" "tensors '.*' and '.*' overlap" "$LMF" info "$d"
d=$(copy dtype gpt2); patch_header "$d" 'h[names[0]]["dtype"] = "F8_E9M9"'
expect_error "unknown dtype" "unknown dtype 'F8_E9M9'" "$LMF" info "$d"
d=$(copy shape gpt2); patch_header "$d" 'h[names[0]]["shape"][0] += 1'
expect_error "shape x dtype != byte range" "needs .* bytes but data_offsets give" "$LMF" info "$d"
d=$(copy overflow gpt2); patch_header "$d" 'h[names[0]]["shape"] = [4294967296, 4294967296, 2]'
expect_error "shape product overflows int64" "tensor '.*': shape \(4294967296, 4294967296, 2\) has more elements than a 64-bit integer holds" "$LMF" info "$d"
d=$(copy wrongshape gpt2); patch_header "$d" '
n = "transformer.wpe.weight"; s = h[n]["shape"]; h[n]["shape"] = [s[1], s[0]]'
expect_error "tensor shape disagrees with config" "tensor 'transformer.wpe.weight' has shape \(64, 128\)" "$LMF" info "$d"
d=$(copy missing gpt2); patch_header "$d" 'del h["transformer.ln_f.bias"]'
expect_error "missing tensor" "missing tensor 'transformer.ln_f.bias'" "$LMF" info "$d"
d=$(copy extra gpt2); patch_header "$d" 'h["transformer.h.7.mlp.extra"] = dict(h[names[0]])
h["transformer.h.7.mlp.extra"]["data_offsets"] = [len(data), len(data)]; h["transformer.h.7.mlp.extra"]["shape"] = [0]'
expect_error "unexpected tensor" "unexpected tensors for GPT2LMHeadModel: transformer.h.7.mlp.extra" "$LMF" info "$d"

d=$(copy wordpiece gpt2); echo '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$d/tokenizer.json"
expect_error "unsupported tokenizer" "tokenizer.json: .*WordPiece" "$LMF" generate "$d" -p "hello" -n 2
expect_error "no tokenizer" "tokenizer.json: missing" "$LMF" generate "$G/gpt2" -p "hello" -n 2

# NaN weights: generation never crashes. A NaN logit counts as -inf (runtime/sampler.h):
# with ln_f NaN every logit is NaN and every pick is greedy's fallback, token 0; with the
# head's (tied wte) rows 256.. NaN, sampling only ever draws ids below 256.
nan_rows() {  # nan_rows DIR TENSOR FIRST_ROW: float32 rows FIRST_ROW.. of TENSOR set to NaN
  "$PY" - "$1/model.safetensors" "$2" "$3" <<'PY'
import json, struct, sys
path, name, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = bytearray(open(path, "rb").read()); n = struct.unpack("<Q", raw[:8])[0]
e = json.loads(raw[8:8 + n])[name]; a, b = e["data_offsets"]
a += first * (e["shape"][1] if len(e["shape"]) > 1 else 1) * 4
raw[8 + n + a:8 + n + b] = struct.pack("<f", float("nan")) * ((b - a) // 4)
open(path, "wb").write(raw)
PY
}
expect_output() {  # expect_output NAME PATTERN CMD...: CMD exits 0 and its stdout matches PATTERN
  local name="$1" pattern="$2"; shift 2
  local out rc=0
  out="$("$@" 2>/dev/null)" || rc=$?
  if [[ $rc -ne 0 ]]; then failed "$name: exit code $rc"; return; fi
  if ! grep -qE -- "$pattern" <<<"$out"; then failed "$name: output '$out' does not match /$pattern/"; return; fi
  pass "$name: $out"
}
d=$(copy nanall gpt2); nan_rows "$d" transformer.ln_f.weight 0
expect_output "all-NaN logits, sampling" "^1 2 3 0 0 0 0 0$" "$LMF" generate "$d" --ids -p 1,2,3 -n 5 --temperature 0.8 --top-k 10 --top-p 0.9 -q
expect_output "all-NaN logits, greedy" "^1 2 3 0 0 0 0 0$" "$LMF" generate "$d" --ids -p 1,2,3 -n 5 -q
d=$(copy nanhalf gpt2); nan_rows "$d" transformer.wte.weight 256
for flags in "--temperature 1.5" "--temperature 1 --top-p 0.95" "--temperature 2 --top-k 300"; do
  # shellcheck disable=SC2086
  expect_output "half-NaN logits ($flags)" "^1 2 3( (1?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])){40}$" \
    "$LMF" generate "$d" --ids -p 1,2,3 -n 40 $flags --seed 7 -q
done

long="$(seq -s, 1 200)"
expect_error "prompt longer than the context" "prompt 1 has 200 tokens, more than the context of 128" "$LMF" generate "$G/gpt2" --ids -p "$long" -n 2
expect_error "token id outside the vocabulary" "token id 9999 is outside the vocabulary of 512" "$LMF" generate "$G/gpt2" --ids -p "1,9999" -n 2
expect_error "bad id list" "--prompt: '1,x' is not a list of token ids" "$LMF" generate "$G/gpt2" --ids -p "1,x" -n 2
expect_error "bad -n" "-n" "$LMF" generate "$G/gpt2" --ids -p 1 -n abc
expect_error "negative -n" "-n must be >= 0" "$LMF" generate "$G/gpt2" --ids -p 1 -n -3
expect_error "bad --top-p" "--top-p must be in \(0, 1\]" "$LMF" generate "$G/gpt2" --ids -p 1 --top-p 2
expect_error "bad --temperature" "--temperature must be >= 0" "$LMF" generate "$G/gpt2" --ids -p 1 --temperature -1
expect_error "bad --threads" "threads" "$LMF" generate "$G/gpt2" --ids -p 1 -t 0
expect_error "missing prompt file" "--file $T/nope.txt: cannot open" "$LMF" generate "$G/gpt2" --ids --file "$T/nope.txt"
expect_error "bench -p beyond context" "exceed the model's context of 128" "$LMF" bench "$G/gpt2" -p 500 -n 1
expect_error "unknown subcommand" "frobnicate" "$LMF" frobnicate

# A dataset manifest without tokenizer.path: an error naming manifest.json and the field.
printf 'One small document.\n\nAnother one here.\n' > "$T/notes.txt"
"$LMF" data prepare --text "$T/notes.txt" --tokenizer "$G/gpt2-tokenizer.json" -o "$T/ds" --split 100,0,0 -q
"$PY" -c "import json,sys; p=sys.argv[1]; m=json.load(open(p)); del m['tokenizer']['path']; json.dump(m,open(p,'w'))" "$T/ds/manifest.json"
expect_error "manifest without tokenizer.path" "manifest.json: missing field 'tokenizer.path'" "$LMF" data info "$T/ds"
echo '{"architectures": ["GPT2LMHeadModel"], "n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 16, "vocab_size": 50257}' > "$T/tiny.json"
expect_error "train: manifest without tokenizer.path" "manifest.json: missing field 'tokenizer.path'" \
  "$LMF" train --config "$T/tiny.json" --data "$T/ds" -o "$T/trained" --steps 1 -b 1 --seq 8
# Found by fuzzing (tests/fuzz, scripts/fuzz): each is refused with its file and field, or read right.
"$PY" - "$G/gpt2-tokenizer.json" "$T/addedid.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["added_tokens"][0]["id"] = 2**32 + 5; json.dump(j, open(sys.argv[2], "w"))
PY
expect_error "added token id beyond int32" "addedid.json: token '<\|endoftext\|>' has id 4294967301 outside \[0, 2\^31\)" \
  "$LMF" tokenize "$T/addedid.json" "hello"
echo '{"model": {"type": "BPE", "vocab": {"a": 16777215}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}' > "$T/sparse.json"
expect_error "token ids far past the token count" "sparse.json: token 'a' has id 16777215, but the file defines 1 tokens" \
  "$LMF" tokenize "$T/sparse.json" "a"
"$LMF" data prepare --text "$T/notes.txt" --tokenizer "$G/gpt2-tokenizer.json" -o "$T/ds_ok" --split 100,0,0 -q
"$PY" -c "import json,sys; c=json.load(open(sys.argv[1])); c['initializer_range']='0.02'; json.dump(c,open(sys.argv[2],'w'))" \
  "$T/tiny.json" "$T/badinit.json"
expect_error "train --config: initializer_range not a number" "badinit.json: field 'initializer_range' must be a number" \
  "$LMF" train --config "$T/badinit.json" --data "$T/ds_ok" -o "$T/trained" --steps 1 -b 1 --seq 8
"$LMF" data prepare --text "$T/notes.txt" --tokenizer "$G/gpt2_tok" -o "$T/ds_oov" --split 0,100,0 -q
"$PY" -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-2:]=b'\xff\xff'; open(p,'wb').write(b)" \
  "$T/ds_oov/valid-00000.bin"
expect_error "ppl: a dataset token outside the vocabulary" "--data .*ds_oov: token id 65535 at [0-9]+ is outside the model's vocabulary of 50257" \
  "$LMF" ppl "$G/gpt2_tok" --data "$T/ds_oov" --ctx 8
"$LMF" data prepare --text "$T/notes.txt" --tokenizer "$G/gpt2_tok" -o "$T/ds_oov_train" --split 100,0,0 -q
"$PY" -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-2:]=b'\xff\xff'; open(p,'wb').write(b)" \
  "$T/ds_oov_train/train-00000.bin"
expect_error "train: a dataset token outside the vocabulary" \
  "--data .*ds_oov_train \(train split\): token id 65535 at [0-9]+ is outside the model's vocabulary of 50257" \
  "$LMF" train --init "$G/gpt2_tok" --data "$T/ds_oov_train" -o "$T/trained_oov" --steps 1 -b 1 --seq 8
d=$(copy oddheader gpt2); "$PY" - "$d/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
hb = json.dumps(json.loads(raw[8:8 + n])).encode(); hb += b" " * (1 - len(hb) % 2)  # odd: the data misaligned
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
PY
want="$("$LMF" generate "$G/gpt2" --ids -p 1,2,3 -n 6 -q)"
expect_output "unpadded safetensors header (data misaligned)" "^$want\$" "$LMF" generate "$d" --ids -p 1,2,3 -n 6 -q
# GGUF: info reads llama.cpp's format (a file written by gguf-py, the golden_gguf fixture); a bad one is one error line.
GG="$(dirname "$LMF_GOLDEN")/gguf/ref/types.gguf"
out="$("$LMF" info "$GG")" && grep -q "GGUF v3, alignment 32" <<<"$out" && grep -qE "^  Q6_K +1 tensors" <<<"$out" \
  && grep -q 'test.string = "héllo ✓"' <<<"$out" && pass "info FILE.gguf" || failed "info gguf: $out"
"$LMF" info "$GG" --json --tensors | "$PY" -c 'import json,sys; j=json.load(sys.stdin); assert j["format"]=="gguf" and len(j["tensors"])==29 and j["types"]["Q4_K"]["tensors"]==1' \
  && pass "info FILE.gguf --json" || failed "info gguf --json"
printf 'not gguf' > "$T/bad.gguf"
expect_error "gguf: wrong magic" "bad.gguf: not a GGUF file \(no 'GGUF' magic\)" "$LMF" info "$T/bad.gguf"
head -c 1000 "$GG" > "$T/cut.gguf"
expect_error "gguf: truncated" "cut.gguf: truncated" "$LMF" info "$T/cut.gguf"
finish
