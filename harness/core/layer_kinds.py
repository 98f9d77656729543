"""Single layers, checked one at a time: what a layer of each kind computes forward, and what its
backward pass returns for a seeded upstream gradient. The kinds are those the records already
model: `affine` (out = x W + b, x reshaped to (N, D) first as CS231n's affine_forward does), each
elementwise activation of harness.core.activations, and each loss of harness.core.losses that
takes raw scores (its backward returns d loss / d scores).

This module is the record only: it runs in the grading sandbox. What the layers must compute,
their inputs and round-off magnitudes are in harness.core.layer_math, which never does.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .spec import DTYPES


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
    from .losses import LOSSES
    if role(case.kind) == "loss" and LOSSES[case.kind].one_hot_targets and case.inputs < 2:
        raise LayerError(f"{case.kind}: a classification loss needs >= 2 classes, got {case.inputs}")
    if case.dtype not in DTYPES or case.seed < 0 or not (math.isfinite(case.scale) and case.scale > 0):
        raise LayerError(f"{case.kind}: dtype one of {', '.join(DTYPES)}, seed >= 0, scale > 0; got "
                         f"{case.dtype!r}, {case.seed}, {case.scale}")
    return case
