"""Finite differences: an independent party that knows only the spec's forward pass and loss.
Each difference is taken at steps h and h/2: the finer one is the estimate, and their gap bounds
its truncation error wherever halving the step at least halves that error (where the loss curves
sharply, as with saturated units, a step that is fine elsewhere is not); it joins the round-off in
the allowance.

Small nets get full central differences (every parameter entry); large ones get random
directional derivatives, one set per parameter tensor so a failure names the tensor:
(L(p + h u) - L(p - h u)) / 2h against <g, u> for unit directions u. Everything runs in
float64 at the (possibly float32-rounded) parameters. A step never crosses a ReLU kink: if any
ReLU pre-activation would change sign, the step is halved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import net
from ..core.spec import Spec

FULL_FD_MAX_PARAMS = 2000        # above this, directional checks are used
DIRECTIONS_PER_TENSOR = 3
_EPS = float(np.finfo(np.float64).eps)
H0 = _EPS ** (1 / 3)   # ~6e-6: balances truncation and round-off
# Measured agreement of these differences with exact float64 gradients (docs/tolerances.md):
# worst 1.8e-9 relative to the scale over all specs, default and small sizes, 10 seeds each.
FD_RTOL = 2e-8


@dataclass(frozen=True)
class FDResult:
    mode: str                    # "full" or "directional"
    expected: dict               # finite-difference values, per parameter
    actual: dict                 # the same quantities from the gradients under test
    scales: dict                 # per parameter: the magnitude tolerances scale with
    noise: dict                  # per parameter: round-off and truncation bound of the differences
    n_evaluations: int


def _relu_signs(spec: Spec, params, X):
    """The signs of the pre-activations of every kinked activation (relu, leaky relu)."""
    if not any(a.kinked for a in spec.activation_records):
        return []
    _, zs = net.forward(spec, params, X, keep_preactivations=True)
    return _signs(spec, zs)


def _signs(spec: Spec, zs) -> list:
    return [np.signbit(z) for z, act in zip(zs, spec.activation_records, strict=True) if act.kinked]


def _signs_and_loss(spec: Spec, params, X, T, z1) -> tuple[list, float]:
    """The kinked units' signs and the loss, from one forward pass that starts at z1."""
    out, zs = net.forward(spec, params, X, keep_preactivations=True, z1=z1)
    return _signs(spec, zs), net.loss(spec, out, T, params)


class _FirstLayer:
    """z1 = X W1 + b1 once; a step t along a direction of W1 moves it by t (X u), of b1 by t u,
    of any later tensor not at all. So no perturbed forward pass multiplies X again: the largest
    product of a wide first layer is paid once per check and once per direction of W1."""

    def __init__(self, params, X):
        self.X, self.z1 = X, X @ params["W1"] + params["b1"]

    def along(self, name: str, direction):
        shift = self.X @ direction if name == "W1" else direction if name == "b1" else None
        return (lambda t: self.z1) if shift is None else (lambda t: self.z1 + t * shift)


def _central(spec, params, X, T, name, direction, signs, loss_terms: float, first: _FirstLayer):
    """Central difference of the loss along `direction` of parameter `name`, with a kink-safe
    step, and the round-off bound of that difference: about 8 eps (|L+| + |L-|) / 2h."""
    h = H0 * max(1.0, float(np.max(np.abs(params[name]))))
    base, z1 = params[name], first.along(name, direction)
    for _ in range(30):
        plus, minus = dict(params), dict(params)
        plus[name], minus[name] = base + h * direction, base - h * direction
        (sp, lp), (sm, lm) = _signs_and_loss(spec, plus, X, T, z1(h)), _signs_and_loss(spec, minus, X, T, z1(-h))
        if all(np.array_equal(s, t) for s, t in zip(signs, sp, strict=True)) and \
           all(np.array_equal(s, t) for s, t in zip(signs, sm, strict=True)):
            break
        h /= 2
    plus[name], minus[name] = base + h / 2 * direction, base - h / 2 * direction
    (_, hp), (_, hm) = _signs_and_loss(spec, plus, X, T, z1(h / 2)), _signs_and_loss(spec, minus, X, T, z1(-h / 2))
    coarse, fine = (lp - lm) / (2 * h), (hp - hm) / h
    # Round-off: about 8 eps (|L+| + |L-|) / 2h, twice that at h/2. Truncation: wherever halving
    # h at least halves it (3/4 of it goes in the O(h^2) regime), the fine difference's error is
    # at most the gap between the two.
    # The loss's own round-off is eps times its sum of |terms| (loss_terms: where log(1 - p) or a
    # cancellation makes it far larger than eps |L|), at least eps |L|.
    terms = max(abs(hp), abs(hm), loss_terms)
    return fine, 32 * _EPS * terms / h + abs(coarse - fine)


def _loss_terms(spec: Spec, p, X, T) -> float:
    with np.errstate(all="ignore"):
        return float(net.error_magnitudes(spec, p, X, T)["loss"])


def full(spec: Spec, params, X, T, grads) -> FDResult:
    p, X, T = net.as64(params, X, T)
    signs, first = _relu_signs(spec, p, X), _FirstLayer(p, X)
    terms = _loss_terms(spec, p, X, T)
    expected, noise, n = {}, {}, 0
    for name, value in p.items():
        fd, err = np.zeros_like(value), 0.0
        for idx in np.ndindex(value.shape):
            e = np.zeros_like(value)
            e[idx] = 1.0
            fd[idx], r = _central(spec, p, X, T, name, e, signs, terms, first)
            err, n = max(err, r), n + 4
        expected[name], noise[name] = fd, err
    scales = {k: float(np.max(np.abs(v))) for k, v in expected.items()}
    return FDResult("full", expected, {k: np.asarray(grads[k]) for k in p}, scales, noise, n)


def directional(spec: Spec, params, X, T, grads, seed: int, per_tensor: int = DIRECTIONS_PER_TENSOR) -> FDResult:
    rng = np.random.default_rng([seed, 7])
    p, X, T = net.as64(params, X, T)
    signs, first = _relu_signs(spec, p, X), _FirstLayer(p, X)
    terms = _loss_terms(spec, p, X, T)
    expected, actual, scales, noise, n = {}, {}, {}, {}, 0
    for name, value in p.items():
        g = np.asarray(grads[name], dtype=np.float64)
        fd, an, err = np.zeros(per_tensor), np.zeros(per_tensor), 0.0
        for k in range(per_tensor):
            u = rng.standard_normal(value.shape)
            u /= np.linalg.norm(u)
            fd[k], r = _central(spec, p, X, T, name, u, signs, terms, first)
            an[k] = float(np.sum(g * u)) if g.shape == value.shape else np.nan
            err, n = max(err, r), n + 4
        expected[name], actual[name], noise[name] = fd, an, err
        scales[name] = float(np.linalg.norm(g)) or 1.0   # |<g, u>| <= ||g|| for unit u
    return FDResult("directional", expected, actual, scales, noise, n)


def check(spec: Spec, params, X, T, grads, seed: int) -> FDResult:
    """Full differences for small nets, directional ones for large: chosen by parameter count."""
    n_params = sum(np.size(v) for v in params.values())
    if n_params <= FULL_FD_MAX_PARAMS:
        return full(spec, params, X, T, grads)
    return directional(spec, params, X, T, grads, seed)
