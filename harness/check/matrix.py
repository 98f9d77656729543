"""The check matrix: for each spec and dtype, load the same canonical weights into every backend,
run one batch, and compare forward output, loss, every gradient and the spec's optimizer steps
between every pair of backends, and each backend's gradients against finite differences. What a
comparison's result means (accepted, blind, a convention gap, inconclusive) is decided by ordered
tables of rules, PAIR_RULES and FD_RULES.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
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
class BackendResult:
    """One backend on one spec: a Run, or why there is none."""
    run: Run | None = None
    status: Status = Status.PASS    # PASS (ran) | SKIP (unavailable) | ERROR (crashed or bad load)
    reason: str = ""
    mismatches: tuple[Mismatch, ...] = ()


def run_backend(name: str, spec: Spec, params, X, T, runner=None) -> BackendResult:
    """Run one backend and verify its loaded weights equal the canonical ones, exactly."""
    try:
        run = (runner or backend_registry.load(name).run)(spec, params, X, T)
    except backend_registry.BackendUnavailable as exc:
        return BackendResult(status=Status.SKIP, reason=str(exc))
    except Exception as exc:  # the code under test crashed: report it, keep going
        # a runner for a file (harness check FILE) names it, so that a failure in the harness's
        # own code is said to be the harness's, not the file's
        p = describe(exc, getattr(runner, "submission", None))
        if p.kind is Verdict.GRADER:
            return BackendResult(status=Status.ERROR, reason=p.message)
        return BackendResult(status=Status.ERROR,
                             reason=f"{name} raised {p.message}" + (f" (at {p.where})" if p.where else ""))
    computed = run.computed_dtype()
    if spec.dtype == "float64" and computed != "float64":
        fix = backend_registry.BACKENDS[name].float64_fix if name in backend_registry.BACKENDS else "use float32"
        return BackendResult(status=Status.SKIP, reason=f"{name} cannot run float64 here: {fix} (it returned {computed})")
    load = compare(params, run.loaded, Context(spec.name, spec.dtype, spec.seed, "load", "canonical", name),
                   Tolerance(0.0, why="weights read back must equal the canonical ones exactly"))
    if not load.passed:
        return BackendResult(run, Status.ERROR, f"{name}: layout error - the weights read back after loading differ "
                                                f"from the canonical weights", load.mismatches)
    return BackendResult(run)


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


def _with_log_eps(s: _SpecSetting, comps: dict, a: tuple, b: tuple):
    """The loss stage again, the framework's loss replaced by the loss written with log(p + eps) in
    float64: where the code under test matches that form, its loss passes, with a note."""
    (fw_name, fw_run), (code_name, code_run) = (a, b) if b[0] in s.runners else (b, a)
    variant = net.loss_with_log_eps(s.spec, fw_run.loaded, s.X, s.T, s.log_eps)
    loss = compare_runs(s.spec, fw_name, dataclasses.replace(fw_run, loss=np.asarray(variant)), code_name, code_run,
                        s.tol, s.mags, stages=("loss",))["loss"]
    if not loss.passed:
        return comps, []
    exact = net.loss_with_log_eps(s.spec, fw_run.loaded, s.X, s.T, 0.0)
    effect = abs(variant - exact) / max(abs(exact), 1e-300)
    return dict(comps, loss=loss), [f"{code_name}: the loss is written with log(p + {s.log_eps:g}), which this "
                                    f"assignment accepts (it moves the loss by {effect:.2g} relative)"]


@dataclass(frozen=True)
class _SpecSetting:
    """What every row of one spec shares: its weights, batch, error magnitudes and tolerance, the
    code under test, and why some stages cannot be compared at all ("" where they can)."""
    spec: Spec
    params: dict
    X: np.ndarray
    T: np.ndarray
    mags: dict
    tol: Tolerance
    runners: dict               # code under test by name
    log_eps: float
    saturated: str              # saturated_probabilities: loss, gradients and step cannot be compared
    overflows: str              # steps_overflow: the steps cannot be compared


@dataclass
class _Judged:
    """One row while its rules apply: the cells, the comparisons whose mismatches it reports, its
    notes; `unresolved`: for a finite-difference row, why they cannot resolve some gradients, and which."""
    cells: dict
    comps: dict
    notes: list
    unresolved: tuple[str, set] = ("", set())

    def row(self, spec: Spec, expected: str, actual: str) -> Row:
        return Row(spec, expected, actual, self.cells, tuple(m for c in self.comps.values() for m in c.mismatches),
                   tuple(self.notes))


def _inconclusive(judged: _Judged, stages, why: str) -> None:
    judged.cells.update({stage: Cell(Status.INCONCLUSIVE, reason=why) for stage in stages})


def _accept_log_eps(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """The loss of code under test written with log(p + eps), where the assignment accepts that
    form (log_eps) and a framework's loss differs from it: compared against that form instead."""
    (a, _), (b, _) = runs
    if s.log_eps and not judged.comps["loss"].passed and (a in s.runners) != (b in s.runners):
        judged.comps, accepted = _with_log_eps(s, judged.comps, *runs)
        judged.cells["loss"] = _cell(judged.comps["loss"])
        judged.notes += accepted


