"""The suite's models that are not ACE, written in PyTorch with the shapes and losses of Gauge's
`Sources/Models/SmallModels.swift` (sums over the batch), for timing side by side:

  cvae-mnist      conditional VAE: [image, one-hot] 794-512 ReLU -> 2x16; [z, one-hot] 26-512 ReLU -> 784 logits
  conv-vae-cifar  conv 32@5, 64@5 (ReLU, 2x2 max-pool) -> 2x32; dense 4096 ReLU -> deconv 32@5 /2 ReLU -> deconv 3@5 /2
  cnn-cifar       ACE's classifier: dropout .2, conv 32-64-128 3x3 ReLU with pools between, dense 700 ReLU, dropout .5, 10

Prints one JSON line like `gauge bench --json` (torch_bench.py: `--fused-adam`, `--compile`).
"""
import torch
import torch.nn.functional as F
from torch import nn

from torch_bench import arguments, time_steps


def gaussian(mean, log_scale):
    z = mean + log_scale.exp() * torch.randn_like(mean)
    kl = (0.5 * (mean ** 2 + (2 * log_scale).exp() - 1) - log_scale).sum()
    return z, kl


class ConditionalVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.mean, self.log_scale = nn.Linear(794, 512), nn.Linear(512, 16), nn.Linear(512, 16)
        self.decoder = nn.Sequential(nn.Linear(26, 512), nn.ReLU(), nn.Linear(512, 784))

    def forward(self, image, label):
        x, one_hot = image.flatten(1), F.one_hot(label, 10).float()
        h = F.relu(self.encoder(torch.cat([x, one_hot], 1)))
        z, kl = gaussian(self.mean(h), self.log_scale(h))
        logits = self.decoder(torch.cat([z, one_hot], 1))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum"), kl


class ConvolutionalVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.mean, self.log_scale = nn.Linear(4096, 32), nn.Linear(4096, 32)
        self.decoder = nn.Sequential(
            nn.Linear(32, 4096), nn.ReLU(), nn.Unflatten(1, (64, 8, 8)),
            nn.ConvTranspose2d(64, 32, 5, stride=2, padding=2, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 3, 5, stride=2, padding=2, output_padding=1))

    def forward(self, image, label):
        h = self.encoder(image)
        z, kl = gaussian(self.mean(h), self.log_scale(h))
        return F.binary_cross_entropy_with_logits(self.decoder(z), image, reduction="sum"), kl


class ACEClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(0.2), nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(128 * 8 * 8, 700), nn.ReLU(), nn.Dropout(0.5), nn.Linear(700, 10))

    def forward(self, image, label):
        return (F.cross_entropy(self.net(image), label, reduction="sum"),)


MODELS = {
    "cvae-mnist": (ConditionalVAE, (1, 28)),
    "conv-vae-cifar": (ConvolutionalVAE, (3, 32)),
    "cnn-cifar": (ACEClassifier, (3, 32)),
}


def main():
    args = arguments(__doc__, MODELS)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    make, (channels, side) = MODELS[args.model]
    x = torch.rand(args.batch, channels, side, side)
    y = torch.randint(0, 10, (args.batch,))
    time_steps(args, make(), (x, y))


if __name__ == "__main__":
    main()
