#!/usr/bin/env python3
"""Measure how a deployment moves ring-attention K/V, and write link profiles.

Times, with torch.distributed on NCCL (NCCL_NVLS_ENABLE=0), per message size
(bytes per rank):
  torch-batch-isend-irecv   one ring step as ring-flash-attention and
                            TransformerEngine do it: dist.batch_isend_irecv of a
                            send to rank+1 and a receive from rank-1, then wait();
                            timed on the GPU (CUDA events) and, separately, on the
                            host as a training loop sees it (perf_counter around
                            the call and a synchronize): `-host` profile;
  nccl-send-recv            the same ring step as one NCCL group of send/recv on
                            the world communicator (all_to_all_single with splits
                            only to the neighbours): raw NCCL, as ringsim's executor;
  nccl-all-to-all           all_to_all_single, equal splits (Ulysses-style);
                            rates are nccl-tests' bus bandwidth, algbw * (n-1)/n.
Each: warm-up, then --iters steps, median; a step ends when its slowest rank's
does (all_reduce MAX). Writes one link profile per transport into --out-dir
(format: models/transport.hpp), named <transport>-<card>.yaml, and prints a table.

Examples:
  python3 tools/calibrate/transport_bench.py --world-size 4 --out-dir /tmp/links
  torchrun --nproc-per-node 4 tools/calibrate/transport_bench.py --quick --out-dir /tmp/links
  python3 tools/calibrate/transport_bench.py --backend gloo --world-size 2 --quick   # CPU check of the script
Exit status: 0 written; 2 bad arguments (fewer than 2 ranks, GPUs missing); 1 a failure while measuring.
"""
import argparse
import datetime
import os
import socket
import statistics
import sys
import time

MIB = 1 << 20
TRANSPORTS = ("torch-batch-isend-irecv", "torch-batch-isend-irecv-host", "nccl-send-recv", "nccl-all-to-all")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world-size", type=int, default=0,
                   help="ranks to spawn, one per GPU (default: every visible GPU; ignored under torchrun)")
    p.add_argument("--sizes", default="", help="message sizes in MiB per rank, comma-separated "
                                               "(default 1,4,16,64,256; quick 4,64)")
    p.add_argument("--quick", action="store_true", help="sizes 4 and 64 MiB, 5 timed steps")
    p.add_argument("--iters", type=int, default=0, help="timed steps per size, 3..10000 (default 20, quick 5)")
    p.add_argument("--out-dir", default=".", help="folder for the link profiles (default: .)")
    p.add_argument("--backend", default="nccl", choices=("nccl", "gloo"), help="gloo: CPU tensors, to check the script")
    a = p.parse_args(argv)
    try:
        a.sizes = [float(x) for x in (a.sizes or ("4,64" if a.quick else "1,4,16,64,256")).split(",")]
    except ValueError:
        p.error(f"--sizes must be numbers of MiB separated by commas, got {a.sizes!r}")
    if any(s <= 0 or s > 8192 for s in a.sizes):
        p.error("--sizes must be between 0 and 8192 MiB")
    a.sizes = sorted(set(a.sizes))
    a.iters = a.iters or (5 if a.quick else 20)
    if not 3 <= a.iters <= 10000:
        p.error(f"--iters must be from 3 to 10000, got {a.iters}")
    if not os.path.isdir(a.out_dir):
        p.error(f"--out-dir {a.out_dir} is not a folder")
    return a


class Clock:
    """Times one call: CUDA events on the current stream (NCCL), or the host clock (gloo)."""

    def __init__(self, torch, cuda):
        self.torch, self.cuda = torch, cuda
        if cuda:
            self.start, self.stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def device(self, fn):
        if not self.cuda:
            return self.host(fn)
        # ~1 ms of GPU sleep first: the host enqueues the step meanwhile, so
        # Python's dispatch is not timed as an idle gap (as in sdpa_calibrate.py).
        self.torch.cuda._sleep(2_000_000)
        self.start.record()
        fn()
        self.stop.record()
        self.stop.synchronize()
        return self.start.elapsed_time(self.stop) * 1e-3

    def host(self, fn):
        if self.cuda:
            self.torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if self.cuda:
            self.torch.cuda.synchronize()
        return time.perf_counter() - t0


def steps(dist, torch, rank, world, nbytes, device):
    """The callables of one step per transport, on buffers of nbytes per rank."""
    nxt, prv = (rank + 1) % world, (rank - 1) % world
    send = torch.full((nbytes,), rank % 251, dtype=torch.uint8, device=device)
    recv = torch.empty_like(send)

    def batch():
        reqs = dist.batch_isend_irecv([dist.P2POp(dist.isend, send, nxt), dist.P2POp(dist.irecv, recv, prv)])
        for r in reqs:
            r.wait()

    split_out = [nbytes if j == nxt else 0 for j in range(world)]
    split_in = [nbytes if j == prv else 0 for j in range(world)]

    def raw():
        dist.all_to_all_single(recv, send, output_split_sizes=split_in, input_split_sizes=split_out)

    part = nbytes // world
    a2a_in = send[: part * world]
    a2a_out = torch.empty_like(a2a_in)

    def all_to_all():
        dist.all_to_all_single(a2a_out, a2a_in)
    return {"torch-batch-isend-irecv": batch, "nccl-send-recv": raw, "nccl-all-to-all": all_to_all}


