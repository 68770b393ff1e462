#!/usr/bin/env python3
"""Calibrate PyTorch's SDPA backends into a ringsim device profile.

Times torch.nn.functional.scaled_dot_product_attention with the flash
(FlashAttention-2) or cuDNN backend on the grid `ringsim calibrate` uses, times
the ring step's merge as PyTorch ring attention does it, measures the card's
dense rates, copy rate and launch overhead, and writes a profile in the format
of models/profile.hpp with `kernel: pytorch-sdpa-flash` or `pytorch-sdpa-cudnn`.

Grid (full): q, kv in 512..16384 (powers of two), heads 32 and 8 (MHA), head_dim
64 and 128, bf16 and fp16; mask `full` on every (q, kv); `causal` and
`zigzag_diagonal` on q == kv. --quick: q, kv in {1024, 4096, 16384}, heads 32.
  full             is_causal=False.
  causal           is_causal=True (q == kv, so top-left and bottom-right alignment agree).
  zigzag_diagonal  the 2c x 2c block of a zigzag rank against its own two chunks:
                   its visible set is j <= i (the later chunk sees all of the
                   earlier one, kernels/README.md), so it is ONE causal call on
                   the whole block, as ring-flash-attention's zigzag ring does at
                   step 0 (and ringsim's own kernel); its off-diagonal steps are
                   plain full calls, which the `full` samples cover.
Layout: [batch 1, heads, tokens, head_dim], contiguous. Each sample: one
warm-up, then --runs timed runs (default 10, quick 5), each a separate launch
after an L2 flush (a 256 MiB write) and a ~1 ms sleep kernel (so Python's
dispatch never shows inside the events), CUDA events; runs are interleaved over the
grid (round r times every sample once, reversed on odd rounds) so clock or
temperature drift does not bias one sample. The profile keeps the median and
the spread ((max - min) / median). Merge: ring-flash-attention's
update_out_and_lse on fp32 [tokens, heads, head_dim] output and [heads, tokens]
LSE: out -= sigmoid(block_lse - lse) * (out - block_out); lse -= logsigmoid(lse -
block_lse), 512..16384 tokens x 32 heads, d 64/128, median of --runs.

Examples:
  python3 tools/calibrate/sdpa_calibrate.py --backend cudnn --out models/profiles/h100-sxm-sdpa-cudnn.yaml
  python3 tools/calibrate/sdpa_calibrate.py --backend flash --quick --out /tmp/flash-quick.yaml
Exit status: 0 written; 2 bad arguments or backend not available; 1 a failure while measuring.
Then flag outliers with the same check ringsim's own calibration runs:
  ringsim-calibrate --check FILE   (models/sample_check.hpp: `suspect: true` and a
  reason on samples that break FLOPs monotonicity; the file is rewritten in place)
"""
import argparse
import datetime
import os
import statistics
import sys
import time

KERNEL_NAMES = {"flash": "pytorch-sdpa-flash", "cudnn": "pytorch-sdpa-cudnn"}
DATASHEET_HBM = (("H200", 4.8e12), ("H100 80GB HBM3", 3.35e12), ("H100 PCIe", 2.0e12), ("A100-SXM4-80GB", 2.039e12))
FLUSH_BYTES = 256 << 20


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", required=True, choices=sorted(KERNEL_NAMES), help="SDPA backend to time")
    p.add_argument("--out", default="-", help="profile YAML to write (default: stdout)")
    p.add_argument("--name", help="profile name (default: from the card and backend, e.g. h100-sxm-sdpa-cudnn)")
    p.add_argument("--quick", action="store_true", help="q, kv in 1K/4K/16K, 32 heads (about 10 s)")
    p.add_argument("--runs", type=int, default=0, help="timed runs per sample, 3..1000 (default 10, quick 5)")
    p.add_argument("--device", type=int, default=0, help="CUDA device index (default 0)")
    a = p.parse_args(argv)
    if a.runs == 0:
        a.runs = 5 if a.quick else 10
    if not 3 <= a.runs <= 1000:
        p.error(f"--runs must be from 3 to 1000, got {a.runs}")
    if a.out != "-" and os.path.isdir(a.out):
        p.error(f"--out {a.out} is a directory")
    return a


