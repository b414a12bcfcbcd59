#!/usr/bin/python3
"""Trains the reference Fashion-MNIST model used by prune-service tests and demos.

    /usr/bin/python3 bench/train_reference.py [--arch resnet|mobilenetv2] [--out-dir DIR]
                                              [--epochs N] [--seed S] [--force]

Writes into DIR (default <repo>/.cache/reference, or <repo>/.cache/reference-<arch> for
non-default archs):
    model.pt   TorchScript (torch.jit.script(model.eval()).save), input [N,1,28,28]
    test.pt    the 10k test split        } dataset files in the service's format
    train.pt   the 60k training split    } (see docs/DATASETS.md)
    calib.pt   2000 seeded random training images (BN calibration / fine-tune demos)
    meta.json  arch, seed, epochs, test top-1, training seconds, MACs, versions

Training is deterministic (fixed seed, deterministic algorithms, 2 threads) and is
skipped when model.pt + meta.json already match the requested arch/seed/epochs.
"""

import argparse
import json
import math
import os
import sys
import time
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIB_SIZE = 2000
FORMAT_VERSION = 1  # bump when the training recipe changes (invalidates the cache)


# ----------------------------------------------------------------------------- models
# Plain nn.Module code that torch.jit.script handles: no Optional submodules (identity
# shortcuts are nn.Identity), no Python-only control flow.

