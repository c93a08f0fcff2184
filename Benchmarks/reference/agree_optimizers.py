#!/usr/bin/env python3
"""Agreement check for Gauge's optimizers against torch.optim.

    Benchmarks/reference/.venv/bin/python Benchmarks/reference/agree_optimizers.py DIR

Each DIR/*.safetensors (written by RuntimeTests' OptimizerAgreementTests) holds x, the initial
parameters a0 and b0, and Gauge's parameters a and b after `steps` updates of
L = sum(x*a) + sum(x*b*b), with the optimizer's settings in __metadata__. PyTorch repeats the
updates in double precision with torch.optim (SGD with momentum or Nesterov, AdamW); prints the
worst relative difference max|gauge - torch| / max|torch| per parameter and exits non-zero when
any exceeds --tolerance.
"""
import argparse, glob, os, sys

import numpy as np
import torch

from agree import read  # the safetensors reader of the step agreement check


def run(tensors, meta):
    x = torch.tensor(tensors["x"], dtype=torch.float64)
    a = torch.tensor(tensors["a0"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(tensors["b0"], dtype=torch.float64, requires_grad=True)
    lr, decay = float(meta["lr"]), float(meta["weight_decay"])
    if meta["optimizer"] == "sgd":
        opt = torch.optim.SGD([a, b], lr=lr, momentum=float(meta["momentum"]), nesterov=meta["nesterov"] == "true")
    else:
        opt = torch.optim.AdamW([a, b], lr=lr, weight_decay=decay, eps=1e-8)
    for _ in range(int(meta["steps"])):
        opt.zero_grad()
        loss = (x * a).sum() + (x * b * b).sum()
        loss.backward()
        opt.step()
    return a.detach().numpy(), b.detach().numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    worst = 0.0
    files = sorted(glob.glob(os.path.join(args.folder, "*.safetensors")))
    if not files:
        sys.exit("no .safetensors files in " + args.folder)
    for path in files:
        tensors, meta = read(path)
        a, b = run(tensors, meta)
        for name, torch_value in (("a", a), ("b", b)):
            diff = np.abs(tensors[name] - torch_value).max() / max(np.abs(torch_value).max(), 1e-12)
            worst = max(worst, diff)
            print(f"{os.path.basename(path)} {name}: {diff:.2e}")
    print(f"worst relative difference {worst:.2e} (tolerance {args.tolerance:g})")
    sys.exit(0 if worst <= args.tolerance else 1)


main()
