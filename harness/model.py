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


_ACT_SLOPE_BOUND = {
    "relu": lambda z, a: (z > 0).astype(np.float64),
    "sigmoid": lambda z, a: a * (1 - a),
    "linear": lambda z, a: np.ones_like(z),
}


def gradient_magnitudes(spec: Spec, params, X, T) -> dict:
    """Per entry, the sum of the absolute values of the terms that make up each gradient entry
    (backprop with every product taken in absolute value). Round-off in any correct gradient is
    bounded by a small multiple of eps times this, also where the terms cancel to a tiny result,
    so tolerances scale by it (componentwise error analysis, as for a dot product)."""
    p = {k: np.abs(np.asarray(v, np.float64)) for k, v in params.items()}
    out, zs = forward(spec, {k: np.asarray(v, np.float64) for k, v in params.items()}, np.asarray(X, np.float64),
                      keep_preactivations=True)
    X, T = np.abs(np.asarray(X, np.float64)), np.asarray(T, np.float64)
    acts = [X] + [np.abs(_ACT[a](z)) for z, a in zip(zs[:-1], spec.activations[:-1])]
    n, k = out.shape
    if spec.loss == "softmax_ce_mean_batch":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        d = (shifted / shifted.sum(axis=1, keepdims=True) + np.abs(T)) / n
    else:
        d = (np.abs(out) + np.abs(T)) * {"mse_mean_all": 2.0 / (n * k), "half_sse_mean_batch": 1.0 / n,
                                          "half_sse_sum_batch": 1.0}[spec.loss]
    mags = {}
    for i in range(spec.n_layers, 0, -1):
        z, a = zs[i - 1], (out if i == spec.n_layers else None)
        act = spec.activations[i - 1]
        a = _ACT[act](z) if a is None else a
        d = d * _ACT_SLOPE_BOUND[act](z, a) if not (i == spec.n_layers and spec.loss == "softmax_ce_mean_batch") else d
        mags[f"W{i}"] = acts[i - 1].T @ d
        mags[f"b{i}"] = d.sum(axis=0)
        d = d @ p[f"W{i}"].T
    return mags


def output_and_loss_magnitudes(spec: Spec, params, X, T) -> tuple[np.ndarray, float]:
    """The same idea for the forward output (|a| |W| + |b| through the last slope) and the loss
    (how far round-off in the output, relative to its terms, can move the loss)."""
    p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    out, zs = forward(spec, p64, np.asarray(X, np.float64), keep_preactivations=True)
    T = np.asarray(T, np.float64)
    a = np.abs(np.asarray(X, np.float64))
    for i, act in enumerate(spec.activations, start=1):
        z_mag = a @ np.abs(p64[f"W{i}"]) + np.abs(p64[f"b{i}"])
        a = z_mag if act == "linear" else np.abs(_ACT[act](zs[i - 1])) + z_mag * _ACT_SLOPE_BOUND[act](zs[i - 1], _ACT[act](zs[i - 1]))
    n, k = out.shape
    if spec.loss == "softmax_ce_mean_batch":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        spread = np.abs(e / e.sum(axis=1, keepdims=True) - T)
    else:
        spread = np.abs(out - T) * {"mse_mean_all": 2.0 / k, "half_sse_mean_batch": 1.0,
                                    "half_sse_sum_batch": float(n)}[spec.loss]
    loss_mag = abs(loss(spec, out, T)) + float(np.sum(spread * a)) / n
    return a, loss_mag
