"""Writes the engine test models and datasets into a directory.

Usage: make_test_models.py OUT_DIR [--no-resnet]

Nothing here is checked into git: every artefact is regenerated at test time.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class PlainCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc(x)


class ViewCnn(PlainCnn):
    """Hard-codes the channel count in a view: conv2's channels must stay fixed."""

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.view(-1, 32 * 7 * 7))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResidualCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(Block(16, 16, 1))
        self.layer2 = nn.Sequential(Block(16, 32, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an NCHW tensor, as torchvision's ConvNeXt writes it."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ChannelLastBlock(nn.Module):
    """ConvNeXt-style block: conv, then layer norm and MLP on channel-last
    activations, a per-channel layer scale and a residual add."""

    def __init__(self, dim, depthwise):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim if depthwise else 1)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        # Not all ones: a wrongly sliced scale changes the output.
        self.layer_scale = nn.Parameter(torch.rand(dim, 1, 1) + 0.5)

    def forward(self, x):
        y = self.conv(x).permute(0, 2, 3, 1)
        y = self.fc2(F.gelu(self.fc1(self.norm(y))))
        y = y.permute(0, 3, 1, 2)
        return x + self.layer_scale * y


class ChannelLastCnn(nn.Module):
    """Two stages of 16 channels (their LayerNorms share one scripted class
    type; pruned to different widths they need per-instance shapes), a
    LayerNorm2d stem and downsample, and a layer norm on [N, C] before the
    classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 2, stride=2), LayerNorm2d(16, eps=1e-6))
        self.stage1 = ChannelLastBlock(16, depthwise=False)
        self.downsample = nn.Sequential(LayerNorm2d(16, eps=1e-6), nn.Conv2d(16, 16, 2, stride=2))
        self.stage2 = ChannelLastBlock(16, depthwise=True)
        self.head_norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stage2(self.downsample(self.stage1(self.stem(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.head_norm(x))


class OddPermuteCnn(nn.Module):
    """Moves conv1's channels to dim 2 and back: not followed, conv1 stays whole."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x)).permute(0, 2, 1, 3)
        x = F.relu(self.conv2(x.permute(0, 2, 1, 3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomize_norms(model):
    # Non-trivial layer-norm affine parameters so that slicing mistakes show up.
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


class ResNeXtBlock(nn.Module):
    """1x1 conv -> BN -> ReLU -> 3x3 conv (groups=4) -> BN -> ReLU -> 1x1 conv -> BN, plus the input."""

    def __init__(self, channels, width, groups):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        # A bias too, so that a grouped conv's bias is pruned per group as well.
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=groups, bias=True)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + x)


class TinyResNeXt(nn.Module):
    """Grouped (not depthwise) conv: width 32 in 4 groups of 8 channels."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.block = ResNeXtBlock(16, 32, 4)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block(F.relu(self.bn(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class GroupCountMismatch(nn.Module):
    """One tensor read by grouped convs with 4 and 2 groups, whose outputs are
    added: neither group structure holds for the other, so nothing is pruned."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 1)
        self.by4 = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.by2 = nn.Conv2d(16, 16, 3, padding=1, groups=2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.by4(x) + self.by2(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def channel_shuffle(x, groups: int):
    # Interleaves the channel groups: output channel j * groups + i is input
    # channel i * (C // groups) + j. Sizes are read at run time.
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2-style unit: stride 2 concatenates two branches of the
    input, stride 1 passes the lower half of the channels and transforms the
    upper half; both end with a channel shuffle of 2 groups."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        half = oup // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class TinyShuffleNet(nn.Module):
    """Stem, one stride-2 and `repeats` stride-1 shuffle units of `width`
    channels, a 1x1 conv head. With width 16 and 2 repeats the stream ends as
    2 units of 8 channels; with width 24 and 3 repeats the third chunk meets
    3 units of 8, which cannot be halved."""

    def __init__(self, width=16, repeats=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        units = [ShuffleUnit(8, width, 2)] + [ShuffleUnit(width, width, 1) for _ in range(repeats)]
        self.stage = nn.Sequential(*units)
        self.conv5 = nn.Sequential(nn.Conv2d(width, 32, 1, bias=False), nn.BatchNorm2d(32),
                                   nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv5(self.stage(self.stem(x)))
        return self.fc(x.mean([2, 3]))


class UpsamplingPoolCnn(nn.Module):
    """Adaptive pooling to a larger grid than its input (7x7 -> 9x9): plain
    LibTorch runs it, but after torch.jit.optimize_for_inference oneDNN's
    pooling refuses it, so the optimized latency cannot be measured."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, stride=4, padding=1)
        self.fc = nn.Linear(16 * 9 * 9, 10)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.conv1(x)), (9, 9))
        return self.fc(torch.flatten(x, 1))


class Relu6Cnn(nn.Module):
    """22 channels into ReLU6: LibTorch 1.13's oneDNN hardtanh after
    optimize_for_inference is wrong on channel counts that are not a multiple
    of the SIMD block, which the engine must notice."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 22, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(22)
        self.fc = nn.Linear(22, 10)

    def forward(self, x):
        x = F.relu6(self.bn1(self.conv1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomize_bn(model):
    # Non-trivial running statistics so that BN surgery mistakes show up.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def save_scripted(model, path):
    model.eval()
    torch.jit.script(model).save(path)


def main():
    out = sys.argv[1]
    with_resnet = "--no-resnet" not in sys.argv
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)

    plain = PlainCnn()
    randomize_bn(plain)
    save_scripted(plain, os.path.join(out, "plain_cnn.pt"))
    save_scripted(ViewCnn(), os.path.join(out, "view_cnn.pt"))
    residual = ResidualCnn()
    randomize_bn(residual)
    save_scripted(residual, os.path.join(out, "residual_cnn.pt"))
    channel_last = ChannelLastCnn()
    randomize_norms(channel_last)
    save_scripted(channel_last, os.path.join(out, "channel_last_cnn.pt"))
    save_scripted(OddPermuteCnn(), os.path.join(out, "odd_permute_cnn.pt"))

    # Dataset: half of the labels agree with the plain model's predictions so
    # that accuracy is far from chance and a wrong evaluation shows.
    n = 50
    inputs = torch.randn(n, 1, 28, 28)
    with torch.no_grad():
        predicted = plain(inputs).argmax(1)
    targets = torch.randint(0, 10, (n,))
    targets[::2] = predicted[::2]
    torch.save({"inputs": inputs, "targets": targets}, os.path.join(out, "dataset.pt"))

    # Evaluation split convention: last 20% (see workers/engine/README.md).
    first_eval = n - (n - (n * 8) // 10)
    eval_x, eval_y = inputs[first_eval:], targets[first_eval:]
    loaded = torch.jit.load(os.path.join(out, "plain_cnn.pt"))
    with torch.no_grad():
        correct = int((loaded(eval_x).argmax(1) == eval_y).sum())
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"plain_cnn_eval_correct": correct, "eval_count": len(eval_y),
                   "plain_cnn_top1": correct / len(eval_y)}, f)

    torch.save({"inputs": torch.randn(8, 3, 32, 32), "targets": torch.zeros(8, dtype=torch.long)},
               os.path.join(out, "dataset_bad_shape.pt"))
    torch.save({"inputs": torch.randn(8, 1, 28, 28), "labels": torch.zeros(8, dtype=torch.long)},
               os.path.join(out, "dataset_bad_keys.pt"))
    with open(os.path.join(out, "not_a_model.pt"), "w") as f:
        f.write("this is not a TorchScript archive\n")

    # Grouped convs (after the dataset, which depends on the RNG state).
    resnext = TinyResNeXt()
    randomize_bn(resnext)
    save_scripted(resnext, os.path.join(out, "tiny_resnext.pt"))
    save_scripted(GroupCountMismatch(), os.path.join(out, "group_count_mismatch.pt"))

    # Channel shuffle and chunk (ShuffleNetV2).
    for name, width, repeats in (("tiny_shufflenet.pt", 16, 2), ("odd_shufflenet.pt", 24, 3)):
        net = TinyShuffleNet(width, repeats)
        randomize_bn(net)
        save_scripted(net, os.path.join(out, name))

    save_scripted(UpsamplingPoolCnn(), os.path.join(out, "upsampling_pool_cnn.pt"))
    relu6 = Relu6Cnn()
    randomize_bn(relu6)
    save_scripted(relu6, os.path.join(out, "relu6_cnn.pt"))

    if with_resnet:
        import torchvision
        resnet = torchvision.models.resnet18(num_classes=10)
        randomize_bn(resnet)
        save_scripted(resnet, os.path.join(out, "resnet18.pt"))


if __name__ == "__main__":
    main()
