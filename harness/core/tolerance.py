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
# docs/tolerances.md): worst over all specs, default and small sizes, 10 seeds, every pair and
# stage was 10.2 eps (2.3e-15) in float64 and 6.2 eps (7.4e-7) in float32, relative to the
# largest entry. The defaults are 32 eps: about 3x (float64) and 5x (float32) that worst case.
RTOL = {"float64": 32 * float(np.finfo(np.float64).eps), "float32": 32 * float(np.finfo(np.float32).eps)}


@dataclass(frozen=True)
class Tolerance:
    rel: float                  # allowed |actual - expected| relative to the scale
    extra_abs: float = 0.0      # absolute slack added on top (say why in `why`)
    scale: float | None = None  # fixed scale; None: largest |expected| entry of each tensor
    why: str = ""
    magnitude: np.ndarray | None = None   # per entry: the scale is at least this (see harness.core.net.error_magnitudes)

    def describe(self, scale: float) -> str:
        what = "the scale" if self.scale is not None else "max|expected|"
        if self.magnitude is not None:
            what += " or the entry's sum of |terms|, whichever is larger,"
        text = f"{self.rel:.2g} relative to {what} = {scale:.3g}"
        if self.extra_abs > 1e-3 * self.rel * scale:       # an absolute part too small to matter is not shown
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
        floor = mags.get("underflow", 0.0)
        matters = floor > 0.01 * base.rel * float(np.max(mags[name], initial=0.0))   # said only where it counts
        why = "; ".join(w for w in (base.why, "+ round-off of a gradient recovered from an update" if extra else "",
                                    f"+ {floor:.2g} for values below {spec.dtype}'s range" if matters else "") if w)
        tol[name] = Tolerance(base.rel, base.extra_abs + extra + floor, base.scale, why,
                              None if directional_sizes else mags[name])
    return tol


def step_tolerance(spec: Spec, base: Tolerance, mags: dict, *runs: Run) -> dict:
    """The parameters after `steps` optimizer steps. Each step rounds p relative to its
    operands (max|p_t| + lr*max|g_t|, not the result, which may cancel), and carries the
    gradient's own allowance dg_t (base.rel times its sum of |terms|, plus the round-off of a
    gradient recovered from an update, eps*|p|/lr) through the optimizer's sensitivity to it:
    lr*dg_t per SGD step, up to 1/(1 - momentum) times that with momentum (twice for Nesterov),
    and for Adam lr * min(2, 2*dg_t/(|g_t| + eps)), since m/sqrt(v) turns a gradient that is only
    round-off into a step of up to lr. Over K steps (mags["trajectory"], the spec's own steps in
    float64) every term is taken at the magnitudes step t really has: parameters that grow or
    shrink by orders of magnitude carry their round-off with them; and a trajectory that
    magnifies differences (a seeded perturbation of p_0 grows A-fold: an unstable, too large lr)
    magnifies round-off as much, so the sum is multiplied by A (error propagation, not a fudge
    factor)."""
    k, lr = spec.steps, spec.lr
    eps = float(np.finfo(spec.dtype).eps)
    traj = mags.get("trajectory") or {"steps": [{n: (np.abs(np.asarray(p, np.float64)),
                                                    np.abs(np.asarray(runs[0].grads[n], np.float64)), mags[n])
                                                for n, p in runs[0].loaded.items()}], "amplification": 1.0}
    steps, amplification = traj["steps"], max(1.0, traj["amplification"])
    out = {}
    for name in runs[0].loaded:
        recovered = sum(r.updates_summed * eps / lr for r in runs if r.grads_from_update)   # times |p_t|
        scale, through = 0.0, 0.0
        for step in steps:
            p_abs, g_abs, g_terms = step[name]
            g_max = float(np.max(g_abs, initial=0.0))
            dg = base.rel * np.maximum(g_max, g_terms) + recovered * float(np.max(p_abs, initial=0.0))
            if spec.optimizer == "sgd":
                through = through + lr * dg
            elif spec.optimizer in ("momentum", "nesterov"):
                through = through + lr * dg * min(k, 1 / (1 - optim.MOMENTUM)) * (2 if spec.optimizer == "nesterov" else 1)
            else:
                through = through + lr * np.minimum(2.0, 2 * dg / (g_abs + optim.EPS))
            scale += float(np.max(p_abs, initial=0.0)) + lr * max(g_max, float(np.max(g_terms, initial=0.0)))
        scale, through = scale * amplification, through * amplification
        why = "scale: max|p| + lr*max|g|" + (f", summed over the {k} steps' own magnitudes" if k > 1 else "") + \
              (f", x{amplification:.3g}: the steps magnify differences that much" if amplification > 1 else "") + \
              ("" if spec.optimizer == "sgd" else f", + gradient allowance through {spec.optimizer}")
        plain = spec.optimizer == "sgd" and k == 1 and not recovered
        out[name] = Tolerance(base.rel, base.extra_abs, scale, why, None if plain else scale + through / base.rel)
    return out


BLIND_FRACTION = 0.1     # an allowance above this part of the quantity's own scale tells nothing


def recovery_blindness(spec: Spec, params, mags: dict, updates_summed: int = 1) -> float:
    """How large the round-off of gradients recovered from an update, eps * max|p| / lr per
    entry (times the updates summed), is against the gradients' own size (their sum of |terms|),
    at the worst parameter. Above BLIND_FRACTION a comparison cannot tell right from wrong."""
    eps = float(np.finfo(spec.dtype).eps)
    worst = 0.0
    for name, p in params.items():
        scale = float(np.max(mags[name], initial=0.0))
        extra = updates_summed * eps * float(np.max(np.abs(p), initial=0.0)) / spec.lr
        worst = max(worst, extra / scale) if scale > 0 else worst
    return worst


def underflow_blindness(spec: Spec, params, mags: dict) -> str:
    """Why gradients cannot be compared, or "": values that underflow (mags["underflow"]) can move
    an entry by more than BLIND_FRACTION of the largest gradient's own size (saturated units whose
    slopes are below the dtype's range)."""
    floor = mags.get("underflow", 0.0)
    scale = max(float(np.max(mags[name], initial=0.0)) for name in params)
    if floor <= BLIND_FRACTION * scale:
        return ""
    return (f"the gradients are within what underflow in {spec.dtype} can change (|terms| up to {scale:.2g}, underflow "
            f"error up to {floor:.2g}): saturated units; use smaller weights")


def blindness_reason(spec: Spec, worst: float) -> str:
    return (f"lr {spec.lr:g} too small to recover gradients from updates in {spec.dtype}: their round-off "
            f"(eps * max|p| / lr) is {worst:.2g} of the gradient's size; use lr >= {spec.lr * worst / BLIND_FRACTION:.2g}")
