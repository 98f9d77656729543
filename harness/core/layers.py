"""Single layers, checked one at a time: what a layer of each kind computes forward, and what its
backward pass returns for a seeded upstream gradient. The kinds are those the records already
model: `affine` (out = x W + b, x reshaped to (N, D) first as CS231n's affine_forward does), each
elementwise activation of harness.core.activations, and each loss of harness.core.losses that
takes raw scores (its backward returns d loss / d scores).

Inputs are made here from a LayerCase and a seed (the child gets arrays, never this code).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

DTYPES = ("float64", "float32")


class LayerError(ValueError):
    """A layer kind or case is invalid."""


def kinds() -> tuple[str, ...]:
    """Every layer kind: affine, the elementwise activations, the losses on raw scores."""
    from .activations import ACTIVATIONS
    from .losses import LOSSES
    return ("affine", *(a for a, r in ACTIVATIONS.items() if not r.output_only and not r.is_identity),
            *(n for n, r in LOSSES.items() if r.pairs_with in (None, "linear")))


def role(kind: str) -> str:
    """affine | activation | loss."""
    from .activations import ACTIVATIONS
    return "affine" if kind == "affine" else "activation" if kind in ACTIVATIONS else "loss"


@dataclass(frozen=True)
class LayerCase:
    """One check of one layer: N rows of D inputs (affine: to M outputs; a loss: D classes or
    outputs), x optionally shaped (N, *x_dims) with prod(x_dims) = D."""
    kind: str
    batch: int
    inputs: int
    outputs: int = 0                  # affine only
    seed: int = 0
    dtype: str = "float64"
    x_dims: tuple[int, ...] = ()
    scale: float = 1.0                # x times this (large scores for a softmax)

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.batch, *(self.x_dims or (self.inputs,)))

    def label(self) -> str:
        shape = "x".join(map(str, self.x_shape))
        return f"{self.kind}[x {shape}{f' -> {self.outputs}' if self.outputs else ''}, {self.dtype}, seed {self.seed}" + \
            (f", x times {self.scale:g}" if self.scale != 1 else "") + "]"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(data: dict) -> LayerCase:
        return LayerCase(**{**data, "x_dims": tuple(data["x_dims"])})


def validate(case: LayerCase) -> LayerCase:
    if case.kind not in kinds():
        raise LayerError(f"unknown layer kind {case.kind!r}; valid: {', '.join(kinds())}")
    if case.batch < 1 or case.inputs < 1 or (role(case.kind) == "affine") != (case.outputs >= 1):
        raise LayerError(f"{case.kind}: batch and inputs must be >= 1, and outputs >= 1 for affine only "
                         f"(got batch {case.batch}, inputs {case.inputs}, outputs {case.outputs})")
    if case.x_dims and (math.prod(case.x_dims) != case.inputs or role(case.kind) != "affine"):
        raise LayerError(f"{case.kind}: x_dims {list(case.x_dims)} must multiply to the inputs ({case.inputs}), "
                         "for an affine layer")
    if role(case.kind) == "loss" and _loss(case.kind).one_hot_targets and case.inputs < 2:
        raise LayerError(f"{case.kind}: a classification loss needs >= 2 classes, got {case.inputs}")
    if case.dtype not in DTYPES or case.seed < 0 or not (math.isfinite(case.scale) and case.scale > 0):
        raise LayerError(f"{case.kind}: dtype one of {', '.join(DTYPES)}, seed >= 0, scale > 0; got "
                         f"{case.dtype!r}, {case.seed}, {case.scale}")
    return case


def _loss(kind: str):
    from .losses import LOSSES
    return LOSSES[kind]


def _activation(kind: str):
    from .activations import ACTIVATIONS
    return ACTIVATIONS[kind]


# --- inputs, expected values, round-off magnitudes --------------------------------------------
INPUT_NAMES = ("x", "w", "b", "dout", "T", "labels")


def layer_inputs(case: LayerCase) -> dict[str, np.ndarray]:
    """x (and for affine w, b), the upstream gradient dout (not for a loss), targets T and labels
    (a loss), seeded by the case; activations get x away from their kinks (|x| >= 0.05)."""
    rng = np.random.default_rng([case.seed, 7])
    dt = case.dtype
    x = rng.standard_normal(case.x_shape) * case.scale
    if role(case.kind) == "activation" and _activation(case.kind).kinked:
        x = np.where(np.abs(x) < 0.05, np.copysign(0.05, x) + x, x)
    out: dict[str, np.ndarray] = {"x": x}
    if role(case.kind) == "affine":
        out["w"] = rng.standard_normal((case.inputs, case.outputs)) * np.sqrt(2.0 / (case.inputs + case.outputs))
        out["b"] = rng.standard_normal(case.outputs) * 0.1
        out["dout"] = rng.standard_normal((case.batch, case.outputs))
    elif role(case.kind) == "activation":
        out["dout"] = rng.standard_normal(case.x_shape)
    else:
        loss = _loss(case.kind)
        labels = rng.integers(0, case.inputs, size=case.batch)
        out["T"] = np.eye(case.inputs)[labels] if loss.one_hot_targets else rng.random((case.batch, case.inputs))
        out["labels"] = labels.astype(np.float64)
    return {k: (v.astype(dt) if k != "labels" else v) for k, v in out.items()}


def layer_expected(case: LayerCase, inputs: dict) -> dict[str, np.ndarray]:
    """What the layer must return, in float64: out (or loss) and dx (affine: dw, db too)."""
    f = {k: np.asarray(v, np.float64) for k, v in inputs.items()}
    x = f["x"]
    if role(case.kind) == "affine":
        x2 = x.reshape(case.batch, -1)
        return {"out": x2 @ f["w"] + f["b"], "dx": (f["dout"] @ f["w"].T).reshape(x.shape),
                "dw": x2.T @ f["dout"], "db": f["dout"].sum(axis=0)}
    if role(case.kind) == "activation":
        act = _activation(case.kind)
        a = act.f(x)
        return {"out": a, "dx": f["dout"] * act.slope(x, a)}
    loss = _loss(case.kind)
    return {"loss": np.asarray(loss.value(x, f["T"])), "dx": loss.delta(x, f["T"])}


def layer_magnitudes(case: LayerCase, inputs: dict) -> dict[str, np.ndarray]:
    """Per entry, the sum of |terms| that make each expected value up (for the tolerances)."""
    f = {k: np.abs(np.asarray(v, np.float64)) for k, v in inputs.items()}
    x = f["x"]
    if role(case.kind) == "affine":
        x2 = x.reshape(case.batch, -1)
        return {"out": x2 @ f["w"] + f["b"], "dx": (f["dout"] @ f["w"].T).reshape(x.shape), "dw": x2.T @ f["dout"],
                "db": f["dout"].sum(axis=0)}
    raw = {k: np.asarray(v, np.float64) for k, v in inputs.items()}
    if role(case.kind) == "activation":
        act = _activation(case.kind)
        a = act.f(raw["x"])
        return {"out": np.abs(a) + x * np.abs(act.slope(raw["x"], a)), "dx": f["dout"] * np.abs(act.slope(raw["x"], a))}
    loss = _loss(case.kind)
    n, k = raw["x"].shape
    terms = loss.residual_terms(raw["x"], raw["T"]) * loss.coefficient(n, k)
    return {"loss": np.asarray(abs(loss.value(raw["x"], raw["T"])) + float(np.sum(terms * (1 + x)))), "dx": terms}
