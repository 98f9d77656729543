"""What each single layer must compute: its seeded inputs, the expected values (float64) and the
sum of |terms| behind each (for the tolerances). The grader's side only: this module is never
shipped into the grading sandbox (a submission that imports it finds nothing there to copy).
"""
from __future__ import annotations

import numpy as np

from .layer_kinds import LayerCase, role


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
