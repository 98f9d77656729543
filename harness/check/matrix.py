"""The check matrix: for each spec and dtype, load the same canonical weights into every backend,
run one batch, and compare forward output, loss, every gradient and one SGD step between every
pair of backends, and each backend's gradients against finite differences.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from enum import Enum

import numpy as np

from .. import backends as backend_registry
from ..core import net
from ..core.compare import Comparison, Context, Mismatch, compare, compare_runs
from ..core.optim import convention_gap
from ..core.params import init_params, make_batch
from ..core.run import STAGES, Run
from ..core.spec import Spec
from ..core.tolerance import (
    BLIND_FRACTION,
    Tolerance,
    blindness_reason,
    default_tolerance,
    gradient_tolerance,
    recovery_blindness,
    underflow_blindness,
)
from ..drive.problems import Verdict, describe
from . import gradcheck

FD = "fd"


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    GAP = "GAP"              # a documented convention gap, with its size; not a failure
    SKIP = "SKIP"
    ERROR = "ERROR"
    INCONCLUSIVE = "INCONCLUSIVE"   # the allowance is too large a part of the quantity to tell right from wrong
    NA = ""                  # this stage is not compared in this row

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Cell:
    status: Status
    worst: float = 0.0          # worst error, relative to the scale
    allowed: float = 0.0        # tolerance, relative to the same scale
    reason: str = ""

    def text(self) -> str:
        if self.status in (Status.PASS, Status.FAIL, Status.GAP):
            return f"{self.status.value} {self.worst:.1e}/{self.allowed:.1e}"
        return self.status.value or "-"


@dataclass(frozen=True)
class Row:
    spec: Spec
    expected: str
    actual: str
    cells: dict                                  # stage -> Cell
    mismatches: tuple[Mismatch, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.cells.values()}
        for s in (Status.ERROR, Status.FAIL, Status.INCONCLUSIVE, Status.PASS, Status.GAP, Status.SKIP):
            if s in statuses:
                return s
        return Status.SKIP


@dataclass(frozen=True)
class CheckSettings:
    """What a check ran with, for the report header and the JSON."""
    backends: tuple[str, ...]
    dtypes: tuple[str, ...]
    seed: int = 0
    specs: tuple[str, ...] = ()
    optimizer: str = "sgd"
    steps: int = 1
    batch: int | None = None
    lr: float | None = None
    rtol_override: float | None = None
    command: str = "check"
    environment: dict | None = None     # versions and numeric settings (check.report.environment)


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    settings: CheckSettings

    @property
    def failed(self) -> bool:
        return any(r.status in (Status.FAIL, Status.ERROR) for r in self.rows)

    @property
    def compared(self) -> bool:
        """Something was compared: a row passed, failed or showed a convention gap."""
        return any(r.status in (Status.PASS, Status.FAIL, Status.GAP) for r in self.rows)

    @property
    def inconclusive(self) -> bool:
        return any(r.status is Status.INCONCLUSIVE for r in self.rows)

    @property
    def exit_code(self) -> int:
        """1: a mismatch or an error; 2: nothing was compared (every row skipped, or none), or some
        comparison could not tell right from wrong (INCONCLUSIVE); 0: passed."""
        return 1 if self.failed else 2 if self.inconclusive or not self.compared else 0


@dataclass(frozen=True)
class Outcome:
    """One backend on one spec: a Run, or why there is none."""
    run: Run | None = None
    status: Status = Status.PASS    # PASS (ran) | SKIP (unavailable) | ERROR (crashed or bad load)
    reason: str = ""
    mismatches: tuple[Mismatch, ...] = ()


def run_backend(name: str, spec: Spec, params, X, T, runner=None) -> Outcome:
    """Run one backend and verify its loaded weights equal the canonical ones, exactly."""
    try:
        run = (runner or backend_registry.load(name).run)(spec, params, X, T)
    except backend_registry.BackendUnavailable as exc:
        return Outcome(status=Status.SKIP, reason=str(exc))
    except Exception as exc:  # the code under test crashed: report it, keep going
        # a runner for a file (harness check FILE) names it, so that a failure in the harness's
        # own code is said to be the harness's, not the file's
        p = describe(exc, getattr(runner, "submission", None))
        if p.kind is Verdict.GRADER:
            return Outcome(status=Status.ERROR, reason=p.message)
        return Outcome(status=Status.ERROR, reason=f"{name} raised {p.message}" + (f" (at {p.where})" if p.where else ""))
    computed = run.computed_dtype()
    if spec.dtype == "float64" and computed != "float64":
        fix = backend_registry.BACKENDS[name].float64_fix if name in backend_registry.BACKENDS else "use float32"
        return Outcome(status=Status.SKIP, reason=f"{name} cannot run float64 here: {fix} (it returned {computed})")
    load = compare(params, run.loaded, Context(spec.name, spec.dtype, spec.seed, "load", "canonical", name),
                   Tolerance(0.0, why="weights read back must equal the canonical ones exactly"))
    if not load.passed:
        return Outcome(run, Status.ERROR, f"{name}: layout error - the weights read back after loading differ "
                                     f"from the canonical weights", load.mismatches)
    return Outcome(run)


def compare_fd(spec: Spec, name: str, run: Run, params, X, T, tol: Tolerance, mags: dict) \
        -> tuple[Comparison, tuple[str, set]]:
    """Finite differences against a run's gradients; and why they cannot tell (their own
    round-off and truncation above BLIND_FRACTION of a gradient's scale) and for which
    parameters, or ("", set())."""
    fd = gradcheck.check(spec, params, X, T, run.grads, seed=spec.seed)
    base = Tolerance(max(tol.rel, gradcheck.FD_RTOL), tol.extra_abs)
    sizes = {k: np.size(v) for k, v in params.items()} if fd.mode == "directional" else None
    per_param = gradient_tolerance(spec, base, mags, run, directional_sizes=sizes)
    # directional: |<e, u>| <= ||e||_2, so the scale is at least the norm of the |terms| sums
    scales = {k: max(fd.scales[k], float(np.linalg.norm(mags[k]))) if sizes else fd.scales[k] for k in per_param}
    per_param = {k: Tolerance(t.rel, t.extra_abs + fd.noise[k], scales[k],
                              f"{fd.mode} finite differences" + (f"; {t.why}" if t.why else ""), t.magnitude)
                 for k, t in per_param.items()}
    ctx = Context(spec.name, spec.dtype, spec.seed, f"gradients ({fd.mode} fd)", FD, name)
    size = {k: max(scales[k], float(np.max(mags[k], initial=0.0))) for k in fd.noise}
    blind = [k for k in fd.noise if size[k] > 0 and fd.noise[k] > BLIND_FRACTION * size[k]]   # a zero gradient is seen
    why = (f"finite differences cannot resolve {', '.join(blind)} here: their truncation and round-off exceed "
           f"{BLIND_FRACTION:g} of the gradient (the loss curves too sharply: saturated units?)") if blind else ""
    return compare(fd.expected, fd.actual, ctx, per_param), (why, set(blind))


PROBABILITY_CLIP = 1e-7     # Keras clips probabilities to [1e-7, 1 - 1e-7] in its losses on them


def saturated_probabilities(spec: Spec, params, X) -> str:
    """Why a loss on probabilities (binary cross-entropy after a sigmoid, cross-entropy after a
    softmax) cannot be compared here, or "": some output probability lies within 1e-7 of 0 or 1,
    where the frameworks clip it by their own conventions (Keras to [1e-7, 1 - 1e-7], torch's
    BCE clamps each log at -100), so loss, gradients and steps differ by design."""
    if spec.loss_record.pairs_with not in ("sigmoid", "softmax"):
        return ""
    with np.errstate(over="ignore", under="ignore"):
        p = net.forward(spec, {k: np.asarray(v, np.float64) for k, v in params.items()}, np.asarray(X, np.float64))
    near = float(np.min(np.minimum(p, 1 - p)))
    if near >= PROBABILITY_CLIP:
        return ""
    return (f"output probabilities saturate (one is {near:.2g} from 0 or 1): the frameworks clip probabilities within "
            f"{PROBABILITY_CLIP:g} of 0 or 1 by their own conventions, so loss, gradients and step cannot be compared; "
            "use smaller weights")


def steps_overflow(spec: Spec, mags: dict) -> str:
    """Why the steps cannot be compared, or "": the spec's own trajectory leaves the dtype's range
    (a too large lr diverges), so where frameworks reach inf or NaN is arbitrary."""
    traj = mags.get("trajectory")
    top = float(np.finfo(spec.dtype).max)
    if traj is None or traj["largest"] < top / 1e3:
        return ""
    return (f"the steps diverge beyond {spec.dtype}'s range (values reach {traj['largest']:.2g}): where each framework "
            "reaches inf or NaN cannot be compared; use a smaller lr")


def blind_spots(spec: Spec, params, mags: dict, *runs: Run) -> dict[str, str]:
    """Stages a PASS would mean nothing in: gradients recovered from an update at an lr so small
    that the update's round-off swamps them (harness.core.tolerance.recovery_blindness), or
    gradients so small that underflow can change them (underflow_blindness)."""
    worst = sum(recovery_blindness(spec, params, mags, r.updates_summed) for r in runs if r.grads_from_update)
    if worst > BLIND_FRACTION:
        why = blindness_reason(spec, worst)
        return {"gradients": why, "step": why}
    underflow = underflow_blindness(spec, params, mags)
    return {"gradients": underflow} if underflow else {}


def _cell(c: Comparison) -> Cell:
    return Cell(Status.PASS if c.passed else Status.FAIL, c.worst, c.allowed)


def _with_log_eps(spec: Spec, eps: float, comps: dict, a: tuple, b: tuple, runners, tol, mags, X, T):
    """The loss stage again, the framework's loss replaced by the loss written with log(p + eps) in
    float64: where the code under test matches that form, its loss passes, with a note."""
    (fw_name, fw_run), (code_name, code_run) = (a, b) if b[0] in runners else (b, a)
    variant = net.loss_with_log_eps(spec, fw_run.loaded, X, T, eps)
    loss = compare_runs(spec, fw_name, dataclasses.replace(fw_run, loss=np.asarray(variant)), code_name, code_run, tol,
                        mags, stages=("loss",))["loss"]
    if not loss.passed:
        return comps, []
    exact = net.loss_with_log_eps(spec, fw_run.loaded, X, T, 0.0)
    effect = abs(variant - exact) / max(abs(exact), 1e-300)
    return dict(comps, loss=loss), [f"{code_name}: the loss is written with log(p + {eps:g}), which this assignment "
                                    f"accepts (it moves the loss by {effect:.2g} relative)"]


def check_spec(spec: Spec, backend_names, tol: Tolerance | None = None, fd: bool = True, runners=None,
               log_eps: float = 0.0) -> list[Row]:
    """All rows for one spec (at one dtype): every backend pair, then each backend against fd.
    `runners`: code under test by name (instead of a registered backend); log_eps: its loss may be
    written with log(p + log_eps), as an assignment accepts (said in a note)."""
    tol = tol or default_tolerance(spec.dtype)
    params = init_params(spec)
    X, T = make_batch(spec)
    mags = net.error_magnitudes(spec, params, X, T)
    if spec.steps > 1:
        mags["trajectory"] = net.trajectory(spec, params, X, T)
    outcomes = {n: run_backend(n, spec, params, X, T, (runners or {}).get(n)) for n in backend_names}
    saturated = saturated_probabilities(spec, params, X)
    overflows = steps_overflow(spec, mags)
    rows = []
    for a, b in itertools.combinations(backend_names, 2):
        oa, ob = outcomes[a], outcomes[b]
        bad = [o for o in (oa, ob) if o.status is not Status.PASS]
        if bad:
            status = Status.ERROR if any(o.status is Status.ERROR for o in bad) else Status.SKIP
            reason = "; ".join(o.reason for o in bad)
            rows.append(Row(spec, a, b, {s: Cell(status, reason=reason) for s in STAGES},
                            tuple(m for o in bad for m in o.mismatches), (reason,)))
            continue
        comps = compare_runs(spec, a, oa.run, b, ob.run, tol, mags)
        notes = [f"{n}: {note}" for n, o in ((a, oa), (b, ob)) for note in o.run.notes]
        if log_eps and not comps["loss"].passed and (a in (runners or {})) != (b in (runners or {})):
            comps, accepted = _with_log_eps(spec, log_eps, comps, (a, oa.run), (b, ob.run), runners, tol, mags, X, T)
            notes += accepted
        cells = {s: _cell(c) for s, c in comps.items()}
        blind = blind_spots(spec, params, mags, oa.run, ob.run)
        cells.update({stage: Cell(Status.INCONCLUSIVE, reason=why) for stage, why in blind.items()
                      if cells[stage].status is Status.PASS})
        gap = convention_gap(spec.optimizer, oa.run, ob.run)
        if gap and not comps["step"].passed:       # by design, not a bug: report its size
            c = comps["step"]
            cells["step"] = Cell(Status.GAP, c.worst, c.allowed, gap)
            notes.append(f"step differs by {c.worst:.2g} (relative to the scale): {gap}")
            comps = {k: v for k, v in comps.items() if k != "step"}
        if overflows and cells["step"].status is Status.FAIL:
            cells["step"] = Cell(Status.INCONCLUSIVE, reason=overflows)
            comps = {k: v for k, v in comps.items() if k != "step"}
        if saturated:
            cells.update({stage: Cell(Status.INCONCLUSIVE, reason=saturated) for stage in ("loss", "gradients", "step")})
            comps = {k: v for k, v in comps.items() if k == "forward"}
        rows.append(Row(spec, a, b, cells, tuple(m for c in comps.values() for m in c.mismatches), tuple(notes)))
    if fd:
        for n in backend_names:
            o = outcomes[n]
            blank = {s: Cell(Status.NA) for s in STAGES}
            if o.status is not Status.PASS:
                rows.append(Row(spec, FD, n, dict(blank, gradients=Cell(o.status, reason=o.reason)),
                                o.mismatches, (o.reason,)))
                continue
            c, (fd_blind, blind_names) = compare_fd(spec, n, o.run, params, X, T, tol, mags)
            cell = _cell(c)
            why = blind_spots(spec, params, mags, o.run).get("gradients") or fd_blind
            if why and {m.name for m in c.mismatches} <= (blind_names or set(params)):   # a clear failure stays FAIL
                cell = Cell(Status.INCONCLUSIVE, reason=why)
            if saturated:
                cell, c = Cell(Status.INCONCLUSIVE, reason=saturated), dataclasses.replace(c, mismatches=())
            rows.append(Row(spec, FD, n, dict(blank, gradients=cell), c.mismatches,
                            tuple(f"{n}: {note}" for note in o.run.notes) + ((why,) if why else ())))
    return rows
