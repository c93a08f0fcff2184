"""PyTorch pieces shared by the benchmark and the agreement check: the spatial transformer with
Gauge's conventions (align corners, zero padding, θ mapping output → input, PAPER.md §5)."""
import torch
import torch.nn.functional as F


def warp(image, theta):
    grid = F.affine_grid(theta.view(-1, 2, 3), list(image.shape), align_corners=True)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def inverted(theta):
    """[A⁻¹ | −A⁻¹t] with |det A| clamped to at least 1e-3, sign kept (PAPER.md §5.4)."""
    a, b, e, c, d, f = theta.unbind(1)
    det = a * d - b * c
    det = torch.where(det >= 0, det.clamp(min=1e-3), det.clamp(max=-1e-3))
    return torch.stack([d, -b, b * f - d * e, -c, a, c * e - a * f], 1) / det.unsqueeze(1)
