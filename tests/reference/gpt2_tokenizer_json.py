#!/usr/bin/env python3
"""Write a Hugging Face tokenizer.json for GPT-2 from OpenAI's encoder.json + vocab.bpe.

Usage: gpt2_tokenizer_json.py ENCODER_JSON VOCAB_BPE OUT_JSON

The output has the layout of the `gpt2` tokenizer.json on the Hugging Face Hub: model BPE
(vocab + merges as "a b" strings), pre_tokenizer/decoder/post_processor ByteLevel
(add_prefix_space false for the pre-tokenizer) and the special added token <|endoftext|>.
Standard library only; writes to a temporary name, then renames.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gpt2_tokenizer_json.py ENCODER_JSON VOCAB_BPE OUT_JSON")
    encoder_path, bpe_path, out_path = sys.argv[1:]
    with open(encoder_path, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(bpe_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    # As OpenAI's encoder.py: skip the "#version" line and the empty last line.
    merges = [" ".join(line.split()) for line in lines[1:] if line.strip()]
    eot = "<|endoftext|>"
    if eot not in vocab:
        sys.exit(f"{encoder_path}: no {eot} token")
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{
            "id": vocab[eot], "content": eot, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": True, "special": True,
        }],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
            "vocab": vocab, "merges": merges,
        },
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
