"""The spec's own math in plain numpy, written from the Spec alone: forward pass, loss, backprop.

forward/loss are the independent function that finite differences differentiate (they know no
gradient). backprop() is the grader's expected gradient (tests prove it equal to the reference
nets, torch and finite differences) and, given a Deviation, the gradient that code with one
typical bug returns: the diagnosis tests each such hypothesis against a submission's numbers.
error_magnitudes() runs the same backward pass on absolute values to bound round-off.
Activations and losses come from their records (harness.core.activations, .losses).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import Spec


def forward(spec: Spec, params, X, keep_preactivations: bool = False):
    """Output of the net; with keep_preactivations also the list of pre-activations per layer."""
    a, zs = X, []
    for i, act in enumerate(spec.activation_records, start=1):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        a = act.f(z)
    return (a, zs) if keep_preactivations else a


def loss(spec: Spec, output, T) -> float:
    return spec.loss_record.value(output, T)


def loss_of_params(spec: Spec, params, X, T) -> float:
    return loss(spec, forward(spec, params, X), T)


@dataclass(frozen=True)
class Deviation:
    """One typical backprop bug, as a change to the backward pass.

    missing_slope        layer `layer`'s activation derivative left out
    slope_at_activation  f' evaluated at the activation: f'(a), a = f(z)
    slope_formula_on_z   the activation-form derivative (sigmoid: a(1 - a)) applied to the pre-activation z
    stale_weights        deltas below layer `layer` backpropagated through W_layer already
                         updated with lr (the later layer was updated first)
    slope_not_folded     the output activation's slope applied again, though the loss's derivative
                         already includes it (BCE after a sigmoid, cross-entropy after a softmax)
    """
    kind: str
    layer: int


def _slope_folded(spec: Spec, layer: int) -> bool:
    return layer == spec.n_layers and spec.loss_record.pairs_with is not None


def deviations(spec: Spec) -> list[Deviation]:
    """Every deviation that changes something for this spec."""
    out = []
    for i, act in enumerate(spec.activation_records, start=1):
        if _slope_folded(spec, i) and not act.is_identity and not act.output_only:
            out.append(Deviation("slope_not_folded", i))
        if not act.is_identity and not _slope_folded(spec, i):
            out.append(Deviation("missing_slope", i))
        if act.slope_of_output is not None:
            out += [Deviation("slope_at_activation", i), Deviation("slope_formula_on_z", i)]
        if i >= 2:
            out.append(Deviation("stale_weights", i))
    return out


def _slope(spec: Spec, layer: int, z, a, deviation: Deviation | None):
    act = spec.activation_records[layer - 1]
    kind = deviation.kind if deviation and deviation.layer == layer else None
    if _slope_folded(spec, layer):
        return act.slope(z, a) if kind == "slope_not_folded" else np.ones_like(z)
    if kind == "missing_slope":
        return np.ones_like(z)
    if kind == "slope_at_activation":
        return act.slope(a, act.f(a))
    if kind == "slope_formula_on_z":
        return act.slope_of_output(z)
    return act.slope(z, a)


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


def _as64(params, X, T):
    return {k: np.asarray(v, np.float64) for k, v in params.items()}, np.asarray(X, np.float64), np.asarray(T, np.float64)


def backprop(spec: Spec, params, X, T, deviation: Deviation | None = None, lr: float | None = None) -> dict:
    """d loss / d parameter, canonical layout, in float64; with a deviation, the buggy version
    (stale_weights needs the learning rate of the update)."""
    p, X, T = _as64(params, X, T)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    values = [act.f(z) for z, act in zip(zs, spec.activation_records, strict=True)]
    slopes = [_slope(spec, i, z, a, deviation) for i, (z, a) in enumerate(zip(zs, values, strict=True), 1)]
    stale = None
    if deviation is not None and deviation.kind == "stale_weights":
        stale = (deviation.layer, spec.lr if lr is None else lr)
    weights = [p[f"W{i}"] for i in range(1, spec.n_layers + 1)]
    return _backward(spec, spec.loss_record.delta(out, T), [X] + values[:-1], slopes, weights, stale)


def error_magnitudes(spec: Spec, params, X, T) -> dict:
    """Per entry, the sum of the absolute values of the terms that make up each computed value:
    every gradient entry (backprop with every product in absolute value), the forward output
    (|a| |W| + |b| through each slope) and the loss (how far round-off in the output can move
    it). Round-off in any correct computation is bounded by a small multiple of eps times
    this, also where terms cancel to a tiny result, so tolerances scale by it (componentwise
    error analysis, as for a dot product). Keys: W1, b1, ..., "output", "loss"."""
    p, X, T = _as64(params, X, T)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    n, k = out.shape
    acts, lossrec = spec.activation_records, spec.loss_record
    values = [act.f(z) for z, act in zip(zs, acts, strict=True)]
    slopes = [np.abs(_slope(spec, i, z, a, None)) for i, (z, a) in enumerate(zip(zs, values, strict=True), 1)]
    coefficient = lossrec.coefficient(n, k)
    inputs = [np.abs(X)] + [np.abs(v) for v in values[:-1]]
    d = lossrec.residual_terms(out, T) * coefficient
    mags = _backward(spec, d, inputs, slopes, [np.abs(p[f"W{i}"]) for i in range(1, spec.n_layers + 1)])

    a = np.abs(X)
    for i, act in enumerate(acts, start=1):
        z_mag = a @ np.abs(p[f"W{i}"]) + np.abs(p[f"b{i}"])
        a = z_mag if act.is_identity else np.abs(values[i - 1]) + z_mag * act.slope(zs[i - 1], values[i - 1])
    mags["output"] = a
    mags["loss"] = abs(lossrec.value(out, T)) + float(np.sum(np.abs(lossrec.residual(out, T)) * a)) * coefficient
    return mags
