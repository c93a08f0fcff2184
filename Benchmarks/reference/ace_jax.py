"""The ACE training step of Gauge's built-in models, written in JAX (one jitted step: forward,
value_and_grad, Adam), for timing side by side. Same layers, shapes and losses as
`ace_torch.py` and Gauge's `Sources/Models/ACE.swift`; per-class layers use
`jax.lax.ragged_dot` on rows sorted by label (one GEMM per class). Prints one JSON line.
"""
import argparse, os

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("model", choices=["ace-cifar", "ace-cifar-conv", "ace-rts"])
parser.add_argument("--batch", type=int, default=250)
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--warmup", type=int, default=1)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={args.threads}")

import jax
import jax.numpy as jnp

from configs import CLASSES, CONFIGS
from jax_ops import conv, inverted, pool, warp
from step_timing import report, timed_steps

c = CONFIGS[args.model]


def init(key):
    keys = iter(jax.random.split(key, 64))
    normal = lambda shape, s=0.02: jax.random.normal(next(keys), shape) * s
    ch, side, p = c["channels"], c["side"], {}
    s, inch, size = c["ssn"], ch, side // 2 if c["ssn"]["pool_input"] else side
    for i, (f, k) in enumerate(s["convs"]):
        size = size // 2 if i > 0 else size
        p[f"ssn{i}"] = (normal((f, inch, k, k)), jnp.zeros(f))
        size, inch = (size if s["padding"] else size - k + 1), f
    p["ssn_h"] = (normal((inch * size * size, s["hidden"])), jnp.zeros(s["hidden"]))
    p["ssn_o"] = (jnp.zeros((s["hidden"], 6)), jnp.array([1.0, 0, 0, 0, 1, 0]))
    for i, (a, b) in enumerate([(ch, 32), (32, 64), (64, 128)]):
        p[f"cls{i}"] = (normal((b, a, 3, 3)), jnp.zeros(b))
    p["cls_h"] = (normal((128 * (side // 4) ** 2, 700)), jnp.zeros(700))
    p["cls_o"] = (normal((700, CLASSES)), jnp.zeros(CLASSES))
    pixels = ch * side * side
    if c["conv"]:
        inch = ch
        for i, (f, k) in enumerate(c["conv"]["enc"]):
            p[f"enc{i}"] = (normal((f, inch, k, k)), jnp.zeros(f))
            inch = f
        width = feature = inch * (side // 4) ** 2
    else:
        dims = [pixels] + c["enc"]
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            p[f"enc{i}"] = (normal((a, b)), jnp.zeros(b))
        width = dims[-1]
    n = c["latents"]
    p["mu"] = (normal((CLASSES, width, n)), jnp.zeros((CLASSES, n)))
    p["ls"] = (normal((CLASSES, width, n)), jnp.zeros((CLASSES, n)))
    dims = [n] + c["dec"] + ([feature] if c["conv"] else [pixels])
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        p[f"dec{i}"] = (normal((CLASSES, a, b)), jnp.zeros((CLASSES, b)))
    if c["conv"]:
        inch = c["conv"]["enc"][-1][0]
        for i, (f, k) in enumerate(c["conv"]["dec"]):
            p[f"deconv{i}"] = (normal((CLASSES, k, k, f, inch)), jnp.zeros((CLASSES, f)))  # per class
            inch = f
    return p


def loss(p, x, labels, key):
    k1, k2, k3 = jax.random.split(key, 3)
    s = c["ssn"]
    h = pool(x) if s["pool_input"] else x
    for i in range(len(s["convs"])):
        h = jax.nn.relu(conv(pool(h) if i > 0 else h, *p[f"ssn{i}"], "SAME" if s["padding"] else "VALID"))
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["ssn_h"][0] + p["ssn_h"][1])
    theta = h @ p["ssn_o"][0] + p["ssn_o"][1]
    canonical = warp(x, theta)
    h = canonical * jax.random.bernoulli(k1, 0.8, canonical.shape) / 0.8
    for i in range(3):
        h = jax.nn.relu(conv(pool(h) if i > 0 else h, *p[f"cls{i}"], "SAME"))
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["cls_h"][0] + p["cls_h"][1])
    h = h * jax.random.bernoulli(k2, 0.5, h.shape) / 0.5
    logits = h @ p["cls_o"][0] + p["cls_o"][1]
    h = canonical
    if c["conv"]:
        for i in range(len(c["conv"]["enc"])):
            h = pool(jax.nn.relu(conv(h, *p[f"enc{i}"], "SAME")))
        h = h.reshape(h.shape[0], -1)
    else:
        h = h.reshape(h.shape[0], -1)
        for i in range(len(c["enc"])):
            h = jnp.tanh(h @ p[f"enc{i}"][0] + p[f"enc{i}"][1])
    # Rows sorted by label, so each class's rows are contiguous for ragged_dot.
    order = jnp.argsort(labels)
    sizes = jnp.bincount(labels, length=CLASSES)
    sorted_labels = labels[order]

    def by_class(rows, wb):
        w, b = wb
        return jax.lax.ragged_dot(rows, w, sizes) + b[sorted_labels]

    hs = h[order]
    mean = by_class(hs, p["mu"])
    log_scale = 0.5 * by_class(hs, p["ls"])
    sigma = jnp.exp(log_scale)
    if c["sampling"] == "gaussian":
        z = mean + sigma * jax.random.normal(k3, mean.shape)
        kl = jnp.sum(0.5 * (mean ** 2 + sigma ** 2 - 1) - log_scale)
    else:
        u = jnp.clip(jax.random.uniform(k3, mean.shape), 1e-6, 1 - 1e-6)
        b = sigma * 0.5 ** 0.5
        z = jnp.where(u < 0.5, mean + b * jnp.log(2 * u), mean - b * jnp.log(2 - 2 * u))
        r = 0.5 ** 0.5
        kl = jnp.sum(jnp.abs(mean) / r - log_scale + sigma * jnp.exp(-jnp.abs(mean) / (sigma * r)) - 1)
    h, last = z, len(c["dec"])
    for i in range(last + 1):
        h = by_class(h, p[f"dec{i}"])
        h = jax.nn.relu(h) if (i == last and c["conv"]) else jax.nn.sigmoid(h) if i == last else jnp.tanh(h)
    if c["conv"]:
        h = h.reshape(h.shape[0], c["conv"]["enc"][-1][0], c["side"] // 4, c["side"] // 4)
        for i in range(len(c["conv"]["dec"])):
            w, b = p[f"deconv{i}"]

            # Each image with its class's filter: vmap over (image, gathered filter).
            def deconv(image, filter):
                return jax.lax.conv_transpose(
                    image[None], filter, (2, 2), "SAME", dimension_numbers=("NCHW", "HWOI", "NCHW"))[0]

            h = jax.vmap(deconv)(h, w[sorted_labels])
            h = h + b[sorted_labels][:, :, None, None]
            h = jax.nn.sigmoid(h) if i == len(c["conv"]["dec"]) - 1 else jax.nn.relu(h)
    drawn = jnp.zeros_like(h).at[order].set(h).reshape(x.shape)  # back to batch order
    q = jnp.clip(warp(drawn, inverted(theta)), 1e-6, 1 - 1e-6)
    bce = -jnp.sum(x * jnp.log(q) + (1 - x) * jnp.log(1 - q))
    ce = -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(x.shape[0]), labels])
    return bce + kl + ce


@jax.jit
def step(p, m, v, t, x, labels, key):
    value, grads = jax.value_and_grad(loss)(p, x, labels, key)
    lr, b1, b2, eps = 5e-4, 0.9, 0.999, 1e-8
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    size = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    p = jax.tree_util.tree_map(lambda p, m, v: p - size * m / (jnp.sqrt(v) + eps), p, m, v)
    return p, m, v, value


def main():
    key = jax.random.PRNGKey(1)
    p = init(key)
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    x = jax.random.uniform(jax.random.PRNGKey(2), (args.batch, c["channels"], c["side"], c["side"]))
    labels = jax.random.randint(jax.random.PRNGKey(3), (args.batch,), 0, CLASSES)
    state = [p, m, v]

    def timed(i):
        state[0], state[1], state[2], value = step(*state, i + 1.0, x, labels, jax.random.PRNGKey(100 + i))
        return value.block_until_ready()

    report("jax " + jax.__version__, args, timed_steps(timed, args.warmup, args.steps))


main()
