#!/usr/bin/python3
"""Writes a tiny scripted residual CNN and a labelled dataset for end-to-end
tests: OUT/model.pt (input 1x1x28x28, 10 classes) and OUT/dataset.pt in the
service's dataset format. Seeded, so every run writes the same files.

usage: make_tiny_inputs.py OUT_DIR [--samples N]
"""
import argparse
import os

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.block = Block(16)
        self.head = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = self.block(x)
        x = torch.relu(self.head(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(0)
    model = TinyNet().eval()
    torch.jit.script(model).save(os.path.join(args.out_dir, "model.pt"))
    inputs = torch.randn(args.samples, 1, 28, 28)
    targets = torch.randint(0, 10, (args.samples,), dtype=torch.int64)
    torch.save({"inputs": inputs, "targets": targets}, os.path.join(args.out_dir, "dataset.pt"))


if __name__ == "__main__":
    main()
