#!/usr/bin/env python3
"""Per-layer check on one GPU: a dense, GEMM-bound transformer layer timed for real, and the calibration the model predicts it from.

Writes two files into --out-dir:
  layer-check-profile.yaml  a device profile measured on this card: SDPA flash
                            attention samples (bf16, head_dim 128, 32 heads;
                            q, kv in 1K..16K, full; causal on the diagonal),
                            merges, device rates and a cuBLAS GEMM grid
                            (torch.matmul, bf16, m in 1K/4K/16K, n and k in
                            1K..32K by powers of two): the `gemm:` section of
                            models/profile.hpp
  layer-check.json          the layer timed: its GEMMs and attention back to
                            back (median of --runs, L2 flushed, behind a sleep
                            kernel), each part alone, card, date

The layer (Llama-2-7B shape, MHA so no GQA expansion enters the timing):
tokens 8192, hidden 4096, 32 heads x 128, ffn_hidden 11008, bf16, causal:
  qkv = x @ Wqkv [4096 x 12288]; SDPA flash on q, k, v (views of qkv, BSHD);
  y = o @ Wo [4096 x 4096]; u = y @ Wup [4096 x 22016] (gate and up);
  d = u[:, :11008] @ Wdown [11008 x 4096]
No GEMM of the layer has its (m, n, k) in the grid: the model interpolates
them (out of sample). Norms, SwiGLU and residual adds are not in the timed
sequence (the model does not cost elementwise kernels).

Then, on any machine:
  ringsim run scenarios/layer-check-llama2-7b.yaml --format json \\
      (with cluster.device set to the written profile; see README "Per-layer check")

Exit status: 0 written; 2 no GPU or PyTorch; 1 a failure while measuring.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdpa_calibrate as sc  # noqa: E402  (Timer, device_rates, profile_text, measure_*)

TOKENS, HIDDEN, HEADS, HEAD_DIM, FFN = 8192, 4096, 32, 128, 11008
GEMM_M = (1024, 4096, 16384)
GEMM_NK = (1024, 2048, 4096, 8192, 16384, 32768)
ATTENTION_SIZES = (1024, 2048, 4096, 8192, 16384)


def attention_grid():
    for mask in ("full", "causal"):
        for q in ATTENTION_SIZES:
            for kv in ATTENTION_SIZES:
                if mask == "full" or q == kv:
                    yield {"dtype": "bf16", "head_dim": HEAD_DIM, "q_heads": HEADS, "kv_heads": HEADS, "mask": mask,
                           "q_tokens": q, "kv_tokens": kv}


def measure_gemms(torch, runs, log):
    timer, out = sc.Timer(torch), []
    a_all = torch.randn(max(GEMM_M), max(GEMM_NK), device="cuda", dtype=torch.bfloat16)
    b_all = torch.randn(max(GEMM_NK), max(GEMM_NK), device="cuda", dtype=torch.bfloat16)
    for m in GEMM_M:
        for k in GEMM_NK:
            a = a_all[:m, :k].contiguous()
            for n in GEMM_NK:
                b = b_all[:k, :n].contiguous()
                fn = lambda: torch.matmul(a, b)  # noqa: E731
                fn()
                out.append({"m": m, "n": n, "k": k,
                            "seconds": statistics.median(timer.once(fn) for _ in range(runs))})
        log(f"  gemm: m {m} done ({len(out)} samples)")
    return out


def layer_parts(torch):
    import torch.nn.functional as F
    bf = torch.bfloat16
    x = torch.randn(TOKENS, HIDDEN, device="cuda", dtype=bf)
    w_qkv = torch.randn(HIDDEN, 3 * HEADS * HEAD_DIM, device="cuda", dtype=bf) * 0.02
    w_o = torch.randn(HEADS * HEAD_DIM, HIDDEN, device="cuda", dtype=bf) * 0.02
    w_up = torch.randn(HIDDEN, 2 * FFN, device="cuda", dtype=bf) * 0.02
    w_down = torch.randn(FFN, HIDDEN, device="cuda", dtype=bf) * 0.02
    state = {}

    def qkv():
        state["qkv"] = x @ w_qkv

    def attention():
        q, k, v = state["qkv"].view(1, TOKENS, 3, HEADS, HEAD_DIM).unbind(2)  # BSHD views
        state["o"] = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                    is_causal=True)

    def out():
        state["y"] = state["o"].transpose(1, 2).reshape(TOKENS, HEADS * HEAD_DIM) @ w_o

    def up():
        state["u"] = state["y"] @ w_up

    def down():
        state["d"] = state["u"][:, :FFN] @ w_down

    return {"qkv": qkv, "attention": attention, "out": out, "up": up, "down": down}


def measure_layer(torch, runs):
    parts = layer_parts(torch)
    order = ["qkv", "attention", "out", "up", "down"]

    def layer():
        for name in order:
            parts[name]()

    timer = sc.Timer(torch)
    with sc.backend_context("flash"):
        layer()
        torch.cuda.synchronize()
        whole = [timer.once(layer) for _ in range(runs)]
        alone = {name: statistics.median(timer.once(parts[name]) for _ in range(runs)) for name in order}
    median, spread = sc.median_spread(whole)
    return {"layer_seconds": median, "layer_spread": spread, "parts_seconds": alone, "runs": runs}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", required=True)
    p.add_argument("--runs", type=int, default=10)
    a = p.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        import torch
    except ImportError:
        log("layer_check: PyTorch is not installed")
        return 2
    if not torch.cuda.is_available():
        log("layer_check: no CUDA device")
        return 2
    props = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info()
    facts = {"card": props.name, "sm_count": props.multi_processor_count, "memory": total, "reserved": total - free}
    start = time.monotonic()
    try:
        layer = measure_layer(torch, a.runs)
        log(f"layer_check: layer {layer['layer_seconds'] * 1e3:.3f} ms ({time.monotonic() - start:.1f} s)")
        rates = sc.device_rates(torch)
        args = argparse.Namespace(backend="flash", quick=True, runs=5, name="layer-check-" + sc.default_name(
            facts["card"], "flash"))
        with sc.backend_context("flash"):
            attention = sc.measure_attention(torch, args, list(attention_grid()), log)
        merges = sc.measure_merges(torch, args)
        gemms = measure_gemms(torch, 5, log)
    except (RuntimeError, OSError) as e:
        log(f"layer_check: {e}")
        return 1
    text = sc.profile_text(torch, args, facts, rates, attention, merges)
    text = text.replace("# Measured by tools/calibrate/sdpa_calibrate.py",
                        "# Measured by tools/calibrate/layer_check.py (sdpa_calibrate.py's timing; gemm: torch.matmul"
                        " = cuBLAS, bf16, row-major A[m x k] B[k x n], median of 5, L2 flushed)\n# Attention timing as in"
                        " tools/calibrate/sdpa_calibrate.py", 1)
    text += "gemm:\n" + "".join(
        f"  - {{dtype: bf16, m: {g['m']}, n: {g['n']}, k: {g['k']}, seconds: {g['seconds']:.6g}, "
        f"tflops: {2.0 * g['m'] * g['n'] * g['k'] / g['seconds'] * 1e-12:.1f}}}\n" for g in gemms)
    os.makedirs(a.out_dir, exist_ok=True)
    sc.write(os.path.join(a.out_dir, "layer-check-profile.yaml"), text)
    layer.update({"card": facts["card"], "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                  "torch": torch.__version__, "shape": {"tokens": TOKENS, "hidden": HIDDEN, "heads": HEADS,
                                                         "head_dim": HEAD_DIM, "ffn_hidden": FFN, "causal": True}})
    sc.write(os.path.join(a.out_dir, "layer-check.json"), json.dumps(layer, indent=1) + "\n")
    log(f"layer_check: done in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
