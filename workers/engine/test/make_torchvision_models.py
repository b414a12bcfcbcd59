"""Scripts torchvision models (random weights) for the engine acceptance tests.

Usage: make_torchvision_models.py OUT_DIR

Writes OUT_DIR/<name>.pt (num_classes=10) for the pruning sweep and
OUT_DIR/<name>_1000.pt (1000 classes) for the profiler check. Nothing is
checked into git.
"""
import os
import sys
import warnings

import torch
import torchvision

SWEEP = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
         "shufflenet_v2_x0_5", "densenet121", "googlenet", "regnet_x_400mf", "vgg11_bn",
         "squeezenet1_0", "mnasnet0_5", "convnext_tiny"]
PROFILE = ["resnet18", "mobilenet_v2", "resnet50"]


def build(name, num_classes):
    kwargs = {"num_classes": num_classes}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False)
    model = getattr(torchvision.models, name)(**kwargs)
    # Non-trivial batch-norm statistics so that surgery mistakes show up.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    with torch.no_grad():
        for name in SWEEP:
            torch.jit.script(build(name, 10)).save(os.path.join(out, name + ".pt"))
        for name in PROFILE:
            torch.jit.script(build(name, 1000)).save(os.path.join(out, name + "_1000.pt"))


if __name__ == "__main__":
    main()
