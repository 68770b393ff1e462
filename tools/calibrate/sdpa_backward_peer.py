#!/usr/bin/env python3
"""PyTorch peer timings for the attention backward benchmark (kernels/README.md).

Times the backward of torch.nn.functional.scaled_dot_product_attention with
the flash and cuDNN backends on the shapes bench_chunk_attention_backward
times: bf16, batch 1, 32 heads, head_dim 128, q = kv in 1K/2K/4K/8K
non-causal, 4K/8K causal. The forward runs once (untimed); each timed run is
torch.autograd.grad(out, (q, k, v), dO) with the graph retained: 3 warm-ups,
then the median of 20 runs timed with CUDA events, L2 flushed before each run
(a 256 MiB write). TFLOP/s with bench_chunk_attention_backward's count: 2.5x
the forward's flops (10 q kv d heads), halved for causal.

  python3 tools/calibrate/sdpa_backward_peer.py   (imports sdpa_peer.py beside it)
"""
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel

from sdpa_peer import HEAD_DIM, HEADS, median_seconds, peer_table


def time_backward(backend, n, causal, head_dim=HEAD_DIM):
    q, k, v = (torch.randn(1, HEADS, n, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    d_o = torch.randn(1, HEADS, n, head_dim, device="cuda", dtype=torch.bfloat16)
    with sdpa_kernel([backend]):
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return median_seconds(lambda: torch.autograd.grad(out, (q, k, v), d_o, retain_graph=True))


if __name__ == "__main__":
    peer_table(time_backward, 10.0, "TFLOP/s (backward)")