def measure(dist, torch, rank, world, args, device, log):
    clock = Clock(torch, device != "cpu")
    rows = []  # (transport, bytes, seconds)
    for mib in args.sizes:
        nbytes = int(mib * MIB) // world * world
        fns = steps(dist, torch, rank, world, nbytes, device)
        for name, fn in fns.items():
            for _ in range(3):
                fn()
            timed = [clock.device(fn) for _ in range(args.iters)]
            rows.append((name, nbytes, timed))
            if name == "torch-batch-isend-irecv":
                rows.append((name + "-host", nbytes, [clock.host(fn) for _ in range(args.iters)]))
        if rank == 0:
            log(f"  {mib:g} MiB per rank done")
    out = []
    for name, nbytes, timed in rows:  # a step ends when the slowest rank's does
        t = torch.tensor([statistics.median(timed)], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        out.append((name, nbytes, float(t.item())))
    return out


def card_tag(name):
    for key, tag in (("H200", "h200"), ("H100", "h100"), ("A100", "a100")):
        if key in name:
            return tag
    words = "".join(c.lower() if c.isalnum() else " " for c in name).split()
    return "-".join(words) or "cpu"


def profile_yaml(transport, rows, world, card, torch, args):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    bus = transport == "nccl-all-to-all"
    pts = sorted((b, s) for name, b, s in rows if name == transport)
    rate = [(b, b / s * ((world - 1) / world if bus else 1.0)) for b, s in pts]
    lines = [f"# Measured by tools/calibrate/transport_bench.py on {world} x {card}, {today}: {transport}",
             f"#   ({'host-timed step: perf_counter around batch_isend_irecv + synchronize' if transport.endswith('-host') else 'CUDA events around the step on the current stream'});",
             f"#   median of {args.iters} steps per size, slowest rank. "
             + ("Rates are bus bandwidth (nccl-tests busbw)." if bus else "Rates are payload per rank and direction."),
             f"name: {transport}-{card_tag(card)}",
             f"api: {transport.replace('-host', '')}",
             f"pattern: {'all-to-all' if bus else 'ring-step'}",
             f'card: "{world} x {card}"',
             "source: measured",
             f'measured: {{date: "{today}", tool: "tools/calibrate/transport_bench.py", ranks: "{world}", '
             f'torch: "{torch.__version__}", nccl: "{".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else "none"}", '
             f'backend: "{args.backend}"}}']
    if len(pts) >= 2 and not bus:  # the fixed part: the line through the two smallest sizes at zero bytes
        (b0, s0), (b1, s1) = pts[0], pts[1]
        fixed = s0 - (s1 - s0) / (b1 - b0) * b0
        if fixed > 0:
            lines.append(f'latency: "{fixed * 1e6:.3g} us"')
    lines.append("samples:")
    lines += [f'  - {{bytes: {b}, bytes_per_s: "{r / 1e9:.4g} GB/s"}}' for b, r in rate]
    return "\n".join(lines) + "\n"


def worker(rank, world, args, local_rank):
    import torch
    import torch.distributed as dist
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    device = "cpu"
    if args.backend == "nccl":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group(args.backend, rank=rank, world_size=world,
                            device_id=torch.device(device) if args.backend == "nccl" else None)
    try:
        card = torch.cuda.get_device_name(local_rank) if args.backend == "nccl" else "CPU (gloo)"
        if rank == 0:
            log(f"transport_bench: {world} ranks on {card}, sizes {args.sizes} MiB, {args.iters} steps each")
        rows = measure(dist, torch, rank, world, args, device, log)
        if rank == 0:
            print(f"{'transport':<30} {'MiB/rank':>9} {'time':>12} {'GB/s':>9}")
            for name, nbytes, s in rows:
                print(f"{name:<30} {nbytes / MIB:>9.3g} {s * 1e6:>9.1f} us {nbytes / s / 1e9:>9.1f}")
            for t in TRANSPORTS:
                path = os.path.join(args.out_dir, f"{t}-{card_tag(card)}.yaml")
                with open(path + ".partial", "w") as f:
                    f.write(profile_yaml(t, rows, world, card, torch, args))
                os.replace(path + ".partial", path)
                log(f"  wrote {path}")
    finally:
        dist.destroy_process_group()


def spawned(local_rank, world, args, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    worker(local_rank, world, args, local_rank)


def main(argv):
    args = parse_args(argv)
    os.environ["NCCL_NVLS_ENABLE"] = "0"  # NVLink multicast can take a shared host's GPUs out of service
    try:
        import torch
        import torch.multiprocessing as mp
    except ImportError:
        print("transport_bench: PyTorch is not installed", file=sys.stderr)
        return 2
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # under torchrun
        world = int(os.environ["WORLD_SIZE"])
        if world < 2:
            print("transport_bench: needs at least 2 ranks", file=sys.stderr)
            return 2
        worker(int(os.environ["RANK"]), world, args, int(os.environ.get("LOCAL_RANK", "0")))
        return 0
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    world = args.world_size or gpus
    if world < 2:
        print(f"transport_bench: needs at least 2 ranks (--world-size; {gpus} GPU(s) visible)", file=sys.stderr)
        return 2
    if args.backend == "nccl" and world > gpus:
        print(f"transport_bench: {world} ranks need {world} GPUs, {gpus} visible (NCCL runs one rank per GPU)",
              file=sys.stderr)
        return 2
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        mp.spawn(spawned, args=(world, args, port), nprocs=world, join=True)
    except Exception as e:  # a rank's failure, re-raised by spawn
        print(f"transport_bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
