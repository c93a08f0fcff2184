#!/usr/bin/env python3
"""Agreement check: recompute a Gauge training step in PyTorch from what `gauge export` wrote.

    gauge export ace-cifar --batch 8 --out /tmp/step
    Benchmarks/reference/.venv/bin/python Benchmarks/reference/agree.py /tmp/step

Loads the initial parameters (Gauge's names), the batch and Gauge's random draws; runs ACE's
forward in double precision (dropout as the identity, as in the export), the loss terms, every
parameter's gradient (autograd) and one Adam update (applied to Gauge's gradient, so Adam is
judged apart from autodiff); prints, per tensor, the worst relative difference
max|gauge - torch| / max|torch| (loss terms: |gauge - torch| / max(|torch|, 1 nat)), and exits
non-zero when any exceeds --tolerance.
"""
import argparse, json, re, struct, sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(e["shape"]).copy()
    return out, header.get("__metadata__", {})


torch = F = ops = None


def use_torch():
    global torch, F, ops
    import torch as t
    import torch.nn.functional as f
    import torch_ops
    torch, F, ops = t, f, torch_ops


def same_padding(size, kernel, stride):
    out = (size + stride - 1) // stride
    return max((out - 1) * stride + kernel - size, 0) // 2  # before = total / 2, as Gauge


def conv(x, p, name, padding_same=True):
    w, b = p[name + "/weight"], p[name + "/bias"]
    pad = same_padding(x.shape[2], w.shape[2], 1) if padding_same else 0
    return F.conv2d(x, w, padding=pad) + b.view(1, -1, 1, 1)


def dense(h, p, name):
    return h @ p[name + "/weight"] + p[name + "/bias"]


def by_class(h, p, name, labels):
    w, b = p[name + "/weight"], p[name + "/bias"]
    return torch.einsum("bi,bio->bo", h, w[labels]) + b[labels]


def names(p, base):
    """Gauge's layers named `base`, `base_1`, `base_2`, … in that (creation) order."""
    pattern = re.compile(re.escape(base) + r"(?:_(\d+))?$")
    found = {}
    for key in p:
        layer = key.rsplit("/", 1)[0]
        match = pattern.match(layer)
        if match:
            found[layer] = int(match.group(1) or 0)
    return sorted(found, key=found.get)


def forward(p, x, labels, noise, sampling):
    side = x.shape[2]
    # Symmetry statistics (present when the parameters have them).
    ssn_convs = [n for n in names(p, "ssn/conv2d")]
    if ssn_convs:
        first = p[ssn_convs[0] + "/weight"]
        valid = first.shape[2] == 5  # the MNIST recipe: 'valid' 5×5 convs, pooled input for 42² and 60²
        h = F.max_pool2d(x, 2) if valid and side > 28 else x
        for i, n in enumerate(ssn_convs):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = F.relu(conv(h, p, n, padding_same=not valid))
        h = F.relu(dense(h.flatten(1), p, "ssn/dense"))
        theta = dense(h, p, "ssn/dense_1")
        canonical = ops.warp(x, theta)
    else:
        theta, canonical = None, x
    h = canonical
    for i, n in enumerate(names(p, "classifier/conv2d")):
        if i > 0:
            h = F.max_pool2d(h, 2)
        h = F.relu(conv(h, p, n))
    logits = dense(F.relu(dense(h.flatten(1), p, "classifier/dense")), p, "classifier/dense_1")
    h = canonical
    for n in names(p, "encoder/conv2d"):
        h = F.max_pool2d(F.relu(conv(h, p, n)), 2)
    h = h.flatten(1)
    for n in names(p, "encoder/dense"):
        h = torch.tanh(dense(h, p, n))
    heads = names(p, "encoder/denseByClass")
    mean = by_class(h, p, heads[0], labels)
    log_scale = 0.5 * by_class(h, p, heads[1], labels)
    sigma = log_scale.exp()
    if sampling == "gaussian":
        z = mean + sigma * noise
        kl = (0.5 * (mean ** 2 + sigma ** 2 - 1) - log_scale).sum()
    else:
        r = 0.5 ** 0.5
        z = mean + sigma * r * noise
        kl = (mean.abs() / r - log_scale + sigma * torch.exp(-mean.abs() / (sigma * r)) - 1).sum()
    layers = names(p, "decoder/denseByClass")
    deconvs = names(p, "decoder/transposedConv2dByClass")
    h = z
    for i, n in enumerate(layers):
        h = by_class(h, p, n, labels)
        last = i == len(layers) - 1
        h = torch.relu(h) if (last and deconvs) else torch.sigmoid(h) if last else torch.tanh(h)
    if deconvs:
        feature = p[deconvs[0] + "/weight"].shape[1]  # [classes, in, out, k, k]
        size = int(round((h.shape[1] / feature) ** 0.5))
        h = h.view(-1, feature, size, size)
        for i, n in enumerate(deconvs):
            w, b = p[n + "/weight"], p[n + "/bias"]  # one filter and bias per class
            out = h.shape[2] * 2
            top = same_padding(out, w.shape[3], 2)
            full = torch.cat([F.conv_transpose2d(h[i:i + 1], w[c], stride=2) for i, c in enumerate(labels.tolist())])
            h = full[:, :, top:top + out, top:top + out] + b[labels]
            h = torch.sigmoid(h) if i == len(deconvs) - 1 else torch.relu(h)
    drawn = h.reshape(x.shape)
    if theta is not None:
        reconstruction = ops.warp(drawn, ops.inverted(theta))
    else:
        reconstruction = drawn
    q = reconstruction.clamp(1e-6, 1 - 1e-6)
    bce = -(x * q.log() + (1 - x) * (1 - q).log()).sum()
    ce = F.cross_entropy(logits, labels, reduction="sum")
    return {"reconstruction_error": bce, "generative_error": kl, "classification_error": ce}


