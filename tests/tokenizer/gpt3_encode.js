// Reference for tokenizer_test: GPT-2 ids from the npm package gpt-3-encoder.
// Usage: node gpt3_encode.js NPM_DIR TEXTS_JSON [--split]
// TEXTS_JSON holds a JSON array of strings. Prints a JSON array with, per text, its ids
// (or, with --split, the pieces of GPT-2's pre-tokenizer pattern as JavaScript matches them).
const fs = require('fs');
const path = require('path');

const [npmDir, textsPath, mode] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf-8'));
let result;
if (mode === '--split') {
  const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  result = texts.map(t => Array.from(t.matchAll(pat)).map(m => m[0]));
} else {
  const { encode } = require(path.resolve(npmDir, 'node_modules', 'gpt-3-encoder'));
  result = texts.map(t => encode(t));
}
process.stdout.write(JSON.stringify(result));
