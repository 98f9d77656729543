"""The spec's own math in plain numpy: forward pass and loss, no gradients.

Used as the independent function that finite differences differentiate, and to compute the
loss of code that returns only its output. Written from the Spec alone, vectorized.
"""
from __future__ import annotations

import numpy as np

from .specs import Spec

_ACT = {
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}


def forward(spec: Spec, params, X, keep_preactivations: bool = False):
    """Output of the net; with keep_preactivations also the list of pre-activations per layer."""
    a, zs = X, []
    for i, act in enumerate(spec.activations, start=1):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        a = _ACT[act](z)
    return (a, zs) if keep_preactivations else a


def loss(spec: Spec, output, T) -> float:
    n = output.shape[0]
    if spec.loss == "mse_mean_all":
        return float(np.mean((output - T) ** 2))
    if spec.loss == "half_sse_mean_batch":
        return float(0.5 * np.sum((output - T) ** 2) / n)
    if spec.loss == "half_sse_sum_batch":
        return float(0.5 * np.sum((output - T) ** 2))
    if spec.loss == "softmax_ce_mean_batch":
        shifted = output - output.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.sum(T * log_p) / n)
    raise ValueError(f"unknown loss {spec.loss!r}")


def loss_of_params(spec: Spec, params, X, T) -> float:
    return loss(spec, forward(spec, params, X), T)


_SLOPE = {
    "relu": lambda z, a: (z > 0).astype(np.float64),
    "sigmoid": lambda z, a: a * (1 - a),
    "linear": lambda z, a: np.ones_like(z),
}


def _loss_coefficient(spec: Spec, n: int, k: int) -> float:
    """d loss / d output = coefficient * (output - target) (for cross-entropy: * (softmax - target))."""
    return {"mse_mean_all": 2.0 / (n * k), "half_sse_mean_batch": 1.0 / n, "half_sse_sum_batch": 1.0,
            "softmax_ce_mean_batch": 1.0 / n}[spec.loss]


def error_magnitudes(spec: Spec, params, X, T) -> dict:
    """Per entry, the sum of the absolute values of the terms that make up each computed value:
    every gradient entry (backprop with every product in absolute value), the forward output
    (|a| |W| + |b| through each slope) and the loss (how far round-off in the output can move
    it). Round-off in any correct computation is bounded by a small multiple of eps times
    this, also where terms cancel to a tiny result, so tolerances scale by it (componentwise
    error analysis, as for a dot product). Keys: W1, b1, ..., "output", "loss"."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    X, T = np.asarray(X, np.float64), np.asarray(T, np.float64)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    n, k = out.shape
    values = [_ACT[act](z) for z, act in zip(zs, spec.activations)]
    slopes = [_SLOPE[act](z, a) for z, a, act in zip(zs, values, spec.activations)]

    mags, inputs = {}, [np.abs(X)] + [np.abs(v) for v in values[:-1]]
    if spec.loss == "softmax_ce_mean_batch":       # the last layer's slope is folded into softmax
        e = np.exp(out - out.max(axis=1, keepdims=True))
        spread = np.abs(e / e.sum(axis=1, keepdims=True) - T)
        d = (e / e.sum(axis=1, keepdims=True) + np.abs(T)) * _loss_coefficient(spec, n, k)
        slopes[-1] = np.ones_like(out)
    else:
        spread = np.abs(out - T)
        d = (np.abs(out) + np.abs(T)) * _loss_coefficient(spec, n, k)
    for i in range(spec.n_layers, 0, -1):
        d = d * slopes[i - 1]
        mags[f"W{i}"], mags[f"b{i}"] = inputs[i - 1].T @ d, d.sum(axis=0)
        d = d @ np.abs(p[f"W{i}"]).T

    a = np.abs(X)
    for i, act in enumerate(spec.activations, start=1):
        z_mag = a @ np.abs(p[f"W{i}"]) + np.abs(p[f"b{i}"])
        a = z_mag if act == "linear" else np.abs(values[i - 1]) + z_mag * _SLOPE[act](zs[i - 1], values[i - 1])
    mags["output"] = a
    mags["loss"] = abs(loss(spec, out, T)) + float(np.sum(spread * a)) * _loss_coefficient(spec, n, k)
    return mags
