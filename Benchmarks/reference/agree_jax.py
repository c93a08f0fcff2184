"""The agreement check's JAX side: ACE's loss terms and gradients (jax.grad) in double precision
from Gauge's exported parameters, batch and random draws. Used by agree.py."""
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

from jax_ops import conv, inverted, pool, warp


def jax_check(state, inputs, names, same_padding):
    params = {k: jnp.asarray(v, jnp.float64) for k, v in state.items() if not k.endswith(("/adam_m", "/adam_v"))}
    x = jnp.asarray(inputs["image"], jnp.float64)
    labels = jnp.asarray(inputs["label"]).astype(jnp.int32)
    draw = [k for k in inputs if k.startswith("latent/")][0]
    noise = jnp.asarray(inputs[draw], jnp.float64)
    gaussian = "Gaussian" in draw
    side = x.shape[2]

    def dense(h, p, n):
        return h @ p[n + "/weight"] + p[n + "/bias"]

    def by_class(h, p, n):
        return jnp.einsum("bi,bio->bo", h, p[n + "/weight"][labels]) + p[n + "/bias"][labels]

    def terms(p):
        ssn = names(p, "ssn/conv2d")
        theta, canonical = None, x
        if ssn:
            valid = p[ssn[0] + "/weight"].shape[2] == 5
            h = pool(x) if valid and side > 28 else x
            for i, n in enumerate(ssn):
                h = pool(h) if i > 0 else h
                w = p[n + "/weight"]
                h = jax.nn.relu(conv(h, w, p[n + "/bias"], 0 if valid else same_padding(h.shape[2], w.shape[2], 1)))
            theta = dense(jax.nn.relu(dense(h.reshape(h.shape[0], -1), p, "ssn/dense")), p, "ssn/dense_1")
            canonical = warp(x, theta)
        h = canonical
        for i, n in enumerate(names(p, "classifier/conv2d")):
            h = pool(h) if i > 0 else h
            h = jax.nn.relu(conv(h, p[n + "/weight"], p[n + "/bias"], 1))
        logits = dense(jax.nn.relu(dense(h.reshape(h.shape[0], -1), p, "classifier/dense")), p, "classifier/dense_1")
        h = canonical
        for n in names(p, "encoder/conv2d"):
            w = p[n + "/weight"]
            h = pool(jax.nn.relu(conv(h, w, p[n + "/bias"], same_padding(h.shape[2], w.shape[2], 1))))
        h = h.reshape(h.shape[0], -1)
        for n in names(p, "encoder/dense"):
            h = jnp.tanh(dense(h, p, n))
        heads = names(p, "encoder/denseByClass")
        mean = by_class(h, p, heads[0])
        log_scale = 0.5 * by_class(h, p, heads[1])
        sigma = jnp.exp(log_scale)
        r = 0.5 ** 0.5
        if gaussian:
            z = mean + sigma * noise
            kl = jnp.sum(0.5 * (mean ** 2 + sigma ** 2 - 1) - log_scale)
        else:
            z = mean + sigma * r * noise
            kl = jnp.sum(jnp.abs(mean) / r - log_scale + sigma * jnp.exp(-jnp.abs(mean) / (sigma * r)) - 1)
        layers, deconvs = names(p, "decoder/denseByClass"), names(p, "decoder/transposedConv2dByClass")
        h = z
        for i, n in enumerate(layers):
            h = by_class(h, p, n)
            last = i == len(layers) - 1
            h = jax.nn.relu(h) if (last and deconvs) else jax.nn.sigmoid(h) if last else jnp.tanh(h)
        if deconvs:
            feature = p[deconvs[0] + "/weight"].shape[1]  # [classes, in, out, k, k]
            size = int(round((h.shape[1] / feature) ** 0.5))
            h = h.reshape(-1, feature, size, size)
            for i, n in enumerate(deconvs):
                w, b = p[n + "/weight"][labels], p[n + "/bias"][labels]  # each image's [in, out, k, k]
                out, k = h.shape[2] * 2, w.shape[3]
                top = same_padding(out, k, 2)

                # The adjoint of a stride-2 conv: dilate the input, convolve with the flipped kernel.
                def deconv(image, filter):
                    return jax.lax.conv_general_dilated(
                        image[None], jnp.flip(filter, (2, 3)).transpose(1, 0, 2, 3), (1, 1),
                        [(k - 1, k - 1), (k - 1, k - 1)], lhs_dilation=(2, 2),
                        dimension_numbers=("NCHW", "OIHW", "NCHW"))[0]

                full = jax.vmap(deconv)(h, w)
                h = full[:, :, top:top + out, top:top + out] + b
                h = jax.nn.sigmoid(h) if i == len(deconvs) - 1 else jax.nn.relu(h)
        drawn = h.reshape(x.shape)
        if theta is not None:
            reconstruction = warp(drawn, inverted(theta))
        else:
            reconstruction = drawn
        q = jnp.clip(reconstruction, 1e-6, 1 - 1e-6)
        bce = -jnp.sum(x * jnp.log(q) + (1 - x) * jnp.log(1 - q))
        ce = -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(x.shape[0]), labels])
        return {"reconstruction_error": bce, "generative_error": kl, "classification_error": ce}

    losses = terms(params)
    grads = jax.grad(lambda p: sum(terms(p).values()))(params)
    return {k: float(v) for k, v in losses.items()}, {k: np.asarray(v) for k, v in grads.items()}
