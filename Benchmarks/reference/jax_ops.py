"""JAX pieces shared by the benchmark and the agreement check: conv, pool, and the spatial
transformer with Gauge's conventions (align corners, zero padding, PAPER.md §5)."""
import jax
import jax.numpy as jnp


def conv(x, w, b, padding):
    """NCHW conv, stride 1; `padding` is "SAME", "VALID" or an int on every side."""
    pad = [(padding, padding)] * 2 if isinstance(padding, int) else padding
    y = jax.lax.conv_general_dilated(x, w, (1, 1), pad, dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b.reshape(1, -1, 1, 1)


def pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def warp(image, theta):
    """Bilinear sampling at θ's affine grid."""
    n, ch, h, w = image.shape
    ys, xs = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing="ij")
    t = theta.reshape(n, 2, 3)
    sx = t[:, 0, 0, None, None] * xs + t[:, 0, 1, None, None] * ys + t[:, 0, 2, None, None]
    sy = t[:, 1, 0, None, None] * xs + t[:, 1, 1, None, None] * ys + t[:, 1, 2, None, None]
    px, py = (sx + 1) * (w - 1) / 2, (sy + 1) * (h - 1) / 2
    x0, y0 = jnp.floor(px), jnp.floor(py)
    a, b = px - x0, py - y0
    flat = image.reshape(n, ch, h * w)

    def corner(yy, xx):
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        index = (jnp.clip(yy, 0, h - 1) * w + jnp.clip(xx, 0, w - 1)).astype(jnp.int32).reshape(n, 1, h * w)
        values = jnp.take_along_axis(flat, jnp.broadcast_to(index, (n, ch, h * w)), axis=2).reshape(n, ch, h, w)
        return values * inside[:, None]

    return ((1 - a) * (1 - b))[:, None] * corner(y0, x0) + (a * (1 - b))[:, None] * corner(y0, x0 + 1) + \
        ((1 - a) * b)[:, None] * corner(y0 + 1, x0) + (a * b)[:, None] * corner(y0 + 1, x0 + 1)


def inverted(theta):
    """[A⁻¹ | −A⁻¹t] with |det A| clamped to at least 1e-3, sign kept (PAPER.md §5.4)."""
    a, b, e, c, d, f = [theta[:, i] for i in range(6)]
    det = a * d - b * c
    det = jnp.where(det >= 0, jnp.maximum(det, 1e-3), jnp.minimum(det, -1e-3))
    return jnp.stack([d, -b, b * f - d * e, -c, a, c * e - a * f], 1) / det[:, None]
