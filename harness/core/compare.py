"""The one comparison. Structure first (names, shapes, dtypes), then values; every mismatch of a
comparison is collected, and all of them print in one format, for the CLI, pytest and grading:

    relu_mse float64 seed 0 | gradients | numpy vs torch | W1 (784, 100)
      Mismatched elements: 3 / 78400 (0.0%)
      Greatest absolute difference: 1.2e-03 at index (5, 7) (up to 1.1e-16 allowed)
      Greatest relative difference: 1.0e+00 at index (5, 7)
      Tolerance: 7.1e-15 relative to max|expected| = 0.0155

Values are compared against an absolute allowance scaled by the magnitude of the expected
tensor (its largest entry), so a tolerance means the same thing for a loss of 1e3 and a
gradient of 1e-4. Non-finite entries are compared by position and kind, separately.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .run import STAGES, Run
from .spec import Spec
from .tolerance import Tolerance, gradient_tolerance, step_tolerance


@dataclass(frozen=True)
class Context:
    spec: str
    dtype: str
    seed: int
    stage: str
    expected: str   # name of the party taken as expected (a backend, or "fd")
    actual: str

    def head(self) -> str:
        return f"{self.spec} {self.dtype} seed {self.seed} | {self.stage} | {self.expected} vs {self.actual}"


@dataclass(frozen=True)
class Mismatch:
    context: Context
    name: str                        # parameter or quantity: W1, b2, output, loss
    kind: str                        # missing | unexpected | shape | dtype | nonfinite | values
    detail: str = ""
    shape: tuple = ()
    n_bad: int = 0
    n_total: int = 0
    max_abs: float = 0.0
    max_abs_index: tuple = ()
    max_rel: float = 0.0
    max_rel_index: tuple = ()
    allowed: float = 0.0
    tolerance: str = ""

    def message(self) -> str:
        head = f"{self.context.head()} | {self.name}" + (f" {self.shape}" if self.shape else "")
        if self.kind != "values":
            return f"{head}\n  {self.detail}"
        pct = 100.0 * self.n_bad / max(self.n_total, 1)
        return (f"{head}\n"
                f"  Mismatched elements: {self.n_bad} / {self.n_total} ({pct:.1f}%)\n"
                f"  Greatest absolute difference: {self.max_abs:.3g} at index {self.max_abs_index} "
                f"(up to {self.allowed:.3g} allowed)\n"
                f"  Greatest relative difference: {self.max_rel:.3g} at index {self.max_rel_index}\n"
                f"  Tolerance: {self.tolerance}")


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing two maps of arrays: worst error and tolerance, both normalized."""
    context: Context
    worst: float                         # max over tensors of max|a - e| / scale
    allowed: float                       # the normalized allowance at that worst tensor
    mismatches: tuple[Mismatch, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _index(flat_index: int, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


def compare(expected: dict, actual: dict, context: Context, tol: Tolerance | dict,
            check_dtype: str | None = None) -> Comparison:
    """Compare two {name: array} maps. `tol` may be one Tolerance or one per name."""
    found: list[Mismatch] = []
    worst, worst_allowed = 0.0, 0.0
    for name in [n for n in expected if n not in actual]:
        found.append(Mismatch(context, name, "missing", f"{context.actual} has no {name!r}"))
    for name in [n for n in actual if n not in expected]:
        found.append(Mismatch(context, name, "unexpected", f"{context.actual} has {name!r}, which {context.expected} lacks"))
    for name in [n for n in expected if n in actual]:
        e, a = np.asarray(expected[name]), np.asarray(actual[name])
        t = tol[name] if isinstance(tol, dict) else tol
        if e.shape != a.shape:
            hint = " (transposed?)" if e.ndim == 2 and a.shape == e.shape[::-1] else ""
            found.append(Mismatch(context, name, "shape", f"shape {a.shape}, expected {e.shape}{hint}", e.shape))
            continue
        if check_dtype and a.dtype != np.dtype(check_dtype):
            found.append(Mismatch(context, name, "dtype", f"dtype {a.dtype}, expected {check_dtype}", e.shape))
        m, w, allowed_norm = _compare_values(e.astype(np.float64), a.astype(np.float64), name, context, t)
        found.extend(m)
        if w >= worst:
            worst, worst_allowed = w, allowed_norm
    return Comparison(context, worst, worst_allowed, tuple(found))


def _compare_values(e, a, name, context, t: Tolerance):
    found = []
    fin_e, fin_a = np.isfinite(e), np.isfinite(a)
    same_nonfinite = (~fin_e & ~fin_a) & ((np.isnan(e) & np.isnan(a)) | (e == a))
    bad_nonfinite = (~fin_e | ~fin_a) & ~same_nonfinite
    if bad_nonfinite.any():
        first = _index(int(np.flatnonzero(bad_nonfinite)[0]), e.shape)
        found.append(Mismatch(context, name, "nonfinite",
                              f"non-finite values differ at {int(bad_nonfinite.sum())} / {e.size} positions, "
                              f"first at index {first}: expected {e[first] if e.ndim else e}, "
                              f"got {a[first] if a.ndim else a}",
                              e.shape))
    both = fin_e & fin_a
    ee, aa = np.where(both, e, 0.0), np.where(both, a, 0.0)
    scale = t.scale if t.scale is not None else (float(np.max(np.abs(ee))) if ee.size else 0.0)
    scale = scale if scale > 0 else 1.0
    scales = np.maximum(scale, t.magnitude) if t.magnitude is not None and t.magnitude.shape == e.shape \
        else np.full(e.shape, scale)
    allowed = t.rel * scales + t.extra_abs
    diff = np.abs(aa - ee)
    worst = float(np.max(diff / scales)) if diff.size else 0.0
    bad = diff > allowed
    if bad.any():
        i_abs = int(np.argmax(np.where(bad, diff, -1.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff > 0, diff / np.abs(ee), 0.0)
        i_rel = int(np.argmax(rel))
        found.append(Mismatch(context, name, "values", shape=e.shape, n_bad=int(bad.sum()), n_total=e.size,
                              max_abs=float(diff.flat[i_abs]), max_abs_index=_index(i_abs, e.shape),
                              max_rel=float(rel.flat[i_rel]), max_rel_index=_index(i_rel, e.shape),
                              allowed=float(allowed.flat[i_abs]), tolerance=t.describe(float(scales.flat[i_abs]))))
    return found, worst, t.rel + t.extra_abs / scale


def compare_runs(spec: Spec, a: str, ra: Run, b: str, rb: Run, tol: Tolerance, mags: dict,
                 stages=STAGES) -> dict[str, Comparison]:
    """Each stage of two runs; a run with a step per convention (the numpy reference) is
    compared in the other run's convention."""
    out = {}
    for stage in stages:
        ctx = Context(spec.name, spec.dtype, spec.seed, stage, a, b)
        stage_tol = {
            "forward": lambda: Tolerance(tol.rel, tol.extra_abs + mags.get("underflow", 0.0), magnitude=mags["output"]),
            "loss": lambda: Tolerance(tol.rel, tol.extra_abs, mags["loss"],
                                      "scale: |loss| + its sensitivity to output round-off"),
            "gradients": lambda: gradient_tolerance(spec, tol, mags, ra, rb),
            "step": lambda: step_tolerance(spec, tol, mags, ra, rb)}[stage]()
        # The 0-d loss is compared by value only: numpy 1.x promotes float32 * a Python float scalar
        # to float64 (numpy 2 does not), which says nothing about the net.
        out[stage] = compare(ra.stage(stage, rb.convention), rb.stage(stage, ra.convention), ctx, stage_tol,
                             check_dtype=None if stage == "loss" else spec.dtype)
    return out
