#!/usr/bin/python3
"""Prints a pruning report (the JSON a job stores) as a before/after table.

usage: print_report.py REPORT.json [STOCK_PYTHON_CHECK.json]
"""
import json
import sys


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}{unit}"
    return f"{value:,}{unit}"


def main():
    report = json.load(open(sys.argv[1]))
    before, after = report["before"], report["after"]
    rows = [
        ("MACs", before.get("macs"), after.get("macs")),
        ("params", before.get("params"), after.get("params")),
        ("top-1 accuracy", before.get("top1"), after.get("top1")),
        ("latency ms", before.get("latency_ms"), after.get("latency_ms")),
        ("optimized ms", before.get("optimized_latency_ms"), after.get("optimized_latency_ms")),
    ]
    print(f"{'':18}{'before':>16}{'after':>16}{'after/before':>14}")
    for name, b, a in rows:
        ratio = f"{a / b:.3f}" if isinstance(a, (int, float)) and b else "-"
        print(f"{name:18}{fmt(b):>16}{fmt(a):>16}{ratio:>14}")
    print("(optimized: torch.jit.optimize_for_inference(torch.jit.freeze(model)), as deployed)")
    if report.get("optimized_latency_error"):
        print(f"optimized latency not measured: {report['optimized_latency_error']}")
    pre = report.get("after_pruning_before_finetune", {}).get("top1")
    if pre is not None:
        print(f"top-1 right after pruning (BN recalibrated, before fine-tune): {pre:.4f}")
    if report.get("accuracy_drop") is not None:
        print(f"accuracy drop after fine-tune: {report['accuracy_drop'] * 100:.2f} points")
    print(f"MACs ratio: {report.get('macs_ratio', 0):.3f} (target {report.get('target')})")
    layers = report.get("layers", [])
    changed = [l for l in layers if l.get("channels_before") != l.get("channels_after")]
    print(f"layers: {len(layers)}, with fewer channels: {len(changed)}")
    for layer in changed[:12]:
        print(f"  {layer['name']:32} {layer['channels_before']:>5} -> {layer['channels_after']}")
    if len(sys.argv) > 2:
        check = json.load(open(sys.argv[2]))
        print(f"stock Python torch.jit.load of pruned.pt: top-1 {check.get('top1')} "
              f"on {check.get('n')} images, output shape {check.get('output_shape')}")


if __name__ == "__main__":
    main()
