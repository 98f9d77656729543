"""The spec's own math in plain numpy, written from the Spec alone: forward pass, loss, backprop.

forward/loss are the independent function that finite differences differentiate (they know no
gradient). backprop() is the grader's expected gradient (tests prove it equal to the reference
nets, torch and finite differences) and, given a Deviation, the gradient that code with one
typical bug returns: the diagnosis tests each such hypothesis against a submission's numbers.
error_magnitudes() runs the same backward pass on absolute values to bound round-off.
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Deviation:
    """One typical backprop bug, as a change to the backward pass.

    missing_slope        layer `layer`'s activation derivative left out
    slope_at_activation  sigma' evaluated at the activation: sigma(a)(1 - sigma(a)), a = sigma(z)
    slope_formula_on_z   the activation-form derivative a(1 - a) applied to the pre-activation z
    stale_weights        deltas below layer `layer` backpropagated through W_layer already
                         updated with lr (the later layer was updated first)
    """
    kind: str
    layer: int


def deviations(spec: Spec) -> list[Deviation]:
    """Every deviation that changes something for this spec."""
    out = []
    for i, act in enumerate(spec.activations, start=1):
        folded = i == spec.n_layers and spec.loss == "softmax_ce_mean_batch"
        if act != "linear" and not folded:
            out.append(Deviation("missing_slope", i))
        if act == "sigmoid":
            out += [Deviation("slope_at_activation", i), Deviation("slope_formula_on_z", i)]
        if i >= 2:
            out.append(Deviation("stale_weights", i))
    return out


def _slope(act: str, z, a, deviation: Deviation | None, layer: int):
    kind = deviation.kind if deviation and deviation.layer == layer else None
    if kind == "missing_slope":
        return np.ones_like(z)
    if kind == "slope_at_activation":
        s = _ACT["sigmoid"](a)
        return s * (1 - s)
    if kind == "slope_formula_on_z":
        return z * (1 - z)
    return _SLOPE[act](z, a)


def _backward(spec: Spec, d, inputs, slopes, weights, stale_lr=None):
    """Deltas down the layers: d (dL/d output of the last layer, before its slope) -> grads."""
    grads = {}
    for i in range(spec.n_layers, 0, -1):
        d = d * slopes[i - 1]
        grads[f"W{i}"], grads[f"b{i}"] = inputs[i - 1].T @ d, d.sum(axis=0)
        W = weights[i - 1]
        if stale_lr is not None and stale_lr[0] == i:
            W = W - stale_lr[1] * grads[f"W{i}"]
        d = d @ W.T
    return grads


def _output_delta(spec: Spec, out, T):
    n, k = out.shape
    if spec.loss == "softmax_ce_mean_batch":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True) - T) * _loss_coefficient(spec, n, k)
    return (out - T) * _loss_coefficient(spec, n, k)


def backprop(spec: Spec, params, X, T, deviation: Deviation | None = None, lr: float | None = None) -> dict:
    """d loss / d parameter, canonical layout, in float64; with a deviation, the buggy version
    (stale_weights needs the learning rate of the update)."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    X, T = np.asarray(X, np.float64), np.asarray(T, np.float64)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    values = [_ACT[act](z) for z, act in zip(zs, spec.activations)]
    slopes = [_slope(act, z, a, deviation, i) for i, (z, a, act) in enumerate(zip(zs, values, spec.activations), 1)]
    if spec.loss == "softmax_ce_mean_batch":      # the last layer's slope is folded into softmax
        slopes[-1] = np.ones_like(out)
    stale = None
    if deviation is not None and deviation.kind == "stale_weights":
        stale = (deviation.layer, spec.lr if lr is None else lr)
    weights = [p[f"W{i}"] for i in range(1, spec.n_layers + 1)]
    return _backward(spec, _output_delta(spec, out, T), [X] + values[:-1], slopes, weights, stale)


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
    slopes = [np.abs(_SLOPE[act](z, a)) for z, a, act in zip(zs, values, spec.activations)]

    inputs = [np.abs(X)] + [np.abs(v) for v in values[:-1]]
    if spec.loss == "softmax_ce_mean_batch":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        spread = np.abs(e / e.sum(axis=1, keepdims=True) - T)
        d = (e / e.sum(axis=1, keepdims=True) + np.abs(T)) * _loss_coefficient(spec, n, k)
        slopes[-1] = np.ones_like(out)
    else:
        spread = np.abs(out - T)
        d = (np.abs(out) + np.abs(T)) * _loss_coefficient(spec, n, k)
    mags = _backward(spec, d, inputs, slopes, [np.abs(p[f"W{i}"]) for i in range(1, spec.n_layers + 1)])

    a = np.abs(X)
    for i, act in enumerate(spec.activations, start=1):
        z_mag = a @ np.abs(p[f"W{i}"]) + np.abs(p[f"b{i}"])
        a = z_mag if act == "linear" else np.abs(values[i - 1]) + z_mag * _SLOPE[act](zs[i - 1], values[i - 1])
    mags["output"] = a
    mags["loss"] = abs(loss(spec, out, T)) + float(np.sum(spread * a)) * _loss_coefficient(spec, n, k)
    return mags
