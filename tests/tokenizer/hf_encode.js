// Reference for bpe_trainer_test: token ids from Hugging Face's transformers.js
// (npm @huggingface/transformers), loading a tokenizer folder offline.
// Usage: node hf_encode.js NPM_DIR TOKENIZER_DIR TEXTS_JSON
// TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json (transformers.js needs the
// latter; "{}" will do). TEXTS_JSON holds a JSON array of strings. Prints a JSON array with
// the ids of each text, without special tokens added (add_special_tokens: false).
const fs = require('fs');
const path = require('path');

const [npmDir, tokenizerDir, textsPath] = process.argv.slice(2);
const { AutoTokenizer, env } = require(path.resolve(npmDir, 'node_modules', '@huggingface/transformers'));
env.allowRemoteModels = false;
env.localModelPath = '/';

(async () => {
  const tokenizer = await AutoTokenizer.from_pretrained(path.resolve(tokenizerDir), { local_files_only: true });
  const texts = JSON.parse(fs.readFileSync(textsPath, 'utf-8'));
  const ids = texts.map(t => tokenizer.encode(t, { add_special_tokens: false }));
  process.stdout.write(JSON.stringify(ids));
})().catch(e => {
  console.error(e);
  process.exit(1);
});
