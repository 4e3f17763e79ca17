#!/usr/bin/env bash
# End to end: `generate --chat` and `lmforge chat` on a GPT-2 golden model (the real GPT-2
# tokenizer) given a chat template and a generation_config.json. The reference for every
# reply is built from the other commands: `template` renders the conversation, `tokenize`
# encodes it, `generate --ids` continues it greedily; the reply is that continuation up to
# the first of generation_config.json's eos ids, decoded. `chat` runs in a pseudo-terminal
# (Python's pty): two turns, /reset, and the end-of-turn stop.
source "$(dirname "$0")/lib.bash"
T="$LMF_TMP/chat"; rm -rf "$T"; mkdir -p "$T/m"
G="${LMF_GOLDEN:?}"
for f in config.json model.safetensors tokenizer.json; do ln -s "$G/gpt2_tok/$f" "$T/m/$f"; done
"$PY" - "$T/m/tokenizer_config.json" <<'PY'
import json, sys
t = ("{% for m in messages %}{% if m['role'] == 'system' %}System: {{ m['content'] }}\n"
     "{% else %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}Assistant:{% endif %}")
json.dump({"chat_template": t, "eos_token": "<|endoftext|>"}, open(sys.argv[1], "w"))
PY

# The greedy continuation of a conversation (a JSON list of messages) as ids, 16 tokens.
continuation() {  # MESSAGES_JSON
  local text ids
  printf '%s' "$1" > "$T/msgs.json"
  text="$("$LMF" template "$T/m" --messages "$T/msgs.json")"
  ids="$("$LMF" tokenize "$T/m" "$text")"
  "$LMF" generate "$T/m" --ids -p "${ids// /,}" -n 16 -q | tr ' ' '\n' | tail -n 16 | tr '\n' ' '
}
# The first id of `ids` at index >= 2 not seen before it: the stop id the test sets.
read -r -a C1 <<<"$(continuation '[{"role": "user", "content": "Hello there"}]')"
[[ ${#C1[@]} -eq 16 ]] || { failed "reference continuation: ${C1[*]}"; finish; }
stop=""; cut=0
for ((i = 2; i < 16; ++i)); do
  seen=0; for ((j = 0; j < i; ++j)); do [[ ${C1[j]} == "${C1[i]}" ]] && seen=1; done
  if [[ $seen == 0 ]]; then stop=${C1[i]}; cut=$i; break; fi
done
[[ -n "$stop" ]] || { failed "no stop id in ${C1[*]}"; finish; }
# A list of eos ids, the one that will stop the reply second (transformers' format).
printf '{"eos_token_id": [50256, %s], "do_sample": false}\n' "$stop" > "$T/m/generation_config.json"
reply1="$("$LMF" tokenize "$T/m" --ids "$(IFS=,; echo "${C1[*]:0:cut}")")"

out="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q)"
[[ "$out" == "$reply1" ]] && pass "generate --chat: the reply up to the eos id ($cut tokens)" \
  || failed "generate --chat: got '$out', want '$reply1'"
# Without generation_config.json there is no stop at that id: all 16 tokens come.
mv "$T/m/generation_config.json" "$T/gc.json"
full="$("$LMF" tokenize "$T/m" --ids "$(IFS=,; echo "${C1[*]}")")"
out="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q)"
[[ "$out" == "$full" ]] && pass "generate --chat: no generation_config, -n tokens" || failed "no gc: '$out' want '$full'"
# do_sample in generation_config.json makes sampling the default (seeded); --temperature 0 is greedy again.
printf '{"do_sample": true, "temperature": 5.0, "top_k": 8}\n' > "$T/m/generation_config.json"
s1="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q --seed 1)"
s1b="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q --seed 1)"
s2="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q --seed 2)"
g0="$("$LMF" generate "$T/m" --chat -p "Hello there" -n 16 -q --temperature 0)"
[[ "$s1" == "$s1b" && ( "$s1" != "$full" || "$s2" != "$full" ) && "$g0" == "$full" ]] \
  && pass "generation_config do_sample: seeded sampling by default, --temperature 0 greedy" \
  || failed "do_sample: s1 '$s1' s1b '$s1b' s2 '$s2' g0 '$g0' greedy '$full'"
mv "$T/gc.json" "$T/m/generation_config.json"

# Turn 2's reference: the conversation with turn 1's reply.
msgs2="$("$PY" -c 'import json,sys; print(json.dumps([{"role":"user","content":"Hello there"},{"role":"assistant","content":sys.argv[1]},{"role":"user","content":"And then?"}]))' "$reply1")"
read -r -a C2 <<<"$(continuation "$msgs2")"
reply2_ids=()
for id in "${C2[@]}"; do [[ $id == "$stop" || $id == 50256 ]] && break; reply2_ids+=("$id"); done
reply2="$("$LMF" tokenize "$T/m" --ids "$(IFS=,; echo "${reply2_ids[*]:-}")" 2>/dev/null || true)"

"$PY" - "$LMF" "$T/m" "$T/chat.json" <<'PY'
import json, os, pty, select, sys, time
lmf, model, out = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(lmf, [lmf, "chat", model, "-n", "16", "-q", "-t", "1"])
buf = b""
def until_prompt(timeout=120):
    """Reads until the next '> ' prompt at a line start; returns what came before it."""
    global buf
    end = time.time() + timeout
    while True:
        text = buf.replace(b"\r\n", b"\n")
        k = text.find(b"\n> ")
        if text.startswith(b"> "):
            k = -1 if not text[2:] else k
        if text.startswith(b"> ") and k < 0:
            buf = b""; return ""
        if k >= 0:
            before, buf = text[:k + 1], text[k + 3:]
            return before.decode("utf-8", "replace")
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not r: raise SystemExit("timeout waiting for the prompt; got %r" % buf)
        try: chunk = os.read(fd, 4096)
        except OSError: raise SystemExit("chat exited early; got %r" % buf)
        if not chunk: raise SystemExit("chat exited early; got %r" % buf)
        buf += chunk
def turn(line):
    os.write(fd, line.encode() + b"\n")
    got = until_prompt()
    echo = line + "\n"  # the terminal echoes what was typed
    assert got.startswith(echo), (line, got)
    return got[len(echo):].rstrip("\n")
banner = until_prompt()
res = {"banner": banner, "t1": turn("Hello there"), "t2": turn("And then?"), "reset": turn("/reset"),
       "t1_again": turn("Hello there")}
os.write(fd, b"/exit\n")
_, status = os.waitpid(pid, 0)
res["status"] = status
json.dump(res, open(out, "w"))
PY
rc=$?
if [[ $rc -ne 0 ]]; then failed "chat in a pty: driver exit $rc"; else
  got() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/chat.json" "$1"; }
  [[ "$(got banner)" == *"/reset forgets the conversation"* ]] && pass "chat: banner on a terminal" || failed "chat banner: $(got banner)"
  [[ "$(got t1)" == "$reply1" ]] && pass "chat: turn 1 stops at the end-of-turn id" || failed "chat turn 1: '$(got t1)' want '$reply1'"
  [[ "$(got t2)" == "$reply2" ]] && pass "chat: turn 2 sees turn 1 (${#reply2_ids[@]} tokens)" || failed "chat turn 2: '$(got t2)' want '$reply2'"
  [[ "$(got reset)" == "(conversation reset)" ]] && pass "chat: /reset" || failed "chat /reset: $(got reset)"
  [[ "$(got t1_again)" == "$reply1" ]] && pass "chat: after /reset, turn 1 again" || failed "chat after reset: '$(got t1_again)'"
  [[ "$(got status)" == 0 ]] && pass "chat: /exit ends with status 0" || failed "chat exit status $(got status)"
fi

# Piped input works too (no banner, no prompt), one reply per line.
out="$(printf 'Hello there\n' | "$LMF" chat "$T/m" -n 16 -q)"
[[ "$out" == "$reply1" ]] && pass "chat: from a pipe" || failed "chat pipe: '$out'"

# Bad input: one error line naming the file and field.
expect_error "chat: no template" "tokenizer_config.json: no chat_template|no tokenizer_config.json" \
  "$LMF" chat "$G/gpt2_tok" < /dev/null
expect_error "generate --chat with --ids" "--chat takes text prompts, not --ids" "$LMF" generate "$T/m" --chat --ids -p "1,2"
cp -r "$T/m" "$T/badgc" && printf '{"eos_token_id": "two"}' > "$T/badgc/generation_config.json"
expect_error "generation_config: bad eos" "generation_config.json: field 'eos_token_id' must be a token id or a list of them" \
  "$LMF" generate "$T/badgc" -p "Hi" -n 2
printf '{"eos_token_id": [99999999]}' > "$T/badgc/generation_config.json"
expect_error "generation_config: eos outside the vocabulary" "field 'eos_token_id': token id 99999999 is outside the vocabulary of 50257" \
  "$LMF" generate "$T/badgc" -p "Hi" -n 2
printf '{"do_sample": true, "top_p": 2}' > "$T/badgc/generation_config.json"
expect_error "generation_config: top_p" "generation_config.json: field 'top_p' must be in \(0, 1\], got 2" \
  "$LMF" generate "$T/badgc" -p "Hi" -n 2
finish
