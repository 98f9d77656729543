"""Check one's own numpy net against the frameworks: `assert_backprop`, for tests and notebooks.

    from harness.assertion import assert_backprop
    assert_backprop("my_net.py", style="relu_mse")                # code written in a known style
    assert_backprop("my_net.py", assignment="cs231n_two_layer")   # ... or as an assignment calls it
    assert_backprop(my_adapter, spec="xor", against=("torch",))   # any code, described by an Adapter

The code runs through the same adapter path as the reference nets and is compared with each
framework (and finite differences) by the one comparison; a failure raises AssertionError
carrying every mismatch in the one message format, with the seed.
"""
from __future__ import annotations

import dataclasses

from .check.matrix import FD, CheckSettings, Report, Status, check_spec
from .check.report import details
from .core.spec import get_spec
from .core.tolerance import Tolerance, default_tolerance
from .drive.adapter import Adapter
from .drive.assignment import builtin_names, reference_adapter
from .drive.derive import run_adapter

SUBJECT = "yours"


class BackendsUnavailable(Exception):
    """Nothing could be compared: every framework asked for is missing."""


def resolve_adapter(code: Adapter | str, style: str | None) -> Adapter:
    if isinstance(code, Adapter):
        return code
    if style is None:
        raise ValueError("give style= (one of: " + ", ".join(builtin_names()) + ") or an Adapter")
    if style not in builtin_names():
        raise ValueError(f"unknown style {style!r}; valid styles: {', '.join(builtin_names())}")
    return dataclasses.replace(reference_adapter(style), module=str(code))


def check_code(code: Adapter | str, spec: str | None = None, style: str | None = None,
               against=("torch", "keras"), dtype: str = "float64", seed: int = 0, fd: bool = True,
               rtol: float | None = None, assignment: str | None = None, **overrides) -> Report:
    """Rows comparing the code with each backend in `against`, and with finite differences. With
    `assignment` (a built-in name or a .toml path; a .toml given as style= counts too), the file is
    called as that assignment describes, on each of its visible cases (their own sizes and dtypes)."""
    if assignment is None and style is not None and style.endswith(".toml"):
        assignment, style = style, None
    if assignment is not None:
        return _check_assignment(code, assignment, spec, style, against, fd, rtol, overrides)
    adapter = resolve_adapter(code, style)
    base = get_spec(spec or style or adapter.name)
    s = base.replace(dtype=dtype, seed=seed, **overrides)
    runners = {SUBJECT: lambda sp, p, X, T: run_adapter(adapter, sp, p, X, T, backend=SUBJECT)}
    tol = Tolerance(rtol) if rtol else default_tolerance(s.dtype)
    rows = check_spec(s, [*against, SUBJECT], tol, fd=fd, runners=runners)
    settings = CheckSettings((*against, SUBJECT), (s.dtype,), seed, (s.name,), s.optimizer, s.steps, s.batch, s.lr, rtol,
                             command="assert_backprop")
    return Report(tuple(r for r in rows if r.actual == SUBJECT), settings)


def _check_assignment(code, assignment: str, spec, style, against, fd, rtol, overrides) -> Report:
    from .check.submission import check_submission
    from .drive.assignment import load
    if not isinstance(code, str) or spec or style or overrides:
        raise ValueError("with assignment=, give the code as a file path and no spec, style or overrides "
                         "(the assignment's cases set them)")
    loaded = load(assignment)
    if not loaded.checkable:
        raise ValueError(f"{loaded.name} checks single layers: use assert_graded (or harness grade)")
    return check_submission(code, loaded, tuple(against), fd=fd, rtol=rtol)


def assert_backprop(code: Adapter | str, spec: str | None = None, style: str | None = None,
                    against=("torch", "keras"), dtype: str = "float64", seed: int = 0, fd: bool = True,
                    rtol: float | None = None, assignment: str | None = None, **overrides) -> Report:
    """Raise AssertionError (every mismatch, one format) unless the code matches; return the report.
    Raises BackendsUnavailable when no framework in `against` could run (nothing was compared)."""
    __tracebackhide__ = True
    report = check_code(code, spec, style, against, dtype, seed, fd, rtol, assignment, **overrides)
    if report.failed:   # finite differences alone can prove a bug, even with no framework
        raise AssertionError(f"backprop check failed (seed {seed}; re-run with the same seed to reproduce)\n"
                             + details(report))
    if not any(r.expected != FD and r.status is Status.PASS for r in report.rows):
        raise BackendsUnavailable(details(report) or "no framework was asked for")
    return report


def assert_graded(submission: str, assignment: str, min_score: float | None = None, **grade_kwargs):
    """Grade `submission` (sandboxed, like `harness grade`) against an assignment (a built-in
    name or a .toml path); raise AssertionError with the full report unless it passed (or, with
    min_score, scored at least that). Returns the Graded result."""
    __tracebackhide__ = True
    from .drive.assignment import load
    from .grade.batch import grade
    from .grade.report import render
    g = grade(str(submission), load(str(assignment)), **grade_kwargs)
    ok = g.passed if min_score is None else g.score >= min_score
    if not ok:
        raise AssertionError(render(g))
    return g
