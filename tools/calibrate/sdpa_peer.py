#!/usr/bin/env python3
"""PyTorch peer timings for the chunk-attention benchmark (kernels/README.md).

Times torch.nn.functional.scaled_dot_product_attention with the flash and
cuDNN backends on the shapes bench_chunk_attention times: bf16, batch 1,
32 heads, head_dim 128, q = kv in 1K/2K/4K/8K, non-causal (plus causal 4K/8K),
and head_dim 64 at 4K/8K non-causal and 4K causal.
Each: 3 warm-ups, then the median of 20 runs timed with CUDA events, L2
flushed before each run (a 256 MiB write). Prints TFLOP/s with the flop
count of bench_chunk_attention (4 q kv d heads, halved for causal).
sdpa_backward_peer.py reuses median_seconds and peer_table.

  python3 tools/calibrate/sdpa_peer.py
"""
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HEADS, HEAD_DIM, REPS, WARMUP = 32, 128, 20, 3
# (q = kv, causal, head_dim)
SHAPES = ([(n, False, 128) for n in (1024, 2048, 4096, 8192)] + [(n, True, 128) for n in (4096, 8192)]
          + [(4096, False, 64), (8192, False, 64), (4096, True, 64)])
BACKENDS = {"pytorch_flash": SDPBackend.FLASH_ATTENTION, "pytorch_cudnn": SDPBackend.CUDNN_ATTENTION}


def median_seconds(fn):
    """Median seconds of REPS CUDA-event timed runs of fn() after WARMUP, L2 flushed before each."""
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(WARMUP + REPS):
        flush.fill_(i & 0xFF)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        if i >= WARMUP:
            times.append(start.elapsed_time(stop) * 1e-3)
    return statistics.median(times)


def time_sdpa(backend, n, causal, head_dim=HEAD_DIM):
    q, k, v = (torch.randn(1, HEADS, n, head_dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    with sdpa_kernel([backend]):
        return median_seconds(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))


def peer_table(time_fn, flops_per_pair, unit="TFLOP/s", shapes=SHAPES):
    """Times time_fn(backend, n, causal, head_dim) on every (n, causal, head_dim) shape and backend;
    prints a markdown table. TFLOP/s = flops_per_pair * n * n * head_dim * HEADS / seconds, halved for causal."""
    print(f"measured on device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}")
    rows = []
    for n, causal, head_dim in shapes:
        flops = flops_per_pair * n * n * head_dim * HEADS / (2 if causal else 1)
        for name, backend in BACKENDS.items():
            try:
                s = time_fn(backend, n, causal, head_dim)
                rows.append((name, n, causal, head_dim, s * 1e3, flops / s * 1e-12))
            except RuntimeError as e:  # backend unavailable for this shape
                rows.append((name, n, causal, head_dim, float("nan"), float("nan")))
                print(f"{name} n={n} causal={causal} d={head_dim}: {e}")
    print(f"\n| variant | dtype | d | heads | q = kv | mask | ms | {unit} |\n|---|---|---|---|---|---|---|---|")
    for name, n, causal, head_dim, ms, tf in rows:
        print(f"| {name} | bf16 | {head_dim} | {HEADS} | {n} | {'causal' if causal else 'full'} | {ms:.3f} | {tf:.1f} |")


def main():
    peer_table(time_sdpa, 4.0)


if __name__ == "__main__":
    main()
