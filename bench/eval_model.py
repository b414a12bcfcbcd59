#!/usr/bin/python3
"""Evaluates a TorchScript classifier on a dataset file, in stock Python/PyTorch.

    /usr/bin/python3 bench/eval_model.py MODEL.pt DATASET.pt [--batch-size 500] [--limit N]

Loads MODEL.pt with plain torch.jit.load (no prune-service code involved) and a dataset
file in the service's format ({"inputs": float32 [N,C,H,W], "targets": int64 [N]},
see docs/DATASETS.md), and prints one JSON line:

    {"top1": 0.9123, "n": 10000, "output_shape": [10000, 10], ...}

Exit status: 0 on success, 1 on any failure (error message on stderr), 2 on bad usage,
3 when --min-top1 is given and not reached.
"""

import argparse
import json
import os
import sys
import time
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load_dataset(path, allow_legacy=False):
    # The service reads datasets with LibTorch's torch::pickle_load, which only accepts
    # the zip container (torch.save default); reject legacy files here too.
    if not allow_legacy and not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a zip-format torch.save file (legacy "
                         "_use_new_zipfile_serialization=False files are not supported)")
    obj = torch.load(path, map_location="cpu")
    if not isinstance(obj, dict) or "inputs" not in obj or "targets" not in obj:
        raise ValueError(f"{path}: expected a dict with 'inputs' and 'targets'")
    x, y = obj["inputs"], obj["targets"]
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or x.dim() != 4:
        raise ValueError(f"{path}: 'inputs' must be a float32 [N,C,H,W] tensor")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.dim() != 1:
        raise ValueError(f"{path}: 'targets' must be an int64 [N] tensor")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"{path}: inputs/targets N mismatch or empty")
    return x, y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Top-1 of a TorchScript model on a dataset file")
    ap.add_argument("model")
    ap.add_argument("dataset")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N samples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--allow-legacy", action="store_true",
                    help="also accept legacy (non-zip) torch.save dataset files")
    ap.add_argument("--min-top1", type=float, default=None,
                    help="exit 3 if top-1 is below this value")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        model = torch.jit.load(args.model, map_location="cpu")
        model.eval()
        x, y = load_dataset(args.dataset, args.allow_legacy)
        if args.limit > 0:
            x, y = x[:args.limit], y[:args.limit]
        n = x.shape[0]
        correct = 0
        rows = 0
        out_tail = None
        t0 = time.time()
        with torch.no_grad():
            for i in range(0, n, args.batch_size):
                out = model(x[i:i + args.batch_size])
                if not isinstance(out, torch.Tensor) or out.dim() != 2 or \
                        out.shape[0] != x[i:i + args.batch_size].shape[0]:
                    raise ValueError(f"model output must be [B, num_classes], got "
                                     f"{type(out).__name__} {getattr(out, 'shape', None)}")
                if not torch.isfinite(out).all():
                    raise ValueError("model output contains NaN/Inf")
                correct += (out.argmax(1) == y[i:i + args.batch_size]).sum().item()
                rows += out.shape[0]
                out_tail = list(out.shape[1:])
        seconds = time.time() - t0
        if int(y.max()) >= out_tail[0]:
            raise ValueError(f"target {int(y.max())} outside the model's {out_tail[0]} classes")
    except Exception as e:  # noqa: BLE001 - any failure is a non-zero exit
        print(f"eval_model: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    top1 = correct / n
    print(json.dumps({
        "top1": round(top1, 6),
        "n": n,
        "correct": correct,
        "output_shape": [rows] + out_tail,
        "params": sum(p.numel() for p in model.parameters()),
        "seconds": round(seconds, 3),
    }))
    if args.min_top1 is not None and top1 < args.min_top1:
        print(f"eval_model: top1 {top1:.4f} < required {args.min_top1}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
