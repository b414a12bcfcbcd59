#!/usr/bin/python3
"""Benchmarks the engine's search strategies on the Fashion-MNIST reference models.

    /usr/bin/python3 bench/search/run_search_bench.py --engine BUILD/prune-engine \
        [--eval-bench BUILD/prune-search-eval-bench] [--arch resnet] [--targets 0.5,0.25] \
        [--strategies uniform,global,amc,metapruning,autoslim] [--train 4000] [--test 1000] \
        [--max-evaluations 40] [--out-dir .cache/search-bench] [--markdown OUT.md] \
        [--device cpu|cuda] [--ref-dir DIR]

Needs bench/train_reference.py's outputs (.cache/reference[-ARCH]/model.pt, train.pt,
test.pt). Builds a dataset file of the first TRAIN training images followed by the
first TEST test images, so that the engine's 80/20 split fine-tunes / calibrates /
searches on training images and reports accuracy on test images. For every strategy
and FLOPs target it runs `prune-engine search` once (1 epoch of fine-tune; the report has
the accuracy before and after it) and records: top-1 after BN
recalibration, top-1 after fine-tune, search wall time, candidate evaluations/s.
Run with LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (inherited).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_dataset(ref_dir, out_path, n_train, n_test):
    if os.path.exists(out_path):
        return
    train = torch.load(os.path.join(ref_dir, "train.pt"))
    test = torch.load(os.path.join(ref_dir, "test.pt"))
    x = torch.cat([train["inputs"][:n_train], test["inputs"][:n_test]]).contiguous().clone()
    y = torch.cat([train["targets"][:n_train], test["targets"][:n_test]]).contiguous().clone()
    torch.save({"inputs": x, "targets": y}, out_path + ".tmp")
    os.replace(out_path + ".tmp", out_path)


def run_engine(args, model, dataset, strategy, target, finetune, out_dir):
    tag = f"{strategy}_{target}_{'ft' if finetune else 'noft'}"
    extra = []
    if strategy == "metapruning-pruningnet":
        strategy = "metapruning"
        extra = ["--metapruning-mode", "pruningnet", "--pruningnet-steps",
                 str(args.pruningnet_steps)]
    report = os.path.join(out_dir, tag + ".json")
    cmd = [args.engine, "search", "--strategy", strategy, "--model", model,
           "--input-shape", "1,1,28,28", "--dataset", dataset, "--target", f"flops={target}",
           "--seed", str(args.seed), "--device", args.device, "--batch-size", "64",
           "--calibration-batches", "10", "--latency-batch-size", "0",
           "--finetune-epochs", "1" if finetune else "0", "--lr", "0.01",
           "-o", os.path.join(out_dir, tag + ".pt"), "--report", report]
    if strategy not in ("uniform", "global"):
        cmd += ["--max-evaluations", str(args.max_evaluations),
                "--search-eval-samples", str(args.search_eval_samples),
                "--search-calibration-batches", str(args.search_calibration_batches),
                "--amc-warmup", str(args.amc_warmup), "--amc-episodes", str(args.amc_episodes),
                "--evo-population", str(args.evo_population),
                "--evo-generations", str(args.evo_generations),
                "--autoslim-step", str(args.autoslim_step)] + extra
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - start
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1], "cmd": " ".join(cmd)}
    r = json.load(open(report))
    s = r.get("search") or {}
    return {"top1_recal": r["after_pruning_before_finetune"]["top1"], "top1": r["after"]["top1"],
            "before": r["before"]["top1"], "macs_ratio": r["macs_ratio"],
            "search_s": s.get("wall_seconds"), "evals": s.get("evaluations"),
            "evals_per_s": s.get("evaluations_per_second"), "job_s": wall,
            "weights": (s.get("pruningnet") or {}).get("weights"),
            "cmd": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--eval-bench", default=None)
    ap.add_argument("--arch", default="resnet")
    ap.add_argument("--targets", default="0.5,0.25")
    ap.add_argument("--strategies",
                    default="uniform,global,amc,metapruning,metapruning-pruningnet,autoslim")
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-evaluations", type=int, default=40)
    ap.add_argument("--search-eval-samples", type=int, default=500)
    ap.add_argument("--search-calibration-batches", type=int, default=5)
    ap.add_argument("--amc-warmup", type=int, default=10)
    ap.add_argument("--amc-episodes", type=int, default=30)
    ap.add_argument("--evo-population", type=int, default=10)
    ap.add_argument("--evo-generations", type=int, default=4)
    ap.add_argument("--autoslim-step", type=float, default=0.2)
    ap.add_argument("--pruningnet-steps", type=int, default=200)
    ap.add_argument("--no-finetune", action="store_true")
    ap.add_argument("--out-dir", default=os.path.join(REPO, ".cache", "search-bench"))
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (engine and eval bench)")
    ap.add_argument("--ref-dir", default=None,
                    help="train_reference.py output (default .cache/reference[-ARCH])")
    args = ap.parse_args()

    ref = args.ref_dir or os.path.join(REPO, ".cache", "reference" if args.arch == "resnet"
                                       else f"reference-{args.arch}")
    model = os.path.join(ref, "model.pt")
    if not os.path.exists(model):
        sys.exit(f"{model} missing: run /usr/bin/python3 bench/train_reference.py "
                 f"--arch {args.arch}")
    os.makedirs(args.out_dir, exist_ok=True)
    dataset = os.path.join(args.out_dir, f"{args.arch}_{args.train}_{args.test}.pt")
    make_dataset(ref, dataset, args.train, args.test)

    lines = []
    out = lambda s: (print(s, flush=True), lines.append(s))  # noqa: E731
    out(f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}; machine: "
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')}, device {args.device}")
    out(f"Command: {' '.join(sys.argv)}")
    out(f"Model: {args.arch} reference ({model}); dataset: first {args.train} training + first "
        f"{args.test} test images (engine split: {int(0.8 * (args.train + args.test))} "
        f"calibrate / fine-tune / search, {args.test} report top-1); search candidates: "
        f"{args.search_calibration_batches}x64 calibration + {args.search_eval_samples} held-out "
        f"training images; budget {args.max_evaluations} evaluations (AMC {args.amc_warmup}+"
        f"{args.amc_episodes} episodes, evolution {args.evo_population}x{args.evo_generations}, "
        f"AutoSlim step {args.autoslim_step}, PruningNet {args.pruningnet_steps} meta-training "
        f"batches); "
        f"fine-tune 1 epoch lr 0.01 over the {int(0.8 * (args.train + args.test))} images.")
    out("")
    out("| strategy | FLOPs target | MACs ratio | top-1 before | top-1 after BN recal | "
        "top-1 after 1-epoch FT | search s | evaluations | eval/s |")
    out("|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v, f="{:.4f}": "-" if v is None else f.format(v)  # noqa: E731
    for target in [float(t) for t in args.targets.split(",")]:
        for strategy in args.strategies.split(","):
            r = run_engine(args, model, dataset, strategy, target, not args.no_finetune,
                           args.out_dir)
            if "error" in r:
                out(f"| {strategy} | {target} | not available: {r['error']} |||||||")
                continue
            ft = {} if args.no_finetune else r
            out(f"| {strategy} | {target} | {fmt(r['macs_ratio'], '{:.3f}')} | "
                f"{fmt(r['before'])} | {fmt(r['top1_recal'])} | {fmt(ft.get('top1'))} | "
                f"{fmt(r['search_s'], '{:.1f}')} | {fmt(r['evals'], '{}')} | "
                f"{fmt(r['evals_per_s'], '{:.2f}')} |" +
                (f" weights: {r['weights']}" if r.get("weights") else ""))
    if args.eval_bench:
        out("")
        out("Candidate-evaluation throughput vs plain inference (same candidate, batch 64, "
            f"{args.search_calibration_batches} calibration batches + "
            f"{args.search_eval_samples} held-out images per candidate):")
        out("")
        proc = subprocess.run([args.eval_bench, model, dataset, "64",
                               str(args.search_calibration_batches),
                               str(args.search_eval_samples), args.device],
                              capture_output=True, text=True)
        out("```")
        for line in (proc.stdout + proc.stderr).strip().splitlines():
            out(line)
        out("```")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
