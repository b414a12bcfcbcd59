#!/usr/bin/python3
"""Where the CPU speedup of a pruned model goes: per-operator time, original vs pruned.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    /usr/bin/python3 bench/engine/profile_speedup.py ORIGINAL.pt PRUNED.pt [--batch 32]

Part 1 profiles both TorchScript models (torch.autograd.profiler, self CPU time per
operator, mean of 3 forward passes after 2 warm-ups) and prints each operator's
time and speedup, so the gap between the latency speedup and the MACs reduction
can be attributed. Part 2 times one 3x3 convolution alone at ResNet-18's stage
shapes with all channels and with 0.707 of them (half the MACs), to show how
the CPU backend's convolution time scales with channel count. Uses the torch
that LibTorch workers use here (Debian's, same libtorch) with 2 threads.
"""
import argparse
import time
from collections import defaultdict

import torch


def per_op_ms(path, x, passes=3):
    m = torch.jit.load(path).eval()
    with torch.no_grad():
        for _ in range(2):
            m(x)
        with torch.autograd.profiler.profile() as prof:
            for _ in range(passes):
                m(x)
    times = defaultdict(float)
    for e in prof.key_averages():
        times[e.key] = e.self_cpu_time_total / passes / 1000.0
    return times


def best_ms(fn, repeats=5):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("original")
    ap.add_argument("pruned")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(args.batch, 3, args.size, args.size)

    before, after = per_op_ms(args.original, x), per_op_ms(args.pruned, x)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}\n")
    print("| operator | original ms | pruned ms | speedup | share of original |")
    print("|---|---|---|---|---|")
    total_b, total_a = sum(before.values()), sum(after.values())
    for key in sorted(before, key=lambda k: -before[k])[:10]:
        b, a = before[key], after.get(key, 0.0)
        print(f"| {key} | {b:.1f} | {a:.1f} | {b / a if a else float('nan'):.2f}x | "
              f"{b / total_b:.0%} |")
    print(f"| all operators | {total_b:.1f} | {total_a:.1f} | {total_b / total_a:.2f}x | 100% |")

    print("\n3x3 convolution alone (stride 1, padding 1), channels c -> c vs 0.707c:\n")
    print("| spatial | batch | c | time ms | 0.707c | time ms | MACs reduction | speedup | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for spatial, c in ((56, 64), (28, 128), (14, 256), (7, 512)):
        k = round(c * 0.7071)
        for batch in (args.batch, 1):
            t = {}
            for ch in (c, k):
                inp = torch.randn(batch, ch, spatial, spatial)
                w = torch.randn(ch, ch, 3, 3)
                with torch.no_grad():
                    t[ch] = best_ms(lambda: torch.conv2d(inp, w, None, 1, 1))
            red = (c * c) / (k * k)
            s = t[c] / t[k]
            print(f"| {spatial}x{spatial} | {batch} | {c} | {t[c]:.2f} | {k} | {t[k]:.2f} | "
                  f"{red:.2f}x | {s:.2f}x | {s / red:.2f} |")


if __name__ == "__main__":
    main()