def _pass_in_blind_spot(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """A PASS where it would mean nothing (blind_spots) is INCONCLUSIVE, with why."""
    for stage, why in blind_spots(s.spec, s.params, s.mags, *(run for _, run in runs)).items():
        if judged.cells[stage].status is Status.PASS:
            _inconclusive(judged, (stage,), why)


def _step_convention_gap(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """Steps that differ where the two frameworks' optimizer conventions differ: a GAP by design,
    not a bug; its size is reported."""
    gap = convention_gap(s.spec.optimizer, *(run for _, run in runs))
    if gap and not judged.comps["step"].passed:
        c = judged.comps.pop("step")
        judged.cells["step"] = Cell(Status.GAP, c.worst, c.allowed, gap)
        judged.notes.append(f"step differs by {c.worst:.2g} (relative to the scale): {gap}")


def _step_overflow(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """A failed step on a trajectory that leaves the dtype's range (steps_overflow) is INCONCLUSIVE."""
    if s.overflows and judged.cells["step"].status is Status.FAIL:
        _inconclusive(judged, ("step",), s.overflows)
        judged.comps.pop("step")


def _saturated(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """Saturated output probabilities (saturated_probabilities): every stage after the forward
    output that the row compares is INCONCLUSIVE, and reports no mismatch."""
    if s.saturated:
        _inconclusive(judged, [st for st in ("loss", "gradients", "step") if judged.cells[st].status is not Status.NA],
                      s.saturated)
        judged.comps = {k: v for k, v in judged.comps.items() if k == "forward"}


def _fd_blind(s: _SpecSetting, runs: tuple, judged: _Judged) -> None:
    """Gradients the finite differences (or the update they are recovered from) cannot resolve:
    a pass, or a failure only in those, is INCONCLUSIVE; a clear failure stays FAIL. The reason is
    noted either way."""
    (_, run), = runs
    fd_blind, blind_names = judged.unresolved
    why = blind_spots(s.spec, s.params, s.mags, run).get("gradients") or fd_blind
    if why and {m.name for m in judged.comps["gradients"].mismatches} <= (blind_names or set(s.params)):
        _inconclusive(judged, ("gradients",), why)
    judged.notes += [why] if why else []


@dataclass(frozen=True)
class RowRule:
    """One step of judging a row once it is compared; a table's rules apply in their order."""
    name: str
    apply: Callable[[_SpecSetting, tuple, _Judged], None]     # (setting, the row's (name, Run)s, the row)


# The order is policy: each rule sees what the rules before it made of the row.
PAIR_RULES = (
    RowRule("log(p + eps) accepted", _accept_log_eps),
    RowRule("blind spot", _pass_in_blind_spot),
    RowRule("convention gap", _step_convention_gap),
    RowRule("steps overflow", _step_overflow),
    RowRule("saturated probabilities", _saturated),
)
FD_RULES = (
    RowRule("finite differences blind", _fd_blind),
    RowRule("saturated probabilities", _saturated),
)


def _judge(s: _SpecSetting, rules, runs: tuple, judged: _Judged) -> _Judged:
    for rule in rules:
        rule.apply(s, runs, judged)
    return judged


def _not_run_row(spec: Spec, a: str, b: str, bad: list[BackendResult]) -> Row:
    """A pair where either backend did not run: ERROR if one crashed, else SKIP, with why."""
    status = Status.ERROR if any(o.status is Status.ERROR for o in bad) else Status.SKIP
    reason = "; ".join(o.reason for o in bad)
    return Row(spec, a, b, {s: Cell(status, reason=reason) for s in STAGES},
               tuple(m for o in bad for m in o.mismatches), (reason,))


def _pair_row(s: _SpecSetting, a: str, oa: BackendResult, b: str, ob: BackendResult) -> Row:
    bad = [o for o in (oa, ob) if o.status is not Status.PASS]
    if bad:
        return _not_run_row(s.spec, a, b, bad)
    comps = compare_runs(s.spec, a, oa.run, b, ob.run, s.tol, s.mags)
    notes = [f"{n}: {note}" for n, o in ((a, oa), (b, ob)) for note in o.run.notes]
    judged = _Judged({st: _cell(c) for st, c in comps.items()}, comps, notes)
    return _judge(s, PAIR_RULES, ((a, oa.run), (b, ob.run)), judged).row(s.spec, a, b)


def _fd_row(s: _SpecSetting, n: str, o: BackendResult) -> Row:
    blank = {st: Cell(Status.NA) for st in STAGES}
    if o.status is not Status.PASS:
        return Row(s.spec, FD, n, dict(blank, gradients=Cell(o.status, reason=o.reason)), o.mismatches, (o.reason,))
    c, unresolved = compare_fd(s.spec, n, o.run, s.params, s.X, s.T, s.tol, s.mags)
    judged = _Judged(dict(blank, gradients=_cell(c)), {"gradients": c}, [f"{n}: {note}" for note in o.run.notes],
                     unresolved)
    return _judge(s, FD_RULES, ((n, o.run),), judged).row(s.spec, FD, n)


def check_spec(spec: Spec, backend_names, tol: Tolerance | None = None, fd: bool = True, runners=None,
               log_eps: float = 0.0) -> list[Row]:
    """All rows for one spec (at one dtype): every backend pair, then each backend against fd,
    each judged by its table of rules (PAIR_RULES, FD_RULES). `runners`: code under test by name
    (instead of a registered backend); log_eps: its loss may be written with log(p + log_eps), as
    an assignment accepts (said in a note)."""
    params = init_params(spec)
    X, T = make_batch(spec)
    mags = net.error_magnitudes(spec, params, X, T)
    if spec.steps > 1:
        mags["trajectory"] = net.trajectory(spec, params, X, T)
    runners = runners or {}
    results = {n: run_backend(n, spec, params, X, T, runners.get(n)) for n in backend_names}
    s = _SpecSetting(spec, params, X, T, mags, tol or default_tolerance(spec.dtype), runners, log_eps,
                     saturated_probabilities(spec, params, X), steps_overflow(spec, mags))
    rows = [_pair_row(s, a, results[a], b, results[b]) for a, b in itertools.combinations(backend_names, 2)]
    return rows + ([_fd_row(s, n, results[n]) for n in backend_names] if fd else [])
