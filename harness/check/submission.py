"""A student's own file, checked the way an assignment describes it: the file is the numpy party
of the check matrix, compared with every installed framework and with finite differences, on each
of the assignment's visible cases (their sizes, dtypes, learning rates, L2 terms). This is the
self-check: it runs the code in this process, unsandboxed (it is the student's own code);
`harness grade` is the sandboxed, scored version of the same comparison.
"""
from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .. import backends as backend_registry
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.assignment import Assignment
from ..drive.problems import describe
from ..drive.runner import load_module, run_adapter
from .matrix import CheckSettings, Report, Row, check_spec

SUBJECT = "yours"
FRAMEWORKS = ("torch", "keras", "jax")


class SubmissionError(Exception):
    """The file cannot be checked at all (it does not import): one line, the student's to fix."""


def installed_frameworks() -> tuple[str, ...]:
    return tuple(n for n in FRAMEWORKS if not backend_registry.missing_reason(n))


def visible_cases(assignment: Assignment):
    return [c for c in assignment.cases if c.visibility == "visible"]


def iter_submission(path: str | Path, assignment: Assignment, against: tuple[str, ...] | None = None,
                    fd: bool = True, rtol: float | None = None) -> Iterator[tuple[str, list[Row]]]:
    """Each visible case's name and rows, as they are made: the file against each framework in
    `against` (default: every installed one) and against finite differences. Raises
    SubmissionError when the file does not import."""
    path = Path(path)
    against = installed_frameworks() if against is None else tuple(against)
    with _importable(path, assignment) as script:
        try:
            module = load_module(str(script))
        except (Exception, SystemExit) as exc:      # noqa: BLE001 - the student's code: its error, in words
            p = describe(exc, str(script))
            raise SubmissionError(f"{path.name} does not import: {p.message}"
                                  + (f" (at {p.where})" if p.where else "")) from None
        adapter = assignment.adapter_for(str(script))
        for case in visible_cases(assignment):
            spec = case.spec.replace(name=case.name)
            def run(sp, p, X, T):
                return run_adapter(adapter, sp, p, X, T, backend=SUBJECT, module=module)
            run.submission = str(script)
            runners = {SUBJECT: run}
            tol = Tolerance(rtol) if rtol else default_tolerance(spec.dtype)
            yield case.name, [r for r in check_spec(spec, [*against, SUBJECT], tol, fd=fd, runners=runners,
                                                    log_eps=assignment.log_eps) if r.actual == SUBJECT]


def submission_settings(path: str | Path, assignment: Assignment, against: tuple[str, ...],
                        rtol: float | None = None) -> CheckSettings:
    cases = visible_cases(assignment)
    return CheckSettings((*against, SUBJECT), tuple(dict.fromkeys(c.spec.dtype for c in cases)), assignment.spec.seed,
                         tuple(c.name for c in cases), assignment.spec.optimizer, assignment.spec.steps, None, None,
                         rtol, command=f"check {Path(path).name} --assignment {assignment.name}")


def check_submission(path: str | Path, assignment: Assignment, against: tuple[str, ...] | None = None,
                     fd: bool = True, rtol: float | None = None) -> Report:
    """Every row of iter_submission, as one Report."""
    against = installed_frameworks() if against is None else tuple(against)
    rows = [r for _, found in iter_submission(path, assignment, against, fd, rtol) for r in found]
    return Report(tuple(rows), submission_settings(path, assignment, against, rtol))


@contextlib.contextmanager
def _importable(path: Path, assignment: Assignment) -> Iterator[Path]:
    """The file to import (a notebook's code cells written out as a script), with its own folder
    and the assignment's support modules importable while it runs."""
    folders = [str(path.resolve().parent)] + ([assignment.support] if assignment.support else [])
    saved = list(sys.path)
    sys.path[:0] = folders
    try:
        if path.suffix == ".ipynb":
            from ..drive.notebook import NotebookError, to_script
            try:
                script = to_script(path, assignment.skip_cells)
            except NotebookError as exc:
                raise SubmissionError(f"{path.name}: {exc}") from None
            with tempfile.TemporaryDirectory(prefix="bph-check-") as tmp:
                target = Path(tmp) / f"{path.stem}.py"
                target.write_text(script.text)
                yield target
        else:
            yield path
    finally:
        sys.path[:] = saved