class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, 0, bias=False), nn.BatchNorm2d(out_ch))
        else:
            self.shortcut = nn.Sequential()  # identity
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """stem conv3x3-bn-relu, 3 stages of BasicBlocks (stride 2 between stages), GAP, FC."""

    def __init__(self, widths: List[int], blocks: List[int], num_classes: int = 10,
                 in_ch: int = 1):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True))
        layers: List[nn.Module] = []
        prev = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(prev, w, stride))
                prev = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand - 3x3 depthwise - 1x1 linear project (+ residual)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand: int):
        super().__init__()
        hidden = in_ch * expand
        self.use_res = stride == 1 and in_ch == out_ch
        layers: List[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(in_ch, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_ch, 1, 1, 0, bias=False), nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    # (expand t, out channels c, repeats n, first stride s). The first (t=1) block does
    # the 28->14 downsample so that no expanded feature map lives at 28x28: depthwise
    # conv backward is slow on CPU and the original layout was ~3.4x slower than the
    # ResNet per step.
    CONFIG = [(1, 16, 1, 2), (4, 24, 2, 1), (4, 32, 2, 2), (4, 64, 2, 1)]

    def __init__(self, num_classes: int = 10, in_ch: int = 1, stem: int = 16, last: int = 128):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
            nn.ReLU6(inplace=True))
        layers: List[nn.Module] = []
        prev = stem
        for t, c, n, s in self.CONFIG:
            for j in range(n):
                layers.append(InvertedResidual(prev, c, s if j == 0 else 1, t))
                prev = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(prev, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last),
            nn.ReLU6(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.features(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


# Per-arch recipe. Tuned on 2 shared CPU cores; see docs/DATASETS.md for measurements.
RECIPES = {
    "resnet": dict(epochs=6, batch_size=128, max_lr=0.1, weight_decay=5e-4),
    "mobilenetv2": dict(epochs=6, batch_size=128, max_lr=0.1, weight_decay=4e-5),
}


def build_model(arch: str) -> nn.Module:
    if arch == "resnet":
        return ResNet(widths=[16, 32, 64], blocks=[1, 1, 1])
    if arch == "mobilenetv2":
        return MobileNetV2()
    raise ValueError(f"unknown arch {arch!r}")


def count_macs(model: nn.Module, input_shape) -> int:
    """Multiply-accumulates of one forward pass (conv + linear layers only)."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += out.numel() * k

    def linear_hook(m, inp, out):
        total[0] += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


# ----------------------------------------------------------------------------- training

@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / x.shape[0]


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int,
          batch_size: int, max_lr: float, weight_decay: float, x_test=None, y_test=None):
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps_per_epoch = n // batch_size  # drop the ragged last batch (keeps BN stats sane)
    opt = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9, nesterov=True,
                          weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25,
        div_factor=10.0, final_div_factor=100.0)
    model.to(memory_format=torch.channels_last)
    train_seconds = 0.0
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        # Augmentation: random horizontal flip (cheap, helps on Fashion-MNIST).
        flip = torch.rand(n, generator=gen) < 0.5
        loss_sum = 0.0
        correct = 0
        seen = 0
        for step in range(steps_per_epoch):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            xb = x[idx]
            f = flip[idx]
            xb[f] = xb[f].flip(3)
            # NHWC is ~30% faster than NCHW for these small convs on CPU (measured).
            xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * yb.shape[0]
            correct += (out.argmax(1) == yb).sum().item()
            seen += yb.shape[0]
        dt = time.time() - t0
        train_seconds += dt
        msg = (f"epoch {epoch + 1}/{epochs}  loss {loss_sum / seen:.4f}  "
               f"train acc {correct / seen:.4f}  time {dt:.1f}s")
        if x_test is not None:
            msg += f"  test acc {evaluate(model, x_test, y_test):.4f}"
        print(msg, flush=True)
    model.to(memory_format=torch.contiguous_format)  # ship plain NCHW weights
    return train_seconds


# ----------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(RECIPES), default="resnet")
    ap.add_argument("--out-dir", default=None,
                    help="output directory (default <repo>/.cache/reference[-ARCH])")
    ap.add_argument("--epochs", type=int, default=None, help="default: per-arch recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=fashion_mnist.DEFAULT_DIR)
    ap.add_argument("--force", action="store_true", help="retrain even if cached")
    ap.add_argument("--eval-each-epoch", action="store_true",
                    help="print test accuracy after every epoch (not counted as training time)")
    args = ap.parse_args(argv)

    recipe = dict(RECIPES[args.arch])
    if args.epochs is not None:
        recipe["epochs"] = args.epochs
    out_dir = args.out_dir or os.path.join(
        REPO_ROOT, ".cache", "reference" if args.arch == "resnet" else f"reference-{args.arch}")
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.pt")
    meta_path = os.path.join(out_dir, "meta.json")
    data_paths = {k: os.path.join(out_dir, f"{k}.pt") for k in ("train", "test", "calib")}

    if not args.force and os.path.exists(model_path) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = {}
        if (meta.get("arch") == args.arch and meta.get("seed") == args.seed
                and meta.get("epochs") == recipe["epochs"]
                and meta.get("format_version") == FORMAT_VERSION
                and all(os.path.exists(p) for p in data_paths.values())):
            print(f"cached: {model_path} (arch={args.arch} seed={args.seed} "
                  f"epochs={recipe['epochs']} test top1={meta.get('test_top1')}); "
                  "use --force to retrain")
            return 0

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = fashion_mnist.load_split("train", args.data_dir)
    x_test, y_test = fashion_mnist.load_split("test", args.data_dir)

    # Dataset files first (independent of training).
    fashion_mnist.save_dataset(data_paths["train"], x_train, y_train)
    fashion_mnist.save_dataset(data_paths["test"], x_test, y_test)
    calib_idx = torch.randperm(x_train.shape[0],
                               generator=torch.Generator().manual_seed(args.seed + 1))[:CALIB_SIZE]
    calib_idx, _ = calib_idx.sort()
    fashion_mnist.save_dataset(data_paths["calib"], x_train[calib_idx], y_train[calib_idx])

    model = build_model(args.arch)
    input_shape = [1, 1, 28, 28]
    macs = count_macs(model, input_shape)
    params = sum(p.numel() for p in model.parameters())
    print(f"arch={args.arch} params={params} MACs/image={macs / 1e6:.2f}M recipe={recipe} "
          f"seed={args.seed} threads={torch.get_num_threads()}", flush=True)

    train_seconds = train(model, x_train, y_train, recipe["epochs"], args.seed,
                          recipe["batch_size"], recipe["max_lr"], recipe["weight_decay"],
                          x_test if args.eval_each_epoch else None,
                          y_test if args.eval_each_epoch else None)
    model.eval()
    top1 = evaluate(model, x_test, y_test)
    print(f"final test top-1: {top1:.4f}  (training {train_seconds:.1f}s)", flush=True)

    scripted = torch.jit.script(model)
    tmp = model_path + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, model_path)
    # Sanity: the saved archive reproduces the eager model.
    reloaded = torch.jit.load(model_path)
    with torch.no_grad():
        ref = model(x_test[:64])
        got = reloaded(x_test[:64])
    if not torch.allclose(ref, got, atol=1e-5):
        print("error: scripted model output differs from eager model", file=sys.stderr)
        return 1

    meta = {
        "arch": args.arch,
        "seed": args.seed,
        "epochs": recipe["epochs"],
        "format_version": FORMAT_VERSION,
        "recipe": recipe,
        "test_top1": round(top1, 4),
        "train_seconds": round(train_seconds, 1),
        "input_shape": input_shape,
        "num_classes": fashion_mnist.NUM_CLASSES,
        "params": params,
        "macs": macs,
        "normalize": {"mean": fashion_mnist.MEAN, "std": fashion_mnist.STD},
        "calib_size": CALIB_SIZE,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(meta_path + ".tmp", meta_path)
    print(f"wrote {out_dir}: " + ", ".join(
        f"{name} {os.path.getsize(os.path.join(out_dir, name)) / 1e6:.2f}MB"
        for name in ("model.pt", "test.pt", "train.pt", "calib.pt")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
