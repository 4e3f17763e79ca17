// Encode throughput of the npm package gpt-3-encoder (GPT-2's tokenizer in JavaScript),
// for bench/tokenizer_bench.sh: the same protocol as tokenizer_bench.cpp.
//   node tokenizer_bench.js NPM_DIR TEXT_FILE [RUNS]
// Encodes the text document by document (documents are separated by a blank line,
// "\n\n"; gpt-3-encoder grows its result with Array.concat per word, quadratic in the
// length of one call, so a user calls it per document), RUNS times (default 5); its BPE
// cache stays warm after the first run. Prints one JSON line like tokenizer_bench.cpp's.
const fs = require('fs');
const path = require('path');

const [npmDir, textPath, runsArg] = process.argv.slice(2);
const { encode } = require(path.resolve(npmDir, 'node_modules', 'gpt-3-encoder'));
const text = fs.readFileSync(textPath, 'utf-8');
const bytes = Buffer.byteLength(text, 'utf-8');
const docs = text.split('\n\n');
const runs = Math.max(1, parseInt(runsArg || '5', 10));
const secs = [];
let ids = [];
for (let r = 0; r < runs; ++r) {
  const t0 = process.hrtime.bigint();
  ids = [];
  for (const doc of docs) for (const id of encode(doc)) ids.push(id);
  secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
let h = 0;
for (const id of ids) h = (h * 31 + id) % 2147483647;
const median = [...secs].sort((a, b) => a - b)[Math.floor(secs.length / 2)];
process.stdout.write(JSON.stringify({
  engine: 'gpt-3-encoder (node ' + process.version + ')', bytes, tokens: ids.length, checksum: h,
  runs_s: secs, median_mb_s: +(bytes / median / 1e6).toFixed(3), first_mb_s: +(bytes / secs[0] / 1e6).toFixed(3),
}) + '\n');
