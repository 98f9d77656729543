"""The tolerance model: how far two correct computations may differ, derived from measured
agreement (RTOL) and from error analysis of each quantity (per entry, the sum of |terms| that
make it up; the round-off of a gradient recovered from an update; the optimizer's sensitivity
to gradient round-off over K steps)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import optim
from .run import Run
from .spec import Spec

# Measured agreement between numpy, torch and Keras on this machine (benchmarks/agreement.py,
# README "Tolerances"): worst over all specs, default and small sizes, 10 seeds, every pair and
# stage was 10.2 eps (2.3e-15) in float64 and 6.2 eps (7.4e-7) in float32, relative to the
# largest entry. The defaults are 32 eps: about 3x (float64) and 5x (float32) that worst case.
RTOL = {"float64": 32 * float(np.finfo(np.float64).eps), "float32": 32 * float(np.finfo(np.float32).eps)}


@dataclass(frozen=True)
class Tolerance:
    rel: float                  # allowed |actual - expected| relative to the scale
    extra_abs: float = 0.0      # absolute slack added on top (say why in `why`)
    scale: float | None = None  # fixed scale; None: largest |expected| entry of each tensor
    why: str = ""
    magnitude: np.ndarray | None = None   # per entry: the scale is at least this (see model.error_magnitudes)

    def describe(self, scale: float) -> str:
        what = "the scale" if self.scale is not None else "max|expected|"
        if self.magnitude is not None:
            what += " or the entry's sum of |terms|, whichever is larger,"
        text = f"{self.rel:.2g} relative to {what} = {scale:.3g}"
        if self.extra_abs:
            text += f" + {self.extra_abs:.2g} absolute"
        return text + (f" ({self.why})" if self.why else "")


def default_tolerance(dtype: str) -> Tolerance:
    return Tolerance(RTOL[dtype])


def gradient_tolerance(spec: Spec, base: Tolerance, mags: dict, *runs: Run, directional_sizes: dict | None = None) -> dict:
    """Per-parameter tolerance for gradients, scaled entry by entry by at least the sum of the
    absolute terms of that entry (`mags`), so cancellation does not make round-off look like a
    bug. A gradient recovered as (before - after) / lr carries the round-off of the update,
    about eps * |p| / lr per entry: add that much."""
    eps = float(np.finfo(spec.dtype).eps)
    tol = {}
    for name in runs[0].loaded:
        extra = sum(r.updates_summed * eps * float(np.max(np.abs(r.loaded[name]))) / spec.lr
                    for r in runs if r.grads_from_update)
        if directional_sizes:               # <e, u> for unit u is at most ||e||_2 <= sqrt(n) max|e|
            extra *= np.sqrt(directional_sizes[name])
        tol[name] = Tolerance(base.rel, base.extra_abs + extra, base.scale,
                              "+ round-off of a gradient recovered from an update" if extra else base.why,
                              None if directional_sizes else mags[name])
    return tol


def step_tolerance(spec: Spec, base: Tolerance, mags: dict, ra: Run) -> dict:
    """The parameters after `steps` optimizer steps. Each step rounds p relative to its
    operands (max|p| + lr*max|g|, not the result, which may cancel), and carries the gradient's
    own allowance dg (base.rel * its sum of |terms|) through the optimizer's sensitivity to it:
    lr*dg per SGD step, up to 1/(1 - momentum) times that with momentum (twice for Nesterov), and
    for Adam lr * min(2, 2*dg/(|g| + eps)), since m/sqrt(v) turns a gradient that is only
    round-off into a step of up to lr (error propagation, not a fudge factor)."""
    k, lr = spec.steps, spec.lr
    out = {}
    for name, p in ra.loaded.items():
        g = np.abs(np.asarray(ra.grads[name], np.float64))
        g_max = float(np.max(g, initial=0.0))
        dg = base.rel * np.maximum(np.maximum(g_max, mags[name]), 0.0)
        if spec.optimizer == "sgd":
            through = k * lr * dg
        elif spec.optimizer in ("momentum", "nesterov"):
            through = k * lr * dg * min(k, 1 / (1 - optim.MOMENTUM)) * (2 if spec.optimizer == "nesterov" else 1)
        else:
            through = k * lr * np.minimum(2.0, 2 * dg / (g + optim.EPS))
        scale = k * (float(np.max(np.abs(p))) + lr * max(g_max, float(np.max(mags[name]))))
        why = "scale: max|p| + lr*max|g|" + (f", x{k} steps" if k > 1 else "") + \
              ("" if spec.optimizer == "sgd" else f", + gradient allowance through {spec.optimizer}")
        out[name] = Tolerance(base.rel, base.extra_abs, scale, why,
                              None if spec.optimizer == "sgd" and k == 1 else scale + through / base.rel)
    return out
