"""Writes the extra models of the search tests into a directory.

Usage: make_search_models.py OUT_DIR

cat_cnn.pt: two branches joined by torch.cat (group slices at offsets).
dw_cnn.pt: a depthwise-separable block (depthwise conv ties in/out channels).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class CatCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.a = nn.Conv2d(8, 6, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(6)
        self.b = nn.Conv2d(8, 10, 1)
        self.bn_b = nn.BatchNorm2d(10)
        self.mix = nn.Conv2d(16, 12, 3, stride=2, padding=1)
        self.bn_mix = nn.BatchNorm2d(12)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))
        x = torch.cat([F.relu(self.bn_a(self.a(x))), F.relu(self.bn_b(self.b(x)))], 1)
        x = F.relu(self.bn_mix(self.mix(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class DwCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 12, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(12)
        self.dw = nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
        self.bn1 = nn.BatchNorm2d(12)
        self.pw = nn.Conv2d(12, 16, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))
        x = F.relu(self.bn1(self.dw(x)))
        x = F.relu(self.bn2(self.pw(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomize_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    for name, model in (("cat_cnn.pt", CatCnn()), ("dw_cnn.pt", DwCnn())):
        randomize_bn(model)
        model.eval()
        torch.jit.script(model).save(os.path.join(out, name))


if __name__ == "__main__":
    main()
