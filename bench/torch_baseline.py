#!/usr/bin/python3
"""PyTorch eager baseline for `lmforge bench`: the same two tests on the same checkpoint.

  /usr/bin/python3 bench/torch_baseline.py MODEL [-p 128] [-n 128] [-t 2] [-r 5] [--json] [--check]

pp<p>: one forward over p random tokens (KV cache written), logits of the last token only.
tg<n>: after one untimed first token, n single-token cached steps, greedy (argmax) each.
Rep 0 is a warm-up; then r timed reps; prints tokens/s mean ± sd (sample sd), or JSON with
the samples.  float32, torch.set_num_threads(t) (and OMP/OpenBLAS threads = t), inference_mode.
The model is bench/lean_model.py (GPT-2 / Llama / Qwen2); --check first compares its logits
(prefill + 4 cached decode steps) with tests/reference/ref_models.py's Model in float32.
"""

import argparse
import json
import os
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-p", "--n-prompt", type=int, default=128)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--check", action="store_true", help="compare logits with the reference model first")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--quantize-dynamic", action="store_true",
                    help="run PyTorch's quantize_dynamic (per-channel int8) model instead of float32")
    return ap.parse_args()


a = parse()
# Thread pools must be sized before torch loads: ATen uses OpenMP, Debian's torch calls
# OpenBLAS (pthreads build), whose pool torch.set_num_threads does not resize.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(a.threads)

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lean_model  # noqa: E402


def stats(xs):
    m = sum(xs) / len(xs)
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    return m, sd


def check(model, model_dir, p):
    R = lean_model.R
    cfg, w = R.load_checkpoint(model_dir)
    ref = R.Model(cfg, w, torch.float32)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, model.V, (1, max(p, 2)), generator=g)
    rl, caches = ref.forward([ids[0].tolist()])
    model.new_cache(ids.shape[1] + 8)
    ll = model(ids, 0, True, last_only=False)[0]
    worst = (rl[0] - ll).abs().max().item()
    pos, tok = ids.shape[1], int(torch.argmax(ll[-1]))
    for _ in range(4):
        rl, caches = ref.forward([[tok]], caches)
        ll = model(torch.tensor([[tok]]), pos, True)[0]
        worst = max(worst, (rl[0][-1] - ll).abs().max().item())
        pos, tok = pos + 1, int(torch.argmax(ll))
    scale = rl[0].abs().max().item()
    return worst, scale


def main():
    torch.set_num_threads(a.threads)
    model = lean_model.load(a.model)
    if a.quantize_dynamic:
        model.quantize_dynamic()
    engine = "pytorch-dyn-int8" if a.quantize_dynamic else "pytorch-eager"
    if a.n_prompt > model.ctx or a.n_gen + 1 > model.ctx:
        sys.exit(f"-p {a.n_prompt} / -n {a.n_gen} exceed the model's context of {model.ctx}")
    out = {"engine": engine, "torch_version": torch.__version__, "model": a.model,
           "architecture": model.arch, "dtype": "int8-dynamic" if a.quantize_dynamic else "float32", "threads": a.threads,
           "reps": a.repetitions, "tests": []}
    with torch.inference_mode():
        if a.check:
            worst, scale = check(model, a.model, a.n_prompt)
            out["check_max_abs_diff_vs_ref"] = worst
            print(f"check vs ref_models.Model(float32): max |dlogits| = {worst:.3g} (max |logit| {scale:.3g})",
                  file=sys.stderr)
        g = torch.Generator().manual_seed(a.seed)
        prompt = torch.randint(0, model.V, (1, a.n_prompt), generator=g) if a.n_prompt else None
        model.new_cache(max(a.n_prompt, a.n_gen + 1))
        pp, tg = [], []
        for r in range(a.repetitions + 1):  # rep 0 warms up
            if a.n_prompt:
                t0 = time.perf_counter()
                logits = model(prompt, 0, True)
                dt = time.perf_counter() - t0
                assert logits.shape == (1, model.V)
                if r:
                    pp.append(a.n_prompt / dt)
            if a.n_gen:
                tok = int(torch.randint(0, model.V, (1,), generator=g))
                logits = model(torch.tensor([[tok]]), 0, True)  # first token, untimed
                t0 = time.perf_counter()
                for i in range(a.n_gen):
                    logits = model(torch.tensor([[tok]]), 1 + i, True)
                    tok = int(torch.argmax(logits))
                dt = time.perf_counter() - t0
                if r:
                    tg.append(a.n_gen / dt)
    for name, xs in ((f"pp{a.n_prompt}", pp), (f"tg{a.n_gen}", tg)):
        if xs:
            m, sd = stats(xs)
            out["tests"].append({"test": name, "tokens_per_s": m, "sd": sd, "samples": xs})
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"| {'engine':<16} | {'model':<12} | {'threads':>7} | {'test':>6} | {'t/s':>20} |")
    print(f"| {'-' * 16} | {'-' * 12} | {'-' * 7}: | {'-' * 6}: | {'-' * 20}: |")
    for t in out["tests"]:
        print(f"| {engine:<16} | {model.arch:<12} | {a.threads:>7} | {t['test']:>6} | "
              f"{t['tokens_per_s']:>11.2f} ± {t['sd']:>6.2f} |")


if __name__ == "__main__":
    main()
