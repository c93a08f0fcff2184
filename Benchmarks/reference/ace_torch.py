"""The ACE training step of Gauge's built-in models, written in PyTorch, for timing side by side.

Same layers, shapes, losses (sums over the batch) and Adam as Gauge's `Sources/Models/ACE.swift`
(PAPER.md §2-§3): SSN -> warp -> classifier / encoder -> per-class latent heads -> sampling ->
per-class decoder (one GEMM per class over its rows) -> inverse warp -> BCE + KL + CE.
Prints one JSON line like `gauge bench --json` (torch_bench.py: `--fused-adam`, `--compile`).
"""
import json, statistics, time

import torch
import torch.nn.functional as F

from configs import CLASSES, CONFIGS
from torch_bench import arguments, time_steps
from torch_ops import inverted, warp


class ACE(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        ch, side = c["channels"], c["side"]
        s = c["ssn"]
        self.ssn_convs, inch, size = torch.nn.ModuleList(), ch, side
        if s["pool_input"]:
            size //= 2
        for i, (f, k) in enumerate(s["convs"]):
            if i > 0:
                size //= 2
            self.ssn_convs.append(torch.nn.Conv2d(inch, f, k, padding=s["padding"]))
            size = size if s["padding"] else size - k + 1
            inch = f
        self.ssn_hidden = torch.nn.Linear(inch * size * size, s["hidden"])
        self.ssn_out = torch.nn.Linear(s["hidden"], 6)
        with torch.no_grad():
            self.ssn_out.weight.zero_()
            self.ssn_out.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))
        self.cls_convs = torch.nn.ModuleList(
            [torch.nn.Conv2d(a, b, 3, padding=1) for a, b in [(ch, 32), (32, 64), (64, 128)]])
        self.cls_hidden = torch.nn.Linear(128 * (side // 4) ** 2, 700)
        self.cls_out = torch.nn.Linear(700, CLASSES)
        pixels = ch * side * side
        if c["conv"]:
            self.enc_convs = torch.nn.ModuleList()
            inch = ch
            for f, k in c["conv"]["enc"]:
                self.enc_convs.append(torch.nn.Conv2d(inch, f, k, padding=k // 2))
                inch = f
            feature = inch * (side // 4) ** 2
            width = feature
            self.enc_dense = torch.nn.ModuleList()
        else:
            self.enc_convs = torch.nn.ModuleList()
            dims = [pixels] + c["enc"]
            self.enc_dense = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in zip(dims, dims[1:])])
            width = dims[-1]
        n = c["latents"]
        # One weight tensor per class and layer (as one nn.Linear per class would have): a class's
        # GEMM then writes its own gradient, with no full-size zero gradient per indexing.
        per_class = lambda a, b: torch.nn.ModuleList([torch.nn.Linear(a, b) for _ in range(CLASSES)])
        self.mu, self.ls = per_class(width, n), per_class(width, n)
        dims = [n] + c["dec"] + ([feature] if c["conv"] else [pixels])
        self.dec = torch.nn.ModuleList([per_class(a, b) for a, b in zip(dims, dims[1:])])
        if c["conv"]:
            self.deconvs = torch.nn.ModuleList()
            inch = c["conv"]["enc"][-1][0]
            for f, k in c["conv"]["dec"]:  # one deconv per class, as Gauge's transposedConv2dByClass
                self.deconvs.append(torch.nn.ModuleList([
                    torch.nn.ConvTranspose2d(inch, f, k, stride=2, padding=k // 2, output_padding=1)
                    for _ in range(CLASSES)]))
                inch = f

    @staticmethod
    def by_class(h, layers, groups):
        """Each class's layer on its rows (as Gauge's groupedMatmul and per-class convolutions)."""
        parts = [(rows, layers[c](h.index_select(0, rows))) for c, rows in groups]
        out = h.new_empty((h.shape[0],) + parts[0][1].shape[1:])
        for rows, part in parts:
            out = out.index_copy(0, rows, part)
        return out

    def decode(self, z, groups):
        """The labelled class's decoder: tanh layers to sigmoid pixels (Fig. 4: then deconvs)."""
        c, h = self.c, z
        last = len(self.dec) - 1
        for i, layers in enumerate(self.dec):
            h = self.by_class(h, layers, groups)
            h = torch.relu(h) if (i == last and c["conv"]) else torch.sigmoid(h) if i == last else torch.tanh(h)
        if c["conv"]:
            feature = c["conv"]["enc"][-1][0]
            h = h.view(-1, feature, c["side"] // 4, c["side"] // 4)
            for i, deconvs in enumerate(self.deconvs):
                h = self.by_class(h, deconvs, groups)
                h = torch.sigmoid(h) if i == len(self.deconvs) - 1 else torch.relu(h)
        return h

    def render(self, z, labels, pose):
        """Gauge's `ACE.renderer`: decode in the canonical frame, then warp by the pose."""
        c = self.c
        groups = [(k, (labels == k).nonzero().squeeze(1)) for k in range(CLASSES)]
        groups = [(k, r) for k, r in groups if r.numel() > 0]
        drawn = self.decode(z, groups).view(-1, c["channels"], c["side"], c["side"])
        return warp(drawn, pose)

    def forward(self, x, labels):
        c = self.c
        groups = [(k, (labels == k).nonzero().squeeze(1)) for k in range(CLASSES)]
        groups = [(k, r) for k, r in groups if r.numel() > 0]
        # Symmetry statistics and the warp into the canonical frame.
        h = F.max_pool2d(x, 2) if c["ssn"]["pool_input"] else x
        for i, conv in enumerate(self.ssn_convs):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = F.relu(conv(h))
        theta = self.ssn_out(F.relu(self.ssn_hidden(h.flatten(1))))
        canonical = warp(x, theta)
        # Classifier.
        h = F.dropout(canonical, 0.2, self.training)
        for i, conv in enumerate(self.cls_convs):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = F.relu(conv(h))
        logits = self.cls_out(F.dropout(F.relu(self.cls_hidden(h.flatten(1))), 0.5, self.training))
        # Encoder, per-class heads, sampling.
        h = canonical
        for conv in self.enc_convs:
            h = F.max_pool2d(F.relu(conv(h)), 2)
        h = h.flatten(1)
        for layer in self.enc_dense:
            h = torch.tanh(layer(h))
        mean = self.by_class(h, self.mu, groups)
        log_scale = 0.5 * self.by_class(h, self.ls, groups)
        sigma = log_scale.exp()
        if c["sampling"] == "gaussian":
            z = mean + sigma * torch.randn_like(mean)
            kl = (0.5 * (mean ** 2 + sigma ** 2 - 1) - log_scale).sum()
        else:
            u = torch.rand_like(mean).clamp(1e-6, 1 - 1e-6)
            b = sigma * 0.5 ** 0.5
            z = torch.where(u < 0.5, mean + b * torch.log(2 * u), mean - b * torch.log(2 - 2 * u))
            r = 0.5 ** 0.5
            kl = (mean.abs() / r - log_scale + sigma * torch.exp(-mean.abs() / (sigma * r)) - 1).sum()
        # Per-class decoder, then the inverse warp.
        drawn = self.decode(z, groups).view_as(x)
        reconstruction = warp(drawn, inverted(theta))
        p = reconstruction.clamp(1e-6, 1 - 1e-6)
        bce = -(x * p.log() + (1 - x) * (1 - p).log()).sum()
        ce = F.cross_entropy(logits, labels, reduction="sum")
        return bce, kl, ce


def sample(args, model, c):
    """Like `gauge bench --sample`: images/s of the renderer under torch.no_grad() at batch 1,
    100 and 1000 (latents uniform in [-2, 2], random labels, identity pose), each batch once
    untimed, then until a second has passed (at least 3 runs); one JSON line per batch."""
    model.eval()
    with torch.no_grad():
        for b in (1, 100, 1000):
            z = torch.rand(b, c["latents"]) * 4 - 2
            labels = torch.randint(0, CLASSES, (b,))
            pose = torch.tensor([1.0, 0, 0, 0, 1, 0]).repeat(b, 1)
            model.render(z, labels, pose)
            times, started = [], time.perf_counter()
            while len(times) < 3 or time.perf_counter() - started < 1:
                start = time.perf_counter()
                model.render(z, labels, pose)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(json.dumps({"framework": "pytorch " + torch.__version__ + " no_grad", "model": args.model,
                              "sample_batch": b, "images_per_second": round(b / median, 1),
                              "median_ms": round(median * 1000, 2), "runs": len(times)}))


def main():
    args = arguments(__doc__, CONFIGS, sample=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    c = CONFIGS[args.model]
    if args.sample:
        return sample(args, ACE(c), c)
    x = torch.rand(args.batch, c["channels"], c["side"], c["side"])
    y = torch.randint(0, CLASSES, (args.batch,))
    time_steps(args, ACE(c), (x, y))


if __name__ == "__main__":
    main()