def torch_check(state, inputs, gauge, lr):
    """Losses, gradients (autograd) and the Adam update in PyTorch, double precision."""
    use_torch()
    torch.set_default_dtype(torch.float64)
    p = {k: torch.from_numpy(v).double().requires_grad_() for k, v in state.items() if not k.endswith(("/adam_m", "/adam_v"))}
    x, labels = torch.from_numpy(inputs["image"]).double(), torch.from_numpy(inputs["label"]).long()
    draws = [k for k in inputs if k.startswith("latent/")]
    sampling = "gaussian" if "Gaussian" in draws[0] else "laplace"
    losses = forward(p, x, labels, torch.from_numpy(inputs[draws[0]]).double(), sampling)
    sum(losses.values()).backward()
    return {k: float(v.detach()) for k, v in losses.items()}, {k: v.grad.numpy() for k, v in p.items()}


def compare(name, losses, grads, state, gauge, lr, tolerance):
    worst = {}
    print(f"{name}: {'tensor':52} relative difference")
    for k, t in losses.items():
        # A loss term near zero (a KL at initialisation) is a sum of cancelling float32 terms:
        # compare it relative to at least one nat.
        g = float(gauge[k][0])
        worst[k] = abs(g - t) / max(abs(t), 1.0)
        print(f"  {k:58} {worst[k]:.2e}   (gauge {g:.6g}, {name} {t:.6g}; relative to max(|{name}|, 1 nat))")
    b1, b2, eps = 0.9, 0.999, 1e-8
    step = lr * (1 - b2) ** 0.5 / (1 - b1)
    for k, g in grads.items():
        # Adam is checked on Gauge's own gradient, so that it is judged apart from autodiff.
        gg = gauge["grad/" + k].astype(np.float64)
        updated = state[k].astype(np.float64) - step * ((1 - b1) * gg) / (np.sqrt((1 - b2) * gg * gg) + eps)
        for kind, mine in (("grad/", np.asarray(g, dtype=np.float64)), ("updated/", updated)):
            scale = np.abs(mine).max() or 1.0
            worst[kind + k] = float(np.abs(gauge[kind + k].astype(np.float64) - mine).max() / scale)
    for k in sorted(worst):
        if k.startswith(("grad/", "updated/")):
            print(f"  {k:58} {worst[k]:.2e}")
    bad = [k for k, v in worst.items() if not v <= tolerance]
    print(f"{name}: worst {max(worst.values()):.2e} ({max(worst, key=worst.get)}); "
          f"{len(bad)} of {len(worst)} tensors above {tolerance:g}")
    return not bad


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="what `gauge export` wrote")
    parser.add_argument("--framework", choices=["torch", "jax", "both"], default="both")
    parser.add_argument("--learning-rate", type=float, default=0.001, help="as given to gauge export")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    state, _ = read(args.folder + "/params.safetensors")
    inputs, _ = read(args.folder + "/inputs.safetensors")
    gauge, _ = read(args.folder + "/gauge.safetensors")
    ok = True
    if args.framework in ("torch", "both"):
        ok &= compare("torch", *torch_check(state, inputs, gauge, args.learning_rate), state, gauge,
                      args.learning_rate, args.tolerance)
    if args.framework in ("jax", "both"):
        from agree_jax import jax_check
        ok &= compare("jax", *jax_check(state, inputs, names, same_padding), state, gauge,
                      args.learning_rate, args.tolerance)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
