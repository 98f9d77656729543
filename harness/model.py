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