def grid(quick):
    sizes = [1024, 4096, 16384] if quick else [512 << i for i in range(6)]
    heads = [32] if quick else [32, 8]
    for dtype in ("bf16", "fp16"):
        for h in heads:
            for d in (64, 128):
                for mask in ("full", "causal", "zigzag_diagonal"):
                    for q in sizes:
                        for kv in sizes:
                            if mask == "full" or q == kv:
                                yield {"dtype": dtype, "head_dim": d, "q_heads": h, "kv_heads": h, "mask": mask,
                                       "q_tokens": q, "kv_tokens": kv}


def flops(s):
    f = 4.0 * s["q_tokens"] * s["kv_tokens"] * s["head_dim"] * s["q_heads"]
    return f if s["mask"] == "full" else f / 2


# GPU cycles the stream sleeps before each timed run (about 1 ms on Hopper):
# the host enqueues the timed work meanwhile, so Python's dispatch time never
# shows as an idle gap inside the events. Measured need (H100, 2026-11-27,
# --quick smoke run without it): spreads up to 8.8x the median at 1K blocks.
SLEEP_CYCLES = 2_000_000


class Timer:
    """One CUDA-event timed run after an L2 flush, behind a sleep kernel."""

    def __init__(self, torch):
        self.torch = torch
        self.flush = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda")
        self.start = torch.cuda.Event(enable_timing=True)
        self.stop = torch.cuda.Event(enable_timing=True)
        self.count = 0

    def once(self, fn):
        self.count += 1
        self.flush.fill_(self.count & 0xFF)
        self.torch.cuda._sleep(SLEEP_CYCLES)
        self.start.record()
        fn()
        self.stop.record()
        self.stop.synchronize()
        return self.start.elapsed_time(self.stop) * 1e-3


def median_spread(values):
    m = statistics.median(values)
    return m, (max(values) - min(values)) / m


_INPUTS = {}


def inputs(torch, dtype, heads, tokens, head_dim, which):
    """Random [1, heads, tokens, head_dim] inputs, made once per shape and role and shared by samples."""
    key = (dtype, heads, tokens, head_dim, which)
    if key not in _INPUTS:
        dt = torch.bfloat16 if dtype == "bf16" else torch.float16
        _INPUTS[key] = torch.randn((1, heads, tokens, head_dim), device="cuda", dtype=dt)
    return _INPUTS[key]


