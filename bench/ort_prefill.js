#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU execution provider) prefill benchmark for a model
// exported by bench/onnx_export.py.
//
//   NODE_PATH=/work/main/.deps/npm/node_modules node bench/ort_prefill.js OUT.onnx \
//       [-p 128] [-t 2] [-r 5] [--json] [--check [OUT.onnx.check.json]] [--vocab V]
//
// pp<p>: one session.run over p random tokens (input_ids int64 (1, p)), output `logits`
// (last-token (1, V) as exported by default).  Session: intraOpNumThreads = t,
// interOpNumThreads = 1, graphOptimizationLevel 'all', sequential execution.  Rep 0 is a
// warm-up; r timed reps; prints tokens/s mean ± sd (sample sd), or JSON with the samples.
// --check runs the ids stored by onnx_export.py and prints the max |logit difference| to
// the PyTorch model's last-token logits.
'use strict';

const fs = require('fs');
const path = require('path');

function loadOrt() {
  const tries = [process.env.ORT_NODE_MODULES, path.join(__dirname, '..', '.deps', 'npm', 'node_modules')];
  for (const d of tries) {
    if (!d) continue;
    try { return require(path.join(d, 'onnxruntime-node')); } catch (e) { /* next */ }
  }
  return require('onnxruntime-node');  // NODE_PATH or a local node_modules
}

function parse(argv) {
  const a = { model: null, p: 128, t: 2, r: 5, json: false, check: null, vocab: 0, seed: 1234 };
  for (let i = 0; i < argv.length; ++i) {
    const s = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${s} needs a value`); return argv[++i]; };
    if (s === '-p' || s === '--n-prompt') a.p = parseInt(next(), 10);
    else if (s === '-t' || s === '--threads') a.t = parseInt(next(), 10);
    else if (s === '-r' || s === '--repetitions') a.r = parseInt(next(), 10);
    else if (s === '--vocab') a.vocab = parseInt(next(), 10);
    else if (s === '--seed') a.seed = parseInt(next(), 10);
    else if (s === '--json') a.json = true;
    else if (s === '--check') a.check = (i + 1 < argv.length && !argv[i + 1].startsWith('-')) ? argv[++i] : '';
    else if (s === '-h' || s === '--help') { console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 15).join('\n')); process.exit(0); }
    else if (!a.model) a.model = s;
    else throw new Error(`unexpected argument ${s}`);
  }
  if (!a.model) throw new Error('usage: ort_prefill.js OUT.onnx [-p 128] [-t 2] [-r 5] [--json] [--check [FILE]]');
  if (a.check === '') a.check = a.model + '.check.json';
  return a;
}

function stats(xs) {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - m) * (x - m), 0) / (xs.length - 1)) : 0;
  return [m, sd];
}

// xorshift32: reproducible random token ids
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

async function main() {
  const a = parse(process.argv.slice(2));
  const ort = loadOrt();
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.t,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const tl = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, opts);
  const loadS = Number(process.hrtime.bigint() - tl) / 1e9;
  const inName = session.inputNames[0], outName = session.outputNames[0];
  const out = { engine: 'onnxruntime-node', ort_version: ort.env.versions ? ort.env.versions.node : undefined,
                model: a.model, threads: a.t, reps: a.r, session_create_s: loadS, tests: [] };

  let vocab = a.vocab;
  if (a.check) {
    const ref = JSON.parse(fs.readFileSync(a.check, 'utf8'));
    const ids = BigInt64Array.from(ref.ids, (v) => BigInt(v));
    const res = await session.run({ [inName]: new ort.Tensor('int64', ids, [1, ids.length]) });
    const lg = res[outName];
    const V = lg.dims[lg.dims.length - 1];
    const off = lg.data.length - V;  // last row whether (1,V) or (1,T,V)
    let worst = 0, scale = 0, am = 0, amRef = 0;
    for (let j = 0; j < V; ++j) {
      const d = Math.abs(lg.data[off + j] - ref.logits[j]);
      if (d > worst) worst = d;
      if (Math.abs(ref.logits[j]) > scale) scale = Math.abs(ref.logits[j]);
      if (lg.data[off + j] > lg.data[off + am]) am = j;
      if (ref.logits[j] > ref.logits[amRef]) amRef = j;
    }
    out.check = { tokens: ids.length, output_dims: lg.dims, max_abs_diff: worst, max_abs_logit: scale,
                  argmax_equal: am === amRef };
    console.error(`check vs PyTorch (${ids.length} tokens, output dims [${lg.dims}]): max |dlogits| = ` +
                  `${worst.toPrecision(3)} (max |logit| ${scale.toPrecision(3)}), argmax ${am === amRef ? 'equal' : 'DIFFERS'}`);
    vocab = V;
  }
  if (!vocab) {  // learn V from one tiny run
    const res = await session.run({ [inName]: new ort.Tensor('int64', BigInt64Array.from([0n, 0n]), [1, 2]) });
    vocab = res[outName].dims[res[outName].dims.length - 1];
  }
  const next = rng(a.seed);
  const ids = new BigInt64Array(a.p);
  for (let i = 0; i < a.p; ++i) ids[i] = BigInt(next() % vocab);
  const feeds = { [inName]: new ort.Tensor('int64', ids, [1, a.p]) };
  const pp = [];
  let dims = null;
  for (let r = 0; r <= a.r; ++r) {  // rep 0 warms up
    const t0 = process.hrtime.bigint();
    const res = await session.run(feeds);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    dims = res[outName].dims;
    if (r > 0) pp.push(a.p / dt);
  }
  const [m, sd] = stats(pp);
  out.output_dims = dims;
  out.tests.push({ test: `pp${a.p}`, tokens_per_s: m, sd, samples: pp });
  if (a.json) { console.log(JSON.stringify(out, null, 2)); return; }
  console.log(`| engine           | threads |   test |                  t/s |`);
  console.log(`| ---------------- | ------: | -----: | -------------------: |`);
  console.log(`| onnxruntime-node | ${String(a.t).padStart(7)} | ${('pp' + a.p).padStart(6)} | ` +
              `${(m.toFixed(2) + ' ± ' + sd.toFixed(2)).padStart(20)} |`);
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