def backend_context(backend):
    """The sdpa_kernel context that pins the backend; entered once, outside the timed calls."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([SDPBackend.FLASH_ATTENTION if backend == "flash" else SDPBackend.CUDNN_ATTENTION])


def attention_call(torch, s):
    import torch.nn.functional as F
    q = inputs(torch, s["dtype"], s["q_heads"], s["q_tokens"], s["head_dim"], "q")
    k = inputs(torch, s["dtype"], s["kv_heads"], s["kv_tokens"], s["head_dim"], "k")
    v = inputs(torch, s["dtype"], s["kv_heads"], s["kv_tokens"], s["head_dim"], "v")
    causal = s["mask"] != "full"
    return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def measure_attention(torch, args, samples, log):
    calls, skipped = [], []
    for s in samples:
        try:
            fn = attention_call(torch, s)
            fn()  # warm-up; raises if the backend cannot run this shape
            calls.append((s, fn, []))
        except RuntimeError as e:
            skipped.append((s, str(e).splitlines()[0]))
        torch.cuda.synchronize()
    timer = Timer(torch)
    t0 = time.monotonic()
    for r in range(args.runs):
        order = calls if r % 2 == 0 else calls[::-1]
        for _, fn, times in order:
            times.append(timer.once(fn))
        done = time.monotonic() - t0
        log(f"  attention: round {r + 1} of {args.runs} ({len(calls)} samples, {done:.1f} s, "
            f"about {done / (r + 1) * (args.runs - r - 1):.0f} s left)")
    out = []
    for s, _, times in calls:
        s = dict(s)
        s["seconds"], s["spread"] = median_spread(times)
        out.append(s)
    for s, why in skipped:
        log(f"  skipped (backend refused) {s}: {why}")
    return out


def measure_merges(torch, args):
    import torch.nn.functional as F
    timer, out = Timer(torch), []
    for tokens in [512 << i for i in range(6)]:
        for d in (64, 128):
            o = torch.zeros(tokens, 32, d, device="cuda")
            lse = torch.full((32, tokens), -float("inf"), device="cuda")
            bo, blse = torch.randn_like(o), torch.randn_like(lse)

            def merge():  # ring-flash-attention's update_out_and_lse, in place
                lse_t = lse.transpose(0, 1).unsqueeze(-1)
                blse_t = blse.transpose(0, 1).unsqueeze(-1)
                o.sub_(torch.sigmoid(blse_t - lse_t) * (o - bo))
                lse.sub_(F.logsigmoid(lse - blse))
            lse.fill_(0.0)
            merge()
            times = [timer.once(merge) for _ in range(args.runs)]
            out.append({"q_tokens": tokens, "q_heads": 32, "head_dim": d, "seconds": statistics.median(times)})
    return out


def device_rates(torch):
    timer, rates = Timer(torch), {}
    n = 8192
    for name, dt in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("fp32", torch.float32)):
        torch.backends.cuda.matmul.allow_tf32 = False
        a, b = torch.randn(n, n, device="cuda", dtype=dt), torch.randn(n, n, device="cuda", dtype=dt)
        torch.matmul(a, b)
        rates[name] = 2.0 * n ** 3 / statistics.median(timer.once(lambda: torch.matmul(a, b)) for _ in range(5))
        del a, b
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    copy = statistics.median(timer.once(lambda: dst.copy_(src)) for _ in range(5))
    rates["copy"] = 2.0 * src.numel() / copy  # the profile counts bytes read + written
    del src, dst
    # Launch overhead on the GPU side: tiny kernels back to back in a CUDA
    # graph (a Python loop would time the interpreter, 11 us a launch on H100).
    x = torch.zeros(1, device="cuda")
    launches = 2000
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        x.add_(1.0)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(launches):
            x.add_(1.0)
    graph.replay()
    rates["launch"] = statistics.median(timer.once(graph.replay) for _ in range(5)) / launches
    return rates


def default_name(card, backend):
    base = "h200-sxm" if "H200" in card else "h100-sxm" if ("H100" in card and "HBM3" in card) else \
        "".join(c.lower() if c.isalnum() else "-" for c in card)
    return f"{base}-sdpa-{backend}"


def profile_text(torch, args, facts, rates, attention, merges):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    gib = float(1 << 30)
    hbm = next((bw for key, bw in DATASHEET_HBM if key in facts["card"]), rates["copy"])
    lines = [
        f"# Measured by tools/calibrate/sdpa_calibrate.py (--backend {args.backend}{' --quick' if args.quick else ''}, "
        f"--runs {args.runs}) on {facts['card']}, {today}.",
        f"# torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}.",
        "# attention: torch.nn.functional.scaled_dot_product_attention under sdpa_kernel(" +
        ("FLASH_ATTENTION" if args.backend == "flash" else "CUDNN_ATTENTION") + "), [1, heads, tokens, d];",
        "#   zigzag_diagonal = one causal call on the 2c x 2c block (its visible set is j <= i); L2 flushed,",
        "#   median and spread of --runs launches interleaved over the grid. merge: ring-flash-attention's",
        "#   update_out_and_lse in PyTorch. tflops: torch.matmul 8192^3 (fp32 without TF32); copy: 1 GiB",
        "#   device-to-device (bytes read + written); launch_overhead: tiny kernels back to back in a CUDA graph.",
        "#   Every timed run starts behind a ~1 ms sleep kernel, so host dispatch never shows in the events.",
        "# tile: not written (the library picks its tiles per shape); the compute model then counts CTAs",
        "#   as q_tokens x heads. hbm_bandwidth: " + ("datasheet of the card" if hbm != rates["copy"] else "the copy rate"),
        f"name: {args.name or default_name(facts['card'], args.backend)}",
        f"card: {facts['card']}",
        "source: measured",
        f'calibration: {{date: "{today}", torch: "{torch.__version__}", cuda: "{torch.version.cuda}", '
        f'cudnn: "{torch.backends.cudnn.version()}", tool: "sdpa_calibrate.py", runs: "{args.runs}"}}',
        f"kernel: {KERNEL_NAMES[args.backend]}",
        f"sm_count: {facts['sm_count']}",
        f'memory: "{facts["memory"] / gib:.2f} GiB"',
        f'hbm_bandwidth: "{hbm * 1e-12:.3g} TB/s"',
        f'copy_bandwidth: "{rates["copy"] * 1e-12:.3g} TB/s"',
        f"tflops: {{bf16: {rates['bf16'] * 1e-12:.1f}, fp16: {rates['fp16'] * 1e-12:.1f}, fp32: {rates['fp32'] * 1e-12:.1f}}}",
        f'launch_overhead: "{rates["launch"] * 1e6:.3g} us"',
        f'reserved_memory: "{facts["reserved"] / gib:.3g} GiB"',
        "attention:",
    ]
    for s in attention:
        lines.append(f"  - {{dtype: {s['dtype']}, head_dim: {s['head_dim']}, q_heads: {s['q_heads']}, "
                     f"kv_heads: {s['kv_heads']}, mask: {s['mask']}, q_tokens: {s['q_tokens']}, "
                     f"kv_tokens: {s['kv_tokens']}, seconds: {s['seconds']:.6g}, "
                     f"tflops: {flops(s) / s['seconds'] * 1e-12:.1f}, spread: {s['spread']:.4f}}}")
    lines.append("merge:")
    for m in merges:
        lines.append(f"  - {{q_tokens: {m['q_tokens']}, q_heads: {m['q_heads']}, head_dim: {m['head_dim']}, "
                     f"seconds: {m['seconds']:.6g}}}")
    return "\n".join(lines) + "\n"


def write(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    partial = path + ".partial"  # renamed when complete: a failed run never leaves half a profile
    with open(partial, "w") as f:
        f.write(text)
    os.replace(partial, path)


def main(argv):
    args = parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        import torch
    except ImportError:
        log("sdpa_calibrate: PyTorch is not installed")
        return 2
    if not torch.cuda.is_available() or args.device >= torch.cuda.device_count() or args.device < 0:
        log(f"sdpa_calibrate: no CUDA device {args.device} (found {torch.cuda.device_count() if torch.cuda.is_available() else 0})")
        return 2
    torch.cuda.set_device(args.device)
    props = torch.cuda.get_device_properties(args.device)
    free, total = torch.cuda.mem_get_info()
    facts = {"card": props.name, "sm_count": props.multi_processor_count, "memory": total, "reserved": total - free}
    probe = {"dtype": "bf16", "head_dim": 128, "q_heads": 8, "kv_heads": 8, "mask": "full", "q_tokens": 512, "kv_tokens": 512}
    try:
        with backend_context(args.backend):
            attention_call(torch, probe)()
    except RuntimeError as e:
        log(f"sdpa_calibrate: the {args.backend} backend does not run here: {str(e).splitlines()[0]}")
        return 2
    log(f"sdpa_calibrate: times below are measured on {facts['card']} ({facts['sm_count']} SMs), "
        f"backend {args.backend}, grid {'quick' if args.quick else 'full'}, {args.runs} runs")
    start = time.monotonic()
    try:
        rates = device_rates(torch)
        with backend_context(args.backend):
            attention = measure_attention(torch, args, list(grid(args.quick)), log)
        merges = measure_merges(torch, args)
        write(args.out, profile_text(torch, args, facts, rates, attention, merges))
    except (RuntimeError, OSError) as e:
        log(f"sdpa_calibrate: {e}")
        return 1
    log(f"sdpa_calibrate: {len(attention)} attention + {len(merges)} merge samples in "
        f"{time.monotonic() - start:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
